"""The LLM engine's own overhead and prompt sizes, against the scripted test server with zero
model delay. Run: .venv/bin/python bench/bench_llm.py [--n 60]

Overhead = the whole request as the service handles it (offline pre-pass for language and
guards, history recall, prompt rendering, token counting, real HTTP to the loopback server,
parsing, checks) minus nothing: the server answers at once, so all of it is ours. Prompt
tokens are counted with o200k_base over what was really sent: the messages plus the JSON schema
of the response format (OpenAI bills the schema as prompt too)."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.history import read_history_file  # noqa: E402
from assistant.models import ComplaintIn, DraftRequest  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import REPO_ROOT, Settings  # noqa: E402
from assistant.tokens import count_tokens  # noqa: E402
from tests.fake_openai import Answer, FakeOpenAI, Seen  # noqa: E402
from tests.test_llm import labels, reply  # noqa: E402

LABELS, REPLY = labels(), reply()  # the same answers the engine's tests script


def answer(seen: Seen) -> Answer:
    return Answer(LABELS if seen.schema_name == "LabelsOut" else REPLY)


def sent_tokens(seen: Seen) -> int:
    text = "\n".join(str(m["content"]) for m in seen.body["messages"])
    schema = json.dumps(seen.body.get("response_format", {}))
    return count_tokens(text) + count_tokens(schema)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=60)
    args = parser.parse_args()
    fake = FakeOpenAI(default=answer)
    with fake.running(), tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), engine="llm", openai_base_url=fake.base_url,
                            openai_api_key="sk-bench")
        assistant = Assistant(settings)
        for customer, item in read_history_file(REPO_ROOT / "knowledge/demo/history.jsonl"):
            assistant.add_history(customer, [item])
        text = "My Cobb salad came without the blue cheese."
        assistant.draft(DraftRequest(text=text, customer_id="guest-214"), store=False)  # warm
        fake.seen.clear()
        classify_ms, draft_ms = [], []
        for _ in range(args.n):
            t0 = time.perf_counter()
            assistant.classify(ComplaintIn(text=text, customer_id="guest-214"))
            classify_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            assistant.draft(DraftRequest(text=text, customer_id="guest-214"), store=False)
            draft_ms.append((time.perf_counter() - t0) * 1000)
        classify_in = [sent_tokens(s) for s in fake.seen if s.schema_name == "LabelsOut"]
        draft_in = [sent_tokens(s) for s in fake.seen if s.schema_name == "ReplyOut"]
        labels_out = count_tokens(json.dumps(LABELS))
        reply_out = count_tokens(json.dumps(REPLY))
    print(f"classify: p50 {statistics.median(classify_ms):.1f} ms "
          f"(one model call; includes the ~25 ms offline pre-pass)")
    print(f"draft:    p50 {statistics.median(draft_ms):.1f} ms (two model calls)")
    print(f"prompt tokens: classification {max(classify_in)}, draft {max(draft_in)}")
    print(f"completion tokens (these answers): classification {labels_out}, draft {reply_out}")
    price_in, price_out = settings.llm_prices["gpt-4o-mini"][:2]
    per_ticket = ((max(classify_in) + max(draft_in)) * price_in
                  + (labels_out + reply_out) * price_out) / 1e6
    print(f"cost per 1,000 tickets (classify + draft), gpt-4o-mini list prices: "
          f"${per_ticket * 1000:.3f}")


if __name__ == "__main__":
    main()
