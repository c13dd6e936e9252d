"""Learning from the team: each tenant's own labelled complaints (a file of them, or a
reviewer's corrections) join our bundled examples in that tenant's offline model, from its
next classification on. The bundled examples stay the prior; one tenant's lines never reach
another's model (the store is tenant-scoped, and so is the model cache)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlalchemy import Engine, func, select

from .knowledge import Example
from .reading import plain
from .store import LearnedRow
from .tenancy import scoped_sessions

_CHECK_EVERY_S = 5.0  # how soon another instance's new lines reach this one's model


class _Counter:
    """Writes in this process, so a model sees its own process's new lines at once."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def bump(self) -> None:
        with self._lock:
            self.value += 1


_writes = _Counter()


class LearnedLine(BaseModel):
    """One labelled complaint to learn from; labels as in the eval format."""

    text: str = Field(min_length=1)
    language: str
    labels: dict[str, str] = Field(min_length=1)


class LearnedStore:
    def __init__(self, db: Engine, tenant: str) -> None:
        LearnedRow.__table__.create(db, checkfirst=True)  # type: ignore[attr-defined]
        self.db, self.tenant = db, tenant
        self._sessions = scoped_sessions(db, tenant)
        self._seen: tuple[float, int, tuple[int, int]] | None = None
        self._lock = threading.Lock()

    def scoped(self, tenant: str) -> LearnedStore:
        return LearnedStore(self.db, tenant)

    def add(self, lines: list[LearnedLine], source: str, actor: str,
            draft_id: str | None = None) -> int:
        now = datetime.now(UTC)
        with self._sessions() as session, session.begin():
            session.add_all([LearnedRow(created_at=now, source=source, actor=actor,
                                        draft_id=draft_id, text=line.text,
                                        language=line.language, labels=line.labels)
                             for line in lines])
        _writes.bump()
        return len(lines)

    def version(self) -> tuple[int, int]:
        """(lines, newest id): changes whenever a line is added. Asked of the database at most
        every few seconds, or at once when this process wrote since."""
        writes = _writes.value
        with self._lock:
            if self._seen and self._seen[1] == writes and (
                    time.monotonic() - self._seen[0] < _CHECK_EVERY_S):
                return self._seen[2]
            with self._sessions() as session:
                count, newest = session.execute(select(
                    func.count(LearnedRow.id), func.coalesce(func.max(LearnedRow.id), 0))).one()
            self._seen = (time.monotonic(), writes, (int(count), int(newest)))
            return self._seen[2]

    def examples(self) -> list[Example]:
        """The tenant's lines as the model learns them: read without their wrapping, like
        any complaint (our own examples are written that way)."""
        with self._sessions() as session:
            rows = session.scalars(select(LearnedRow).order_by(LearnedRow.id))
            return [Example(id=f"learned-{row.id}", text=plain(row.text),
                            language=row.language, labels=row.labels) for row in rows]
