"""Customers' history: what we know of them, for recall."""

from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.concurrency import run_in_threadpool

from api.deps import AssistantDep, CustomerPath
from assistant.models import HistoryItem, HistoryItemIn

router = APIRouter()


@router.post("/customers/{customer_id}/history", response_model=list[HistoryItem],
          status_code=201)
async def add_history(
    customer_id: CustomerPath,
    body: Annotated[HistoryItemIn | list[HistoryItemIn], Body()],
    assistant: AssistantDep,
) -> list[HistoryItem]:
    items = body if isinstance(body, list) else [body]
    return await run_in_threadpool(assistant.add_history, customer_id, items)


@router.get("/customers/{customer_id}/history", response_model=list[HistoryItem])
async def list_history(customer_id: CustomerPath, assistant: AssistantDep) -> list[HistoryItem]:
    return await run_in_threadpool(assistant.list_history, customer_id)
