"""Triage with the LLM engine: inside a requests-per-minute limit, and through the Batch API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.models import ComplaintIn
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.triage import PRESETS, BatchFailed, run_triage
from tests.conftest import TODAY
from tests.exports import write_export
from tests.fake_openai import FakeOpenAI
from tests.test_llm import good_answers

pytestmark = pytest.mark.network


def llm_assistant(folder: Path, fake: FakeOpenAI, **settings: object) -> Assistant:
    return Assistant(Settings(
        data_dir=folder, engine="llm", openai_base_url=fake.base_url,
        openai_api_key="sk-test", **settings), today=lambda: TODAY)


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_triage_stays_inside_the_providers_rate_limit(tmp_path):
    fake = FakeOpenAI(default=good_answers, rpm=1200)
    export = tmp_path / "export.csv"
    low = write_export("zendesk", export, 90, seed=5)
    with fake.running():
        assistant = llm_assistant(tmp_path / "var", fake, llm_rpm=1200, llm_concurrency=8)
        summary = run_triage(assistant, export, tmp_path / "out", preset=PRESETS["zendesk"])
    rows = lines(tmp_path / "out" / "triage.jsonl")
    assert summary.selected == low == len(rows) == len({r["ticket_id"] for r in rows})
    assert [r for r in rows if r["fallback_reason"]] == []
    assert all(r["engine"] == "llm" for r in rows)
    calls = len(fake.answered)
    assert calls >= low  # one classification each, plus drafts for the quick wins
    print(f"{calls} calls in {fake.answered[-1] - fake.answered[0]:.1f}s at 1200 rpm; "
          f"429s: {fake.limited}")
    assert fake.limited == 0, "our limiter let through more than the provider allows"


def test_a_provider_429_is_waited_out_not_lost(tmp_path):
    """Our own limit set above the provider's: its 429s pause every worker, then retry."""
    fake = FakeOpenAI(default=good_answers, rpm=600)
    export = tmp_path / "export.csv"
    low = write_export("zendesk", export, 40, seed=6)
    with fake.running():
        assistant = llm_assistant(tmp_path / "var", fake, llm_concurrency=6,
                                  llm_max_retries=6)
        run_triage(assistant, export, tmp_path / "out", preset=PRESETS["zendesk"])
    rows = lines(tmp_path / "out" / "triage.jsonl")
    assert len(rows) == low and fake.limited > 0
    assert [r for r in rows if r["fallback_reason"]] == []


def batch_assistant(folder: Path, fake: FakeOpenAI) -> Assistant:
    return llm_assistant(folder, fake, llm_batch_poll_s=0.05)


def requests_in(fake: FakeOpenAI, batch_id: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in
            fake.files[str(fake.batches[batch_id]["input_file_id"])].decode().splitlines()]


def test_triage_through_the_batch_api(tmp_path):
    fake = FakeOpenAI(default=good_answers)
    export = tmp_path / "export.csv"
    low = write_export("zendesk", export, 120, seed=8)
    with fake.running():
        assistant = batch_assistant(tmp_path / "var", fake)
        live = assistant.classify(ComplaintIn(text="My salad came without the cheese."))
        live_body = fake.seen[-1].body
        fake.seen.clear()
        summary = run_triage(assistant, export, tmp_path / "out", preset=PRESETS["zendesk"],
                             batch_api=True, signer="Tyler, CEO", draft="all")
    rows = lines(tmp_path / "out" / "triage.jsonl")
    assert summary.selected == low == len(rows) == len({r["ticket_id"] for r in rows})
    assert [r for r in rows if r["fallback_reason"]] == [] and live.engine == "llm"
    assert all(r["engine"] == "llm" for r in rows)
    # Themes through the Batch API too, from the vectors its offline pass kept (the export
    # repeats 14 complaints, so some of its 19 low tickets share one).
    themes = json.loads((tmp_path / "out" / "themes.json").read_text())
    assert summary.themes == len(themes) > 0
    assert {r["theme"] for r in rows} - {None} == {t["id"] for t in themes}
    assert sum(t["count"] for t in themes) == sum(r["theme"] is not None for r in rows)
    classify, draft = fake.batches.values()
    assert [b["metadata"]["phase"] for b in (classify, draft)] == ["classify", "draft"]
    assert all(b["status"] == "completed" for b in (classify, draft))
    first = requests_in(fake, "batch_1")
    assert len(first) == low and {r["url"] for r in first} == {"/v1/chat/completions"}
    body = first[0]["body"]
    # A batch line asks exactly what the live call asks (same model, schema, settings).
    for name in ("model", "response_format", "temperature", "max_completion_tokens"):
        assert body[name] == live_body[name], name
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    wins = [r for r in rows if r["route"] == "quick_win"]
    assert wins and len(requests_in(fake, "batch_2")) == len(wins)
    # The scripted model writes English: English quick wins keep its reply, the others get
    # the offline drafter's in their own language (a reply in another language is refused).
    drafts = [assistant.drafts.get(str(r["draft_id"])) for r in wins]
    for draft in drafts:
        assert draft.engine == ("llm" if draft.language == "en" else "offline"), draft.language
        if draft.language != "en":
            assert "language" in (draft.fallback_reason or "")
    draft_one = next(d for d in drafts if d.language == "en")
    assert draft_one.reply.endswith("Tyler, CEO")
    # Batch answers at half the list price; a repair round (a second call) goes live, at
    # the full price. Each call is 120 + 40 tokens.
    call = (120 * 0.15 + 40 * 0.60) / 1e6
    assert draft_one.classification.usage.cost_usd == pytest.approx(call / 2)
    assert draft_one.usage.cost_usd == pytest.approx(
        call / 2 + call / 2 + draft_one.repair_rounds * call)
    assert list((tmp_path / "out").glob("batch-*.jsonl")) == [], "request files left behind"
    # Live calls are the repair rounds, kept or not: each draft counts its two batch calls
    # (labels, reply) and its live ones.
    live_calls = sum(d.usage.calls - 2 for d in drafts)
    assert len([s for s in fake.seen if not s.path.startswith("batch:")]) == live_calls


