"""Labels that survive how real text arrives: our own set's complaints framed as tweets,
helpdesk tickets, e-mail replies, forms, chat logs and shouting reviews
(`tests/data/framings.jsonl`), each scored against the same gold labels as the plain text.
The `tune` framings were used to build `assistant/reading.py`; the `heldout` ones were written
before it and only scored. Run: .venv/bin/python bench/bench_framing.py [--set tune|heldout]"""

from __future__ import annotations

import argparse
import html
import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.levels import kappa  # noqa: E402
from assistant.models import ORDINAL_LABELS, ComplaintIn  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402

FRAMINGS = ROOT / "tests" / "data" / "framings.jsonl"
LINES = ROOT / "evals" / "data" / "recovery-v1.jsonl"


def framings(which: str) -> list[dict[str, str]]:
    return [f for f in map(json.loads, FRAMINGS.read_text(encoding="utf-8").splitlines())
            if f["set"] == which]


def framed(template: str, text: str, rng: random.Random) -> str:
    return (template.replace("{TEXT}", text.upper()).replace("{text}", text)
            .replace("{html}", html.escape(text).replace("\n", "<br>"))
            .replace("{n}", str(rng.randrange(10_000, 99_999))))


def score(assistant: Assistant, lines: list[dict], frames: list[dict[str, str]] | None
          ) -> dict[str, float]:
    """Kappa per ordinal label over `lines`, each framed by the framing of its language (or
    the one for every language); plain text when `frames` is None."""
    rng = random.Random(7)
    gold: dict[str, list[int]] = {label: [] for label in ORDINAL_LABELS}
    said: dict[str, list[int]] = {label: [] for label in ORDINAL_LABELS}
    for line in lines:
        text = line["text"]
        if frames is not None:
            fitting = [f for f in frames if f["language"] in (line["language"], "*")]
            if not fitting:
                continue
            text = framed(fitting[0]["template"], text, rng)
        labels = assistant.classify(ComplaintIn(text=text))
        for label, order in ORDINAL_LABELS.items():
            gold[label].append(order.index(line["labels"][label]))
            said[label].append(order.index(getattr(labels, label)))
    return {label: round(kappa(np.array(gold[label]), np.array(said[label]),
                               len(ORDINAL_LABELS[label])), 3) for label in ORDINAL_LABELS}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", default="tune",
                        choices=["tune", "heldout", "heldout-2", "heldout-3"])
    parser.add_argument("--name", action="append", help="only these framings")
    args = parser.parse_args()
    which = args.set
    lines = [json.loads(x) for x in LINES.read_text(encoding="utf-8").splitlines()]
    assistant = Assistant(Settings(data_dir=Path(tempfile.mkdtemp()), engine="offline"))
    print("| framing | severity | effort | recovery potential |\n|---|---|---|---|")
    plain = score(assistant, lines, None)
    print(f"| plain | {plain['severity']} | {plain['effort']} | {plain['recovery_potential']} |")
    names = sorted({f["name"] for f in framings(which)} & set(args.name or [f["name"] for f in
                                                                            framings(which)]))
    for name in names:
        got = score(assistant, lines, [f for f in framings(which) if f["name"] == name])
        print(f"| {name} | {got['severity']} | {got['effort']} | {got['recovery_potential']} |",
              flush=True)


if __name__ == "__main__":
    main()
