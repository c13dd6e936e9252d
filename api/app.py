"""The HTTP API: thin routes over `assistant.Assistant`; errors mapped to status codes here."""

import math
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path as PathLib
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, Path, Query, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.errors import (
    AssistantError,
    Conflict,
    InvalidInput,
    NotFound,
    RateLimited,
    TooLarge,
    Unauthorized,
    Unavailable,
)
from assistant.keys import ApiKey
from assistant.models import (
    CUSTOMER_ID_PATTERN,
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
    IsoDate,
    ReviewEvent,
    ReviewIn,
    Route,
    Severity,
    StatsReport,
)
from assistant.ratelimit import RequestQuota
from assistant.service import Assistant
from assistant.settings import Settings, get_settings
from assistant.triage import PresetName, TriageRow, TriageRunInfo, TriageRuns

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
_STATUS = {TooLarge: 413, InvalidInput: 422, NotFound: 404, Conflict: 409, Unavailable: 503,
           Unauthorized: 401, RateLimited: 429}
_BEARER = HTTPBearer(auto_error=False, description="An API key from `recovery keys create`.")


def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
) -> ApiKey:
    """Every /v1 request: a live key (whose tenant scopes all it can reach), inside the key's
    request rate."""
    if credentials is None:
        raise Unauthorized("this endpoint needs an API key: send `Authorization: Bearer rk_…` "
                           "(make one with `recovery keys create --tenant NAME`)")
    base: Assistant = request.app.state.assistant
    key = base.keys.check(credentials.credentials)
    quota: RequestQuota | None = request.app.state.quota
    wait = quota.take(key.id) if quota else 0.0
    if quota and wait > 0:
        raise RateLimited(f"key {key.id} is over {quota.per_minute:g} requests per minute "
                          "(RECOVERY_RATE_LIMIT_PER_MINUTE); retry after the Retry-After "
                          "seconds", retry_after_s=wait)
    return key


KeyDep = Annotated[ApiKey, Depends(authenticate)]


def refuse_unknown_query(request: Request) -> None:
    """A misspelt filter (`?stauts=approved`) would be ignored and return everything; say so
    instead. What is known is what the OpenAPI schema documents for the route."""
    template = getattr(request.scope.get("route"), "path", None)
    operation = request.app.openapi()["paths"].get(template, {}).get(request.method.lower())
    if operation is None:
        return
    known = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise InvalidInput(f"unknown query parameter(s) {', '.join(map(repr, unknown))}; this "
                           f"endpoint takes: {', '.join(sorted(known)) or 'none'}")


class Problem(BaseModel):
    """Every error: `detail` says what to fix (FastAPI's own 422s list the fields)."""

    detail: str | list[dict[str, Any]]


_PROBLEM = {"schema": {"$ref": "#/components/schemas/Problem"}}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": description,
             "content": {"application/json": _PROBLEM}}  # also on the text/plain routes
    for status, description in (
        (400, "The body is not UTF-8 JSON, or nested too deeply."),
        (401, "No API key, or an unknown or revoked one."),
        (404, "Not found, or another tenant's."),
        (409, "Not in a state for this (a draft already reviewed, a run not done)."),
        (413, "The body is over RECOVERY_MAX_BODY_MB (uploads: RECOVERY_MAX_UPLOAD_MB)."),
        (422, "A field is missing or wrong; the detail names it."),
        (429, "Over the key's requests per minute; see Retry-After."),
        (503, "A store or the model did not answer in time."),
    )}


def get_assistant(request: Request, key: KeyDep) -> Assistant:
    """The one place that scopes a request to its tenant: routes get only this object."""
    base: Assistant = request.app.state.assistant
    return base.for_tenant(key.tenant)


def get_triage_runs(request: Request, assistant: Annotated[Assistant, Depends(get_assistant)]
                    ) -> TriageRuns:
    runs: TriageRuns = request.app.state.triage_runs
    return runs.scoped(assistant)


AssistantDep = Annotated[Assistant, Depends(get_assistant)]
TriageDep = Annotated[TriageRuns, Depends(get_triage_runs)]
RunPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")]
DraftPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")]
CustomerPath = Annotated[str, Path(min_length=1, max_length=128, pattern=CUSTOMER_ID_PATTERN)]
_HOURS = 24 * 365 * 100  # a century: beyond it a date cannot be computed





def _methods_of(paths: dict[str, dict[str, Any]], path: str) -> list[str]:
    """Every method the schema documents for a concrete path."""
    return sorted({method.upper() for template, methods in paths.items()
                   if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), path)
                   for method in methods})


