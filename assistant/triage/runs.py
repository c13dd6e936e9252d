"""Triage runs over the API: the export is uploaded, the run goes on in the background, and its
state lives in the service's database (so any instance can answer for it). A run that was
cut off by a restart resumes from its checkpoint when the service starts again."""

from __future__ import annotations

import fcntl
import itertools
import json
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from ..errors import Conflict, InvalidInput, NotFound
from ..service import Assistant
from ..store import TriageRunRow
from ..tenancy import scoped_sessions, upgrade
from .exports import PRESETS
from .job import DraftMode
from .outputs import TriageRow
from .run import run_triage

_MB = 1024 * 1024
RunStatus = Literal["queued", "running", "done", "failed"]


class TriageRunInfo(BaseModel):
    id: str
    status: RunStatus
    created_at: str
    preset: str
    csat_below: float
    signer: str | None
    top: int | None = None
    draft: str = "top"
    done: int
    total: int
    summary: dict[str, Any] | None
    error: str | None


class TriageRuns:
    """Starts, tracks and serves triage runs; one run at a time per instance."""

    def __init__(self, assistant: Assistant, pool: ThreadPoolExecutor | None = None) -> None:
        self.assistant = assistant
        self.folder = assistant.settings.data_dir / "triage-runs"
        self.db = assistant.drafts.db
        self._sessions = scoped_sessions(self.db, assistant.tenant)
        if pool is None:
            table = TriageRunRow.__table__
            upgrade(self.db, table)  # type: ignore[arg-type]
            table.create(self.db, checkfirst=True)  # type: ignore[attr-defined]
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="triage")
        self._pool = pool

    def scoped(self, assistant: Assistant) -> TriageRuns:
        """The runs of `assistant`'s tenant; one queue of work for the whole instance."""
        return TriageRuns(assistant, self._pool)

    def folder_of(self, run_id: str) -> Path:
        return self.folder / run_id

    def start(self, export: Path, preset: str, csat_below: float, signer: str | None,
              top: int | None = None, draft: DraftMode = "top") -> TriageRunInfo:
        """`export` must already sit in `folder_of(run_id)`; see `new_run_id`."""
        if preset not in PRESETS:
            shutil.rmtree(export.parent, ignore_errors=True)
            raise InvalidInput(f"preset must be one of {', '.join(PRESETS)}, not {preset!r}")
        run_id = export.parent.name
        arguments = json.dumps({"export": export.name, "preset": preset,
                                "csat_below": csat_below, "signer": signer,
                                "top": top or self.assistant.settings.triage_top,
                                "draft": draft})
        with self._sessions.begin() as session:
            session.add(TriageRunRow(id=run_id, status="queued", arguments=arguments,
                                   created_at=datetime.now(UTC).isoformat()))
        self._pool.submit(self._run, run_id)
        return self.get(run_id)

    def upload_room(self) -> tuple[int, str]:
        """Bytes this tenant may upload now, and the setting that sets it: one export's limit,
        or what its runs still waiting on their exports leave of the tenant's cap."""
        settings = self.assistant.settings
        with self._sessions() as session:
            waiting = list(session.scalars(select(TriageRunRow.id).where(
                TriageRunRow.status.in_(["queued", "running"]))))
        held = sum(path.stat().st_size for run_id in waiting
                   for path in self.folder_of(run_id).glob("export.*") if path.is_file())
        one, cap = settings.max_upload_mb * _MB, settings.max_stored_upload_mb * _MB - held
        if one <= cap:
            return one, "RECOVERY_MAX_UPLOAD_MB"
        return max(0, cap), "RECOVERY_MAX_STORED_UPLOAD_MB: exports of runs not yet done count"

    def new_run_id(self) -> str:
        run_id = uuid.uuid4().hex
        self.folder_of(run_id).mkdir(parents=True, exist_ok=True)
        return run_id

    def resume_unfinished(self) -> list[str]:
        with Session(self.db) as session:  # every tenant's runs
            unfinished = list(session.scalars(select(TriageRunRow.id).where(
                TriageRunRow.status.in_(["queued", "running"]))))
        # Only runs whose files are here: with shared stores, another instance may be running
        # the rest right now.
        mine = [run_id for run_id in unfinished if self.folder_of(run_id).is_dir()]
        for run_id in mine:
            self._pool.submit(self._run, run_id)
        return mine

    def _update(self, run_id: str, **values: Any) -> None:
        with Session(self.db) as session, session.begin():  # the worker's own run
            record = session.get(TriageRunRow, run_id)
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
        with Session(self.db) as session:  # resumed runs may be any tenant's
            record = session.get(TriageRunRow, run_id)
            assert record is not None
            arguments = json.loads(record.arguments)
            assistant = self.assistant.for_tenant(record.tenant)
        self._update(run_id, status="running")
        try:
            summary = run_triage(
                assistant, folder / arguments["export"], folder / "out",
                preset=PRESETS[arguments["preset"]], csat_below=arguments["csat_below"],
                signer=arguments["signer"], top=arguments.get("top"),
                draft=arguments.get("draft", "top"), run_id=run_id,
                progress=lambda done, total: self._update(run_id, done=done, total=total),
            )
        except Exception as exc:  # the run fails; the service and other runs go on
            self._update(run_id, status="failed", error=_described(exc))
            return
        for path in folder.glob("export.*"):  # done: the results stay, the upload goes
            path.unlink(missing_ok=True)
        result = {k: v for k, v in summary.__dict__.items() if k != "out"}
        self._update(run_id, status="done", summary=json.dumps(result),
                     done=summary.selected, total=summary.selected)

    def get(self, run_id: str) -> TriageRunInfo:
        with self._sessions() as session:
            record = session.get(TriageRunRow, run_id)
            if record is None:
                raise NotFound(f"no triage run with id {run_id!r}")
            arguments = json.loads(record.arguments)
            return TriageRunInfo(
                id=record.id, status=record.status,
                created_at=record.created_at, preset=arguments["preset"],
                csat_below=arguments["csat_below"], signer=arguments["signer"],
                top=arguments.get("top"), draft=arguments.get("draft", "top"),
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


def _described(exc: Exception) -> str:
    """Why a run failed, without the data that made it fail: no field value of a validation
    error, no SQL parameters."""
    if isinstance(exc, ValidationError):
        return "invalid data: " + "; ".join(
            f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors())
    if isinstance(exc, StatementError):
        return f"the database refused a write: {type(exc.orig).__name__}"
    return f"{type(exc).__name__}: {str(exc)[:300]}"
