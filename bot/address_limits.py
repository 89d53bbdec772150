"""What one client address may do, whatever channel and socket it uses.

No Rasa, no Sanic: the REST channel, the chat and trainer routes and socket.io
(bot/rasa_addons/channels/) share one object per server. Keys come from
bot.client_address.limit_key (an IPv4 address or an IPv6 /64).

- `spend(key)`: one token of the address's bucket: 0.0 if taken, else the
  seconds until one is (Retry-After). Every POST of the public routes and
  every socket.io message spends from the same bucket, so many sockets or a
  mix of REST and socket.io buy no more than one client's rate.
- `open_socket(key, socket_id)` / `close_socket(...)`: at most `sockets` open
  socket.io connections per address.

`MemoryAddressLimits` keeps them in the process (one server: `make run`).
`RedisAddressLimits` keeps them in Redis, so N replicas behind a balancer give
an address the same limits as one server, not N times them (`make cluster`;
settings.limits_redis_url). Each check is one Lua script run on Redis's clock.
A socket counts while its replica says so: each replica refreshes its open
sockets every SOCKET_TTL / 3 seconds, so the sockets of a replica that died
stop counting after SOCKET_TTL. If Redis does not answer, the limits fall
back to the process's own (logged once a minute) rather than refusing everyone.

See docs/security-and-privacy.md, "Bounded input".
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import redis.asyncio as aioredis  # type: ignore[import-untyped]  # Rasa's dependency
from redis.exceptions import RedisError  # type: ignore[import-untyped]

from bot import settings
from bot.limits import RateLimiter

logger = logging.getLogger(__name__)

SOCKET_TTL = 60.0  # seconds a socket counts without its replica's refresh
REDIS_TIMEOUT = 0.5  # seconds: a check that takes longer falls back to the process's
WARN_EVERY = 60.0  # seconds between two warnings that Redis does not answer

# KEYS[1] the bucket; ARGV: tokens a second, burst. Returns the wait in seconds
# (a string: Redis turns Lua numbers into integers).
SPEND = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(held[1]) or burst
local at = tonumber(held[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""
# KEYS[1] the address's sockets (member -> when last seen, ms); ARGV: member,
# cap, ttl ms. 1 if the socket may stay open, else 0.
OPEN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
if not redis.call('ZSCORE', KEYS[1], ARGV[1])
   and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
"""
# KEYS: sockets' keys; ARGV[1] ttl ms, then one member per key: still open. Added
# if missing (after a Redis restart, or sockets opened while it was down), so they
# count again; one closed while a refresh was on its way lingers one ttl at most.
REFRESH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[i + 1])
  redis.call('PEXPIRE', key, tonumber(ARGV[1]))
end
return #KEYS
"""


class AddressLimits(Protocol):
    async def spend(self, key: str) -> float: ...

    async def open_socket(self, key: str, socket_id: str) -> bool: ...

    async def close_socket(self, key: str, socket_id: str) -> None: ...


class MemoryAddressLimits:
    """The limits of one process."""

    def __init__(
        self,
        per_minute: float,
        burst: float,
        sockets: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bucket = RateLimiter(per_minute, burst=burst, clock=clock)
        self.sockets_per_key = sockets
        self.sockets: dict[str, set[str]] = {}

    async def spend(self, key: str) -> float:
        return self.bucket.hit(key)

    async def open_socket(self, key: str, socket_id: str) -> bool:
        held = self.sockets.setdefault(key, set())
        if socket_id not in held and len(held) >= self.sockets_per_key:
            return False
        held.add(socket_id)
        return True

    async def close_socket(self, key: str, socket_id: str) -> None:
        held = self.sockets.get(key)
        if held is not None:
            held.discard(socket_id)
            if not held:
                del self.sockets[key]


class RedisAddressLimits:
    """The limits of every replica that shares this Redis and prefix."""

    def __init__(
        self,
        url: str,
        prefix: str,
        per_minute: float,
        burst: float,
        sockets: int,
        socket_ttl: float = SOCKET_TTL,
    ) -> None:
        self.redis: Any = aioredis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        self.prefix = prefix
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.sockets_per_key = sockets
        self.ttl_ms = int(socket_ttl * 1000)
        self.local = MemoryAddressLimits(per_minute, burst, sockets)
        self.replica = uuid.uuid4().hex[:12]  # sockets of two replicas never collide
        self.open: dict[str, str] = {}  # member -> its key, this replica's sockets
        self._spend = self.redis.register_script(SPEND)
        self._open = self.redis.register_script(OPEN)
        self._refresh = self.redis.register_script(REFRESH)
        self._refresher: asyncio.Task[None] | None = None
        self._warned = -WARN_EVERY

    def _key(self, kind: str, key: str) -> str:
        return f"{self.prefix}{kind}:{key}"

    def _member(self, socket_id: str) -> str:
        return f"{self.replica}:{socket_id}"

    def _unreachable(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._warned >= WARN_EVERY:
            self._warned = now
            logger.warning(
                "address limits: Redis does not answer (%s); this process counts alone",
                type(exc).__name__,
            )

    async def spend(self, key: str) -> float:
        try:
            wait = await self._spend(keys=[self._key("rate", key)], args=[self.rate, self.burst])
            return float(wait)
        except (RedisError, OSError, asyncio.TimeoutError) as exc:
            self._unreachable(exc)
            return await self.local.spend(key)

    async def open_socket(self, key: str, socket_id: str) -> bool:
        member = self._member(socket_id)
        try:
            args = [member, self.sockets_per_key, self.ttl_ms]
            allowed = bool(await self._open(keys=[self._key("sockets", key)], args=args))
        except (RedisError, OSError, asyncio.TimeoutError) as exc:
            self._unreachable(exc)
            allowed = await self.local.open_socket(key, socket_id)
        if allowed:
            self.open[member] = key
            self._start_refreshing()
        return allowed

    async def close_socket(self, key: str, socket_id: str) -> None:
        member = self._member(socket_id)
        self.open.pop(member, None)
        await self.local.close_socket(key, socket_id)
        try:
            await self.redis.zrem(self._key("sockets", key), member)
        except (RedisError, OSError, asyncio.TimeoutError) as exc:
            self._unreachable(exc)  # it stops counting after SOCKET_TTL anyway

    async def refresh(self) -> None:
        """Tell Redis this replica's sockets are still open."""
        if not self.open:
            return
        members = list(self.open.items())
        keys = [self._key("sockets", key) for _, key in members]
        try:
            await self._refresh(keys=keys, args=[self.ttl_ms, *(m for m, _ in members)])
        except (RedisError, OSError, asyncio.TimeoutError) as exc:
            self._unreachable(exc)

    def _start_refreshing(self) -> None:
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def _refresh_forever(self) -> None:
        while self.open:
            await asyncio.sleep(self.ttl_ms / 3000)
            await self.refresh()

    async def close(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
        await self.redis.close()


def for_settings(cfg: settings.Settings) -> AddressLimits:
    """In Redis when the settings name one (the cluster), else in the process."""
    rate, burst, sockets = cfg.rate_per_client, cfg.burst_per_client, cfg.sockets_per_client
    if cfg.limits_redis_url:
        return RedisAddressLimits(cfg.limits_redis_url, cfg.limits_prefix, rate, burst, sockets)
    return MemoryAddressLimits(rate, burst, sockets)
