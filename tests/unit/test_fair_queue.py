"""bot.fair_queue: clients take turns for the threads, a client's burst is
bounded by its own wait, and results and errors come back as they were."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.fair_queue import Busy, FairQueue
from tests.aio import run_apart

pytestmark = pytest.mark.unit


class Jobs:
    """Jobs that block until released, recording the order they ran in."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.release = threading.Event()

    def job(self, name: str) -> str:
        self.release.wait(10)
        self.ran.append(name)
        return name


def test_clients_take_turns_whatever_the_order_they_sent_in():
    async def scenario() -> list[str]:
        jobs = Jobs()
        with ThreadPoolExecutor(1) as pool:
            fair = FairQueue(pool, 1, max_wait=60)
            sent = [fair.run("flood", jobs.job, f"flood-{i}") for i in range(5)]
            sent += [fair.run("quiet", jobs.job, "quiet-0"), fair.run("other", jobs.job, "other-0")]
            tasks = [asyncio.ensure_future(s) for s in sent]
            await asyncio.sleep(0.05)  # every job queued; the first one running
            jobs.release.set()
            results = await asyncio.gather(*tasks)
        assert results == [*(f"flood-{i}" for i in range(5)), "quiet-0", "other-0"]
        return jobs.ran

    ran = run_apart(scenario())
    # a plain pool would run the five floods first; here the others join the
    # rotation and wait for one turn of each client ahead of them
    assert ran[:4] == ["flood-0", "flood-1", "quiet-0", "other-0"]
    assert ran[4:] == [f"flood-{i}" for i in range(2, 5)]


def test_a_burst_is_refused_past_its_own_wait_and_others_still_get_in():
    async def scenario() -> None:
        jobs = Jobs()
        with ThreadPoolExecutor(1) as pool:
            fair = FairQueue(pool, 1, max_wait=0.3)  # a job takes 0.2 s until timed
            first = asyncio.ensure_future(fair.run("flood", jobs.job, "flood-0"))
            await asyncio.sleep(0.05)  # running
            second = asyncio.ensure_future(fair.run("flood", jobs.job, "flood-1"))
            await asyncio.sleep(0)  # queued: a client's first waiting job always is
            with pytest.raises(Busy) as refused:
                await fair.run("flood", jobs.job, "flood-2")  # 2 of its own x 0.2 s
            assert refused.value.wait == pytest.approx(0.4)
            assert "try again in 1 s" in str(refused.value)
            quiet = asyncio.ensure_future(fair.run("quiet", jobs.job, "quiet-0"))
            await asyncio.sleep(0)
            jobs.release.set()
            assert await asyncio.gather(first, second, quiet) == ["flood-0", "flood-1", "quiet-0"]
        assert jobs.ran == ["flood-0", "flood-1", "quiet-0"]  # the flood's turn, then quiet

    run_apart(scenario())


def test_an_error_comes_back_to_its_caller_and_the_queue_goes_on():
    def fails() -> None:
        raise ValueError("broken parse")

    async def scenario() -> None:
        with ThreadPoolExecutor(1) as pool:
            fair = FairQueue(pool, 1, max_wait=60)
            with pytest.raises(ValueError, match="broken parse"):
                await fair.run("a", fails)
            assert await fair.run("a", str.upper, "next") == "NEXT"
            assert fair.running == 0 and not fair.queues

    run_apart(scenario())


def test_a_job_whose_caller_went_away_is_never_run():
    async def scenario() -> list[str]:
        jobs = Jobs()
        with ThreadPoolExecutor(1) as pool:
            fair = FairQueue(pool, 1, max_wait=60)
            first = asyncio.ensure_future(fair.run("a", jobs.job, "a-0"))
            await asyncio.sleep(0.05)
            gone = asyncio.ensure_future(fair.run("b", jobs.job, "b-0"))
            await asyncio.sleep(0)
            gone.cancel()  # e.g. the HTTP client disconnected while it waited
            jobs.release.set()
            await first
            await asyncio.sleep(0.05)
        return jobs.ran

    assert run_apart(scenario()) == ["a-0"]


def test_newcomers_do_not_starve_a_client_with_a_backlog():
    """An office behind one address sends three; twenty single-message users
    arrive while its first runs. Its second message runs next, not last."""

    async def scenario() -> list[str]:
        jobs = Jobs()
        with ThreadPoolExecutor(1) as pool:
            fair = FairQueue(pool, 1, max_wait=60)
            tasks = [
                asyncio.ensure_future(fair.run("office", jobs.job, f"office-{i}")) for i in range(3)
            ]
            await asyncio.sleep(0.05)
            tasks += [
                asyncio.ensure_future(fair.run(f"user{i}", jobs.job, f"user-{i}"))
                for i in range(20)
            ]
            await asyncio.sleep(0)
            jobs.release.set()
            await asyncio.gather(*tasks)
        return jobs.ran

    ran = run_apart(scenario())
    assert ran[:3] == ["office-0", "office-1", "user-0"]
    assert ran.index("office-2") == 22  # its turn after each newcomer that came before it


def test_a_job_raising_stopiteration_fails_alone():
    def stops() -> None:
        raise StopIteration

    async def scenario() -> None:
        with ThreadPoolExecutor(1) as pool:
            fair = FairQueue(pool, 1, max_wait=60)
            with pytest.raises(RuntimeError, match="StopIteration"):
                await fair.run("a", stops)
            assert await asyncio.wait_for(fair.run("a", str.upper, "next"), 5) == "NEXT"

    run_apart(scenario())


def test_a_cancelled_waiting_job_no_longer_counts():
    async def scenario() -> None:
        jobs = Jobs()
        with ThreadPoolExecutor(1) as pool:
            fair = FairQueue(pool, 1, max_wait=0.3)
            first = asyncio.ensure_future(fair.run("a", jobs.job, "a-0"))
            await asyncio.sleep(0.05)
            waiting = asyncio.ensure_future(fair.run("a", jobs.job, "a-1"))
            await asyncio.sleep(0)
            waiting.cancel()
            await asyncio.sleep(0)
            assert fair.waiting("a") == 0  # so the next one is a first waiting job again
            again = asyncio.ensure_future(fair.run("a", jobs.job, "a-2"))
            await asyncio.sleep(0)
            jobs.release.set()
            assert await asyncio.gather(first, again) == ["a-0", "a-2"]

    run_apart(scenario())
