"""bot.fair_queue: clients take turns for the threads, a client's burst is
bounded by its own wait, and results and errors come back as they were."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.fair_queue import Busy, FairQueue

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

    ran = asyncio.run(scenario())
    # a plain pool would run the five floods first; here the others wait for one
    assert ran[:3] == ["flood-0", "quiet-0", "other-0"]
    assert ran[3:] == [f"flood-{i}" for i in range(1, 5)]


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
        assert jobs.ran == ["flood-0", "quiet-0", "flood-1"]  # the quiet one first

    asyncio.run(scenario())


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

    asyncio.run(scenario())


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

    assert asyncio.run(scenario()) == ["a-0"]
