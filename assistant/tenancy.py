"""Tenant scope for the SQL stores, enforced in one place.

Every row a tenant owns (drafts, triage runs) has a `tenant` column through `Tenanted`. A
session opened by `scoped_sessions(engine, tenant)` carries the tenant: every ORM query it runs
gets `WHERE tenant = …` added (SQLAlchemy's `with_loader_criteria`, also inside subqueries and
`session.get`), and every row it inserts is stamped with it. No store method filters by hand,
so none can forget to."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import String, event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    UOWTransaction,
    mapped_column,
    sessionmaker,
    with_loader_criteria,
)
from sqlalchemy.schema import Table

from .errors import InvalidInput

DEFAULT_TENANT = "default"
TENANT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,18}[a-z0-9]$|^[a-z0-9]$")


def check_tenant(name: str) -> str:
    if not TENANT_PATTERN.match(name):
        raise InvalidInput(
            f"tenant {name!r}: use 1-20 lower-case letters, digits and inner hyphens")
    return name


class Tenanted:
    """Mixin for mapped classes whose rows belong to one tenant."""

    tenant: Mapped[str] = mapped_column(String(40), index=True, default=DEFAULT_TENANT,
                                        server_default=DEFAULT_TENANT)


def scoped_sessions(engine: Engine, tenant: str | None) -> sessionmaker[Session]:
    """Sessions that see and write only `tenant`'s rows; `None` sees every tenant (only for
    service-wide work: resuming runs after a restart, migrations)."""
    return sessionmaker(engine, expire_on_commit=False, info={"tenant": tenant})


@event.listens_for(Session, "do_orm_execute")
def _only_own_rows(state: ORMExecuteState) -> None:
    tenant = state.session.info.get("tenant")
    if tenant is None or not (state.is_select or state.is_update or state.is_delete):
        return
    state.statement = state.statement.options(with_loader_criteria(
        Tenanted, lambda cls: cls.tenant == tenant, include_aliases=True))


@event.listens_for(Session, "before_flush")
def _stamp_new_rows(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    tenant = session.info.get("tenant")
    for row in session.new:
        if isinstance(row, Tenanted) and tenant is not None:
            row.tenant = tenant


def upgrade(engine: Engine, table: Table) -> None:
    """Brings a table made by an older version up to date: adds missing columns (with their
    server default, so old rows belong to the default tenant) and missing indexes."""
    found = inspect(engine)
    if not found.has_table(table.name):
        return
    have = {column["name"] for column in found.get_columns(table.name)}
    indexes = {index["name"] for index in found.get_indexes(table.name)}
    with engine.begin() as connection:
        for column in table.columns:
            if column.name in have:
                continue
            kind = column.type.compile(dialect=engine.dialect)
            default = column.server_default
            clause = ""
            if default is not None:
                clause = f" NOT NULL DEFAULT '{default.arg}'"  # type: ignore[attr-defined]
            connection.execute(text(
                f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}{clause}'))
    for index in table.indexes:
        if index.name not in indexes:
            index.create(engine, checkfirst=True)
