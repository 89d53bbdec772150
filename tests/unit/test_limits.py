"""bot/limits.py: token buckets per key, with bounded memory; on a fake clock."""

from __future__ import annotations

import pytest

from bot.limits import RateLimiter, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_refill_rate():
    clock = Clock()
    limiter = RateLimiter(30, clock=clock)  # 30 a minute: one every 2 s
    assert [limiter.hit("a") for _ in range(30)] == [0.0] * 30
    wait = limiter.hit("a")
    assert wait == pytest.approx(2.0)
    clock.now += 1.0
    assert limiter.hit("a") == pytest.approx(1.0)  # a refused hit takes nothing
    clock.now += 1.0
    assert limiter.hit("a") == 0.0
    assert limiter.hit("a") > 0


def test_keys_have_their_own_buckets():
    clock = Clock()
    limiter = RateLimiter(2, clock=clock)
    assert limiter.hit("a") == limiter.hit("a") == 0.0
    assert limiter.hit("a") > 0
    assert limiter.hit("b") == 0.0


def test_an_idle_bucket_refills_to_the_burst_only():
    clock = Clock()
    limiter = RateLimiter(60, burst=5, clock=clock)
    for _ in range(5):
        limiter.hit("a")
    clock.now += 3600  # an hour idle gives back 5 tokens, not 3600
    assert [limiter.hit("a") for _ in range(6)][-2:] == [0.0, pytest.approx(1.0)]


def test_memory_is_bounded_and_refilled_buckets_go_first():
    clock = Clock()
    limiter = RateLimiter(60, max_keys=100, clock=clock)
    for i in range(10_000):
        limiter.hit(f"k{i}")
        assert len(limiter) <= 100
    # After a minute every bucket has refilled: they are dropped as keys come and go.
    clock.now += 61
    for i in range(10):
        limiter.hit(f"new{i}")
    assert len(limiter) < 100


def test_a_key_in_use_keeps_its_bucket_while_others_churn():
    clock = Clock()
    limiter = RateLimiter(2, max_keys=1000, clock=clock)
    limiter.hit("busy")
    limiter.hit("busy")
    for i in range(500):
        limiter.hit(f"other{i}")
    assert limiter.hit("busy") > 0


def test_bad_settings_and_retry_after():
    with pytest.raises(ValueError):
        RateLimiter(0)
    with pytest.raises(ValueError):
        RateLimiter(10, max_keys=0)
    assert retry_after(0.01) == "1"
    assert retry_after(2.0) == "2"
    assert retry_after(2.1) == "3"
