"""The threads that parse messages off Rasa's event loop.

Rasa 3.6 runs the NLU graph synchronously inside `async def parse_message`, on
the server's one event loop: while one message is parsed, every other reply,
socket.io ping and tracker write waits for it. patches.py runs the graph in
this pool instead, for every entry point at once (REST, socket.io,
/model/parse, /conversations/<id>/messages, the agents' route).

What can overlap: the e5 call (C through ctypes, which releases the GIL) and
database reads; lingua, the n-gram model, spaCy and the policies hold the GIL.
So the pool frees the loop, and gains throughput only where e5 or I/O runs.

Fair: the threads take messages by client in turn (bot.fair_queue), so one
client's burst waits behind its own messages; a client whose newest message
would wait more than BOT_PARSE_WAIT_SECONDS is told at once to send it again
later (`Busy`: the channels answer "too many messages"). The client is the
address the channel read (`CLIENT`, set per request), else the conversation.

Whole turns: a client has at most BOT_TURNS_PER_CLIENT turns in flight at once
(bot.client_turns, entered around MessageProcessor.handle_message by patches.py,
inside the conversation's lock); the rest wait, bounded by the same
BOT_PARSE_WAIT_SECONDS.

Size: BOT_NLU_THREADS (default: the cores this process may use, less one, at
least one; 0: parse on the loop, as Rasa does). Each e5 call uses
OMP_NUM_THREADS OpenMP threads (1 unless set): more threads × OpenMP threads
than cores only adds contention, which is logged once at start.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar

from bot import settings
from bot.client_turns import ClientTurns
from bot.fair_queue import Busy, FairQueue

__all__ = ["CLIENT", "Busy", "client_of", "queue", "reset", "turns"]

logger = logging.getLogger(__name__)

# The client a message came from (a channel's limit key: the address), for the
# turn the channel is handling; unset: the conversation is the client.
CLIENT: ContextVar[str | None] = ContextVar("nlu_client", default=None)


def client_of(sender_id: str) -> str:
    """Whose turn a message of this conversation takes: the channel's client, if set."""
    return CLIENT.get() or f"conversation:{sender_id}"


_pool: ThreadPoolExecutor | None = None
_queue: FairQueue | None = None
_turns: ClientTurns | None = None
_configured = False
_lock = threading.Lock()


def queue() -> FairQueue | None:
    """The fair queue in front of the parse pool, made on first use from the
    settings; None: parse on the loop."""
    _configure()
    return _queue


def turns() -> ClientTurns:
    """The turns each client may have in flight, made on first use."""
    _configure()
    assert _turns is not None
    return _turns


def _configure() -> None:
    global _pool, _queue, _turns, _configured
    if _configured:
        return
    with _lock:
        if not _configured:
            cfg = settings.load()
            _turns = ClientTurns(cfg.turns_per_client, cfg.parse_wait_seconds)
            threads = cfg.nlu_threads
            if threads > 0:
                _pool = ThreadPoolExecutor(threads, thread_name_prefix="nlu")
                _queue = FairQueue(_pool, threads, cfg.parse_wait_seconds)
                _warn_if_oversubscribed(threads)
            logger.info("parsing %s", f"in {threads} thread(s)" if threads else "on the loop")
            _configured = True


def _warn_if_oversubscribed(threads: int) -> None:
    try:
        omp = int(os.environ.get("OMP_NUM_THREADS", "1") or 1)
    except ValueError:
        omp = 1
    cores = settings.usable_cores()
    if threads * omp > cores:
        logger.warning(
            "BOT_NLU_THREADS=%d x OMP_NUM_THREADS=%d is more than the %d core(s) this "
            "process may use: e5 calls will contend; lower one of them",
            threads,
            omp,
            cores,
        )


def reset() -> None:
    """Forget the pool (tests change BOT_NLU_THREADS between runs)."""
    global _pool, _queue, _turns, _configured
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=True)
        _pool, _queue, _turns, _configured = None, None, None, False
