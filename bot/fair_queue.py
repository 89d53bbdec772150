"""Round-robin by client in front of a thread pool: one client's burst waits
behind its own messages, not in front of everyone's.

A thread pool's queue is one FIFO: a client that sends forty messages at once
puts forty parses in front of the next customer. Here each client has a queue
of its own and the workers take one job from each client in turn. A client's
queue is bounded by the time its newest job would wait: past `max_wait`
seconds (estimated from the mean time of recent jobs), the job is refused at
once with `Busy` and how long to wait; the caller tells the user. The bound
keeps every accepted job well inside Rasa's ticket-lock lifetime (60 s), past
which a waiting message would fail instead of being answered late. A client's
first waiting job is never refused: one message at a time always gets through.

Asyncio only (no Rasa): `run` is called on the event loop, the jobs run in the
executor's threads, and their results come back on the loop.
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

FIRST_ESTIMATE = 0.2  # seconds a job takes, before any was timed
SMOOTHING = 0.2  # weight of the newest job in the running mean


class Busy(Exception):
    """The client's queue is full: try again in `wait` seconds."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"too many messages waiting: try again in {math.ceil(wait)} s")
        self.wait = wait


@dataclass
class _Job:
    client: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    future: asyncio.Future[Any]


class FairQueue:
    def __init__(self, executor: Executor, workers: int, max_wait: float) -> None:
        self.executor, self.workers, self.max_wait = executor, max(1, workers), max_wait
        self.queues: OrderedDict[str, deque[_Job]] = OrderedDict()  # waiting, by arrival
        self.running = 0
        self.mean = FIRST_ESTIMATE
        self.turn = 0
        self.served: dict[str, float] = {}  # client -> the turn it was last served in
        self.busy: dict[str, int] = {}  # client -> its jobs running now

    def waiting(self, client: str) -> int:
        return len(self.queues.get(client, ()))

    def estimate(self, client: str) -> float:
        """Seconds a new job of `client` would wait: round-robin serves every
        client with work once before this one's next, `workers` at a time."""
        clients = len(self.queues) + (client not in self.queues)
        return (self.waiting(client) + 1) * clients * self.mean / self.workers

    async def run(self, client: str, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args) in the executor, in `client`'s turn; Busy if it would wait too long."""
        if self.waiting(client) > 0:
            wait = self.estimate(client)
            if wait > self.max_wait:
                raise Busy(wait)
        loop = asyncio.get_running_loop()
        job = _Job(client, fn, args, loop.create_future())
        if client not in self.queues and client not in self.served:
            # a newcomer joins the end of the rotation: after every client waiting
            # now has had its next turn, not before them (a burst of newcomers
            # would otherwise starve a client with a backlog)
            self.served[client] = self.turn - 0.5
        self.queues.setdefault(client, deque()).append(job)
        self._dispatch(loop)
        try:
            return await job.future
        except asyncio.CancelledError:  # its request went away: it no longer waits
            queue = self.queues.get(client)
            if queue is not None and job in queue:
                queue.remove(job)
                if not queue:
                    del self.queues[client]
                self._forget(client)
            raise

    def _next(self) -> _Job | None:
        """The next job of the client served longest ago, in arrival order among
        equals; None when nothing waits."""
        if not self.queues:
            return None
        client = min(self.queues, key=lambda c: self.served.get(c, self.turn))
        queue = self.queues[client]
        job = queue.popleft()
        if not queue:
            del self.queues[client]
        self.served[client] = self.turn
        self.turn += 1
        return job

    def _dispatch(self, loop: asyncio.AbstractEventLoop) -> None:
        while self.running < self.workers:
            job = self._next()
            if job is None:
                return
            if job.future.done():  # its request went away while it waited
                self._forget(job.client)
                continue
            self.running += 1
            self.busy[job.client] = self.busy.get(job.client, 0) + 1
            started = loop.time()
            try:
                done = loop.run_in_executor(self.executor, _call, job.fn, job.args)
            except Exception as exc:  # e.g. the pool shut down: this job fails, not the queue
                self._settle(loop, job, started, exc)
                continue
            done.add_done_callback(functools.partial(self._finished, loop, job, started))

    def _forget(self, client: str) -> None:
        """A client with nothing waiting or running leaves the rotation: its next
        message is served like a newcomer's (the memory stays bounded)."""
        if client not in self.queues and not self.busy.get(client):
            self.busy.pop(client, None)
            self.served.pop(client, None)

    def _finished(
        self, loop: asyncio.AbstractEventLoop, job: _Job, started: float, done: asyncio.Future[Any]
    ) -> None:
        try:
            outcome: Any = asyncio.CancelledError() if done.cancelled() else done.exception()
            self._settle(loop, job, started, outcome, None if outcome else done.result())
        finally:
            self._dispatch(loop)

    def _settle(
        self,
        loop: asyncio.AbstractEventLoop,
        job: _Job,
        started: float,
        error: BaseException | None,
        result: Any = None,
    ) -> None:
        """The job is over: free its worker (whatever happens next), hand its
        caller the result or the error."""
        self.running -= 1
        self.busy[job.client] -= 1
        self._forget(job.client)
        self.mean += SMOOTHING * (loop.time() - started - self.mean)
        if job.future.done():
            return
        if isinstance(error, asyncio.CancelledError):
            job.future.cancel()
        elif error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)


def _call(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """fn(*args) in a worker thread. A StopIteration cannot cross into an asyncio
    future (it would break the queue's callback): it comes back as RuntimeError."""
    try:
        return fn(*args)
    except StopIteration as exc:
        raise RuntimeError("a parse raised StopIteration") from exc
