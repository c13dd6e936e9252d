"""Triage with the LLM engine against a provider that enforces a requests-per-minute limit.
Run: .venv/bin/python bench/bench_triage_llm.py [--tickets 500] [--rpm 1200] [--latency 0.3]

The test server answers every chat completion after `--latency` seconds and answers 429 (with
retry-after-ms) to anything over its limit: a bucket of one second's worth, refilled
continuously, as providers quantize per-minute limits. Two runs on the same export:

1. `RECOVERY_LLM_RPM` set to the provider's limit: the client limiter paces the calls;
2. no client limit: the provider's 429s pace them (every worker pauses on a 429).

Reports calls per minute achieved while the run was calling the model, as a share of the
limit, the 429s, and lost tickets (selected minus rows written) and fallbacks."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.service import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.triage import PRESETS, run_triage  # noqa: E402
from tests.exports import write_export  # noqa: E402
from tests.fake_openai import FakeOpenAI  # noqa: E402
from tests.test_llm import good_answers  # noqa: E402


def run(folder: Path, export: Path, rpm: int, latency: float, client_rpm: int | None,
        concurrency: int) -> dict[str, object]:
    fake = FakeOpenAI(default=good_answers, rpm=rpm)
    fake.latency_s = latency
    with fake.running():
        settings = Settings(data_dir=folder / "var", engine="llm", openai_base_url=fake.base_url,
                            openai_api_key="sk-bench", llm_rpm=client_rpm,
                            llm_concurrency=concurrency, llm_max_retries=8,
                            llm_deadline_s=120)
        assistant = Assistant(settings)
        started = time.perf_counter()
        summary = run_triage(assistant, export, folder / "out", preset=PRESETS["zendesk"])
        wall = time.perf_counter() - started
    rows = [json.loads(line) for line in (folder / "out" / "triage.jsonl").open()]
    calls = sorted(fake.answered)
    span = calls[-1] - calls[0]
    # n calls spaced over `span` seconds: (n - 1) intervals.
    per_minute = (len(calls) - 1) / span * 60
    return {
        "client_rpm": client_rpm, "tickets": summary.selected, "rows": len(rows),
        "lost": summary.selected - len({r["ticket_id"] for r in rows}),
        "fallbacks": sum(1 for r in rows if r["fallback_reason"]),
        "calls": len(calls), "calls_per_min": round(per_minute, 1),
        "share_of_limit": round(per_minute / rpm, 3), "429s": fake.limited,
        "wall_s": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=500)
    parser.add_argument("--rpm", type=int, default=1200)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--concurrency", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        export = Path(folder) / "export.csv"
        low = write_export("zendesk", export, args.tickets * 2, seed=21)
        print(f"{low} tickets rated below 7; provider limit {args.rpm} rpm, "
              f"{args.latency:g}s per answer, {args.concurrency} calls in flight")
        for client_rpm in (args.rpm, None):
            sub = Path(folder) / f"run-{client_rpm}"
            sub.mkdir()
            print(json.dumps(run(sub, export, args.rpm, args.latency, client_rpm,
                                 args.concurrency)))


if __name__ == "__main__":
    main()
