"""Review queue listing on a large SQLite store. Run: .venv/bin/python bench/bench_queue.py

Fills a fresh SQLite file with 50,000 drafts (varied labels, languages, ages, a fifth of them
reviewed), then times `DraftStore.queue` with the filters an agent uses, 50 per page, as p50
and p99 over a few hundred calls. Target (issue 8): p50 under 50 ms."""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from assistant.models import Classification, Draft, DraftRequest, DraftStatus
from assistant.review import DraftStore
from assistant.service import Assistant
from assistant.settings import Settings

LANGUAGES = ["en", "sv", "da", "nb", "de"]
SEVERITIES = ["low", "medium", "high", "critical"]
EFFORTS = ["trivial", "low", "medium", "high"]
ROUTES = ["quick_win", "standard", "escalate"]
STATUSES = [DraftStatus.pending_review] * 4 + [DraftStatus.approved]


def fill(store: DraftStore, template: Draft, n: int, rng: random.Random) -> None:
    now = datetime.now(UTC)
    base = template.classification.model_dump()
    batch: list[Draft] = []
    for i in range(n):
        labels = Classification.model_validate({
            **base, "severity": rng.choice(SEVERITIES), "effort": rng.choice(EFFORTS),
            "route": rng.choice(ROUTES), "language": rng.choice(LANGUAGES),
        })
        batch.append(template.model_copy(update={
            "id": uuid.uuid4().hex, "classification": labels, "language": labels.language,
            "created_at": now - timedelta(minutes=rng.randrange(60 * 24 * 30)),
            "status": rng.choice(STATUSES), "complaint": f"{template.complaint} #{i}",
        }))
        if len(batch) == 5_000:
            store.save_many(batch)
            batch = []
    if batch:
        store.save_many(batch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--drafts", type=int, default=50_000)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), engine="offline")
        assistant = Assistant(settings)
        template = assistant.draft(DraftRequest(text="My parcel is a week late."), store=False)
        store = DraftStore(f"sqlite:///{Path(folder) / 'queue.db'}")
        started = time.perf_counter()
        fill(store, template, args.drafts, rng)
        print(f"filled {args.drafts} drafts in {time.perf_counter() - started:.1f} s")
        filters = [
            {"status": DraftStatus.pending_review},
            {"status": DraftStatus.pending_review, "route": "quick_win"},
            {"status": DraftStatus.pending_review, "severity": "high", "language": "sv"},
            {"status": DraftStatus.pending_review, "effort": "trivial", "older_than_hours": 48},
            {"language": "de", "newer_than_hours": 72},
            {},
        ]
        timings: dict[int, list[float]] = {i: [] for i in range(len(filters))}
        for _, (i, chosen) in zip(range(args.calls), itertools.cycle(enumerate(filters))):
            t0 = time.perf_counter()
            page = store.queue(**chosen, limit=50)  # type: ignore[arg-type]
            timings[i].append(time.perf_counter() - t0)
            assert len(page.items) <= 50
        everything = sorted(t for values in timings.values() for t in values)
        for i, chosen in enumerate(filters):
            values = sorted(timings[i])
            shown = {key: str(value) for key, value in chosen.items()} or "no filter"
            print(f"{shown}: p50 {statistics.median(values) * 1000:.1f} ms")
        p99 = everything[int(0.99 * (len(everything) - 1))]
        print(f"all filters: p50 {statistics.median(everything) * 1000:.1f} ms, "
              f"p99 {p99 * 1000:.1f} ms over {len(everything)} calls")


if __name__ == "__main__":
    main()
