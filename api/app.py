"""The HTTP API: thin routes over `assistant.Assistant`; errors mapped to status codes here."""

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path as PathLib

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import ERRORS, authenticate, documented, refuse_unknown_query
from api.middleware import BodyLimit, install_log_filters
from api.routes import complaints, customers, drafts, policy, triage
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
from assistant.ratelimit import RequestQuota
from assistant.service import Assistant, Health
from assistant.settings import Settings, get_settings
from assistant.triage import TriageRuns

STATIC = PathLib(__file__).parent / "static"
_STATUS = {TooLarge: 413, InvalidInput: 422, NotFound: 404, Conflict: 409, Unavailable: 503,
           Unauthorized: 401, RateLimited: 429}


def create_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.assistant = assistant or Assistant(settings or get_settings())
        app.state.assistant.connect()
        app.state.triage_runs = TriageRuns(app.state.assistant)
        app.state.triage_runs.resume_unfinished()
        per_minute = app.state.assistant.settings.rate_limit_per_minute
        app.state.quota = RequestQuota(per_minute) if per_minute else None
        app.state.auth_failures = RequestQuota(
            app.state.assistant.settings.auth_failures_per_minute, burst_s=60)
        yield

    install_log_filters()
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
            allowed = sorted({method.upper() for operations in documented(
                app.openapi(), request.url.path) for method in operations})
            return JSONResponse(status_code=405, headers={"Allow": ", ".join(allowed)},
                                content={"detail": f"use {' or '.join(allowed)} here"})
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        """What is wrong and where, never the value sent: it may be a customer's words (or a
        NaN that JSON cannot carry back)."""
        return JSONResponse(status_code=422, content={"detail": [
            {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
            for error in exc.errors()]})

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

    @app.get("/healthz", response_model=Health)
    async def healthz(request: Request) -> Health:
        """Alive: the engine and the model it uses (no outside call)."""
        service: Assistant = request.app.state.assistant
        return service.health()

    @app.get("/readyz", response_model=Health, responses={503: {"model": Health}})
    async def readyz(request: Request) -> JSONResponse:
        """Ready to label with the configured engine: 503 while the model endpoint does not
        answer (the offline engine would stand in for every request)."""
        service: Assistant = request.app.state.assistant
        health = await run_in_threadpool(service.health, True)
        return JSONResponse(health.model_dump(), status_code=200 if health.status == "ok" else 503)

    for routes in (complaints, drafts, triage, customers, policy):
        app.include_router(routes.router, prefix="/v1", responses=ERRORS, dependencies=[
            Depends(authenticate), Depends(refuse_unknown_query)])
    return app