def test_an_expired_batch_sends_the_rest_again(tmp_path):
    fake = FakeOpenAI(default=good_answers)
    export = tmp_path / "export.csv"
    low = write_export("zendesk", export, 60, seed=9)
    fake.expire_after = 7
    with fake.running():
        run_triage(batch_assistant(tmp_path / "var", fake), export, tmp_path / "out",
                   preset=PRESETS["zendesk"], batch_api=True)
    rows = lines(tmp_path / "out" / "triage.jsonl")
    assert len(rows) == low and [r for r in rows if r["fallback_reason"]] == []
    assert fake.batches["batch_1"]["status"] == "expired"
    assert len(requests_in(fake, "batch_2")) == low - 7
    # By default only tonight's list is drafted, live, after the labels: no draft batch.
    assert {b["metadata"]["phase"] for b in fake.batches.values()} == {"classify"}
    listed = [r for r in rows if r["tonight"]]
    assert listed and all(r["draft_id"] for r in listed)
    assert not any(r["draft_id"] for r in rows if not r["tonight"])


def test_a_failed_batch_stops_the_run_with_its_errors(tmp_path):
    fake = FakeOpenAI(default=good_answers)
    export = tmp_path / "export.csv"
    write_export("zendesk", export, 30, seed=10)
    fake.fail_next_batch = "line 1: model not found"
    with fake.running(), pytest.raises(BatchFailed, match="model not found"):
        run_triage(batch_assistant(tmp_path / "var", fake), export, tmp_path / "out",
                   preset=PRESETS["zendesk"], batch_api=True)


def test_a_killed_batch_run_picks_up_its_batch(tmp_path):
    """SIGKILL while the batch is out; the rerun polls the same batch, pays for no new one."""
    fake = FakeOpenAI(default=good_answers)
    fake.batch_seconds = 600
    export = tmp_path / "export.csv"
    low = write_export("zendesk", export, 80, seed=12)
    out, var = tmp_path / "out", tmp_path / "var"
    command = [sys.executable, "-c", "from assistant.cli import app; app()", "triage",
               str(export), "--out", str(out), "--preset", "zendesk", "--batch-api",
               "--draft", "all"]
    with fake.running():
        env = {**os.environ, "RECOVERY_DATA_DIR": str(var), "RECOVERY_ENGINE": "llm",
               "OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "sk-test",
               "RECOVERY_LLM_BATCH_POLL_S": "0.1"}
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while not fake.batches:
            assert time.monotonic() < deadline and process.poll() is None, "no batch started"
            time.sleep(0.1)
        time.sleep(0.5)  # it is polling now
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        fake.batch_seconds = 0.2
        fake.batches["batch_1"]["_ready_at"] = time.monotonic()
        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    rows = lines(out / "triage.jsonl")
    assert len(rows) == low == len({r["ticket_id"] for r in rows})
    assert [b["metadata"]["phase"] for b in fake.batches.values()] == ["classify", "draft"]
    assert [r for r in rows if r["fallback_reason"]] == []
