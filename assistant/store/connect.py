"""Connections to the service's database, with a timeout on every connection and query."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine


def open_engine(url: str, timeout_s: float) -> Engine:
    """An engine with a timeout on every connection and query, and WAL for SQLite."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": timeout_s, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    connect_args: dict[str, Any] = {}
    if url.startswith("postgresql"):
        millis = int(timeout_s * 1000)
        connect_args = {"connect_timeout": max(1, int(timeout_s)),
                        "options": f"-c statement_timeout={millis}"}
    return create_engine(url, connect_args=connect_args, pool_pre_ping=True)


def as_utc(moment: datetime) -> datetime:
    """SQLite gives times back without their zone; they were stored as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