def create_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.assistant = assistant or Assistant(settings or get_settings())
        app.state.triage_runs = TriageRuns(app.state.assistant)
        app.state.triage_runs.resume_unfinished()
        per_minute = app.state.assistant.settings.rate_limit_per_minute
        app.state.quota = RequestQuota(per_minute) if per_minute else None
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
        if exc.status_code == 405:  # Starlette names only the first matching route's methods
            allowed = _methods_of(app.openapi()["paths"], request.url.path)
            return JSONResponse(status_code=405, headers={"Allow": ", ".join(allowed)},
                                content={"detail": f"use {' or '.join(allowed)} here"})
        return await http_exception_handler(request, exc)

    @app.exception_handler(AssistantError)
    async def _mapped(request: Request, exc: AssistantError) -> JSONResponse:
        status = next((code for cls, code in _STATUS.items() if isinstance(exc, cls)), 500)
        headers = {}
        if isinstance(exc, Unauthorized):
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
        return JSONResponse(status_code=status, content={"detail": str(exc)}, headers=headers)

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

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(authenticate),
                                               Depends(refuse_unknown_query)],
                   responses=_ERRORS)

    @v1.get("/me", response_model=ApiKey)
    async def me(key: KeyDep) -> ApiKey:
        """The key's own record (its tenant and id, never the secret): to check a key."""
        return key

    @v1.post("/classify", response_model=Classification)
    async def classify(body: ComplaintIn, assistant: AssistantDep) -> Classification:
        return await run_in_threadpool(assistant.classify, body)

    @v1.post("/drafts", response_model=Draft, status_code=201)
    async def create_draft(body: DraftRequest, assistant: AssistantDep) -> Draft:
        return await run_in_threadpool(assistant.draft, body)

    @v1.get("/drafts", response_model=DraftPage)
    async def list_drafts(
        assistant: AssistantDep,
        status: DraftStatus | None = None,
        route: Route | None = None,
        severity: Severity | None = None,
        effort: Effort | None = None,
        language: Annotated[str | None, Query(max_length=8)] = None,
        older_than_hours: Annotated[float | None, Query(ge=0, le=_HOURS)] = None,
        newer_than_hours: Annotated[float | None, Query(ge=0, le=_HOURS)] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> DraftPage:
        """The review queue, oldest first; filter by state, labels, language and age."""
        return await run_in_threadpool(
            assistant.drafts.queue, status=status, route=route, severity=severity,
            effort=effort, language=language, older_than_hours=older_than_hours,
            newer_than_hours=newer_than_hours, limit=limit, offset=offset,
        )

    @v1.get("/drafts/{draft_id}", response_model=Draft)
    async def get_draft(draft_id: DraftPath, assistant: AssistantDep) -> Draft:
        return await run_in_threadpool(assistant.drafts.get, draft_id)

    @v1.post("/drafts/{draft_id}/review", response_model=Draft)
    async def review_draft(draft_id: DraftPath, body: ReviewIn, assistant: AssistantDep) -> Draft:
        """Approve, edit (with the new text) or reject (with a reason). Nothing is sent."""
        return await run_in_threadpool(assistant.drafts.review, draft_id, body)

    @v1.get("/drafts/{draft_id}/audit", response_model=list[ReviewEvent])
    async def draft_audit(draft_id: DraftPath, assistant: AssistantDep) -> list[ReviewEvent]:
        return await run_in_threadpool(assistant.drafts.audit, draft_id)

    @v1.get("/follow-ups", response_model=list[FollowUpDue])
    async def follow_ups(assistant: AssistantDep, due_by: IsoDate | None = None
                         ) -> list[FollowUpDue]:
        """Sent replies that promised a follow-up by `due_by` (default today)."""
        return await run_in_threadpool(assistant.drafts.follow_ups_due, due_by or assistant.today())

    @v1.get("/stats", response_model=StatsReport)
    async def stats(assistant: AssistantDep) -> StatsReport:
        """Acceptance, edit and rejection rates, edit distance; overall and by label."""
        return await run_in_threadpool(assistant.drafts.stats)

    @v1.post("/triage-runs", response_model=TriageRunInfo, status_code=202,
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

    @v1.get("/triage-runs/{run_id}", response_model=TriageRunInfo)
    async def triage_status(run_id: RunPath, triage: TriageDep) -> TriageRunInfo:
        return await run_in_threadpool(triage.get, run_id)

    @v1.get("/triage-runs/{run_id}/rows", response_model=list[TriageRow])
    async def triage_rows(
        run_id: RunPath, triage: TriageDep,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[TriageRow]:
        """The ranked rows (quick wins first), 409 until the run is done."""
        return await run_in_threadpool(triage.rows, run_id, limit, offset)

    @v1.get("/triage-runs/{run_id}/report", response_class=PlainTextResponse)
    async def triage_report(run_id: RunPath, triage: TriageDep) -> str:
        return await run_in_threadpool(triage.report, run_id)

    @v1.post("/customers/{customer_id}/history", response_model=list[HistoryItem],
              status_code=201)
    async def add_history(
        customer_id: CustomerPath,
        body: Annotated[HistoryItemIn | list[HistoryItemIn], Body()],
        assistant: AssistantDep,
    ) -> list[HistoryItem]:
        items = body if isinstance(body, list) else [body]
        return await run_in_threadpool(assistant.add_history, customer_id, items)

    @v1.get("/customers/{customer_id}/history", response_model=list[HistoryItem])
    async def list_history(customer_id: CustomerPath, assistant: AssistantDep) -> list[HistoryItem]:
        return await run_in_threadpool(assistant.list_history, customer_id)

    app.include_router(v1)
    return app
