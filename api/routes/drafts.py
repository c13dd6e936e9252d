"""Drafts: made, queued, reviewed and audited; follow-ups and the review statistics."""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from api.deps import HOURS, MAX_OFFSET, AssistantDep, DraftPath
from assistant.models import (
    CorrectedLabels,
    Draft,
    DraftPage,
    DraftRequest,
    DraftStatus,
    Effort,
    FollowUpDue,
    GestureSwitch,
    IsoDate,
    LabelCorrection,
    ReviewEvent,
    ReviewIn,
    Route,
    Severity,
    StatsReport,
)

router = APIRouter()


@router.post("/drafts", response_model=Draft, status_code=201)
async def create_draft(body: DraftRequest, assistant: AssistantDep) -> Draft:
    return await run_in_threadpool(assistant.draft, body)


@router.get("/drafts", response_model=DraftPage)
async def list_drafts(
    assistant: AssistantDep,
    status: DraftStatus | None = None,
    route: Route | None = None,
    severity: Severity | None = None,
    effort: Effort | None = None,
    language: Annotated[str | None, Query(max_length=8)] = None,
    older_than_hours: Annotated[float | None, Query(ge=0, le=HOURS)] = None,
    newer_than_hours: Annotated[float | None, Query(ge=0, le=HOURS)] = None,
    triage_run: Annotated[str | None, Query(max_length=64, pattern=r"^[0-9a-f]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> DraftPage:
    """The review queue, oldest first; filter by state, labels, language, age and the triage
    run that drafted them."""
    return await run_in_threadpool(
        assistant.drafts.queue, status=status, route=route, severity=severity,
        effort=effort, language=language, older_than_hours=older_than_hours,
        newer_than_hours=newer_than_hours, triage_run=triage_run, limit=limit, offset=offset,
    )


@router.get("/drafts/{draft_id}", response_model=Draft)
async def get_draft(draft_id: DraftPath, assistant: AssistantDep) -> Draft:
    return await run_in_threadpool(assistant.drafts.get, draft_id)


@router.post("/drafts/{draft_id}/review", response_model=Draft)
async def review_draft(draft_id: DraftPath, body: ReviewIn, assistant: AssistantDep) -> Draft:
    """Approve, edit (with the new text) or reject (with a reason). Nothing is sent."""
    return await run_in_threadpool(assistant.drafts.review, draft_id, body)


@router.post("/drafts/{draft_id}/gesture", response_model=Draft)
async def switch_gesture(draft_id: DraftPath, body: GestureSwitch,
                         assistant: AssistantDep) -> Draft:
    """Word a pending draft again with another of its `gesture_options` (by position), or
    with none (`"option": null`); audited as `reworded`. 409 once reviewed."""
    return await run_in_threadpool(assistant.switch_gesture, draft_id, body)


@router.post("/drafts/{draft_id}/labels", response_model=CorrectedLabels)
async def correct_labels(draft_id: DraftPath, body: LabelCorrection,
                         assistant: AssistantDep) -> CorrectedLabels:
    """Correct the labels of a draft's complaint (any of severity, effort, recovery_potential,
    category): audited, and learned by this tenant's offline model from its next
    classification on."""
    labels = await run_in_threadpool(assistant.correct_labels, draft_id, body)
    return CorrectedLabels(draft_id=draft_id, labels=labels)


@router.get("/drafts/{draft_id}/audit", response_model=list[ReviewEvent])
async def draft_audit(draft_id: DraftPath, assistant: AssistantDep) -> list[ReviewEvent]:
    return await run_in_threadpool(assistant.drafts.audit, draft_id)


@router.get("/follow-ups", response_model=list[FollowUpDue])
async def follow_ups(assistant: AssistantDep, due_by: IsoDate | None = None
                     ) -> list[FollowUpDue]:
    """Sent replies that promised a follow-up by `due_by` (default today)."""
    return await run_in_threadpool(assistant.drafts.follow_ups_due, due_by or assistant.today())


@router.get("/stats", response_model=StatsReport)
async def stats(assistant: AssistantDep) -> StatsReport:
    """Acceptance, edit and rejection rates, edit distance; overall and by label."""
    return await run_in_threadpool(assistant.drafts.stats)
