"""The HTTP API: thin routes over `assistant.Assistant`; errors mapped to status codes here."""

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path as PathLib
from typing import Annotated, Literal

from fastapi import Body, Depends, FastAPI, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.errors import (
    AssistantError,
    Conflict,
    InvalidInput,
    NotFound,
    TooLarge,
    Unavailable,
)
from assistant.models import (
    Classification,
    ComplaintIn,
    Draft,
    DraftPage,
    DraftRequest,
    DraftStatus,
    Effort,
    FollowUpDue,
    HistoryItem,
    HistoryItemIn,
    ReviewEvent,
    ReviewIn,
    Route,
    Severity,
    StatsReport,
)
from assistant.service import Assistant
from assistant.settings import Settings, get_settings
from assistant.triage import TriageRow, TriageRunInfo, TriageRuns

STATIC = PathLib(__file__).parent / "static"


class BodyLimit:
    """Refuses request bodies over `max_bytes` with a 413 before anything parses them, also
    when they come chunked without a length. Exempt paths (uploads) have their own limit."""

    def __init__(self, app: ASGIApp, max_bytes: int, exempt: tuple[str, ...]) -> None:
        self.app, self.max_bytes, self.exempt = app, max_bytes, exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        length = length if length and length.isdigit() else None
        if length is not None and int(length) <= self.max_bytes:
            await self.app(scope, receive, send)
            return
        messages, size = [], 0
        while length is None or int(length) <= self.max_bytes:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.max_bytes or not message.get("more_body"):
                break
        if size > self.max_bytes or (length is not None and int(length) > self.max_bytes):
            mb = self.max_bytes / 1024 / 1024
            response = JSONResponse(status_code=413, content={"detail": (
                f"the request body is over {mb:g} MB (RECOVERY_MAX_BODY_MB); send less, or "
                "history in several requests")})
            await response(scope, receive, send)
            return
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)
_STATUS = {TooLarge: 413, InvalidInput: 422, NotFound: 404, Conflict: 409, Unavailable: 503}


def get_assistant(request: Request) -> Assistant:
    found: Assistant = request.app.state.assistant
    return found


def get_triage_runs(request: Request) -> TriageRuns:
    found: TriageRuns = request.app.state.triage_runs
    return found


AssistantDep = Annotated[Assistant, Depends(get_assistant)]
TriageDep = Annotated[TriageRuns, Depends(get_triage_runs)]
RunPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")]
DraftPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")]
CustomerPath = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[\w.@:+-]+$")]


