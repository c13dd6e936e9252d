"""Progress of a triage run on a terminal or in a log."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """A bar with rate and ETA on a terminal; a plain log line now and then otherwise."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.last_logged = -1

    def __call__(self, done: int, total: int) -> None:
        elapsed = max(1e-6, time.monotonic() - self.started)
        rate = done / elapsed
        eta = (total - done) / rate if rate else 0.0
        if self.tty:
            filled = int(30 * done / max(1, total))
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} "
                              f"{rate:.1f}/s ETA {int(eta // 60)}:{int(eta % 60):02d}")
            if done >= total:
                self.stream.write("\n")
        else:
            step = max(1, total // 10)
            if done // step != self.last_logged or done >= total:
                self.last_logged = done // step
                self.stream.write(f"triage: {done}/{total} tickets, {rate:.1f}/s, "
                                  f"eta {eta:.0f}s\n")
        self.stream.flush()
