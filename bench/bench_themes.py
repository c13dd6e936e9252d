"""How well planted themes are found, on every planted set we have. Run:
.venv/bin/python bench/bench_themes.py [--sets tune tune-2 …]

For each set (`tests/data/themes-<set>.jsonl`) and seed, a generated export plants its four
complaints 60, 40, 25 and 15 times among 300 others (`tests/exports.py`); the tickets are read,
their language detected and embedded as triage does, and grouped by `assistant/triage/themes`.
Per planted theme: the theme holding most of its tickets, its count, and how many of those
are the planted ones. Summed: counts within 10 %, mean error, recall and precision. Which sets
may choose a change, and which were read once: `evals/README.md`, Triage themes."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.language import detect  # noqa: E402
from assistant.reading import plain  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.triage.themes import LanguageDirections, group  # noqa: E402
from tests.exports import write_planted_export  # noqa: E402

DATA = ROOT / "tests" / "data"
PLANTED = (60, 40, 25, 15)
SEEDS = {"tune": (3, 11, 12), "tune-2": (3, 4, 5), "heldout": (3,), "heldout-2": (5, 6),
         "heldout-3": (7, 8)}


def planted_export(name: str, seed: int, folder: Path) -> tuple[list[str], list[str | None],
                                                                 dict[str, int]]:
    """The export's texts, each one's planted theme (None: background), the planted counts."""
    lines = [json.loads(x) for x in (DATA / f"themes-{name}.jsonl").read_text().splitlines()]
    counts = dict(zip(dict.fromkeys(x["theme"] for x in lines), PLANTED, strict=True))
    path = folder / f"{name}-{seed}.csv"
    write_planted_export(path, DATA / f"themes-{name}.jsonl", counts, seed=seed)
    texts = [row["text"] for row in csv.DictReader(path.open(encoding="utf-8"))]
    truth = [next((x["theme"] for x in lines if x["text"] in text), None) for text in texts]
    return texts, truth, counts


def scored(labels: np.ndarray, truth: list[str | None], counts: dict[str, int]
           ) -> list[tuple[str, int, int, int]]:
    """(theme, planted, found, of them planted) per planted theme."""
    planted = np.array([t or "" for t in truth])
    result = []
    for theme, count in counts.items():
        mine = labels[(planted == theme) & (labels != -1)]
        if not len(mine):
            result.append((theme, count, 0, 0))
            continue
        best = np.bincount(mine).argmax()
        result.append((theme, count, int((labels == best).sum()),
                       int(((labels == best) & (planted == theme)).sum())))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", nargs="+", default=["tune", "tune-2"], choices=list(SEEDS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        assistant = Assistant(Settings(data_dir=Path(folder) / "var", engine="offline"))
        index = assistant.shipped_classifier.index
        directions = LanguageDirections(index.matrix, [e.language for e in index.examples])
        print("| set | seed | within 10 % | planted → found (of them planted) |\n|---|---|---|---|")
        within, errors, recall, precision = 0, [], [], []
        for name in args.sets:
            for seed in SEEDS[name]:
                texts, truth, counts = planted_export(name, seed, Path(folder))
                languages = [detect(plain(text)).code for text in texts]
                vectors = directions.remove(assistant.embed(texts), languages)
                results = scored(group(vectors), truth, counts)
                near = sum(abs(found - count) <= 0.1 * count for _, count, found, _ in results)
                within += near
                errors += [abs(found - count) / count for _, count, found, _ in results]
                recall += [mine / count for _, count, _, mine in results]
                precision += [mine / found if found else 0.0 for _, _, found, mine in results]
                print(f"| {name} | {seed} | {near} of 4 | " + ", ".join(
                    f"{count} → {found} ({mine})" for _, count, found, mine in results) + " |")
        print(f"\n{within} of {len(errors)} within 10 %; mean error {np.mean(errors):.1%}, "
              f"recall {np.mean(recall):.2f}, precision {np.mean(precision):.2f}")


if __name__ == "__main__":
    main()
