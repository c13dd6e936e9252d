"""Nightly triage of closed, low-rated tickets: quick wins first, for a leader to fix personally.

The export is streamed (never loaded whole). Progress is checkpointed in SQLite inside the
output folder after every batch, together with the drafts it made (their ids are derived from
the run and the ticket), so a run killed at any point and started again with the same
arguments ends with exactly the rows, files and drafts of an uninterrupted run."""

from __future__ import annotations

import csv
import fcntl
import hashlib
import itertools
import json
import shutil
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

import numpy as np
from pydantic import BaseModel
from sqlalchemy import Boolean, Engine, Integer, String, Text, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from .batch import BatchClient, BatchInfo, Deferred, RecordingCaller, ReplayCaller
from .errors import Conflict, InvalidInput, NotFound
from .llm import ENGINE as LLM_ENGINE
from .llm import ChatCaller
from .models import ORDINAL_LABELS, Classification, Draft, DraftRequest, Recall
from .tenancy import Tenanted, scoped_sessions, upgrade

if TYPE_CHECKING:
    from .service import Assistant

Scale = Literal["0-10", "1-5", "good-bad", "happy-neutral-unhappy"]
_WORDS = {"good": 10.0, "bad": 0.0, "happy": 10.0, "neutral": 5.0, "unhappy": 0.0}
_BATCH = 64


@dataclass(frozen=True)
class Preset:
    """Where an export keeps each field (first column present wins; dots reach into JSON) and
    which satisfaction scale it uses."""

    id: tuple[str, ...]
    text: tuple[str, ...]
    customer: tuple[str, ...]
    csat: tuple[str, ...]
    closed: tuple[str, ...]
    channel: tuple[str, ...]
    subject: tuple[str, ...]
    scale: Scale


PresetName = Literal["generic", "zendesk", "freshdesk", "intercom"]  # the keys of PRESETS
PRESETS: dict[str, Preset] = {
    # Zendesk: ticket CSV export, or tickets from the (incremental) ticket API as JSONL.
    # Satisfaction is good / bad ("offered" / "unoffered" = no rating).
    "zendesk": Preset(
        id=("id", "Id", "ID"), text=("description", "Description"),
        customer=("requester_id", "Requester id", "Requester ID", "Requester"),
        csat=("satisfaction_rating.score", "Satisfaction Score", "satisfaction_score"),
        closed=("solved_at", "Solved at", "updated_at"), channel=("via.channel", "Via"),
        subject=("subject", "Subject"), scale="good-bad"),
    # Freshdesk: tickets from the API (description_text) joined with satisfaction ratings,
    # or its CSV export. The default survey is happy / neutral / unhappy.
    "freshdesk": Preset(
        id=("id", "Ticket ID", "ticket_id"), text=("description_text", "Description"),
        customer=("requester_id", "Contact ID", "Requester ID", "email"),
        csat=("satisfaction_rating", "Satisfaction Rating", "rating", "Survey Result"),
        closed=("closed_at", "Closed time", "Resolved time"), channel=("source", "Source"),
        subject=("subject", "Subject"), scale="happy-neutral-unhappy"),
    # Intercom: conversations from the API (source.body, conversation_rating.rating 1-5) or a
    # conversation export CSV.
    "intercom": Preset(
        id=("id", "conversation_id", "Conversation ID"),
        text=("source.body", "message_body", "Conversation body", "body"),
        customer=("contacts.contacts.0.id", "user_id", "message_author_user_id", "User ID"),
        csat=("conversation_rating.rating", "conversation_rating", "Conversation rating",
              "rating"),
        closed=("conversation_closed_at", "statistics.last_close_at", "Closed at"),
        channel=("source.type", "source.delivered_as", "Channel"),
        subject=("source.subject", "Subject"), scale="1-5"),
    # Our own plain format (PRODUCT.md): ticket_id, text, customer_id, csat 0-10.
    "generic": Preset(
        id=("ticket_id", "id"), text=("text", "complaint", "description"),
        customer=("customer_id", "customer"), csat=("csat", "satisfaction", "score"),
        closed=("closed_at", "closed"), channel=("channel",), subject=("subject",),
        scale="0-10"),
}


class Ticket(BaseModel):
    id: str
    text: str
    customer_id: str | None = None
    csat: float | None = None
    closed_at: str | None = None
    channel: str | None = None


class Problem(BaseModel):
    """A row that could not be used, and why: reported, never fatal."""

    row: int
    ticket_id: str | None
    problem: str


