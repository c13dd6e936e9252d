"""The client-side limiter on a simulated clock: exact rates, token budgets, 429 pauses."""

from __future__ import annotations

import pytest

from assistant.ratelimit import RateLimiter, RateLimitWait


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_requests_per_minute_hold_over_a_minute():
    clock = Clock()
    limiter = RateLimiter(rpm=600, clock=clock, sleep=clock.sleep)
    sent = []
    while clock.now < 60:
        limiter.acquire(0, max_wait_s=5)
        sent.append(clock.now)
    # 98% of the limit (headroom for jitter), plus the first half-second burst.
    assert 0.97 * 600 <= len(sent) <= 600
    # The provider's own bucket (one second's worth, refilled continuously) never runs dry,
    # even if each request reached it up to 0.4 s late or early.
    for jitter in (0.0, 0.4):
        arrivals = sorted(t + (jitter if i % 2 else 0) for i, t in enumerate(sent))
        level, last = 10.0, 0.0
        for t in arrivals:
            level = min(10.0, level + (t - last) * 10)
            last = t
            assert level >= 1 - 1e-6, f"the provider would answer 429 at {t:.2f}s"
            level -= 1


def test_tokens_per_minute_bound_big_requests():
    clock = Clock()
    limiter = RateLimiter(tpm=60_000, clock=clock, sleep=clock.sleep)  # 1,000 tokens a second
    for _ in range(30):
        limiter.acquire(2_000, max_wait_s=10)  # bigger than the bucket: waits, never refused
    assert 30 * 2_000 / 1_000 / 0.98 * 0.9 <= clock.now <= 30 * 2_000 / 1_000 / 0.98 + 1


def test_a_429_pauses_every_caller_and_a_long_wait_is_refused():
    clock = Clock()
    limiter = RateLimiter(rpm=6000, clock=clock, sleep=clock.sleep)
    limiter.pause(3.0)
    with pytest.raises(RateLimitWait):
        limiter.acquire(0, max_wait_s=1.0)
    limiter.acquire(0, max_wait_s=5.0)
    assert clock.now >= 3.0


def test_no_limits_never_wait():
    clock = Clock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    for _ in range(1000):
        with limiter.limited(10_000, max_wait_s=0.0):
            pass
    assert clock.now == 0.0
