"""Triage through the OpenAI Batch API: labels for every ticket, then drafts for the quick
wins, each phase parked, submitted, waited on and merged, every step checkpointed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..batch import BatchClient, BatchInfo, Deferred, RecordingCaller, ReplayCaller
from ..llm import ENGINE as LLM_ENGINE
from ..llm import ChatCaller
from ..models import Classification, Draft, Recall
from .checkpoint import BatchRow, PendingRow
from .exports import Ticket
from .job import BATCH, Job


class Pending(BaseModel):
    ticket: Ticket
    offline: Classification
    recall: Recall | None
    labels: Classification | None = None  # the model's, once the classify batch is merged


class BatchFailed(Exception):
    """The Batch API refused a whole batch (for example, its file did not validate)."""


_PHASES = ("classify", "draft")
_MAX_ATTEMPTS = 2  # batches a request may ride in before the offline answer stands


class BatchTriage:
    """Triage through the OpenAI Batch API, in two phases (labels for every ticket, then
    drafts for the quick wins), each: park, submit, wait, merge. Every step is checkpointed:
    a restarted run picks up the same batches instead of paying for new ones."""

    def __init__(self, job: Job, out: Path, log: Callable[[str], None]) -> None:
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
            parked = set(session.scalars(select(PendingRow.position)))
        for batch in self.job.batches(p for p in todo if p[0] not in parked):
            requests = [self.job.request(t) for _, t in batch]
            vectors = self.job.assistant.embed([r.text for r in requests])
            cases = self.job.assistant.cases(requests, vectors, use_model=False)
            with Session(self.job.checkpoint) as session, session.begin():
                self.job.keep_vectors(session, batch, vectors)
                session.add_all([PendingRow(
                    position=position, phase="classify", attempts=0,
                    state=Pending(ticket=ticket, offline=case.labels, recall=case.recall
                                   ).model_dump_json())
                    for (position, ticket), case in zip(batch, cases, strict=True)])

    def _open(self, phase: str) -> list[str]:
        with Session(self.job.checkpoint) as session:
            return list(session.scalars(select(BatchRow.batch_id).where(
                BatchRow.phase == phase, BatchRow.merged.is_(False))))

    def _submit(self, phase: str) -> bool:
        """Request files for the unsubmitted tickets of `phase`, at most
        `llm_batch_max_requests` lines each, uploaded and started. Tickets that already rode
        in `_MAX_ATTEMPTS` batches without an answer keep the offline answer instead."""
        submitted = False
        while True:
            with Session(self.job.checkpoint) as session:
                rows = list(session.scalars(select(PendingRow).where(
                    PendingRow.phase == phase, PendingRow.batch_id.is_(None)
                ).order_by(PendingRow.position).limit(self.settings.llm_batch_max_requests)))
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
                    body = self._record(phase, Pending.model_validate_json(row.state))
                    handle.write(json.dumps({"custom_id": str(row.position), "method": "POST",
                                             "url": "/v1/chat/completions", "body": body},
                                            ensure_ascii=False) + "\n")
            batch_id = self.client.submit(path, {"recovery_triage": self.job.key[:16],
                                                 "phase": phase})
            path.unlink()
            self.log(f"batch {batch_id} ({phase}): {len(rows)} requests submitted")
            with Session(self.job.checkpoint) as session, session.begin():
                session.add(BatchRow(batch_id=batch_id, phase=phase, merged=False))
                for row in rows:
                    session.get_one(PendingRow, row.position).batch_id = batch_id
            submitted = True

    def _record(self, phase: str, pending: Pending) -> dict[str, Any]:
        recorder = self.llm.using(RecordingCaller(self.live))
        case = self.job.case(pending.ticket, pending.labels or pending.offline, pending.recall)
        try:
            if phase == "classify":
                recorder.propose(case.understood, case.recall, self.job.assistant.today())
            else:
                self.job.assistant.compose(case, llm=recorder)
        except Deferred as deferred:
            return deferred.body
        raise AssertionError(f"the {phase} step made no model call to put in a batch")

    def _merge(self, phase: str, info: BatchInfo) -> None:
        """Answers into the checkpoint, a chunk at a time; requests the batch left
        unanswered (expired, cancelled) go into the next one."""
        chunk: list[tuple[int, dict[str, Any] | str]] = []
        for custom_id, answer in self.client.answers(info):
            chunk.append((int(custom_id), answer))
            if len(chunk) == BATCH:
                self._answer(phase, chunk)
                chunk = []
        self._answer(phase, chunk)
        with Session(self.job.checkpoint) as session, session.begin():
            left = list(session.scalars(select(PendingRow).where(
                PendingRow.batch_id == info.id)))
            for row in left:
                row.batch_id, row.attempts = None, row.attempts + 1
            session.get_one(BatchRow, info.id).merged = True
        if left:
            self.log(f"batch {info.id} ({phase}) ended {info.status}: "
                     f"{len(left)} requests go again")

    def _answer(self, phase: str, answers: list[tuple[int, dict[str, Any] | str]]) -> None:
        with Session(self.job.checkpoint) as session:
            rows = {r.position: r for r in session.scalars(select(PendingRow).where(
                PendingRow.position.in_([p for p, _ in answers]), PendingRow.phase == phase))}
        work = [(rows[p], Pending.model_validate_json(rows[p].state), a)
                for p, a in answers if p in rows]  # an answer merged before a restart: skip
        results = self.job.assistant.map_calls(lambda item: self._replay(phase, *item), work)
        with Session(self.job.checkpoint) as session, session.begin():
            for (row, pending, _), result in zip(work, results, strict=True):
                self._settle(session, row.position, pending, result)
        self.job.report(self.job.classified)

    def _replay(self, phase: str, row: PendingRow, pending: Pending,
                answer: dict[str, Any] | str) -> Classification | Draft:
        llm = self.llm.using(ReplayCaller(self.live, answer,
                                          self.settings.llm_batch_price_share))
        case = self.job.case(pending.ticket, pending.labels or pending.offline, pending.recall)
        if phase == "classify":
            return self.job.assistant.model_labels(case.understood, case.recall, case.labels,
                                                   llm)
        return self.job.assistant.compose(case, llm=llm)

    def _settle(self, session: Session, position: int, pending: Pending,
                result: Classification | Draft) -> None:
        """A ticket done, or on to the draft phase when the model labelled it a quick win."""
        row = session.get_one(PendingRow, position)
        ticket, recall = pending.ticket, pending.recall
        if isinstance(result, Draft):
            assert pending.labels is not None
            draft_id = self.job.draft_id(ticket.id, pending.labels)
            assert draft_id is not None
            if not self.job.exists(draft_id):
                self.job.assistant.drafts.save(result.model_copy(update={
                    "id": draft_id, "triage_run": self.job.run_label}))
            self.job.finished(session, position, ticket, pending.labels, recall, draft_id)
            session.delete(row)
            return
        draft_id = self.job.draft_id(ticket.id, result)
        if draft_id and not self.job.exists(draft_id):
            if result.engine == LLM_ENGINE:
                row.phase, row.batch_id, row.attempts = "draft", None, 0
                row.state = pending.model_copy(update={"labels": result}).model_dump_json()
                return
            # The model's labels failed: the offline drafter writes, no batch needed.
            draft = self.job.assistant.compose(self.job.case(ticket, result, recall))
            self.job.assistant.drafts.save(draft.model_copy(update={
                "id": draft_id, "triage_run": self.job.run_label}))
        self.job.finished(session, position, ticket, result, recall, draft_id)
        session.delete(row)
