"""Cold start of the service: a fresh process answering one classify, in a fresh data folder,
once with an empty example cache and once with the cache another instance filled
(RECOVERY_CACHE_DIR). Run: .venv/bin/python bench/bench_startup.py"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

RECOVERY = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "recovery")
RUNS = 3


def classify_once(cache_dir: Path) -> float:
    """Seconds for a new `recovery classify` process, start to answer."""
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "RECOVERY_DATA_DIR": data_dir, "RECOVERY_ENGINE": "offline",
               "RECOVERY_CACHE_DIR": str(cache_dir)}
        start = time.perf_counter()
        subprocess.run([RECOVERY, "classify", "My parcel is a week late."], env=env,
                       check=True, capture_output=True, timeout=600)
        return time.perf_counter() - start


def main() -> None:
    cold, warm = [], []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as cache:
            cold.append(classify_once(Path(cache)))  # embeds the examples, fills the cache
            warm.append(classify_once(Path(cache)))  # finds them there
    print(f"start + one classify, empty example cache: median {statistics.median(cold):.1f} s")
    print(f"start + one classify, shared example cache: median {statistics.median(warm):.1f} s")


if __name__ == "__main__":
    main()
