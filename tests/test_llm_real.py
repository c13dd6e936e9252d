"""The LLM engine against a real model server: llama.cpp's own OpenAI-compatible HTTP server
with Gemma 3 270M (`tests/llamaserver.py`), one thread and one slot, as a small local box runs
it. The model is a weak base model, so these tests check the plumbing whatever it answers:
the language, the usage of every call, the model's name, slots and timeouts, a server that
dies mid-call, and an eval that says when the model never answered."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from assistant.errors import InvalidInput
from assistant.models import ComplaintIn, DraftRequest
from assistant.settings import Settings
from tests.chromaserver import stop, wait_for_http
from tests.conftest import new_assistant
from tests.llamaserver import MODEL_ALIAS, llama_server, model_file
from tests.pgserver import _free_port

pytestmark = pytest.mark.network

GERMAN = "Mein Paket ist schon wieder zu spät, und niemand antwortet auf meine E-Mails."
ENGLISH = ["My salad came without the cheese I asked for.",
           "The train was cancelled and nobody told us.",
           "I was charged twice for one order."]


@pytest.fixture(scope="module")
def server():
    with llama_server() as (url, _process):
        yield url


def _settings(tmp_path: Path, url: str, **changes: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path, "engine": "llm", "openai_base_url": url, "openai_api_key": "none",
        "llm_timeout_s": 45.0, "llm_deadline_s": 180.0, "llm_max_retries": 1}
    return Settings(**{**values, **changes})  # type: ignore[arg-type]


def test_labels_in_the_detectors_language_and_every_call_in_usage(server, tmp_path):
    assistant = new_assistant(_settings(tmp_path, server))
    labels = assistant.classify(ComplaintIn(text=GERMAN))
    assert labels.language == "de"
    assert labels.usage.calls >= 1 and labels.usage.prompt_tokens > 0
    assert labels.usage.completion_tokens > 0
    # Not the configured name (gpt-4o-mini): the server's, unpriced.
    if labels.engine == "llm":
        assert labels.model == MODEL_ALIAS and labels.usage.cost_usd is None
    else:
        assert labels.fallback_reason and labels.fallback_reason.startswith("classify: ")
    assert "gpt-4o-mini" not in labels.model


def test_a_german_complaint_gets_a_german_reply_whichever_engine_writes_it(server, tmp_path):
    assistant = new_assistant(_settings(tmp_path, server))
    draft = assistant.draft(DraftRequest(text=GERMAN), store=False)
    assert draft.language == "de" and draft.checks["language"].passed, draft.reply
    assert "gpt-4o-mini" not in draft.model
    # The draft's usage holds the classification's calls and its own, fallback or not.
    assert draft.usage.calls >= draft.classification.usage.calls + 1
    assert draft.usage.prompt_tokens > draft.classification.usage.prompt_tokens
    if draft.engine == "offline":
        assert draft.fallback_reason


def test_a_burst_waits_for_the_servers_one_slot_here_not_at_the_server(server, tmp_path):
    """Three calls at once against one slot: the server's slot count holds the calls back on
    our side, where the wait counts against the deadline, not against each call's timeout
    (before, the third call queued at the server and timed out)."""
    assistant = new_assistant(_settings(tmp_path, server, llm_concurrency=3,
                                        llm_timeout_s=30.0, llm_max_retries=0))
    started = time.monotonic()
    results = assistant.classify_many([ComplaintIn(text=text) for text in ENGLISH])
    elapsed = time.monotonic() - started
    reasons = [r.fallback_reason or "" for r in results]
    assert not any("no answer within" in reason for reason in reasons), reasons
    assert all(r.usage.calls == 1 for r in results)
    assert elapsed < 3 * 30


def test_a_server_killed_mid_call_falls_back_with_the_reason(tmp_path):
    with llama_server() as (url, process):
        assistant = new_assistant(_settings(tmp_path, url, llm_deadline_s=30.0))
        threading.Timer(1.0, process.kill).start()
        started = time.monotonic()
        labels = assistant.classify(ComplaintIn(text=ENGLISH[0]))
        elapsed = time.monotonic() - started
    assert labels.engine == "offline" and elapsed < 30
    reason = labels.fallback_reason or ""
    assert "could not reach" in reason or "no answer" in reason, reason
    assert labels.usage.calls >= 1


def _eval(tmp_path: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    lines = tmp_path / "lines.jsonl"
    lines.write_text(json.dumps({"id": "de-1", "text": GERMAN, "language": "de",
                                 "labels": {"severity": "medium"}}) + "\n")
    env = {**os.environ, "OPENAI_BASE_URL": url, "OPENAI_API_KEY": "none",
           "RECOVERY_DATA_DIR": str(tmp_path / "data"), "RECOVERY_LLM_MAX_RETRIES": "0",
           "RECOVERY_LLM_TIMEOUT_S": "45"}
    return subprocess.run(
        [sys.executable, "-c", "from assistant.cli import app; app()", "eval", str(lines),
         "--engine", "llm", "--json", str(tmp_path / "out.json"), *extra],
        capture_output=True, text=True, env=env, timeout=600)


def test_eval_through_the_real_server_records_engine_and_fallbacks_per_line(server, tmp_path):
    run = _eval(tmp_path, server, "--no-gate")
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "out.json").read_text())
    (item,) = report["items"]
    assert report["engine"] == "llm" and item["language"] == "de"
    assert {"engine", "model", "fallback_reason", "labels_engine"} <= set(item)
    assert report["cost"]["calls_per_item"] >= 2
    assert "engine llm:" in run.stdout


def test_an_eval_whose_model_never_answers_fails_and_says_why(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    run = _eval(tmp_path, f"http://127.0.0.1:{closed}/v1")
    assert run.returncode == 1
    assert "cost.fallback_rate: 1.000 > 0.5" in run.stderr
    assert "1 of 1 lines fell back" in run.stdout and "could not reach" in run.stdout


def test_function_calling_is_refused_at_start_against_llama_cpp(server, tmp_path):
    with pytest.raises(InvalidInput, match="RECOVERY_LLM_STRUCTURED=json_schema"):
        new_assistant(_settings(tmp_path, server, llm_structured="function_calling"))


def test_serve_with_a_local_model_needs_no_other_server(tmp_path):
    """`recovery serve --local-model FILE.gguf`: llama.cpp in the service's own process, on
    loopback; the LLM engine answers through it."""
    env = {**os.environ, "RECOVERY_DATA_DIR": str(tmp_path), "RECOVERY_LLM_TIMEOUT_S": "60"}
    env.pop("OPENAI_BASE_URL", None)
    cli = [sys.executable, "-c", "from assistant.cli import app; app()"]
    key = subprocess.run([*cli, "keys", "create", "--tenant", "default"], env=env,
                         capture_output=True, text=True, timeout=120).stdout.strip()
    model = model_file()
    port = _free_port()
    process = subprocess.Popen([*cli, "serve", "--local-model", str(model), "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/readyz", process, seconds=180)
        health = httpx.get(f"http://127.0.0.1:{port}/healthz").json()
        assert (health["engine"], health["model"]) == ("llm", model.stem)
        r = httpx.post(f"http://127.0.0.1:{port}/v1/classify", timeout=180,
                       headers={"Authorization": f"Bearer {key}"}, json={"text": GERMAN})
        assert r.status_code == 200, r.text
        labels = r.json()
        assert labels["language"] == "de" and labels["usage"]["calls"] >= 1
        assert labels["model"] in {model.stem, "rules+ridge+knn-e5"}
    finally:
        stop(process)