def score_0_10(raw: Any, scale: Scale) -> float | None:
    """A satisfaction score on 0-10 (None when the row has no rating)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if scale in {"good-bad", "happy-neutral-unhappy"}:
        word = str(raw).strip().lower()
        if word in {"offered", "unoffered", "none", ""}:
            return None
        if word not in _WORDS:
            raise ValueError(f"rating {raw!r} is not one of good/bad/happy/neutral/unhappy")
        return _WORDS[word]
    try:
        value = float(str(raw).strip().replace(",", "."))
    except ValueError:
        raise ValueError(f"rating {raw!r} is not a number on the {scale} scale") from None
    low, high = (1.0, 5.0) if scale == "1-5" else (0.0, 10.0)
    if not low <= value <= high:
        raise ValueError(f"rating {raw!r} is outside the {scale} scale")
    return (value - 1) * 2.5 if scale == "1-5" else value


def _field(row: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value: Any = row
        for part in name.split("."):
            if isinstance(value, dict):
                value = value.get(part)
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                value = None
            if value is None:
                break
        if value not in (None, ""):
            return value
    return None


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(row number, row, problem) streamed from CSV or JSONL; bytes that are not UTF-8 come
    through as surrogates, so the row is reported instead of stopping the run."""
    with path.open(encoding="utf-8", errors="surrogateescape", newline="") as handle:
        if path.suffix.lower() in {".jsonl", ".ndjson", ".json"}:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, None, f"not JSON: {exc.msg}"
                    continue
                yield (number, row, None) if isinstance(row, dict) else (
                    number, None, "not a JSON object")
        else:
            for number, row in enumerate(csv.DictReader(handle), start=2):
                yield number, row, None


def read_export(
    path: Path, preset: Preset, problems: list[Problem]
) -> Iterator[Ticket]:
    """Tickets from an export, in file order; unusable rows land in `problems`."""
    if not path.is_file():
        raise InvalidInput(f"no such export file: {path}")
    seen: set[str] = set()
    for number, row, problem in _rows(path):
        if row is None:
            problems.append(Problem(row=number, ticket_id=None, problem=problem or "unreadable"))
            continue
        raw_id = _field(row, preset.id)
        ticket_id = str(raw_id).strip() if raw_id is not None else ""
        if not ticket_id:
            problems.append(Problem(row=number, ticket_id=None, problem="no ticket id"))
            continue
        if ticket_id in seen:
            problems.append(Problem(row=number, ticket_id=ticket_id, problem="duplicate id"))
            continue
        seen.add(ticket_id)
        text = str(_field(row, preset.text) or "").strip()
        subject = str(_field(row, preset.subject) or "").strip()
        if _broken(text) or _broken(subject):
            problems.append(Problem(row=number, ticket_id=ticket_id,
                                    problem="text is not valid UTF-8"))
            continue
        if not text and not subject:
            problems.append(Problem(row=number, ticket_id=ticket_id, problem="no text"))
            continue
        try:
            csat = score_0_10(_field(row, preset.csat), preset.scale)
        except ValueError as exc:
            problems.append(Problem(row=number, ticket_id=ticket_id, problem=str(exc)))
            continue
        customer = _field(row, preset.customer)
        yield Ticket(
            id=ticket_id, text=f"{subject}. {text}" if subject and text else text or subject,
            customer_id=str(customer) if customer is not None else None, csat=csat,
            closed_at=_str_or_none(_field(row, preset.closed)),
            channel=_str_or_none(_field(row, preset.channel)),
        )


def _broken(text: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in text)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


# The checkpoint: one SQLite file in the output folder.


class _Base(DeclarativeBase):
    pass


class _RunRow(_Base):
    __tablename__ = "triage_run"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    arguments: Mapped[str] = mapped_column(Text)


class _TicketRow(_Base):
    __tablename__ = "triage_ticket"
    ticket_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    result: Mapped[str] = mapped_column(Text)


class TriageRow(BaseModel):
    """One selected ticket with its labels and reasons, in `triage.jsonl` / `triage.csv`."""

    rank: int = 0
    ticket_id: str
    customer_id: str | None
    csat_0_10: float | None
    closed_at: str | None
    channel: str | None
    severity: str
    effort: str
    recovery_potential: str
    category: str
    language: str
    route: str
    escalate: bool
    confidence: float
    customer_orders: int
    reasons: dict[str, list[str]]
    history_used: list[str]
    draft_id: str | None
    engine: str
    fallback_reason: str | None
    text: str


@dataclass
class TriageSummary:
    read: int
    selected: int
    classified_now: int
    resumed: int
    problems: int
    quick_wins: int
    out: Path


ProgressFn = Callable[[int, int], None]