def create_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.assistant = assistant or Assistant(settings or get_settings())
        app.state.triage_runs = TriageRuns(app.state.assistant)
        app.state.triage_runs.resume_unfinished()
        yield

    app = FastAPI(
        title="Recovery assistant",
        version="0.1.0",
        description="Judges complaints, recalls the customer, drafts recovery replies.",
        lifespan=lifespan,
    )

    @app.exception_handler(StarletteHTTPException)
    async def _unparseable(request: Request, exc: StarletteHTTPException) -> Response:
        """FastAPI says only "There was an error parsing the body"; say what to fix."""
        cause = exc.__cause__
        if isinstance(cause, UnicodeDecodeError):
            return JSONResponse(status_code=400, content={"detail": (
                f"the body is not valid UTF-8 (byte 0x{cause.object[cause.start]:02x} at "
                f"position {cause.start}); send JSON encoded as UTF-8")})
        if isinstance(cause, RecursionError):
            return JSONResponse(status_code=400, content={
                "detail": "the JSON is nested too deeply; send the documented shape"})
        return await http_exception_handler(request, exc)

    @app.exception_handler(AssistantError)
    async def _mapped(request: Request, exc: AssistantError) -> JSONResponse:
        status = next((code for cls, code in _STATUS.items() if isinstance(exc, cls)), 500)
        return JSONResponse(status_code=status, content={"detail": str(exc)})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    limit = (settings or (assistant.settings if assistant else get_settings())).max_body_mb
    app.add_middleware(BodyLimit, max_bytes=int(limit * 1024 * 1024),
                       exempt=("/v1/triage-runs",))

    @app.get("/", include_in_schema=False)
    async def review_page() -> FileResponse:
        """The review desk for agents: plain HTML, CSS and JS served from here, no CDN."""
        return FileResponse(STATIC / "index.html")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/classify", response_model=Classification)
    async def classify(body: ComplaintIn, assistant: AssistantDep) -> Classification:
        return await run_in_threadpool(assistant.classify, body)

    @app.post("/v1/drafts", response_model=Draft, status_code=201)
    async def create_draft(body: DraftRequest, assistant: AssistantDep) -> Draft:
        return await run_in_threadpool(assistant.draft, body)

    @app.get("/v1/drafts", response_model=DraftPage)
    async def list_drafts(
        assistant: AssistantDep,
        status: DraftStatus | None = None,
        route: Route | None = None,
        severity: Severity | None = None,
        effort: Effort | None = None,
        language: Annotated[str | None, Query(max_length=8)] = None,
        older_than_hours: Annotated[float | None, Query(ge=0)] = None,
        newer_than_hours: Annotated[float | None, Query(ge=0)] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> DraftPage:
        """The review queue, oldest first; filter by state, labels, language and age."""
        return await run_in_threadpool(
            assistant.drafts.queue, status=status, route=route, severity=severity,
            effort=effort, language=language, older_than_hours=older_than_hours,
            newer_than_hours=newer_than_hours, limit=limit, offset=offset,
        )

    @app.get("/v1/drafts/{draft_id}", response_model=Draft)
    async def get_draft(draft_id: DraftPath, assistant: AssistantDep) -> Draft:
        return await run_in_threadpool(assistant.drafts.get, draft_id)

    @app.post("/v1/drafts/{draft_id}/review", response_model=Draft)
    async def review_draft(draft_id: DraftPath, body: ReviewIn, assistant: AssistantDep) -> Draft:
        """Approve, edit (with the new text) or reject (with a reason). Nothing is sent."""
        return await run_in_threadpool(assistant.drafts.review, draft_id, body)

    @app.get("/v1/drafts/{draft_id}/audit", response_model=list[ReviewEvent])
    async def draft_audit(draft_id: DraftPath, assistant: AssistantDep) -> list[ReviewEvent]:
        return await run_in_threadpool(assistant.drafts.audit, draft_id)

    @app.get("/v1/follow-ups", response_model=list[FollowUpDue])
    async def follow_ups(assistant: AssistantDep, due_by: date | None = None) -> list[FollowUpDue]:
        """Sent replies that promised a follow-up by `due_by` (default today)."""
        return await run_in_threadpool(assistant.drafts.follow_ups_due, due_by or assistant.today())

    @app.get("/v1/stats", response_model=StatsReport)
    async def stats(assistant: AssistantDep) -> StatsReport:
        """Acceptance, edit and rejection rates, edit distance; overall and by label."""
        return await run_in_threadpool(assistant.drafts.stats)

    @app.post("/v1/triage-runs", response_model=TriageRunInfo, status_code=202)
    async def start_triage(
        request: Request,
        triage: TriageDep,
        preset: str = "generic",
        csat_below: Annotated[float, Query(ge=0, le=10)] = 7,
        signer: Annotated[str | None, Query(max_length=80)] = None,
        format: Literal["csv", "jsonl"] = "csv",
    ) -> TriageRunInfo:
        """Upload a closed-ticket export as the request body (CSV or JSONL); the run goes on
        in the background: poll its status, then read its rows and report."""
        limit = triage.assistant.settings.max_upload_mb * 1024 * 1024
        run_id = triage.new_run_id()
        export = triage.folder_of(run_id) / f"export.{format}"
        size = 0
        with export.open("wb") as handle:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    handle.close()
                    shutil.rmtree(export.parent, ignore_errors=True)
                    raise TooLarge(
                        f"the export is larger than {limit // 1024 // 1024} MB "
                        "(RECOVERY_MAX_UPLOAD_MB)")
                handle.write(chunk)
        if size == 0:
            shutil.rmtree(export.parent, ignore_errors=True)
            raise InvalidInput("the request body is empty: send the export file as the body")
        return await run_in_threadpool(triage.start, export, preset, csat_below, signer)

    @app.get("/v1/triage-runs/{run_id}", response_model=TriageRunInfo)
    async def triage_status(run_id: RunPath, triage: TriageDep) -> TriageRunInfo:
        return await run_in_threadpool(triage.get, run_id)

    @app.get("/v1/triage-runs/{run_id}/rows", response_model=list[TriageRow])
    async def triage_rows(
        run_id: RunPath, triage: TriageDep,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[TriageRow]:
        """The ranked rows (quick wins first), 409 until the run is done."""
        return await run_in_threadpool(triage.rows, run_id, limit, offset)

    @app.get("/v1/triage-runs/{run_id}/report", response_class=PlainTextResponse)
    async def triage_report(run_id: RunPath, triage: TriageDep) -> str:
        return await run_in_threadpool(triage.report, run_id)

    @app.post("/v1/customers/{customer_id}/history", response_model=list[HistoryItem],
              status_code=201)
    async def add_history(
        customer_id: CustomerPath,
        body: Annotated[HistoryItemIn | list[HistoryItemIn], Body()],
        assistant: AssistantDep,
    ) -> list[HistoryItem]:
        items = body if isinstance(body, list) else [body]
        return await run_in_threadpool(assistant.add_history, customer_id, items)

    @app.get("/v1/customers/{customer_id}/history", response_model=list[HistoryItem])
    async def list_history(customer_id: CustomerPath, assistant: AssistantDep) -> list[HistoryItem]:
        return await run_in_threadpool(assistant.list_history, customer_id)

    return app
