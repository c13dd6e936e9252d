"""The learning curve: how much a tenant's own labelled lines lift its labels on text of a
source it never saw. Run: .venv/bin/python bench/bench_learning.py

Leave-one-source-out on `../shared/data/dev.jsonl` (its `source.repo`: airline tweets,
Trustpilot, CFPB, GermEval, …): for each source, a tenant learns 0, 25, 50, 100 or 150 lines
drawn from the *other* sources, then labels the held-out source through the whole offline
pipeline (rubric included). Severity and effort quadratic-weighted kappa over all held-out
lines. Nothing here chooses a change: it only measures what learning buys."""

from __future__ import annotations

import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.learning import LearnedLine  # noqa: E402
from assistant.levels import kappa  # noqa: E402
from assistant.models import ORDINAL_LABELS, ComplaintIn  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402

SIZES = (0, 25, 50, 100, 150)


def main() -> None:
    lines = [json.loads(x) for x in (ROOT.parent / "shared" / "data" / "dev.jsonl")
             .read_text(encoding="utf-8").splitlines() if x.strip()]
    sources = sorted({line["source"]["repo"] for line in lines})
    assistant = Assistant(Settings(data_dir=Path(tempfile.mkdtemp()), engine="offline"))
    print(f"{len(lines)} lines, {len(sources)} sources")
    print("| learned lines | severity QWK | effort QWK |\n|---|---|---|")
    for size in SIZES:
        gold: dict[str, list[int]] = {"severity": [], "effort": []}
        said: dict[str, list[int]] = {"severity": [], "effort": []}
        for number, source in enumerate(sources):
            held = [line for line in lines if line["source"]["repo"] == source]
            pool = [line for line in lines if line["source"]["repo"] != source]
            random.Random(number).shuffle(pool)
            tenant = assistant.for_tenant(f"s{number}-n{size}")
            if size:
                tenant.learn([LearnedLine(text=x["text"], language=x["language"],
                                          labels=x["labels"]) for x in pool[:size]], "bench")
            for line in held:
                labels = tenant.classify(ComplaintIn(text=line["text"],
                                                     language=line["language"]))
                for name in gold:
                    order = ORDINAL_LABELS[name]
                    gold[name].append(order.index(line["labels"][name]))
                    said[name].append(order.index(getattr(labels, name)))
        scores = [kappa(np.array(gold[n]), np.array(said[n]), len(ORDINAL_LABELS[n]))
                  for n in ("severity", "effort")]
        print(f"| {size} | {scores[0]:.3f} | {scores[1]:.3f} |", flush=True)


if __name__ == "__main__":
    main()