def run_triage(
    assistant: Assistant, export: Path, out: Path, *, preset: Preset, csat_below: float = 7.0,
    signer: str | None = None, progress: ProgressFn | None = None, batch_api: bool = False,
    log: Callable[[str], None] | None = None,
) -> TriageSummary:
    """Triage the tickets rated below `csat_below`; safe to stop at any point and run again
    with the same arguments. `batch_api` sends the model's work through the OpenAI Batch API."""
    if batch_api and assistant.llm is None:
        raise InvalidInput("--batch-api needs the LLM engine (set OPENAI_API_KEY or "
                           "OPENAI_BASE_URL, RECOVERY_ENGINE=llm)")
    out.mkdir(parents=True, exist_ok=True)
    arguments = json.dumps({
        "export": str(export.resolve()), "file": _file_digest(export), "preset": preset.__dict__,
        "csat_below": csat_below, "signer": signer, "batch_api": batch_api,
    }, sort_keys=True)
    key = hashlib.sha256(arguments.encode()).hexdigest()
    checkpoint = create_engine(f"sqlite:///{out / 'checkpoint.db'}")
    _Base.metadata.create_all(checkpoint)
    with Session(checkpoint) as session, session.begin():
        run = session.get(_RunRow, key)
        if run is None:
            if session.scalar(select(func.count()).select_from(_RunRow)):
                raise InvalidInput(
                    f"{out} holds a triage run with other arguments or another export; "
                    "use a new --out folder (or delete its checkpoint.db to start over)")
            session.add(_RunRow(key=key, arguments=arguments))
        done = set(session.scalars(select(_TicketRow.ticket_id)))

    def chosen(ticket: Ticket) -> bool:
        return ticket.csat is not None and ticket.csat < csat_below

    # Two streamed passes: the first only counts (for the progress total), the second works
    # in batches; neither holds the export in memory.
    total = sum(1 for ticket in read_export(export, preset, []) if chosen(ticket))
    reading = _Reading()
    todo = ((position, ticket) for position, ticket in _selected(export, preset, chosen, reading)
            if ticket.id not in done)
    job = _Job(assistant, checkpoint, key, signer,
               lambda now: progress(len(done) + now, total) if progress else None)
    if batch_api:
        classified = _BatchTriage(job, out, log or (lambda _: None)).run(todo)
    else:
        classified = job.inline(todo)
    with Session(checkpoint) as session:
        results = [TriageRow.model_validate_json(r) for r in session.scalars(
            select(_TicketRow.result).order_by(_TicketRow.position))]
    checkpoint.dispose()
    ranked = rank(results)
    write_outputs(ranked, reading.problems, out, csat_below)
    return TriageSummary(
        read=reading.read, selected=reading.selected, classified_now=classified,
        resumed=len(done), problems=len(reading.problems),
        quick_wins=sum(r.route == "quick_win" for r in ranked), out=out,
    )


@dataclass
class _Reading:
    read: int = 0
    selected: int = 0
    problems: list[Problem] = field(default_factory=list)


def _selected(export: Path, preset: Preset, chosen: Callable[[Ticket], bool], reading: _Reading
              ) -> Iterator[tuple[int, Ticket]]:
    """(position among the selected, ticket), counting what was read on the way."""
    for ticket in read_export(export, preset, reading.problems):
        reading.read += 1
        if chosen(ticket):
            reading.selected += 1
            yield reading.selected, ticket


Batch = list[tuple[int, Ticket]]


