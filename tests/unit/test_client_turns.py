"""A client's turns beyond its share wait in order, others' do not wait for them,
and the waiting are bounded (bot/client_turns.py)."""

from __future__ import annotations

import asyncio

import pytest

from bot.client_turns import Busy, ClientTurns
from tests.aio import run_apart

pytestmark = pytest.mark.unit


async def _three_waiting(log: list[str], gate: asyncio.Event):
    """One turn of client a running (a0), two waiting behind it (gone, a2)."""
    turns = ClientTurns(per_client=1, max_wait=60)
    names = ("a0", "gone", "a2")
    tasks = [asyncio.create_task(_hold(turns, "a", n, log, gate)) for n in names]
    await asyncio.sleep(0.01)
    return turns, *tasks


async def _hold(turns: ClientTurns, client: str, name: str, log: list[str], gate: asyncio.Event):
    async with turns.turn(client):
        log.append(f"start {name}")
        await gate.wait()
        log.append(f"end {name}")


def test_turns_beyond_the_share_wait_in_order_and_other_clients_go_ahead():
    async def scenario() -> list[str]:
        turns, log, gate = ClientTurns(per_client=1, max_wait=60), [], asyncio.Event()
        tasks = [asyncio.create_task(_hold(turns, "a", f"a{i}", log, gate)) for i in range(3)]
        tasks.append(asyncio.create_task(_hold(turns, "b", "b0", log, gate)))
        await asyncio.sleep(0.01)
        assert (turns.running("a"), turns.waiting("a"), turns.running("b")) == (1, 2, 1)
        gate.set()
        await asyncio.gather(*tasks)
        assert turns.clients == {}  # nothing kept once every turn is over
        return log

    log = run_apart(scenario())
    assert log[:2] == ["start a0", "start b0"]
    assert [e for e in log if e.startswith("start a")] == ["start a0", "start a1", "start a2"]
    assert log.index("start a1") > log.index("end a0")


def test_two_turns_at_once_with_a_share_of_two():
    async def scenario() -> tuple[int, int]:
        turns, log, gate = ClientTurns(per_client=2, max_wait=60), [], asyncio.Event()
        tasks = [asyncio.create_task(_hold(turns, "a", f"a{i}", log, gate)) for i in range(3)]
        await asyncio.sleep(0.01)
        counts = turns.running("a"), turns.waiting("a")
        gate.set()
        await asyncio.gather(*tasks)
        return counts

    assert run_apart(scenario()) == (2, 1)


def test_a_turn_that_would_wait_too_long_is_refused_but_never_the_first_waiting():
    async def scenario() -> list[float]:
        turns, log, gate = ClientTurns(per_client=1, max_wait=1.0), [], asyncio.Event()
        turns.mean = 0.6  # a turn takes 0.6 s: the second waiting would wait 1.2 s
        tasks = [asyncio.create_task(_hold(turns, "a", f"a{i}", log, gate)) for i in range(2)]
        await asyncio.sleep(0.01)
        refused = []
        try:
            async with turns.turn("a"):
                pass
        except Busy as busy:
            refused.append(busy.wait)
        async with turns.turn("b"):  # another client is not refused for a's backlog
            pass
        gate.set()
        await asyncio.gather(*tasks)
        return refused

    assert run_apart(scenario()) == [pytest.approx(1.2)]


def test_a_waiter_that_goes_away_gives_its_place_to_the_next():
    async def scenario() -> list[str]:
        log, gate = [], asyncio.Event()
        turns, first, gone, last = await _three_waiting(log, gate)
        gone.cancel()
        await asyncio.sleep(0)
        assert turns.waiting("a") == 1  # its place is given up at once
        gate.set()
        await asyncio.gather(first, last)
        assert gone.cancelled() and turns.clients == {}
        return log

    assert run_apart(scenario()) == ["start a0", "end a0", "start a2", "end a2"]


def test_a_turn_handed_over_as_its_caller_goes_away_is_passed_on():
    async def scenario() -> list[str]:
        log, gate = [], asyncio.Event()
        turns, first, gone, last = await _three_waiting(log, gate)
        gate.set()
        await asyncio.sleep(0)  # a0 ends and hands its place to `gone`...
        while "end a0" not in log:
            await asyncio.sleep(0)
        gone.cancel()  # ...which goes away before it resumes
        # without the hand-over passed on, a2 would wait for ever
        await asyncio.wait_for(asyncio.gather(first, last), 30)
        assert turns.clients == {}
        return log

    log = run_apart(scenario())
    assert log[-2:] == ["start a2", "end a2"]
