"""What both ways of triaging share: batches of tickets, the checkpoint, the drafting rules."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ..errors import NotFound
from ..models import Classification, DraftRequest, Recall
from ..service import Assistant, Case
from .checkpoint import TicketRow, VectorRow
from .exports import Ticket
from .outputs import TriageRow, triage_row
from .themes import ThemeTicket

BATCH = 64
Batch = list[tuple[int, Ticket]]
DraftMode = Literal["top", "all", "none"]


class Labelled(BaseModel):
    """A ticket's labels and recall as the checkpoint keeps them."""

    labels: Classification
    recall: Recall | None


@dataclass
class Job:
    """What both ways of triaging share: the assistant, the checkpoint and the drafting rules."""

    assistant: Assistant
    checkpoint: Engine
    key: str
    signer: str | None
    report: Callable[[int], None]
    draft_all: bool = False  # quick wins drafted as they stream by (`--draft all`)
    label: str | None = None  # the run's id over HTTP; else the first 16 of its key

    @property
    def run_label(self) -> str:
        return self.label or self.key[:16]
    classified: int = 0

    def batches(self, todo: Iterator[tuple[int, Ticket]]) -> Iterator[Batch]:
        batch: Batch = []
        for item in todo:
            batch.append(item)
            if len(batch) == BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def request(self, ticket: Ticket) -> DraftRequest:
        return DraftRequest(text=clip(self.assistant, ticket), customer_id=ticket.customer_id,
                            signer=self.signer)

    def draft_id(self, ticket_id: str, labels: Classification, listed: bool = False
                  ) -> str | None:
        """The id of the ticket's draft, fixed by the run and the ticket so that a resumed run
        never drafts one twice; None for no draft. Drafted: tonight's list (`listed`), or
        every quick win with `--draft all`, in a language we write."""
        if labels.language not in self.assistant.knowledge.phrases or not (
                listed or (self.draft_all and labels.route == "quick_win")):
            return None
        return hashlib.sha256(f"{self.key}/{ticket_id}".encode()).hexdigest()[:32]

    def exists(self, draft_id: str) -> bool:
        try:
            self.assistant.drafts.get(draft_id)
        except NotFound:
            return False
        return True

    def finished(self, session: Session, position: int, ticket: Ticket, labels: Classification,
                 recall: Recall | None, draft_id: str | None) -> None:
        row = triage_row(ticket, labels, recall, draft_id)
        session.add(TicketRow(ticket_id=ticket.id, position=position,
                              result=row.model_dump_json(),
                              labelled=Labelled(labels=labels, recall=recall).model_dump_json()))
        self.classified += 1

    def keep_vectors(self, session: Session, batch: Batch, vectors: np.ndarray) -> None:
        session.add_all([VectorRow(ticket_id=ticket.id, vector=vector.astype(np.float16).tobytes())
                         for (_, ticket), vector in zip(batch, vectors, strict=True)])

    def rows(self) -> Iterator[TriageRow]:
        """Every row the run has, streamed from the checkpoint in export order."""
        with Session(self.checkpoint) as session:
            for result in session.scalars(select(TicketRow.result).order_by(
                    TicketRow.position).execution_options(yield_per=512)):
                yield TriageRow.model_validate_json(result)

    def rows_of(self, ticket_ids: list[str]) -> Iterator[TriageRow]:
        """These rows from the checkpoint, in this order, a block at a time."""
        with Session(self.checkpoint) as session:
            for start in range(0, len(ticket_ids), 512):
                block = ticket_ids[start:start + 512]
                found = dict(session.execute(
                    select(TicketRow.ticket_id, TicketRow.result)
                    .where(TicketRow.ticket_id.in_(block))).all())
                for ticket_id in block:
                    yield TriageRow.model_validate_json(found[ticket_id])

    def vectors(self, tickets: list[ThemeTicket]) -> np.ndarray:
        """The tickets' vectors from the checkpoint, in order, as one float32 matrix (a
        checkpoint from before vectors were kept gets the missing ones embedded now)."""
        where = {ticket.ticket_id: i for i, ticket in enumerate(tickets)}
        matrix: np.ndarray | None = None
        kept = np.zeros(len(tickets), dtype=bool)
        with Session(self.checkpoint) as session:
            for ticket_id, stored in session.execute(
                    select(VectorRow.ticket_id, VectorRow.vector).execution_options(
                        yield_per=1024)):
                if ticket_id in where:
                    vector = np.frombuffer(stored, dtype=np.float16)
                    if matrix is None:
                        matrix = np.zeros((len(tickets), len(vector)), dtype=np.float32)
                    matrix[where[ticket_id]] = vector
                    kept[where[ticket_id]] = True
        missing = np.flatnonzero(~kept)
        for start in range(0, len(missing), BATCH):
            chunk = missing[start:start + BATCH]
            embedded = self.assistant.embed([tickets[i].text for i in chunk])
            if matrix is None:
                matrix = np.zeros((len(tickets), embedded.shape[1]), dtype=np.float32)
            matrix[chunk] = embedded
        return np.zeros((0, 0), dtype=np.float32) if matrix is None else matrix

    def inline(self, todo: Iterator[tuple[int, Ticket]]) -> int:
        """Classify and draft as the tickets stream by, a batch at a time, with a pipeline of
        two: the next batch is embedded (C code, off the GIL) while this one is classified,
        drafted and checkpointed."""
        pending: tuple[Batch, Future[np.ndarray]] | None = None
        with ThreadPoolExecutor(max_workers=1) as embedder:
            for batch in self.batches(todo):
                texts = [clip(self.assistant, t) for _, t in batch]
                future = embedder.submit(self.assistant.embed, texts)
                if pending:
                    self._work(*pending)
                pending = (batch, future)
            if pending:
                self._work(*pending)
        return self.classified

    def _work(self, batch: Batch, vectors: Future[np.ndarray]) -> None:
        assistant = self.assistant
        embedded = vectors.result()
        cases = assistant.cases([self.request(t) for _, t in batch], embedded)
        draft_ids = [self.draft_id(t.id, case.labels) for (_, t), case in zip(
            batch, cases, strict=True)]
        wanted = [(draft_id, case) for draft_id, case in zip(draft_ids, cases, strict=True)
                  if draft_id and not self.exists(draft_id)]
        drafts = assistant.compose_many([case for _, case in wanted])
        if drafts:
            assistant.drafts.save_many([draft.model_copy(update={
                "id": draft_id, "triage_run": self.run_label})
                                        for (draft_id, _), draft in zip(wanted, drafts,
                                                                        strict=True)])
        with Session(self.checkpoint) as session, session.begin():
            for (position, ticket), case, draft_id in zip(batch, cases, draft_ids, strict=True):
                self.finished(session, position, ticket, case.labels, case.recall, draft_id)
            self.keep_vectors(session, batch, embedded)
        self.report(self.classified)

    def case(self, ticket: Ticket, labels: Classification, recall: Recall | None) -> Case:
        """A ticket labelled earlier (parked for the Batch API, or ranked for tonight's
        list), ready for `compose` again."""
        request = self.request(ticket)
        return Case(request, self.assistant.understand(request), recall, labels)

    def draft_tonight(self, rows: list[TriageRow]) -> list[TriageRow]:
        """Drafts for tonight's list, once every ticket is ranked; the rows with their draft
        ids, also in the checkpoint (a resumed run drafts none twice)."""
        wanted: list[tuple[str, Case]] = []
        with Session(self.checkpoint) as session:
            for row in rows:
                stored = session.get_one(TicketRow, row.ticket_id)
                labelled = Labelled.model_validate_json(stored.labelled)
                draft_id = row.draft_id or self.draft_id(row.ticket_id, labelled.labels, True)
                if draft_id and not self.exists(draft_id):
                    ticket = Ticket(id=row.ticket_id, text=row.text, customer_id=row.customer_id)
                    wanted.append((draft_id, self.case(ticket, labelled.labels,
                                                       labelled.recall)))
                row.draft_id = draft_id
        drafts = self.assistant.compose_many([case for _, case in wanted])
        self.assistant.drafts.save_many([draft.model_copy(update={
            "id": draft_id, "triage_run": self.run_label})
                                         for (draft_id, _), draft in zip(wanted, drafts,
                                                                         strict=True)])
        with Session(self.checkpoint) as session, session.begin():
            for row in rows:
                stored = session.get_one(TicketRow, row.ticket_id)
                stored.result = TriageRow.model_validate_json(stored.result).model_copy(
                    update={"draft_id": row.draft_id}).model_dump_json()
        return rows


def clip(assistant: Assistant, ticket: Ticket) -> str:
    return ticket.text[: assistant.settings.max_text_chars]