@dataclass
class _Job:
    """What both ways of triaging share: the assistant, the checkpoint and the drafting rules."""

    assistant: Assistant
    checkpoint: Engine
    key: str
    signer: str | None
    report: Callable[[int], None]
    classified: int = 0

    def batches(self, todo: Iterator[tuple[int, Ticket]]) -> Iterator[Batch]:
        batch: Batch = []
        for item in todo:
            batch.append(item)
            if len(batch) == _BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def request(self, ticket: Ticket) -> DraftRequest:
        return DraftRequest(text=_clip(self.assistant, ticket), customer_id=ticket.customer_id,
                            signer=self.signer)

    def draft_id(self, ticket: Ticket, labels: Classification) -> str | None:
        """Quick wins in a language we write get a draft, with an id fixed by the run and the
        ticket, so a resumed run never drafts one twice."""
        if labels.route != "quick_win" or labels.language not in self.assistant.knowledge.phrases:
            return None
        return hashlib.sha256(f"{self.key}/{ticket.id}".encode()).hexdigest()[:32]

    def exists(self, draft_id: str) -> bool:
        try:
            self.assistant.drafts.get(draft_id)
        except NotFound:
            return False
        return True

    def finished(self, session: Session, position: int, ticket: Ticket, labels: Classification,
                 recall: Recall | None, draft_id: str | None) -> None:
        row = _row(ticket, labels, recall, draft_id)
        session.add(_TicketRow(ticket_id=ticket.id, position=position,
                               result=row.model_dump_json()))
        self.classified += 1

    def inline(self, todo: Iterator[tuple[int, Ticket]]) -> int:
        """Classify and draft as the tickets stream by, a batch at a time, with a pipeline of
        two: the next batch is embedded (C code, off the GIL) while this one is classified,
        drafted and checkpointed."""
        pending: tuple[Batch, Future[np.ndarray]] | None = None
        with ThreadPoolExecutor(max_workers=1) as embedder:
            for batch in self.batches(todo):
                texts = [_clip(self.assistant, t) for _, t in batch]
                future = embedder.submit(self.assistant.embed, texts)
                if pending:
                    self._work(*pending)
                pending = (batch, future)
            if pending:
                self._work(*pending)
        return self.classified

    def _work(self, batch: Batch, vectors: Future[np.ndarray]) -> None:
        assistant = self.assistant
        requests = [self.request(t) for _, t in batch]
        understood = assistant.understand_many(list(requests), vectors.result())
        draft_ids = [self.draft_id(t, labels) for (_, t), (labels, _) in zip(
            batch, understood, strict=True)]
        wanted = [(draft_id, (request, labels, recall)) for draft_id, request, (labels, recall)
                  in zip(draft_ids, requests, understood, strict=True)
                  if draft_id and not self.exists(draft_id)]
        drafts = assistant.draft_many([item for _, item in wanted])
        if drafts:
            assistant.drafts.save_many([draft.model_copy(update={"id": draft_id})
                                        for (draft_id, _), draft in zip(wanted, drafts,
                                                                        strict=True)])
        with Session(self.checkpoint) as session, session.begin():
            for (position, ticket), (labels, recall), draft_id in zip(
                    batch, understood, draft_ids, strict=True):
                self.finished(session, position, ticket, labels, recall, draft_id)
        self.report(self.classified)


class _PendingRow(_Base):
    """A ticket waiting on the Batch API: its offline pass, and the labels once they come."""

    __tablename__ = "triage_pending"
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    phase: Mapped[str] = mapped_column(String(16))
    batch_id: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(Text)


class _BatchRow(_Base):
    __tablename__ = "triage_batch"
    batch_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    phase: Mapped[str] = mapped_column(String(16))
    merged: Mapped[bool] = mapped_column(Boolean, default=False)


class _Pending(BaseModel):
    ticket: Ticket
    offline: Classification
    recall: Recall | None
    labels: Classification | None = None  # the model's, once the classify batch is merged


class BatchFailed(Exception):
    """The Batch API refused a whole batch (for example, its file did not validate)."""


_PHASES = ("classify", "draft")
_MAX_ATTEMPTS = 2  # batches a request may ride in before the offline answer stands


