"""The service's database schema, in one place: the review queue and its audit log, API
keys and triage runs (SQLite by default, PostgreSQL by URL). A triage run's own checkpoint is
another database, in its output folder (`triage/checkpoint.py`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..tenancy import Tenanted


class Base(DeclarativeBase):
    pass


class DraftRow(Tenanted, Base):
    __tablename__ = "drafts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[str | None] = mapped_column(String(128), index=True)
    language: Mapped[str] = mapped_column(String(8))
    severity: Mapped[str] = mapped_column(String(16))
    effort: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32))
    route: Mapped[str] = mapped_column(String(16))
    engine: Mapped[str] = mapped_column(String(16))
    reply: Mapped[str] = mapped_column(Text, doc="The current text: as drafted, or as edited.")
    follow_up_due: Mapped[date | None] = mapped_column(Date, index=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewer: Mapped[str | None] = mapped_column(String(80))
    edit_distance: Mapped[int | None] = mapped_column(Integer)
    edit_ratio: Mapped[float | None] = mapped_column(Float)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, doc="The draft exactly as made.")
    triage_run: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)

    # The queue's filters live in the indexes themselves (covering), so filtering and counting
    # never read the large payload rows: 50,000 drafts list in milliseconds (bench_queue.py).
    __table_args__ = (
        Index("ix_drafts_tenant_queue", "tenant", "status", "created_at", "route", "severity",
              "effort", "language"),
        Index("ix_drafts_tenant_created", "tenant", "created_at", "status", "route",
              "severity", "effort", "language"),
    )


class EventRow(Base):
    __tablename__ = "draft_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(16))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


class KeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(80))
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TriageRunRow(Tenanted, Base):
    """A triage run started over the API: its state, so any instance can answer for it."""

    __tablename__ = "triage_runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[str] = mapped_column(String(40))
    arguments: Mapped[str] = mapped_column(Text)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class GesturePolicyRow(Base):
    """A tenant's own compensation policy; a tenant without a row uses the shipped one."""

    __tablename__ = "gesture_policies"
    tenant: Mapped[str] = mapped_column(String(40), primary_key=True)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ThemeRunRow(Tenanted, Base):
    """A triage run's themes with their centres, for the next run's "since last time"."""

    __tablename__ = "triage_themes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_label: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    themes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class LearnedRow(Tenanted, Base):
    """A labelled complaint a tenant taught its model: from a file (`recovery learn`) or a
    reviewer's correction of a draft's labels."""

    __tablename__ = "learned_labels"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(16))  # "file" | "review"
    actor: Mapped[str] = mapped_column(String(80))
    draft_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
