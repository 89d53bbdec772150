"""bot/client_address.py: whose address a request is, and the key its limits count;
bot/address_limits.py's in-process limits (the Redis ones: tests/rasa_addons)."""

from __future__ import annotations

import ipaddress

import pytest

from bot import client_address, settings
from bot.address_limits import MemoryAddressLimits, for_settings
from bot.client_address import client_ip, limit_key, parse_networks
from tests.aio import run_apart

PROXY = ("127.0.0.1", "10.0.0.0/8")


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        # no trusted proxy: the header is never read
        ("203.0.113.7", "198.51.100.1", (), "203.0.113.7"),
        # a header from a peer that is not the proxy: never read
        ("203.0.113.7", "198.51.100.1", PROXY, "203.0.113.7"),
        # from the proxy: the entry it appended (the last), not one the client wrote
        ("127.0.0.1", "6.6.6.6, 198.51.100.1", PROXY, "198.51.100.1"),
        # a chain of trusted proxies is walked back to the first other address
        ("127.0.0.1", "6.6.6.6, 198.51.100.1, 10.1.2.3", PROXY, "198.51.100.1"),
        # from the proxy without a header: the proxy itself
        ("127.0.0.1", None, PROXY, "127.0.0.1"),
        # garbage where the proxy's entry should be: the last good hop
        ("127.0.0.1", "198.51.100.1, not-an-ip", PROXY, "127.0.0.1"),
        # IPv6 peers, brackets, IPv4-mapped
        ("[2001:db8::1]", None, (), "2001:db8::1"),
        ("::ffff:192.0.2.9", None, (), "192.0.2.9"),
        ("::1", "2001:db8::5", ("::1",), "2001:db8::5"),
        (None, "198.51.100.1", PROXY, "unknown"),
    ],
)
def test_client_ip(peer, forwarded, trusted, client):
    assert client_ip(peer, forwarded, trusted) == client


def test_an_ipv6_host_is_one_key_for_its_whole_64():
    a = limit_key("2001:db8:1:2:aaaa::1")
    assert a == "2001:db8:1:2::/64"
    assert limit_key("2001:db8:1:2:ffff:ffff:ffff:ffff") == a
    assert limit_key("2001:db8:1:3::1") != a
    assert limit_key("192.0.2.1") == "192.0.2.1"
    assert limit_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert limit_key("") == "unknown"


def test_trusted_proxies_are_checked_at_start():
    assert len(parse_networks(["127.0.0.1", "10.0.0.0/8", "::1"])) == 3
    with pytest.raises(ValueError, match="'example.com'"):
        parse_networks(["example.com"])
    with settings.environment({"BOT_TRUSTED_PROXIES": "127.0.0.1, nope"}):
        with pytest.raises(SystemExit, match="BOT_TRUSTED_PROXIES"):
            settings.load()
    with settings.environment({"BOT_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"}):
        assert settings.load().trusted_proxies == ("127.0.0.1", "10.0.0.0/8")


def test_the_limits_live_in_redis_when_there_is_one():
    env = {"BOT_LIMITS_REDIS_URL": None, "BOT_LOCK_STORE_URL": None}
    with settings.environment(env):
        assert isinstance(for_settings(settings.load()), MemoryAddressLimits)
    with settings.environment({**env, "BOT_LOCK_STORE_URL": "redis://127.0.0.1:6379/3"}):
        assert settings.load().limits_redis_url == "redis://127.0.0.1:6379/3"
    with settings.environment({**env, "BOT_LIMITS_REDIS_URL": "redis://cache:6379/1"}):
        assert settings.load().limits_redis_url == "redis://cache:6379/1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_memory_limits_a_small_burst_then_the_rate():
    clock = Clock()
    limits = MemoryAddressLimits(per_minute=60, burst=3, sockets=2, clock=clock)

    async def run() -> list[float]:
        return [await limits.spend("a") for _ in range(4)] + [await limits.spend("b")]

    waits = run_apart(run())
    assert waits[:3] == [0.0] * 3 and waits[3] == pytest.approx(1.0) and waits[4] == 0.0
    clock.now += 1.0
    assert run_apart(limits.spend("a")) == 0.0


def test_memory_limits_cap_open_sockets_per_address():
    limits = MemoryAddressLimits(per_minute=60, burst=3, sockets=2)

    async def run() -> list[bool]:
        got = [await limits.open_socket("a", s) for s in ("s1", "s2", "s3")]
        got.append(await limits.open_socket("a", "s1"))  # one already open: still fine
        got.append(await limits.open_socket("b", "s4"))  # another address
        await limits.close_socket("a", "s1")
        got.append(await limits.open_socket("a", "s3"))
        await limits.close_socket("a", "nope")  # closing an unknown socket: nothing
        return got

    assert run_apart(run()) == [True, True, False, True, True, True]
    assert limits.sockets == {"a": {"s2", "s3"}, "b": {"s4"}}


def test_a_forwarded_address_with_its_port_is_the_clients():
    # some proxies append "address:port": the client, not the proxy, is keyed
    assert client_address.parse_ip("203.0.113.9:51234") == ipaddress.ip_address("203.0.113.9")
    assert client_address.parse_ip("[2001:db8::1]:443") == ipaddress.ip_address("2001:db8::1")
