"""At most `per_client` turns of one client at a time, across all its conversations.

The parse queue (bot/fair_queue.py) takes clients in turn for parsing only. A
turn also runs the policies and the tracker's writes in the Rasa server and
the actions in the action server, and a client with four connections open had
four turns in flight, each taking its share of both cores from a quiet client
(bench/RESULTS.md, "a flooding client"). Here a client's turns beyond
`per_client` wait, in order of arrival. The caller enters a turn once it holds
its conversation's lock (a conversation's next message waits for the lock, not
in one of its client's turns), so waiting counts against the lock's lifetime
(60 s in Rasa): it is bounded as the parse queue's is, a turn that would wait
past `max_wait` (estimated from recent turns) being refused at once with
`Busy`, and a client's first waiting turn never is. A client within the
per-address rate limit (BOT_RATE_PER_CLIENT: two a second) seldom waits here
at all: a turn takes a fraction of a second.

Asyncio only (no Rasa): `turn` is entered on the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from bot.fair_queue import FIRST_ESTIMATE, SMOOTHING, Busy

__all__ = ["Busy", "ClientTurns"]


@dataclass
class _Client:
    running: int = 0
    waiting: deque[asyncio.Future[None]] = field(default_factory=deque)


class ClientTurns:
    def __init__(self, per_client: int, max_wait: float) -> None:
        self.per_client, self.max_wait = max(1, per_client), max_wait
        self.clients: dict[str, _Client] = {}
        self.mean = FIRST_ESTIMATE  # seconds a turn takes, smoothed

    def running(self, client: str) -> int:
        state = self.clients.get(client)
        return state.running if state else 0

    def waiting(self, client: str) -> int:
        state = self.clients.get(client)
        return len(state.waiting) if state else 0

    @asynccontextmanager
    async def turn(self, client: str) -> AsyncIterator[None]:
        """Hold one of the client's turns for the body; Busy if it would wait too long."""
        state = self.clients.setdefault(client, _Client())
        if state.running < self.per_client:
            state.running += 1
        else:
            wait = (len(state.waiting) + 1) * self.mean / self.per_client
            if state.waiting and wait > self.max_wait:
                raise Busy(wait)
            ticket = asyncio.get_running_loop().create_future()
            state.waiting.append(ticket)
            try:
                await ticket  # a finishing turn hands its place over: `running` stays
            except asyncio.CancelledError:
                if ticket in state.waiting:
                    state.waiting.remove(ticket)
                elif ticket.done() and not ticket.cancelled():
                    self._release(client, state)  # handed over as the caller went away
                raise
        started = time.monotonic()
        try:
            yield
        finally:
            elapsed = time.monotonic() - started
            self.mean = (1 - SMOOTHING) * self.mean + SMOOTHING * elapsed
            self._release(client, state)

    def _release(self, client: str, state: _Client) -> None:
        while state.waiting:
            ticket = state.waiting.popleft()
            if not ticket.done():  # a cancelled waiter is skipped
                ticket.set_result(None)
                return
        state.running -= 1
        if not state.running:
            del self.clients[client]
