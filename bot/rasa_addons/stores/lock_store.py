"""A Redis lock store whose tickets are issued atomically (several Rasa servers).

endpoints.redis-lock.yml selects it
(`type: bot.rasa_addons.stores.lock_store.AtomicRedisLockStore`).

Why not Rasa's own `RedisLockStore` (3.6.21): it keeps one JSON list of tickets
per conversation and changes it by GET, edit in Python, SET. Two replicas that
take a message of one conversation at the same moment both read the same list,
both append ticket N and both write: both hold N, both are "now serving", and
the two messages are processed at the same time against the same tracker (one
turn's events are then lost). Its clean-up has the same race (a lock deleted
while another replica's ticket is being added: that message fails with
LockError). And a waiting message polls once a second.

Here each conversation has a counter (INCR: no two callers ever get the same
number) and a sorted set of live tickets with their expiry; issuing, checking
who is served and finishing are one Lua script or one command each, so every
step is atomic in Redis. Expiry uses Redis's clock, not the replicas'. The
semantics are Rasa's: tickets are served in order, a ticket expires after
`lock_lifetime` seconds (a crashed replica blocks the conversation no longer
than that), and waiting past one's own expiry raises LockError.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import redis  # type: ignore[import-untyped]
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

STORE_TYPE = f"{__name__}.AtomicRedisLockStore"
DEFAULT_PREFIX = "bot:lock:"
POLL_SECONDS = 0.02  # a queued message starts within 20 ms of its turn (Rasa: 1 s)

# KEYS: counter, queue (zset member=ticket, score=ticket), expiries (hash ticket->ms)
# ARGV: lifetime in ms. Returns the new ticket number.
_ISSUE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], n, n)
redis.call('HSET', KEYS[3], n, now + tonumber(ARGV[1]))
local keep = tonumber(ARGV[1]) * 2
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], keep) end
return n
"""

# KEYS: queue, expiries. Drops expired tickets at the head; returns the ticket
# now served, or -1 when none is live.
_NOW_SERVING = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
while true do
  local head = redis.call('ZRANGE', KEYS[1], 0, 0)
  if #head == 0 then return -1 end
  local expires = tonumber(redis.call('HGET', KEYS[2], head[1]) or '0')
  if expires > now then return tonumber(head[1]) end
  redis.call('ZREM', KEYS[1], head[1])
  redis.call('HDEL', KEYS[2], head[1])
end
"""


class AtomicRedisLockStore(LockStore):
    """Rasa's ticket lock on Redis, every step atomic (see the module's docstring)."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        options: dict[str, Any] = dict(endpoint_config.kwargs) if endpoint_config else {}
        options.update(kwargs)
        url = endpoint_config.url if endpoint_config else None
        self.red = redis.StrictRedis(
            host=url or options.get("host") or "127.0.0.1",
            port=int(options.get("port") or 6379),
            db=int(options.get("db") or 0),
            # set by the launcher from BOT_LOCK_STORE_URL, never written to a file
            password=os.environ.get("BOT_LOCK_STORE_PASSWORD") or None,
            socket_timeout=float(options.get("socket_timeout") or 10),
        )
        self.prefix = str(options.get("key_prefix") or DEFAULT_PREFIX)
        self._issue = self.red.register_script(_ISSUE)
        self._now_serving = self.red.register_script(_NOW_SERVING)
        super().__init__()

    def _keys(self, conversation_id: str) -> tuple[str, str, str]:
        base = f"{self.prefix}{conversation_id}"
        return f"{base}:next", f"{base}:queue", f"{base}:expires"

    # ------------------------------------------------------------ the lock itself

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            keys = self._keys(conversation_id)
            return int(self._issue(keys=keys, args=[int(lock_lifetime * 1000)]))
        except redis.RedisError as exc:
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    def now_serving(self, conversation_id: str) -> int | None:
        _, queue, expires = self._keys(conversation_id)
        number = int(self._now_serving(keys=[queue, expires]))
        return None if number < 0 else number

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        _, queue, expires = self._keys(conversation_id)
        with self.red.pipeline(transaction=True) as pipe:
            pipe.zrem(queue, ticket_number)
            pipe.hdel(expires, ticket_number)
            pipe.execute()

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        # The keys expire by themselves; deleting them here could drop a ticket
        # another replica is issuing at this moment (Rasa's race).
        self.finish_serving(conversation_id, ticket_number)

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = POLL_SECONDS,
    ) -> AsyncGenerator[TicketLock, None]:
        ticket = self.issue_ticket(conversation_id, lock_lifetime)
        try:
            wait = min(wait_time_in_seconds, POLL_SECONDS)
            yield await self._acquire_lock(conversation_id, ticket, wait)
        finally:
            self.cleanup(conversation_id, ticket)

    async def _acquire_lock(
        self, conversation_id: str, ticket: int, wait_time_in_seconds: float
    ) -> TicketLock:
        while True:
            serving = self.now_serving(conversation_id)
            if serving == ticket:
                return self._ticket_lock(conversation_id)
            if serving is None or serving > ticket:  # our own ticket expired while waiting
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
            await asyncio.sleep(wait_time_in_seconds)

    # ------------------------------------------------------------ Rasa's interface

    def _ticket_lock(self, conversation_id: str) -> TicketLock:
        _, queue, expires = self._keys(conversation_id)
        numbers = [int(n) for n in self.red.zrange(queue, 0, -1)]
        ends = self.red.hmget(expires, numbers) if numbers else []
        pairs = zip(numbers, ends, strict=True)
        tickets = [Ticket(number, int(end) / 1000) for number, end in pairs if end is not None]
        return TicketLock(conversation_id, deque(tickets))

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        lock = self._ticket_lock(conversation_id)
        return lock if lock.tickets else None

    def is_someone_waiting(self, conversation_id: str) -> bool:
        return self.now_serving(conversation_id) is not None

    def delete_lock(self, conversation_id: str) -> None:
        self.red.delete(*self._keys(conversation_id))

    def save_lock(self, lock: TicketLock) -> None:
        raise NotImplementedError("tickets are changed by single Redis commands, never saved whole")

    def update_lock(self, conversation_id: str) -> None:
        self.now_serving(conversation_id)  # drops expired tickets
