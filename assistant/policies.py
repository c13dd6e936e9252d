"""Each tenant's compensation policy: the caps, what a draft may offer and a treat's value.
A tenant that configured nothing uses the shipped `knowledge/policy.toml`."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .knowledge import Policy
from .store import GesturePolicyRow, as_utc
from .tenancy import DEFAULT_TENANT


class PolicyRecord(BaseModel):
    """A tenant's policy as the API shows it: whose it is and who set it when."""

    tenant: str
    policy: Policy
    shipped: bool
    updated_by: str | None = None
    updated_at: datetime | None = None


class PolicyStore:
    def __init__(self, db: Engine, shipped: Policy, tenant: str = DEFAULT_TENANT) -> None:
        GesturePolicyRow.__table__.create(db, checkfirst=True)  # type: ignore[attr-defined]
        self.db, self.shipped, self.tenant = db, shipped, tenant

    def scoped(self, tenant: str) -> PolicyStore:
        return PolicyStore(self.db, self.shipped, tenant)

    def record(self) -> PolicyRecord:
        with Session(self.db) as session:
            row = session.get(GesturePolicyRow, self.tenant)
            if row is None:
                return PolicyRecord(tenant=self.tenant, policy=self.shipped, shipped=True)
            return PolicyRecord(tenant=self.tenant, policy=Policy.model_validate(row.policy),
                                shipped=False, updated_by=row.updated_by,
                                updated_at=as_utc(row.updated_at))

    def current(self) -> Policy:
        return self.record().policy

    def put(self, policy: Policy, by: str) -> PolicyRecord:
        with Session(self.db) as session, session.begin():
            session.merge(GesturePolicyRow(tenant=self.tenant, policy=policy.model_dump(
                mode="json"), updated_by=by, updated_at=datetime.now(UTC)))
        return self.record()
