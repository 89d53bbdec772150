"""Rate limits for what a public website may send: token buckets per key.

No Rasa, no Sanic: the REST channel and the chat routes use it
(bot/rasa_addons/channels/rest.py, chat_page.py), and any other channel may.

A `RateLimiter(per_minute)` holds one bucket per key (a sender id, a client
address). A bucket holds up to `per_minute` tokens (the burst), refills at
per_minute / 60 a second, and each request takes one. `hit(key)` answers 0.0
when the request may go ahead, else the seconds until it could (Retry-After).

Memory is bounded: at most `max_keys` buckets. A bucket left alone long enough
to refill is the same as no bucket, so those are dropped first; only when
every bucket is in use is the least recently used one dropped (its key starts
again with a full burst: a flood of new keys can cost old keys their history,
never the server its memory).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

MAX_KEYS = 50_000  # about 150 bytes a bucket: a few MB at most


class RateLimiter:
    def __init__(
        self,
        per_minute: float,
        *,
        burst: float | None = None,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute <= 0 or max_keys < 1:
            raise ValueError("per_minute and max_keys must be positive")
        self.rate = per_minute / 60.0  # tokens a second
        self.burst = float(burst if burst is not None else per_minute)
        self.max_keys = max_keys
        self._clock = clock
        # key -> (tokens, when counted); oldest use first
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        # Channels run on one event loop, but a worker thread may share a limiter.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def hit(self, key: str, cost: float = 1.0) -> float:
        """Take `cost` tokens from `key`'s bucket: 0.0 if taken, else seconds to wait."""
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            wait = 0.0
            if tokens >= cost:
                tokens -= cost
            else:
                wait = (cost - tokens) / self.rate
            self._buckets[key] = (tokens, now)  # most recently used last
            self._prune(now)
            return wait

    def _prune(self, now: float) -> None:
        if len(self._buckets) > self.max_keys:  # every bucket in use: memory first
            self._buckets.popitem(last=False)
        # Drop a few buckets that have refilled (the same as none), oldest first,
        # so idle keys go away without a sweep over the whole table.
        full_after = self.burst / self.rate
        for _ in range(2):
            if not self._buckets:
                return
            oldest, (_, then) = next(iter(self._buckets.items()))
            if now - then < full_after:
                return
            del self._buckets[oldest]


def retry_after(wait: float) -> str:
    """A Retry-After header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait)))
