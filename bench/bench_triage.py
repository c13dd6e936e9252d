"""Triage throughput and memory on a large export. Run: .venv/bin/python bench/bench_triage.py

Generates a Zendesk-shaped export of 10,000 tickets in which every ticket is rated bad (so all
10,000 are classified; the worst case), runs the triage with the offline engine, and prints
tickets/s next to the raw e5 embedding throughput of the same texts, and the peak RSS; then
the same on 2,500 tickets, to show whether memory grows with the export."""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.exports import COMPLAINTS  # noqa: E402

CHILD = """
import sys, time, resource
from pathlib import Path
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.triage import PRESETS, run_triage
folder = Path(sys.argv[2])
assistant = Assistant(Settings(data_dir=folder / "var", engine="offline"))
started = time.perf_counter()
summary = run_triage(assistant, Path(sys.argv[1]), folder / "out", preset=PRESETS["zendesk"])
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{summary.selected} {elapsed:.2f} {peak:.0f}")
"""


def write(path: Path, tickets: int) -> list[str]:
    texts = [COMPLAINTS[n % len(COMPLAINTS)].format(n=n) for n in range(tickets)]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Id", "Description", "Requester id", "Satisfaction Score"])
        for n, text in enumerate(texts):
            writer.writerow([n, text, f"c{n % 997}", "bad"])
    return texts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=10_000)
    args = parser.parse_args()
    from assistant.embeddings import E5Embeddings

    e5 = E5Embeddings()
    for tickets in (args.tickets // 4, args.tickets):
        with tempfile.TemporaryDirectory() as folder:
            export = Path(folder) / "export.csv"
            texts = write(export, tickets)
            sample = texts[:1000]
            t0 = time.perf_counter()
            for start in range(0, len(sample), 64):
                e5.embed_queries(sample[start:start + 64])
            raw = len(sample) / (time.perf_counter() - t0)
            out = subprocess.run([sys.executable, "-c", CHILD, str(export), folder],
                                 capture_output=True, text=True, check=True)
            selected, elapsed, peak = out.stdout.split()
            rate = int(selected) / float(elapsed)
            print(f"{tickets} tickets: {rate:.1f} tickets/s (raw e5 {raw:.1f} texts/s, "
                  f"{rate / raw:.0%}), peak RSS {peak} MB")


if __name__ == "__main__":
    main()
