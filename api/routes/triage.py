"""Triage runs: an export uploaded, triaged in the background, its rows and report."""

import shutil
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse

from api.deps import MAX_OFFSET, RunPath, TriageDep
from assistant.errors import InvalidInput, TooLarge
from assistant.triage import PresetName, TriageRow, TriageRunInfo

router = APIRouter()


@router.post("/triage-runs", response_model=TriageRunInfo, status_code=202,
         openapi_extra={"requestBody": {"required": True, "content": {
             media: {"schema": {"type": "string", "minLength": 1}}
             for media in ("text/csv", "application/x-ndjson")}}})
async def start_triage(
    request: Request,
    triage: TriageDep,
    preset: PresetName = "generic",
    csat_below: Annotated[float, Query(ge=0, le=10)] = 7,
    signer: Annotated[str | None, Query(max_length=80)] = None,
    format: Literal["csv", "jsonl"] = "csv",
    top: Annotated[int | None, Query(ge=1, le=1000)] = None,
    draft: Literal["top", "all", "none"] = "top",
) -> TriageRunInfo:
    """Upload a closed-ticket export as the request body (CSV or JSONL); the run goes on
    in the background: poll its status, then read its rows and report. `top` customers make
    tonight's list (default RECOVERY_TRIAGE_TOP); `draft`: who gets a draft."""
    room, limit_name = await run_in_threadpool(triage.upload_room)
    run_id = triage.new_run_id()
    export = triage.folder_of(run_id) / f"export.{format}"
    size = 0
    try:  # an upload that fails or is cut off leaves nothing behind
        with export.open("wb") as handle:
            async for chunk in request.stream():
                size += len(chunk)
                if size > room:
                    raise TooLarge(f"the export is larger than the {room // 1024 // 1024} MB "
                                   f"this tenant may upload now ({limit_name})")
                handle.write(chunk)
        if size == 0:
            raise InvalidInput("the request body is empty: send the export file as the body")
    except BaseException:
        shutil.rmtree(export.parent, ignore_errors=True)
        raise
    return await run_in_threadpool(triage.start, export, preset, csat_below, signer, top,
                                   draft)


@router.get("/triage-runs/{run_id}", response_model=TriageRunInfo)
async def triage_status(run_id: RunPath, triage: TriageDep) -> TriageRunInfo:
    return await run_in_threadpool(triage.get, run_id)


@router.get("/triage-runs/{run_id}/rows", response_model=list[TriageRow])
async def triage_rows(
    run_id: RunPath, triage: TriageDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[TriageRow]:
    """The ranked rows (quick wins first), 409 until the run is done."""
    return await run_in_threadpool(triage.rows, run_id, limit, offset)


@router.get("/triage-runs/{run_id}/report", response_class=PlainTextResponse)
async def triage_report(run_id: RunPath, triage: TriageDep) -> str:
    return await run_in_threadpool(triage.report, run_id)