class _BatchTriage:
    """Triage through the OpenAI Batch API, in two phases (labels for every ticket, then
    drafts for the quick wins), each: park, submit, wait, merge. Every step is checkpointed:
    a restarted run picks up the same batches instead of paying for new ones."""

    def __init__(self, job: _Job, out: Path, log: Callable[[str], None]) -> None:
        assert job.assistant.llm is not None and isinstance(job.assistant.llm.caller, ChatCaller)
        self.job, self.out, self.log = job, out, log
        self.settings = job.assistant.settings
        self.llm = job.assistant.llm
        self.live: ChatCaller = job.assistant.llm.caller
        self.client = BatchClient(self.settings)

    def run(self, todo: Iterator[tuple[int, Ticket]]) -> int:
        self._park(todo)
        for phase in _PHASES:
            while self._submit(phase) or self._open(phase):
                for batch_id in self._open(phase):
                    info = self.client.wait(batch_id, self.settings.llm_batch_poll_s,
                                            self._polled)
                    if info.status == "failed":
                        raise BatchFailed(f"batch {info.id} failed: {'; '.join(info.errors)}")
                    self._merge(phase, info)
        return self.job.classified

    def _polled(self, info: BatchInfo) -> None:
        self.log(f"batch {info.id}: {info.status}")

    def _park(self, todo: Iterator[tuple[int, Ticket]]) -> None:
        """The offline pass for every ticket not yet seen: language, cues, history."""
        with Session(self.job.checkpoint) as session:
            parked = set(session.scalars(select(_PendingRow.position)))
        for batch in self.job.batches(p for p in todo if p[0] not in parked):
            requests = [self.job.request(t) for _, t in batch]
            understood = self.job.assistant.understand_many(
                list(requests), self.job.assistant.embed([r.text for r in requests]),
                offline_only=True)
            with Session(self.job.checkpoint) as session, session.begin():
                session.add_all([_PendingRow(
                    position=position, phase="classify", attempts=0,
                    state=_Pending(ticket=ticket, offline=offline, recall=recall
                                   ).model_dump_json())
                    for (position, ticket), (offline, recall) in zip(
                        batch, understood, strict=True)])

    def _open(self, phase: str) -> list[str]:
        with Session(self.job.checkpoint) as session:
            return list(session.scalars(select(_BatchRow.batch_id).where(
                _BatchRow.phase == phase, _BatchRow.merged.is_(False))))

    def _submit(self, phase: str) -> bool:
        """Request files for the unsubmitted tickets of `phase`, at most
        `llm_batch_max_requests` lines each, uploaded and started. Tickets that already rode
        in `_MAX_ATTEMPTS` batches without an answer keep the offline answer instead."""
        submitted = False
        while True:
            with Session(self.job.checkpoint) as session:
                rows = list(session.scalars(select(_PendingRow).where(
                    _PendingRow.phase == phase, _PendingRow.batch_id.is_(None)
                ).order_by(_PendingRow.position).limit(self.settings.llm_batch_max_requests)))
            if not rows:
                return submitted
            given_up = [r for r in rows if r.attempts >= _MAX_ATTEMPTS]
            if given_up:
                self._answer(phase, [(r.position, f"no answer after {r.attempts} batches")
                                     for r in given_up])
                continue
            path = self.out / f"batch-{phase}-{rows[0].position}.jsonl"
            with path.open("w", encoding="utf-8") as handle:
                for row in rows:
                    body = self._record(phase, _Pending.model_validate_json(row.state))
                    handle.write(json.dumps({"custom_id": str(row.position), "method": "POST",
                                             "url": "/v1/chat/completions", "body": body},
                                            ensure_ascii=False) + "\n")
            batch_id = self.client.submit(path, {"recovery_triage": self.job.key[:16],
                                                 "phase": phase})
            path.unlink()
            self.log(f"batch {batch_id} ({phase}): {len(rows)} requests submitted")
            with Session(self.job.checkpoint) as session, session.begin():
                session.add(_BatchRow(batch_id=batch_id, phase=phase, merged=False))
                for row in rows:
                    session.get_one(_PendingRow, row.position).batch_id = batch_id
            submitted = True

    def _record(self, phase: str, pending: _Pending) -> dict[str, Any]:
        recorder = self.llm.using(RecordingCaller(self.live))
        try:
            if phase == "classify":
                recorder.classify(pending.ticket.text, pending.offline, pending.recall,
                                  self.job.assistant.today(), language_given=False)
            else:
                assert pending.labels is not None
                self.job.assistant.draft_from(self.job.request(pending.ticket), pending.labels,
                                              pending.recall, llm=recorder)
        except Deferred as deferred:
            return deferred.body
        raise AssertionError(f"the {phase} step made no model call to put in a batch")

    def _merge(self, phase: str, info: BatchInfo) -> None:
        """Answers into the checkpoint, a chunk at a time; requests the batch left
        unanswered (expired, cancelled) go into the next one."""
        chunk: list[tuple[int, dict[str, Any] | str]] = []
        for custom_id, answer in self.client.answers(info):
            chunk.append((int(custom_id), answer))
            if len(chunk) == _BATCH:
                self._answer(phase, chunk)
                chunk = []
        self._answer(phase, chunk)
        with Session(self.job.checkpoint) as session, session.begin():
            left = list(session.scalars(select(_PendingRow).where(
                _PendingRow.batch_id == info.id)))
            for row in left:
                row.batch_id, row.attempts = None, row.attempts + 1
            session.get_one(_BatchRow, info.id).merged = True
        if left:
            self.log(f"batch {info.id} ({phase}) ended {info.status}: "
                     f"{len(left)} requests go again")

    def _answer(self, phase: str, answers: list[tuple[int, dict[str, Any] | str]]) -> None:
        with Session(self.job.checkpoint) as session:
            rows = {r.position: r for r in session.scalars(select(_PendingRow).where(
                _PendingRow.position.in_([p for p, _ in answers]), _PendingRow.phase == phase))}
        work = [(rows[p], _Pending.model_validate_json(rows[p].state), a)
                for p, a in answers if p in rows]  # an answer merged before a restart: skip
        results = self.job.assistant.map_calls(lambda item: self._replay(phase, *item), work)
        with Session(self.job.checkpoint) as session, session.begin():
            for (row, pending, _), result in zip(work, results, strict=True):
                self._settle(session, row.position, pending, result)
        self.job.report(self.job.classified)

    def _replay(self, phase: str, row: _PendingRow, pending: _Pending,
                answer: dict[str, Any] | str) -> Classification | Draft:
        llm = self.llm.using(ReplayCaller(self.live, answer,
                                          self.settings.llm_batch_price_share))
        if phase == "classify":
            return self.job.assistant.llm_classification(
                self.job.request(pending.ticket), pending.offline, pending.recall, llm)
        assert pending.labels is not None
        return self.job.assistant.draft_from(self.job.request(pending.ticket), pending.labels,
                                             pending.recall, llm=llm)

    def _settle(self, session: Session, position: int, pending: _Pending,
                result: Classification | Draft) -> None:
        """A ticket done, or on to the draft phase when the model labelled it a quick win."""
        row = session.get_one(_PendingRow, position)
        ticket, recall = pending.ticket, pending.recall
        if isinstance(result, Draft):
            assert pending.labels is not None
            draft_id = self.job.draft_id(ticket, pending.labels)
            assert draft_id is not None
            if not self.job.exists(draft_id):
                self.job.assistant.drafts.save(result.model_copy(update={"id": draft_id}))
            self.job.finished(session, position, ticket, pending.labels, recall, draft_id)
            session.delete(row)
            return
        draft_id = self.job.draft_id(ticket, result)
        if draft_id and not self.job.exists(draft_id):
            if result.engine == LLM_ENGINE:
                row.phase, row.batch_id, row.attempts = "draft", None, 0
                row.state = pending.model_copy(update={"labels": result}).model_dump_json()
                return
            # The model's labels failed: the offline drafter writes, no batch needed.
            draft = self.job.assistant.draft_from(self.job.request(ticket), result, recall)
            self.job.assistant.drafts.save(draft.model_copy(update={"id": draft_id}))
        self.job.finished(session, position, ticket, result, recall, draft_id)
        session.delete(row)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _clip(assistant: Assistant, ticket: Ticket) -> str:
    return ticket.text[: assistant.settings.max_text_chars]


