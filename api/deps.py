"""What every /v1 route depends on: the API key, the tenant's assistant, strict query
parameters, and the documented error shape."""

import re
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from assistant.errors import InvalidInput, RateLimited, Unauthorized
from assistant.keys import ApiKey
from assistant.models import CUSTOMER_ID_PATTERN
from assistant.ratelimit import RequestQuota
from assistant.service import Assistant
from assistant.triage import TriageRuns

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
    failures: RequestQuota = request.app.state.auth_failures
    client = request.client.host if request.client else "unknown"
    wait = failures.take(client, count=False)
    if wait > 0:
        raise RateLimited(f"too many failed authentications from {client}; retry after the "
                          "Retry-After seconds", retry_after_s=wait)
    try:
        key = base.keys.check(credentials.credentials)
    except Unauthorized:
        failures.take(client)
        raise
    quota: RequestQuota | None = request.app.state.quota
    wait = quota.take(key.id) if quota else 0.0
    if quota and wait > 0:
        raise RateLimited(f"key {key.id} is over {quota.per_minute:g} requests per minute "
                          "(RECOVERY_RATE_LIMIT_PER_MINUTE); retry after the Retry-After "
                          "seconds", retry_after_s=wait)
    return key


KeyDep = Annotated[ApiKey, Depends(authenticate)]


def documented(schema: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """The operations the OpenAPI schema documents for a concrete path, by method."""
    return [operations for template, operations in schema["paths"].items()
            if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), path)]


def refuse_unknown_query(request: Request) -> None:
    """A misspelt filter (`?stauts=approved`) would be ignored and return everything; say so
    instead. What is known is what the OpenAPI schema documents for the route."""
    operation = next((found for operations in documented(request.app.openapi(), request.url.path)
                      if (found := operations.get(request.method.lower()))), None)
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
ERRORS: dict[int | str, dict[str, Any]] = {
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
HOURS = 24 * 365 * 100  # a century: beyond it a date cannot be computed
MAX_OFFSET = 2**31 - 1  # beyond it the database cannot count
