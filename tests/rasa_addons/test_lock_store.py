"""The Redis lock store (bot/rasa_addons/stores/lock_store.py) on a real Redis, with
two processes standing in for two Rasa replicas.

Keys live under a prefix of their own per test (`test:<uuid>:`), so runs beside
each other never meet; BOT_TEST_REDIS_URL names the server (default
redis://127.0.0.1:6379/0; .ci/run starts it).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import uuid
from collections.abc import Iterator

import pytest
import redis
from rasa.core.lock_store import LockError
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.engine import make_url

from bot.rasa_addons.stores.lock_store import AtomicRedisLockStore
from tests.aio import run_apart

REDIS_URL = os.environ.get("BOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TICKETS_EACH = 400


def _store(prefix: str) -> AtomicRedisLockStore:
    url = make_url(REDIS_URL)
    config = EndpointConfig(
        url=url.host or "127.0.0.1",
        port=url.port or 6379,
        db=url.database or "0",
        key_prefix=prefix,
    )
    return AtomicRedisLockStore(endpoint_config=config)


@pytest.fixture
def prefix() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is not reachable ({exc}); start redis-server", False)
    name = f"test:{uuid.uuid4().hex}:"
    yield name
    for key in client.scan_iter(f"{name}*"):
        client.delete(key)


def _issue_many(prefix: str, start, out: multiprocessing.Queue) -> None:
    store = _store(prefix)
    start.wait()
    out.put([store.issue_ticket("conv") for _ in range(TICKETS_EACH)])


def _hold_lock_many(prefix: str, start, out: multiprocessing.Queue, rounds: int) -> None:
    """Take the conversation's lock `rounds` times; inside, count the holders in
    Redis: a count above one means two "replicas" were inside at once."""
    store = _store(prefix)
    counter = redis.Redis.from_url(REDIS_URL)
    inside = f"{prefix}inside"

    async def one() -> int:
        async with store.lock("conv", lock_lifetime=30):
            holders = int(counter.incr(inside))
            await asyncio.sleep(0.002)  # the work of a turn, shortened
            counter.decr(inside)
            return holders

    async def many() -> list[int]:
        return list(await asyncio.gather(*(one() for _ in range(rounds))))

    start.wait()
    out.put(asyncio.run(many()))


def _in_two_processes(target, prefix: str, *args) -> list[list[int]]:
    ctx = multiprocessing.get_context("spawn")  # no inherited Redis connections
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=target, args=(prefix, start, out, *args)) for _ in range(2)]
    for proc in procs:
        proc.start()
    start.set()  # both begin at the same moment
    results = [out.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    return results


def test_two_replicas_never_get_the_same_ticket(prefix):
    first, second = _in_two_processes(_issue_many, prefix)
    issued = first + second
    assert len(set(issued)) == len(issued) == 2 * TICKETS_EACH
    assert sorted(issued) == list(range(1, 2 * TICKETS_EACH + 1))


def test_two_replicas_never_hold_the_lock_at_once(prefix):
    first, second = _in_two_processes(_hold_lock_many, prefix, 60)
    assert len(first) == len(second) == 60  # every turn got the lock
    assert set(first + second) == {1}  # and was alone with it


def test_a_crashed_holder_blocks_only_until_its_ticket_expires(prefix):
    store = _store(prefix)
    store.issue_ticket("conv", lock_lifetime=0.3)  # taken, never given back

    async def take() -> bool:
        async with store.lock("conv", lock_lifetime=30):
            return True

    assert run_apart(take())
    assert store.now_serving("conv") is None  # nothing left behind


def test_order_and_release(prefix):
    store = _store(prefix)
    first = store.issue_ticket("conv")
    second = store.issue_ticket("conv")
    assert store.now_serving("conv") == first
    assert store.get_lock("conv").is_locked(second)
    store.cleanup("conv", first)
    assert store.now_serving("conv") == second
    assert store.is_someone_waiting("conv")
    store.cleanup("conv", second)
    assert not store.is_someone_waiting("conv")
    assert store.get_lock("conv") is None


def test_a_waiter_whose_own_ticket_expired_gets_lock_error(prefix):
    store = _store(prefix)
    store.issue_ticket("conv", lock_lifetime=30)  # a long turn holds the lock

    async def wait_too_long() -> None:
        async with store.lock("conv", lock_lifetime=0.2):
            pass

    with pytest.raises(LockError):
        run_apart(wait_too_long())
