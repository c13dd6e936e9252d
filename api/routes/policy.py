"""The tenant's compensation policy: what its drafts may offer, and up to what value."""

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.deps import AssistantDep, KeyDep
from assistant.knowledge import Policy
from assistant.policies import PolicyRecord

router = APIRouter()


@router.get("/gesture-policy", response_model=PolicyRecord)
async def get_policy(assistant: AssistantDep) -> PolicyRecord:
    """This tenant's policy: its own, or the shipped one (`shipped: true`)."""
    return await run_in_threadpool(assistant.policies.record)


@router.put("/gesture-policy", response_model=PolicyRecord)
async def put_policy(body: Policy, assistant: AssistantDep, key: KeyDep) -> PolicyRecord:
    """Replaces this tenant's policy; drafts made from now on follow it. Recorded with the
    API key that set it."""
    return await run_in_threadpool(assistant.policies.put, body, f"key {key.id} ({key.name})")
