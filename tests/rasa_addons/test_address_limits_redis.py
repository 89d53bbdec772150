"""bot/address_limits.py's RedisAddressLimits against the real Redis: two
instances with one prefix are two replicas, and must not multiply an address's
limits. Keys under a prefix of their own per test (`test:<uuid>:`), so runs
beside each other never meet; BOT_TEST_REDIS_URL names the server (default
redis://127.0.0.1:6379/0)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest
import redis

from bot.address_limits import RedisAddressLimits
from bot.runtime import processes
from tests.aio import run_apart

REDIS_URL = os.environ.get("BOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def prefix() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is not reachable ({exc}); start redis-server", False)
    prefix = f"test:{uuid.uuid4().hex}:"
    yield prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def replicas(prefix: str, n: int = 2, **kwargs) -> list[RedisAddressLimits]:
    args = {"per_minute": 60.0, "burst": 4, "sockets": 3, **kwargs}
    return [RedisAddressLimits(REDIS_URL, prefix, **args) for _ in range(n)]


def test_two_replicas_share_one_bucket_per_address(prefix):
    async def run() -> tuple[list[float], float, float]:
        a, b = replicas(prefix)
        try:
            waits = [await (a if i % 2 else b).spend("198.51.100.7") for i in range(6)]
            other = await b.spend("2001:db8:1:2::/64")  # another address: its own bucket
            await asyncio.sleep(1.1)  # 1 a second refills one token
            again = await a.spend("198.51.100.7")
            return waits, other, again
        finally:
            await a.close()
            await b.close()

    waits, other, again = run_apart(run())
    assert waits[:4] == [0.0] * 4  # the burst, across both replicas
    assert all(0.5 < w <= 1.0 for w in waits[4:]), waits  # then 1 a second, not 2
    assert other == 0.0 and again == 0.0


def test_two_replicas_share_the_socket_cap(prefix):
    async def run() -> list[bool]:
        a, b = replicas(prefix)
        try:
            got = [
                await a.open_socket("198.51.100.7", "s1"),
                await a.open_socket("198.51.100.7", "s2"),
                await b.open_socket("198.51.100.7", "s1"),  # b's own s1: another socket
                await b.open_socket("198.51.100.7", "s4"),  # the fourth: refused
                await a.open_socket("198.51.100.7", "s5"),  # on either replica
                await b.open_socket("198.51.100.8", "s6"),  # another address
            ]
            await a.close_socket("198.51.100.7", "s1")
            got.append(await b.open_socket("198.51.100.7", "s4"))
            return got
        finally:
            await a.close()
            await b.close()

    assert run_apart(run()) == [True, True, True, False, False, True, True]


def test_a_dead_replicas_sockets_stop_counting_a_live_ones_do_not(prefix):
    async def run() -> tuple[bool, bool, bool]:
        live, dead, other = replicas(prefix, 3, sockets=2, socket_ttl=1.2)
        try:
            assert await live.open_socket("a", "s1")
            assert await dead.open_socket("a", "s2")
            dead._refresher.cancel()  # the replica dies: no refresh, no close
            full = await other.open_socket("a", "s3")
            await asyncio.sleep(1.6)  # past the TTL; live refreshed every 0.4 s
            after = await other.open_socket("a", "s3")  # dead's socket no longer counts
            still = await other.open_socket("a", "s4")  # live's and s3 do
            return full, after, still
        finally:
            for limits in (live, dead, other):
                await limits.close()

    assert run_apart(run()) == (False, True, False)


def test_without_redis_each_process_counts_alone(caplog):
    url = f"redis://127.0.0.1:{processes.free_port()}/0"  # nothing listens there

    async def run() -> tuple[list[float], list[bool]]:
        limits = RedisAddressLimits(url, "x:", per_minute=60.0, burst=2, sockets=1)
        try:
            waits = [await limits.spend("a") for _ in range(3)]
            opened = [await limits.open_socket("a", "s1"), await limits.open_socket("a", "s2")]
            await limits.close_socket("a", "s1")
            return waits, opened
        finally:
            await limits.close()

    waits, opened = run_apart(run())
    assert waits[:2] == [0.0, 0.0] and waits[2] > 0
    assert opened == [True, False]
    warnings = [r for r in caplog.records if "Redis does not answer" in r.getMessage()]
    assert len(warnings) == 1  # once a minute, not once a message
