"""Shared fixtures: real Chroma in a temp folder, real e5 embeddings (loaded once)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from assistant.classify import ExampleIndex, OfflineClassifier
from assistant.embeddings import E5Embeddings
from assistant.history import ChromaConnection, HistoryStore
from assistant.knowledge import load_knowledge
from assistant.service import Assistant
from assistant.settings import REPO_ROOT, Settings
from assistant.tenancy import DEFAULT_TENANT
from tests.chromaserver import chroma_server, fresh_database
from tests.pgserver import find_bindir, postgres_server

TODAY = date(2026, 11, 23)
INJECTION_RESULTS = pytest.StashKey[list[str]]()


def data_cases(name: str, missed: dict[str, str] | None = None) -> list[Any]:
    """The lines of `tests/data/NAME` as test cases named by their ids; a known miss (read
    once on a held-out part, evals/README.md) is a strict expected failure with its reason."""
    lines = (REPO_ROOT / "tests" / "data" / name).read_text(encoding="utf-8").splitlines()
    missed = missed or {}
    return [pytest.param(case, id=case["id"], marks=pytest.mark.xfail(
        reason=missed[case["id"]], strict=True) if case["id"] in missed else ())
        for case in map(json.loads, lines)]


def pytest_configure(config: pytest.Config) -> None:
    config.stash[INJECTION_RESULTS] = []


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The prompt-injection corpus, one line per attempt and engine (test_injection.py)."""
    lines = config.stash.get(INJECTION_RESULTS, [])
    if lines:
        terminalreporter.section("prompt injection corpus")
        for line in lines:
            terminalreporter.write_line(line)


def api_headers(assistant: Assistant, tenant: str = DEFAULT_TENANT) -> dict[str, str]:
    """A fresh API key of `tenant`, as the header every /v1 request needs."""
    _, key = assistant.keys.create(tenant, "tests")
    return {"Authorization": f"Bearer {key}"}


def new_assistant(settings: Settings) -> Assistant:
    """An assistant on `settings` whose today is the tests' fixed day."""
    return Assistant(settings, today=lambda: TODAY)


@contextmanager
def api_client(assistant: Assistant, tenant: str = DEFAULT_TENANT) -> Iterator[TestClient]:
    """The API over `assistant`, over HTTP semantics in process, with a key of `tenant`."""
    with TestClient(create_app(assistant=assistant),
                    headers=api_headers(assistant, tenant)) as client:
        yield client


@pytest.fixture(scope="session")
def embeddings() -> E5Embeddings:
    return E5Embeddings()


@pytest.fixture(scope="session")
def knowledge():
    return load_knowledge(REPO_ROOT / "knowledge")


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, engine="offline")


@pytest.fixture()
def history(settings: Settings, embeddings: E5Embeddings) -> HistoryStore:
    return HistoryStore(settings, embeddings, ChromaConnection(settings))


@pytest.fixture(scope="session", autouse=True)
def example_cache(knowledge, embeddings, tmp_path_factory) -> Iterator[ExampleIndex]:
    """The labelled examples embedded once, in a cache folder every service the tests start
    shares (in process and as subprocesses, through RECOVERY_CACHE_DIR): each one would
    otherwise embed them again in its fresh data folder."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECOVERY_CACHE_DIR", str(folder))
        yield ExampleIndex(knowledge.examples, embeddings, folder)


@pytest.fixture(scope="session")
def classifier(knowledge, example_cache: ExampleIndex) -> OfflineClassifier:
    return OfflineClassifier(knowledge, example_cache)


@pytest.fixture(scope="session")
def offline_assistant(tmp_path_factory, example_cache: ExampleIndex) -> Assistant:
    """One offline assistant on the embedded stores, for tests that only read through it."""
    return new_assistant(Settings(data_dir=tmp_path_factory.mktemp("assistant"),
                                  engine="offline"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL on loopback. Missing binaries skip locally but fail in CI."""
    if find_bindir() is None:
        message = "PostgreSQL binaries not found; `make test` installs them as root"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def chroma_url() -> Iterator[str]:
    """A real `chroma run` server on loopback, shared by the server-mode tests."""
    with chroma_server() as url:
        yield url


def server_settings(request: pytest.FixtureRequest, data_dir: Path) -> Settings:
    """Server mode: a Chroma server and PostgreSQL, as several instances would share them.
    Each test gets its own collection and its own database."""
    return Settings(
        data_dir=data_dir, engine="offline", chroma_url=request.getfixturevalue("chroma_url"),
        collection=f"t{uuid.uuid4().hex[:12]}",
        database_url=fresh_database(request.getfixturevalue("postgres_url")))


@pytest.fixture(params=["embedded", "server"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """For the history, draft and triage tests: once on the embedded defaults (Chroma folder,
    SQLite), once in server mode."""
    if request.param == "embedded":
        return Settings(data_dir=tmp_path, engine="offline")
    return server_settings(request, tmp_path)
