"""API keys: each belongs to one tenant and is stored only as a SHA-256 hash.

A key looks like `rk_<id>_<secret>`: the id finds the row, the secret (240 random bits) is
checked against the hash in constant time. A fast hash is right for random secrets of this
size (there is nothing to guess); slow password hashes are for words people choose. The full
key is shown once, when it is made. Rotation: make a new key for the tenant, switch the
clients over, revoke the old one."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.engine import Engine

from .errors import NotFound, Unauthorized
from .store import KeyRow, as_utc
from .tenancy import check_tenant, scoped_sessions

_PREFIX = "rk_"


class ApiKey(BaseModel):
    id: str
    tenant: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


class KeyStore:
    """Keys live in the drafts database, beside the rows they give access to."""

    def __init__(self, engine: Engine) -> None:
        KeyRow.__table__.create(engine, checkfirst=True)  # type: ignore[attr-defined]
        self._sessions = scoped_sessions(engine, None)

    def create(self, tenant: str, name: str = "") -> tuple[ApiKey, str]:
        """A new key for `tenant`: its record, and the key itself (shown once, never stored)."""
        row = KeyRow(id=secrets.token_hex(5), tenant=check_tenant(tenant), name=name[:80],
                     created_at=datetime.now(UTC), revoked_at=None)
        key = f"{_PREFIX}{row.id}_{secrets.token_urlsafe(30)}"
        row.digest = _digest(key)
        with self._sessions.begin() as session:
            session.add(row)
        return _record(row), key

    def list(self, tenant: str | None = None) -> list[ApiKey]:
        query = select(KeyRow).order_by(KeyRow.tenant, KeyRow.created_at)
        if tenant is not None:
            query = query.where(KeyRow.tenant == tenant)
        with self._sessions() as session:
            return [_record(row) for row in session.scalars(query)]

    def revoke(self, key_id: str) -> ApiKey:
        with self._sessions.begin() as session:
            row = session.get(KeyRow, key_id)
            if row is None:
                raise NotFound(f"no API key with id {key_id!r} (see `recovery keys list`)")
            row.revoked_at = row.revoked_at or datetime.now(UTC)
            return _record(row)

    def check(self, presented: str) -> ApiKey:
        """The key's record when `presented` is a live key; `Unauthorized` otherwise."""
        key_id = presented[len(_PREFIX):].split("_", 1)[0] if presented.startswith(
            _PREFIX) else ""
        with self._sessions() as session:
            row = session.get(KeyRow, key_id) if key_id else None
            if row is None or not hmac.compare_digest(row.digest, _digest(presented)):
                raise Unauthorized("the API key is not valid; send `Authorization: Bearer "
                                   "rk_…` with a key from `recovery keys create`")
            if row.revoked_at is not None:
                raise Unauthorized(f"the API key {row.id} was revoked on "
                                   f"{row.revoked_at:%Y-%m-%d}; ask for a new one")
            return _record(row)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _record(row: KeyRow) -> ApiKey:
    return ApiKey(id=row.id, tenant=row.tenant, name=row.name, created_at=as_utc(row.created_at),
                  revoked_at=as_utc(row.revoked_at) if row.revoked_at else None)
