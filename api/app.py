"""The HTTP API: thin routes over `assistant.Assistant`; errors mapped to status codes here."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Body, Depends, FastAPI, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from assistant.errors import AssistantError, InvalidInput, NotFound, Unavailable
from assistant.models import (
    Classification,
    ComplaintIn,
    Draft,
    DraftRequest,
    HistoryItem,
    HistoryItemIn,
)
from assistant.service import Assistant
from assistant.settings import Settings, get_settings

_STATUS = {InvalidInput: 422, NotFound: 404, Unavailable: 503}


def get_assistant(request: Request) -> Assistant:
    found: Assistant = request.app.state.assistant
    return found


AssistantDep = Annotated[Assistant, Depends(get_assistant)]
CustomerPath = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[\w.@:+-]+$")]


def create_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.assistant = assistant or Assistant(settings or get_settings())
        yield

    app = FastAPI(
        title="Recovery assistant",
        version="0.1.0",
        description="Judges complaints, recalls the customer, drafts recovery replies.",
        lifespan=lifespan,
    )

    @app.exception_handler(AssistantError)
    async def _mapped(request: Request, exc: AssistantError) -> JSONResponse:
        status = next((code for cls, code in _STATUS.items() if isinstance(exc, cls)), 500)
        return JSONResponse(status_code=status, content={"detail": str(exc)})

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/classify", response_model=Classification)
    async def classify(body: ComplaintIn, assistant: AssistantDep) -> Classification:
        return await run_in_threadpool(assistant.classify, body)

    @app.post("/v1/drafts", response_model=Draft, status_code=201)
    async def create_draft(body: DraftRequest, assistant: AssistantDep) -> Draft:
        return await run_in_threadpool(assistant.draft, body)

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
