"""Complaints in: labels, and the key's own record."""

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.deps import AssistantDep, KeyDep
from assistant.keys import ApiKey
from assistant.models import Classification, ComplaintIn

router = APIRouter()


@router.get("/me", response_model=ApiKey)
async def me(key: KeyDep) -> ApiKey:
    """The key's own record (its tenant and id, never the secret): to check a key."""
    return key


@router.post("/classify", response_model=Classification)
async def classify(body: ComplaintIn, assistant: AssistantDep) -> Classification:
    return await run_in_threadpool(assistant.classify, body)