def _row(
    ticket: Ticket, labels: Classification, recall: Recall | None, draft_id: str | None
) -> TriageRow:
    reasons = {name: [r.detail for r in getattr(labels.reasons, name)]
               for name in ("severity", "effort", "recovery_potential", "category", "route")}
    return TriageRow(
        ticket_id=ticket.id, customer_id=ticket.customer_id, csat_0_10=ticket.csat,
        closed_at=ticket.closed_at, channel=ticket.channel, severity=labels.severity.value,
        effort=labels.effort.value, recovery_potential=labels.recovery_potential.value,
        category=labels.category.value, language=labels.language, route=labels.route.value,
        escalate=labels.route == "escalate", confidence=labels.confidence,
        customer_orders=recall.facts.order_count if recall else 0, reasons=reasons,
        history_used=labels.history_used,
        draft_id=draft_id, engine=labels.engine, fallback_reason=labels.fallback_reason,
        text=ticket.text,
    )


def rank(rows: list[TriageRow]) -> list[TriageRow]:
    """Quick wins first; then severity high to low, effort low to high, customer value high to
    low; the ticket id settles ties, so the order never depends on how the run went."""
    severity, effort = ORDINAL_LABELS["severity"], ORDINAL_LABELS["effort"]
    ordered = sorted(rows, key=lambda r: (
        r.route != "quick_win", -severity.index(r.severity), effort.index(r.effort),
        -r.customer_orders, r.ticket_id))
    return [row.model_copy(update={"rank": index}) for index, row in enumerate(ordered, 1)]


