"""Schemathesis against the OpenAPI schema, over real HTTP to a real uvicorn: generated
requests for every operation, a fixed budget of cases per operation (FUZZ_EXAMPLES, 25 by
default), derandomized so CI runs the same cases every time. Every response must be free of
5xx and match the documented status codes, content types, headers and response schemas, and
requests that break the schema must be refused.

Not checked: that every schema-valid request is accepted. Some rules cannot be written in
the schema: a rejection needs a reason and an edit its text, a reply cannot be drafted in a
language we have no phrases for, a draft is reviewed only once; those answer a documented
422 or 409 that says what to fix."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from api.app import create_app
from assistant.settings import Settings
from tests.chromaserver import serving
from tests.conftest import api_headers, new_assistant

pytestmark = pytest.mark.network

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
# The schema comes from the app itself; building the app starts nothing.
SCHEMA = schemathesis.openapi.from_dict(
    create_app(Settings(data_dir=Path(tempfile.gettempdir()), engine="offline")).openapi())


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:
    """A real server with some history and a draft, so reads find something; no per-key rate
    limit (the fuzzer would mostly meet 429s)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("fuzz"), engine="offline",
                        rate_limit_per_minute=None, max_upload_mb=1)
    assistant = new_assistant(settings)
    headers = api_headers(assistant)
    with serving(create_app(assistant=assistant)) as base:
        yield base, headers


@SCHEMA.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_api_keeps_its_contract(case, target):
    base, headers = target
    skipped = [positive_data_acceptance]  # see the module docstring
    if case.operation.label == "POST /v1/triage-runs":
        skipped.append(negative_data_rejection)  # any bytes may be an export: we cannot tell
    case.call_and_validate(base_url=base, headers=headers, timeout=60, excluded_checks=skipped)
