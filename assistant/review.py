"""The review desk: every draft is stored when made, and people approve, edit or reject it.

SQLAlchemy over SQLite by default, PostgreSQL by URL. Each decision is written to an audit log
with the text before and after. No code path here, or anywhere, sends a reply to a customer:
the product drafts, people send."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import (
    func,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from .errors import Conflict, InvalidInput, NotFound, Unavailable
from .models import (
    CORRECTABLE_LABELS,
    Draft,
    DraftPage,
    DraftStatus,
    FollowUpDue,
    LabelAgreement,
    Reason,
    ReviewAction,
    ReviewEvent,
    ReviewIn,
    ReviewStats,
    StatsReport,
)
from .pii import scrub
from .store import Base, DraftRow, EventRow, as_utc, open_engine
from .style import words_of
from .tenancy import DEFAULT_TENANT, scoped_sessions, upgrade

STATS_DIMENSIONS = ("category", "severity", "effort", "language", "engine")
_OUTCOME = {
    ReviewAction.approve: DraftStatus.approved,
    ReviewAction.edit: DraftStatus.edited,
    ReviewAction.reject: DraftStatus.rejected,
}


def word_edit_distance(before: str, after: str) -> int:
    """Levenshtein distance over words: how many words an agent changed."""
    a, b = words_of(before), words_of(after)
    previous = list(range(len(b) + 1))
    for i, word in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (word != other)))
        previous = current
    return previous[-1]


class DraftStore:
    """The review queue of one tenant (`scoped` gives another tenant's, on the same database)."""

    def __init__(self, url: str, timeout_s: float = 10.0, tenant: str = DEFAULT_TENANT,
                 db: Engine | None = None) -> None:
        self.tenant = tenant
        if db is None:
            db = open_engine(url, timeout_s)
            upgrade(db, DraftRow.__table__)  # type: ignore[arg-type]
            Base.metadata.create_all(db)
        self.db, self._url = db, url
        self._sessions = scoped_sessions(db, tenant)

    def scoped(self, tenant: str) -> DraftStore:
        return DraftStore(self._url, tenant=tenant, db=self.db)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        try:
            with self._sessions.begin() as session:
                yield session
        except OperationalError as exc:
            raise Unavailable(f"the drafts database did not answer: {exc.orig}") from exc

    def save(self, draft: Draft) -> Draft:
        self.save_many([draft])
        return draft

    def save_many(self, drafts: list[Draft]) -> None:
        """Stores drafts with their 'created' audit lines, all in one transaction."""
        with self._session() as session:
            session.add_all([_to_row(draft) for draft in drafts])
            session.flush()
            session.add_all([
                EventRow(draft_id=d.id, at=d.created_at, actor=d.engine, action="created",
                         after=d.reply, note=f"{d.model} {d.prompt_version}")
                for d in drafts
            ])

    def get(self, draft_id: str) -> Draft:
        with self._session() as session:
            return _to_draft(self._row(session, draft_id))

    def _row(self, session: Session, draft_id: str) -> DraftRow:
        row = session.get(DraftRow, draft_id)
        if row is None:
            raise NotFound(f"no draft with id {draft_id!r}")
        return row

    def queue(
        self, *, status: DraftStatus | None = None, route: str | None = None,
        severity: str | None = None, effort: str | None = None, language: str | None = None,
        older_than_hours: float | None = None, newer_than_hours: float | None = None,
        triage_run: str | None = None, limit: int = 50, offset: int = 0,
        now: datetime | None = None,
    ) -> DraftPage:
        """The queue, oldest first within a status, so nothing waits forever."""
        now = now or datetime.now(UTC)
        query = select(DraftRow)
        for column, value in ((DraftRow.status, status), (DraftRow.route, route),
                              (DraftRow.severity, severity), (DraftRow.effort, effort),
                              (DraftRow.language, language), (DraftRow.triage_run, triage_run)):
            if value is not None:
                query = query.where(column == str(value))
        if older_than_hours is not None:
            query = query.where(DraftRow.created_at <= now - timedelta(hours=older_than_hours))
        if newer_than_hours is not None:
            query = query.where(DraftRow.created_at >= now - timedelta(hours=newer_than_hours))
        with self._session() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(
                query.order_by(DraftRow.created_at, DraftRow.id).limit(limit).offset(offset))
            return DraftPage(total=total, items=[_to_draft(row) for row in rows])

    def review(self, draft_id: str, decision: ReviewIn, now: datetime | None = None) -> Draft:
        now = now or datetime.now(UTC)
        if decision.action is ReviewAction.edit and not decision.text:
            raise InvalidInput("an edit needs the new reply in 'text'")
        if decision.action is ReviewAction.reject and not decision.reason:
            raise InvalidInput("a rejection needs a 'reason' (it teaches the drafter)")
        if decision.action is not ReviewAction.edit and decision.text:
            raise InvalidInput("'text' is only for action 'edit'")
        with self._session() as session:
            # Claim the draft first, by a conditional update: of concurrent reviews exactly one
            # matches a pending row (PostgreSQL re-checks the condition under its row lock;
            # SQLite takes its write lock at this first statement, before any read).
            claimed = session.execute(
                update(DraftRow)
                .where(DraftRow.id == draft_id,
                       DraftRow.status == DraftStatus.pending_review.value)
                .values(status=_OUTCOME[decision.action].value, reviewer=decision.reviewer,
                        reviewed_at=now)
                .execution_options(synchronize_session=False))
            row = session.get(DraftRow, draft_id, populate_existing=True)
            if row is None:
                raise NotFound(f"no draft with id {draft_id!r}")
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict(
                    f"draft {draft_id} was already {row.status} by {row.reviewer} at "
                    f"{as_utc(row.reviewed_at or row.created_at).isoformat()}"
                )
            before = row.reply
            after = decision.text if decision.action is ReviewAction.edit else before
            assert after is not None
            if decision.action is ReviewAction.edit:
                if after.strip() == before.strip():  # the claim is rolled back with this
                    raise InvalidInput("the edited text is the same as the draft; use 'approve'")
                row.edit_distance = word_edit_distance(before, after)
                row.edit_ratio = min(1.0, row.edit_distance / max(1, len(words_of(before))))
                row.reply = after
            session.add(EventRow(
                draft_id=draft_id, at=now, actor=decision.reviewer,
                action=row.status, before=before, after=after, note=decision.reason,
            ))
            session.flush()
            return _to_draft(row)

    def reworded(self, draft: Draft, reviewer: str, note: str) -> Draft:
        """A pending draft worded again (another gesture), in its audit log."""
        with self._session() as session:
            row = self._row(session, draft.id)
            if row.status != DraftStatus.pending_review.value:
                raise Conflict(f"draft {draft.id} was already reviewed ({row.status})")
            session.add(EventRow(draft_id=draft.id, at=datetime.now(UTC), actor=reviewer,
                                 action="reworded", before=row.reply, after=draft.reply,
                                 note=note))
            row.reply, row.payload = draft.reply, draft.model_dump(mode="json")
            row.follow_up_due = draft.follow_up.due if draft.follow_up else None
            return _to_draft(row)

    def relabelled(self, draft_id: str, reviewer: str, before: dict[str, str],
                   after: dict[str, str], route_reasons: list[Reason]) -> None:
        """A reviewer's label correction: the draft shows the labels as the reviewer left them
        (sure, since a person set them), and its audit log has before and after."""
        with self._session() as session:
            row = self._row(session, draft_id)
            row.severity, row.effort = after["severity"], after["effort"]
            row.category, row.route = after["category"], after["route"]
            classification = {**row.payload["classification"], **after,
                              "unsure": [], "certainty": {}}
            classification["reasons"] = {**classification["reasons"], "route": [
                r.model_dump(mode="json") for r in route_reasons]}
            row.payload = {**row.payload, "classification": classification}
            session.add(EventRow(draft_id=draft_id, at=datetime.now(UTC), actor=reviewer,
                                 action="relabel", before=json.dumps(before),
                                 after=json.dumps(after)))

    def audit(self, draft_id: str) -> list[ReviewEvent]:
        with self._session() as session:
            self._row(session, draft_id)
            rows = session.scalars(
                select(EventRow).where(EventRow.draft_id == draft_id).order_by(EventRow.id))
            return [ReviewEvent(at=as_utc(r.at), actor=r.actor, action=r.action,
                                before=r.before, after=r.after, note=r.note) for r in rows]

    def follow_ups_due(self, by: date) -> list[FollowUpDue]:
        """Replies that promised a follow-up by `by` and were sent (approved or edited)."""
        sent = [DraftStatus.approved.value, DraftStatus.edited.value]
        query = (select(DraftRow).where(DraftRow.follow_up_due <= by)
                 .where(DraftRow.status.in_(sent)).order_by(DraftRow.follow_up_due))
        with self._session() as session:
            return [
                FollowUpDue(draft_id=row.id, customer_id=row.customer_id,
                            due=row.follow_up_due, status=DraftStatus(row.status),
                            category=row.category, summary=row.payload["complaint"][:160])
                for row in session.scalars(query) if row.follow_up_due is not None
            ]

    def stats(self) -> StatsReport:
        columns = [getattr(DraftRow, name) for name in STATS_DIMENSIONS]
        query = select(DraftRow.status, DraftRow.edit_distance, DraftRow.edit_ratio, *columns)
        groups: dict[str, dict[str, list[tuple[str, int | None, float | None]]]] = {
            name: defaultdict(list) for name in STATS_DIMENSIONS}
        everything: list[tuple[str, int | None, float | None]] = []
        with self._session() as session:
            for status, distance, ratio, *values in session.execute(query):
                everything.append((status, distance, ratio))
                for name, value in zip(STATS_DIMENSIONS, values, strict=True):
                    groups[name][value].append((status, distance, ratio))
        overall = _figures(everything)
        return StatsReport(
            **overall.model_dump(),
            by={name: {value: _figures(rows) for value, rows in sorted(found.items())}
                for name, found in groups.items()},
            label_agreement=self._label_agreement(),
        )

    def _label_agreement(self) -> list[LabelAgreement]:
        """Per label, the share of drafts a person checked (reviewed or relabelled) whose
        label nobody corrected; overall and by the week the draft was made."""
        with self._session() as session:
            checked = {draft_id: as_utc(created) for draft_id, created in session.execute(
                select(DraftRow.id, DraftRow.created_at).where(
                    DraftRow.status != DraftStatus.pending_review.value))}
            corrected: dict[str, set[str]] = defaultdict(set)
            for draft_id, created, before, after in session.execute(
                    select(EventRow.draft_id, DraftRow.created_at, EventRow.before,
                           EventRow.after).join(DraftRow, DraftRow.id == EventRow.draft_id)
                    .where(EventRow.action == "relabel")):
                checked[draft_id] = as_utc(created)
                old, new = json.loads(before or "{}"), json.loads(after or "{}")
                corrected[draft_id] |= {label for label in CORRECTABLE_LABELS
                                        if old.get(label) != new.get(label)}
        weeks: dict[str, list[str]] = defaultdict(list)
        for draft_id, created in checked.items():
            year, week, _ = created.isocalendar()
            weeks[f"{year}-W{week:02d}"].append(draft_id)

        def agreement(period: str, drafts: list[str]) -> LabelAgreement:
            return LabelAgreement(period=period, checked=len(drafts), agreement={
                label: (sum(label not in corrected[d] for d in drafts) / len(drafts)
                        if drafts else None) for label in CORRECTABLE_LABELS})

        return [agreement("all", list(checked)),
                *(agreement(week, drafts) for week, drafts in sorted(weeks.items()))]

    def team_replies(self, language: str, category: str, limit: int = 3) -> list[str]:
        """The team's own approved and edited replies, newest first: its voice to imitate.
        Other customers' replies: their personal numbers are scrubbed here, before any
        drafter or prompt sees them."""
        sent = [DraftStatus.approved.value, DraftStatus.edited.value]
        query = (select(DraftRow.reply).where(DraftRow.language == language)
                 .where(DraftRow.category == category).where(DraftRow.status.in_(sent))
                 .order_by(DraftRow.reviewed_at.desc()).limit(limit))
        with self._session() as session:
            return [scrub(reply) for reply in session.scalars(query)]


def _figures(rows: list[tuple[str, int | None, float | None]]) -> ReviewStats:
    reviewed = [row for row in rows if row[0] != DraftStatus.pending_review]
    edited = [row for row in reviewed if row[0] == DraftStatus.edited]

    def rate(status: DraftStatus) -> float | None:
        if not reviewed:
            return None
        return round(sum(row[0] == status for row in reviewed) / len(reviewed), 4)

    distances = [row[1] for row in edited if row[1] is not None]
    ratios = [row[2] for row in edited if row[2] is not None]
    return ReviewStats(
        drafts=len(rows), reviewed=len(reviewed),
        acceptance_rate=rate(DraftStatus.approved), edit_rate=rate(DraftStatus.edited),
        rejection_rate=rate(DraftStatus.rejected),
        mean_edit_distance=round(sum(distances) / len(distances), 2) if distances else None,
        mean_edit_ratio=round(sum(ratios) / len(ratios), 4) if ratios else None,
    )


def _to_row(draft: Draft) -> DraftRow:
    c = draft.classification
    return DraftRow(
        id=draft.id, created_at=draft.created_at, status=draft.status.value,
        customer_id=draft.customer_id, language=draft.language, severity=c.severity.value,
        effort=c.effort.value, category=c.category.value, route=c.route.value,
        engine=draft.engine, reply=draft.reply,
        follow_up_due=draft.follow_up.due if draft.follow_up else None,
        payload=draft.model_dump(mode="json"), triage_run=draft.triage_run,
    )


def _to_draft(row: DraftRow) -> Draft:
    draft = Draft.model_validate(row.payload)
    return draft.model_copy(update={
        "status": DraftStatus(row.status), "reply": row.reply,
        "reviewed_by": row.reviewer,
        "reviewed_at": as_utc(row.reviewed_at) if row.reviewed_at else None,
    })