def write_outputs(rows: list[TriageRow], problems: list[Problem], out: Path, csat_below: float
                  ) -> None:
    with (out / "triage.jsonl").open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(row.model_dump_json() + "\n")
    columns = [name for name in TriageRow.model_fields if name != "reasons"] + ["reasons"]
    with (out / "triage.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            data = row.model_dump()
            data["reasons"] = "; ".join(f"{k}: {' | '.join(v)}" for k, v in row.reasons.items())
            data["history_used"] = " ".join(row.history_used)
            writer.writerow(data)
    with (out / "problems.jsonl").open("w", encoding="utf-8") as handle:
        for problem in problems:
            handle.write(problem.model_dump_json() + "\n")
    _heatmap(rows, out / "severity-effort.png")
    (out / "report.md").write_text(_report(rows, problems, csat_below), encoding="utf-8")


def _report(rows: list[TriageRow], problems: list[Problem], csat_below: float) -> str:
    severity, effort = ORDINAL_LABELS["severity"], ORDINAL_LABELS["effort"]
    grid = Counter((r.severity, r.effort) for r in rows)
    routes = Counter(r.route for r in rows)
    out = [f"# Triage: {len(rows)} closed tickets rated below {csat_below:g}/10", "",
           f"Quick wins **{routes['quick_win']}**, escalations **{routes['escalate']}**, "
           f"standard {routes['standard']}. Rows not usable: {len(problems)} "
           "(see `problems.jsonl`).", "", "## Severity × effort", "",
           "| severity \\ effort | " + " | ".join(effort) + " |",
           "|---|" + "---|" * len(effort)]
    for level in reversed(severity):
        out.append(f"| {level} | " + " | ".join(str(grid[(level, e)]) for e in effort) + " |")
    out += ["", "![severity × effort](severity-effort.png)", "", "## By category", "",
            "| category | tickets |", "|---|---|"]
    out += [f"| {name} | {count} |"
            for name, count in Counter(r.category for r in rows).most_common()]
    out += ["", "## Quick wins, in order", "",
            "| rank | ticket | customer | severity | effort | category | draft | complaint |",
            "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        if row.route == "quick_win":
            text = row.text.replace("|", "/").replace("\n", " ")
            text = text if len(text) <= 90 else text[:89] + "…"
            out.append(f"| {row.rank} | {row.ticket_id} | {row.customer_id or ''} | "
                       f"{row.severity} | {row.effort} | {row.category} | "
                       f"{row.draft_id or 'no draft language'} | {text} |")
    escalations = [r for r in rows if r.escalate]
    if escalations:
        out += ["", "## Escalations", ""]
        out += [f"- {r.ticket_id} ({r.severity}, {r.category}): "
                f"{'; '.join(r.reasons['severity'][:2])}" for r in escalations]
    return "\n".join(out) + "\n"


def _heatmap(rows: list[TriageRow], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    severity, effort = ORDINAL_LABELS["severity"], ORDINAL_LABELS["effort"]
    grid = Counter((r.severity, r.effort) for r in rows)
    cells = [[grid[(s, e)] for e in effort] for s in reversed(severity)]
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    ax.imshow(cells, cmap="OrRd")
    ax.set_xticks(range(len(effort)), effort)
    ax.set_yticks(range(len(severity)), list(reversed(severity)))
    ax.set_xlabel("effort to fix")
    ax.set_ylabel("severity")
    ax.set_title("Low-rated tickets: severity × effort")
    top = max((max(row) for row in cells), default=0)
    for i, row in enumerate(cells):
        for j, count in enumerate(row):
            ax.text(j, i, str(count), ha="center", va="center",
                    color="white" if count > top / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


class Progress:
    """A bar with rate and ETA on a terminal; a plain log line now and then otherwise."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.last_logged = -1

    def __call__(self, done: int, total: int) -> None:
        elapsed = max(1e-6, time.monotonic() - self.started)
        rate = done / elapsed
        eta = (total - done) / rate if rate else 0.0
        if self.tty:
            filled = int(30 * done / max(1, total))
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} "
                              f"{rate:.1f}/s ETA {int(eta // 60)}:{int(eta % 60):02d}")
            if done >= total:
                self.stream.write("\n")
        else:
            step = max(1, total // 10)
            if done // step != self.last_logged or done >= total:
                self.last_logged = done // step
                self.stream.write(f"triage: {done}/{total} tickets, {rate:.1f}/s, "
                                  f"eta {eta:.0f}s\n")
        self.stream.flush()


# Triage runs over the API: the export is uploaded, the run goes on in the background, and its
# state lives in the drafts database (so any instance can answer for it). A run that was
# cut off by a restart resumes from its checkpoint when the service starts again.

RunStatus = Literal["queued", "running", "done", "failed"]


class _RunRecord(Tenanted, _Base):
    __tablename__ = "triage_runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[str] = mapped_column(String(40))
    arguments: Mapped[str] = mapped_column(Text)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class TriageRunInfo(BaseModel):
    id: str
    status: RunStatus
    created_at: str
    preset: str
    csat_below: float
    signer: str | None
    done: int
    total: int
    summary: dict[str, Any] | None
    error: str | None


class TriageRuns:
    """Starts, tracks and serves triage runs; one run at a time per instance."""

    def __init__(self, assistant: Assistant, pool: ThreadPoolExecutor | None = None) -> None:
        self.assistant = assistant
        self.folder = assistant.settings.data_dir / "triage-runs"
        self.engine = assistant.drafts.engine
        self._sessions = scoped_sessions(self.engine, assistant.tenant)
        if pool is None:
            table = _RunRecord.__table__
            upgrade(self.engine, table)  # type: ignore[arg-type]
            table.create(self.engine, checkfirst=True)  # type: ignore[attr-defined]
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="triage")
        self._pool = pool

    def scoped(self, assistant: Assistant) -> TriageRuns:
        """The runs of `assistant`'s tenant; one queue of work for the whole instance."""
        return TriageRuns(assistant, self._pool)

    def folder_of(self, run_id: str) -> Path:
        return self.folder / run_id

    def start(self, export: Path, preset: str, csat_below: float, signer: str | None
              ) -> TriageRunInfo:
        """`export` must already sit in `folder_of(run_id)`; see `new_run_id`."""
        if preset not in PRESETS:
            shutil.rmtree(export.parent, ignore_errors=True)
            raise InvalidInput(f"preset must be one of {', '.join(PRESETS)}, not {preset!r}")
        run_id = export.parent.name
        arguments = json.dumps({"export": export.name, "preset": preset,
                                "csat_below": csat_below, "signer": signer})
        with self._sessions.begin() as session:
            session.add(_RunRecord(id=run_id, status="queued", arguments=arguments,
                                   created_at=datetime.now(UTC).isoformat()))
        self._pool.submit(self._run, run_id)
        return self.get(run_id)

    def new_run_id(self) -> str:
        run_id = uuid.uuid4().hex
        self.folder_of(run_id).mkdir(parents=True, exist_ok=True)
        return run_id

    def resume_unfinished(self) -> list[str]:
        with Session(self.engine) as session:  # every tenant's runs
            unfinished = list(session.scalars(select(_RunRecord.id).where(
                _RunRecord.status.in_(["queued", "running"]))))
        # Only runs whose files are here: with shared stores, another instance may be running
        # the rest right now.
        mine = [run_id for run_id in unfinished if self.folder_of(run_id).is_dir()]
        for run_id in mine:
            self._pool.submit(self._run, run_id)
        return mine

    def _update(self, run_id: str, **values: Any) -> None:
        with Session(self.engine) as session, session.begin():  # the worker's own run
            record = session.get(_RunRecord, run_id)
            assert record is not None
            for name, value in values.items():
                setattr(record, name, value)

    def _run(self, run_id: str) -> None:
        folder = self.folder_of(run_id)
        # One process per run, even when instances share the folder and all resume on start.
        with (folder / "run.lock").open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            self._run_locked(run_id, folder)

    def _run_locked(self, run_id: str, folder: Path) -> None:
        with Session(self.engine) as session:  # resumed runs may be any tenant's
            record = session.get(_RunRecord, run_id)
            assert record is not None
            arguments = json.loads(record.arguments)
            assistant = self.assistant.for_tenant(record.tenant)
        self._update(run_id, status="running")
        try:
            summary = run_triage(
                assistant, folder / arguments["export"], folder / "out",
                preset=PRESETS[arguments["preset"]], csat_below=arguments["csat_below"],
                signer=arguments["signer"],
                progress=lambda done, total: self._update(run_id, done=done, total=total),
            )
        except Exception as exc:  # the run fails; the service and other runs go on
            self._update(run_id, status="failed", error=f"{type(exc).__name__}: {exc}")
            return
        result = {k: v for k, v in summary.__dict__.items() if k != "out"}
        self._update(run_id, status="done", summary=json.dumps(result),
                     done=summary.selected, total=summary.selected)

    def get(self, run_id: str) -> TriageRunInfo:
        with self._sessions() as session:
            record = session.get(_RunRecord, run_id)
            if record is None:
                raise NotFound(f"no triage run with id {run_id!r}")
            arguments = json.loads(record.arguments)
            return TriageRunInfo(
                id=record.id, status=record.status,
                created_at=record.created_at, preset=arguments["preset"],
                csat_below=arguments["csat_below"], signer=arguments["signer"],
                done=record.done, total=record.total,
                summary=json.loads(record.summary) if record.summary else None,
                error=record.error,
            )

    def _finished(self, run_id: str) -> Path:
        info = self.get(run_id)
        if info.status != "done":
            raise Conflict(f"triage run {run_id} is {info.status}; results come when it is done")
        out = self.folder_of(run_id) / "out"
        if not (out / "triage.jsonl").is_file():
            raise NotFound(f"triage run {run_id} ran on another instance: its results are in "
                           "that instance's RECOVERY_DATA_DIR/triage-runs (share that folder "
                           "between instances to read them from any)")
        return out

    def rows(self, run_id: str, limit: int, offset: int) -> list[TriageRow]:
        out = self._finished(run_id)
        with (out / "triage.jsonl").open(encoding="utf-8") as handle:
            chosen = itertools.islice(handle, offset, offset + limit)
            return [TriageRow.model_validate_json(line) for line in chosen]

    def report(self, run_id: str) -> str:
        return (self._finished(run_id) / "report.md").read_text(encoding="utf-8")
