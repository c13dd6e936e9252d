"""Offline engine latency and throughput, in-process. Run: .venv/bin/python bench/bench_offline.py

Prints p50/p99 of classify and draft (one client), and batch classification throughput next to
the raw embedding throughput of the same texts."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from assistant.models import ComplaintIn, DraftRequest
from assistant.service import Assistant
from assistant.settings import Settings

TEXTS = [
    "My order #{n} arrived three days late and the box was damaged.",
    "Ni har dragit pengar två gånger för order {n}.",
    "Pakken {n} er ikke kommet, og ingen svarer på mine mails.",
    "Dere har trukket meg to ganger for bestilling {n}.",
    "Die App stürzt bei jedem Start ab, Ticket {n}.",
    "The salad came without the blue cheese, room {n}.",
]


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


def main() -> None:
    assistant = Assistant(Settings(data_dir=Path(tempfile.mkdtemp())))
    texts = [TEXTS[i % len(TEXTS)].format(n=i) for i in range(300)]
    for name, call in (("classify", lambda t: assistant.classify(ComplaintIn(text=t))),
                       ("draft", lambda t: assistant.draft(DraftRequest(text=t)))):
        times = []
        for text in texts[:200]:
            start = time.perf_counter()
            call(text)
            times.append(time.perf_counter() - start)
        print(f"{name}: p50 {pct(times, .5):.1f} ms, p99 {pct(times, .99):.1f} ms, "
              f"mean {statistics.mean(times) * 1000:.1f} ms")
    start = time.perf_counter()
    assistant.embeddings.embed_queries(texts)
    raw = len(texts) / (time.perf_counter() - start)
    start = time.perf_counter()
    assistant.classify_many([ComplaintIn(text=t) for t in texts])
    batch = len(texts) / (time.perf_counter() - start)
    print(f"raw embedding {raw:.1f} texts/s, batch classify {batch:.1f} texts/s "
          f"({batch / raw:.0%} of raw)")


if __name__ == "__main__":
    main()
