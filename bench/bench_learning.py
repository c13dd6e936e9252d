"""The learning curve: how much a tenant's own labelled lines lift its labels on text of a
source it never saw. Run: .venv/bin/python bench/bench_learning.py

Leave-one-source-out on `../shared/data/dev.jsonl` (its `source.repo`: airline tweets,
Trustpilot, CFPB, GermEval, …): for each source, a tenant learns 0, 25, 50, 100 or 150 lines
drawn from the *other* sources, then labels the held-out source through the whole offline
pipeline (rubric included). Severity and effort quadratic-weighted kappa over all held-out
lines. Then the issue's own measure: a tenant learns (part of) one random half of dev and
labels the other half, three splits. Nothing here chooses a change: it only measures what
learning buys."""

from __future__ import annotations

import json
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.learning import LearnedLine  # noqa: E402
from assistant.levels import kappa  # noqa: E402
from assistant.models import ORDINAL_LABELS, ComplaintIn  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402

SIZES = (0, 25, 50, 100, 150)
Line = dict[str, Any]


def dev_lines() -> list[Line]:
    return [json.loads(x) for x in (ROOT.parent / "shared" / "data" / "dev.jsonl")
            .read_text(encoding="utf-8").splitlines() if x.strip()]


def kappas(tenants: list[tuple[Assistant, list[Line], list[Line]]]) -> str:
    """Each tenant learns its lines, then labels its held-out lines; severity and effort QWK
    over all of them, as a table row's cells."""
    gold: dict[str, list[int]] = {"severity": [], "effort": []}
    said: dict[str, list[int]] = {"severity": [], "effort": []}
    for tenant, taught, held in tenants:
        if taught:
            tenant.learn([LearnedLine(text=x["text"], language=x["language"],
                                      labels=x["labels"]) for x in taught], "bench")
        for line in held:
            labels = tenant.classify(ComplaintIn(text=line["text"], language=line["language"]))
            for name in gold:
                order = ORDINAL_LABELS[name]
                gold[name].append(order.index(line["labels"][name]))
                said[name].append(order.index(getattr(labels, name)))
    return " | ".join(f"{kappa(np.array(gold[n]), np.array(said[n]), len(ORDINAL_LABELS[n])):.3f}"
                      for n in ("severity", "effort"))


def sources(assistant: Assistant) -> None:
    lines = dev_lines()
    repos = sorted({line["source"]["repo"] for line in lines})
    print(f"{len(lines)} lines, {len(repos)} sources")
    print("| learned lines | severity QWK | effort QWK |\n|---|---|---|")
    for size in SIZES:
        tenants = []
        for number, repo in enumerate(repos):
            pool = [line for line in lines if line["source"]["repo"] != repo]
            random.Random(number).shuffle(pool)
            tenants.append((assistant.for_tenant(f"s{number}-n{size}"), pool[:size],
                            [line for line in lines if line["source"]["repo"] == repo]))
        print(f"| {size} | {kappas(tenants)} |", flush=True)


def halves(assistant: Assistant) -> None:
    lines = dev_lines()
    print("\n| learned lines (of the other half) | severity QWK | effort QWK |\n|---|---|---|")
    for size in (0, 25, 50, 94):
        tenants = []
        for split in range(3):
            shuffled = list(lines)
            random.Random(100 + split).shuffle(shuffled)
            tenants.append((assistant.for_tenant(f"h{split}-n{size}"), shuffled[:94][:size],
                            shuffled[94:]))
        print(f"| {size} | {kappas(tenants)} |", flush=True)


if __name__ == "__main__":
    bench = Assistant(Settings(data_dir=Path(tempfile.mkdtemp()), engine="offline"))
    if sys.argv[1:] != ["--halves"]:
        sources(bench)
    halves(bench)
