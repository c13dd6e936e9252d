"""Nightly triage of closed, low-rated tickets: quick wins first, for a leader to fix personally.

The export is streamed (never loaded whole). Progress is checkpointed in SQLite inside the
output folder after every batch, together with the drafts it made (their ids are derived from
the run and the ticket), so a run killed at any point and started again with the same
arguments ends with exactly the rows, files and drafts of an uninterrupted run."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..models import Route
from ..service import Assistant
from .batchapi import BatchTriage
from .checkpoint import CheckpointBase, RunRow, TicketRow
from .exports import Preset, RowProblem, Ticket, read_export
from .job import DraftMode, Job
from .outputs import write_outputs
from .themes import (
    LanguageDirections,
    Theme,
    ThemeMemory,
    ThemeTicket,
    compared,
    find_themes,
)
from .tonight import tonight


@dataclass
class TriageSummary:
    read: int
    selected: int
    classified_now: int
    resumed: int
    problems: int
    quick_wins: int
    tonight: int
    themes: int
    systemic: int
    run_label: str
    out: Path


ProgressFn = Callable[[int, int], None]


def run_triage(
    assistant: Assistant, export: Path, out: Path, *, preset: Preset, csat_below: float = 7.0,
    signer: str | None = None, progress: ProgressFn | None = None, batch_api: bool = False,
    log: Callable[[str], None] | None = None, top: int | None = None, draft: DraftMode = "top",
    run_id: str | None = None,
) -> TriageSummary:
    """Triage the tickets rated below `csat_below`; safe to stop at any point and run again
    with the same arguments. `batch_api` sends the model's work through the OpenAI Batch API.
    `top` customers make tonight's list (default RECOVERY_TRIAGE_TOP); `draft` says who gets
    a draft: tonight's list, every quick win, or nobody. The drafts carry `run_id` (an HTTP
    run's id; else the first 16 characters of the run's key) as `triage_run`."""
    top = assistant.settings.triage_top if top is None else top
    if batch_api and assistant.llm is None:
        raise InvalidInput("--batch-api needs the LLM engine (set OPENAI_API_KEY or "
                           "OPENAI_BASE_URL, RECOVERY_ENGINE=llm)")
    out.mkdir(parents=True, exist_ok=True)
    arguments = json.dumps({
        "export": str(export.resolve()), "file": _file_digest(export), "preset": preset.__dict__,
        "csat_below": csat_below, "signer": signer, "batch_api": batch_api, "top": top,
        "draft": draft, "tenant": assistant.tenant,  # draft ids differ between tenants
    }, sort_keys=True)
    key = hashlib.sha256(arguments.encode()).hexdigest()
    checkpoint = create_engine(f"sqlite:///{out / 'checkpoint.db'}")
    CheckpointBase.metadata.create_all(checkpoint)
    with Session(checkpoint) as session, session.begin():
        run = session.get(RunRow, key)
        if run is None:
            if session.scalar(select(func.count()).select_from(RunRow)):
                raise InvalidInput(
                    f"{out} holds a triage run with other arguments or another export; "
                    "use a new --out folder (or delete its checkpoint.db to start over)")
            session.add(RunRow(key=key, arguments=arguments))
        done = set(session.scalars(select(TicketRow.ticket_id)))

    def chosen(ticket: Ticket) -> bool:
        return ticket.csat is not None and ticket.csat < csat_below

    # Two streamed passes: the first only counts (for the progress total), the second works
    # in batches; neither holds the export in memory.
    total = sum(1 for ticket in read_export(export, preset, []) if chosen(ticket))
    reading = _Reading()
    todo = ((position, ticket) for position, ticket in _selected(export, preset, chosen, reading)
            if ticket.id not in done)
    job = Job(assistant, checkpoint, key, signer,
              lambda now: progress(len(done) + now, total) if progress else None,
              draft_all=draft == "all", label=run_id)
    if batch_api:
        classified = BatchTriage(job, out, log or (lambda _: None)).run(todo)
    else:
        classified = job.inline(todo)
    ranking = tonight(job.rows(), top)
    listed = [ranking.placed(row, rank) for rank, row in enumerate(
        job.rows_of(list(ranking.others)), start=1)]
    if draft == "top":
        job.draft_tonight(listed)
    themes, of_ticket = _themes(assistant, job)
    ranked = (ranking.placed(row, rank, of_ticket.get(row.ticket_id))
              for rank, row in enumerate(job.rows_of(ranking.order), start=1))
    routes = write_outputs(ranked, themes, reading.problems, out, csat_below)
    checkpoint.dispose()
    return TriageSummary(
        read=reading.read, selected=reading.selected, classified_now=classified,
        resumed=len(done), problems=len(reading.problems),
        quick_wins=routes[Route.quick_win], tonight=len(listed),
        themes=len(themes), systemic=sum(t.systemic for t in themes),
        run_label=job.run_label, out=out,
    )


def _themes(assistant: Assistant, job: Job) -> tuple[list[Theme], dict[str, int]]:
    """The run's themes, compared with the tenant's previous run and remembered for the
    next one."""
    index = assistant.shipped_classifier.index  # our examples, the same for every tenant
    directions = LanguageDirections(index.matrix, [e.language for e in index.examples])
    tickets = [ThemeTicket.of(row) for row in job.rows()]
    themes, of_ticket = find_themes(tickets, job.vectors(tickets), directions)
    memory = ThemeMemory(assistant.drafts.db, assistant.tenant)
    before = memory.previous(job.run_label)
    if before is not None:
        themes = compared(themes, before[1], before[0])
    memory.keep(job.run_label, themes)
    return themes, of_ticket


@dataclass
class _Reading:
    read: int = 0
    selected: int = 0
    problems: list[RowProblem] = field(default_factory=list)


def _selected(export: Path, preset: Preset, chosen: Callable[[Ticket], bool], reading: _Reading
              ) -> Iterator[tuple[int, Ticket]]:
    """(position among the selected, ticket), counting what was read on the way."""
    for ticket in read_export(export, preset, reading.problems):
        reading.read += 1
        if chosen(ticket):
            reading.selected += 1
            yield reading.selected, ticket


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
