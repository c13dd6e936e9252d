"""Client-side limits for the model endpoint: requests and tokens per minute, calls in flight.

Providers enforce per-minute limits in short slices (OpenAI: "60,000 RPM may be enforced as
1,000 requests per second"), so each limit is a token bucket that refills continuously and
holds half a second's worth. A request counts its prompt tokens plus the output it may produce,
as the provider counts it. A 429 pauses every caller, not only the one that got it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class RateLimitWait(Exception):
    """Waiting for the limit would take longer than the caller may wait."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the rate limit would hold this call {seconds:.1f}s")
        self.seconds = seconds


# Headroom so the provider's bucket never runs dry when requests reach it a little late or
# early (network jitter): we send at 98% of the limit, in bursts of at most half a second's
# worth.
_RATE_SHARE = 0.98
_BURST_S = 0.5


class _Bucket:
    def __init__(self, per_minute: float, now: float, share: float = _RATE_SHARE,
                 burst_s: float = _BURST_S) -> None:
        self.rate = per_minute / 60.0 * share
        self.capacity = max(1.0, self.rate * burst_s)
        self.level = self.capacity
        self.updated = now

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def wait_for(self, amount: float) -> float:
        """Seconds until `amount` may be taken. A request bigger than the bucket waits for a
        full bucket and leaves it in debt, so it is slow but never refused."""
        # A shortfall of float dust counts as none: a wait of 1e-17 s would never end.
        need = min(amount, self.capacity)
        return 0.0 if self.level >= need - 1e-6 else (need - self.level) / self.rate


class RateLimiter:
    """Thread-safe; one per process and endpoint. `None` limits mean no limit."""

    def __init__(
        self, rpm: float | None = None, tpm: float | None = None, concurrency: int = 4,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock, self._sleep = clock, sleep
        now = clock()
        self._requests = _Bucket(rpm, now) if rpm else None
        self._tokens = _Bucket(tpm, now) if tpm else None
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(concurrency)
        self._paused_until = now
        self.waited_s = 0.0  # total time callers spent held back, for benchmarks and logs

    def _wait(self, tokens: int) -> float:
        now = self._clock()
        waits = [self._paused_until - now]
        for bucket, amount in ((self._requests, 1), (self._tokens, tokens)):
            if bucket is not None:
                bucket.refill(now)
                waits.append(bucket.wait_for(amount))
        return max(waits)

    def acquire(self, tokens: int, max_wait_s: float) -> None:
        """Blocks until one request of `tokens` fits both limits, then counts it."""
        waited = 0.0
        while True:
            with self._lock:
                wait = self._wait(tokens)
                if wait <= 0:
                    for bucket, amount in ((self._requests, 1), (self._tokens, tokens)):
                        if bucket is not None:
                            bucket.level -= amount
                    self.waited_s += waited
                    return
            if waited + wait > max_wait_s:
                self.waited_s += waited
                raise RateLimitWait(waited + wait)
            self._sleep(wait)
            waited += wait

    def pause(self, seconds: float) -> None:
        """The server said 429: nobody sends for `seconds`."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    @contextmanager
    def limited(self, tokens: int, max_wait_s: float) -> Iterator[None]:
        """One call: a free slot (at most `concurrency` in flight), then room in both limits."""
        started = self._clock()
        if not self._slots.acquire(timeout=max(0.0, max_wait_s)):
            raise RateLimitWait(max_wait_s)
        try:
            self.acquire(tokens, max_wait_s - (self._clock() - started))
            yield
        finally:
            self._slots.release()


class RequestQuota:
    """Per-key request limits of our own API: a bucket per key that holds `burst_s` seconds'
    worth; a request that does not fit is refused at once (429), never queued. Per process:
    with N instances behind a balancer a key gets up to N times the rate."""

    def __init__(self, per_minute: float, burst_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute, self.burst_s, self._clock = per_minute, burst_s, clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, count: bool = True) -> float:
        """0 when the request may go (and it is counted, unless `count` is False); else
        seconds until it would fit."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(self.per_minute, now, 1.0, self.burst_s)
            bucket.refill(now)
            wait = bucket.wait_for(1)
            if wait <= 0 and count:
                bucket.level -= 1
            return wait
