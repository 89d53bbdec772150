"""Parsing off the event loop (bot.rasa_addons.nlu_pool, through patches.py):
messages parsed at once in the pool read exactly as they do one at a time.

The trained model, loaded in process. The e5 cache is off and the texts are
ones the n-gram model is unsure of, so e5 really runs for each of them; the
test counts e5 calls in flight and requires two at once, or it would prove
nothing about threads.
"""

from __future__ import annotations

import asyncio
import random
import threading
from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage

from bot.rasa_addons import nlu_pool, patches
from bot.rasa_addons.components.e5_featurizer import E5Featurizer
from bot.training.examples import EVAL_SETS, eval_questions
from tests.aio import run_apart

pytestmark = pytest.mark.rasa

THREADS = 4
TEXTS = 32


class InFlight:
    """The real e5 model, counting how many calls run at the same moment."""

    def __init__(self, model: Any) -> None:
        self.model, self.now, self.most, self.calls = model, 0, 0, 0
        self.lock = threading.Lock()

    def query(self, texts: list[str]) -> Any:
        with self.lock:
            self.now += 1
            self.calls += 1
            self.most = max(self.most, self.now)
        try:
            return self.model.query(texts)
        finally:
            with self.lock:
                self.now -= 1


@pytest.fixture(scope="module")
def processor(model):
    patches.apply()
    return Agent.load(str(model)).processor


@pytest.fixture(scope="module")
def e5(processor) -> InFlight:
    nodes = processor.graph_runner._instantiated_nodes.values()
    (component,) = [n._component for n in nodes if isinstance(n._component, E5Featurizer)]
    component._cache_size = 0  # every text embedded afresh, in whichever thread parses it
    component._cache.clear()
    counting = InFlight(component._model)
    component._model = counting
    return counting


def comparable(value: Any) -> Any:
    """The parse with floats rounded far below any decision."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [comparable(v) for v in value]
    return value


async def parse_all(processor, texts: list[str]) -> list[dict]:
    return list(await asyncio.gather(*(processor.parse_message(UserMessage(t)) for t in texts)))


def parse_serially(processor, texts: list[str]) -> list[dict]:
    async def one_by_one() -> list[dict]:
        return [await processor.parse_message(UserMessage(t)) for t in texts]

    return run_apart(one_by_one())


def test_parsing_in_threads_reads_every_message_as_one_at_a_time(processor, e5, monkeypatch):
    texts = [q.text for path in EVAL_SETS for q in eval_questions(path)]
    random.Random(26).shuffle(texts)
    monkeypatch.setenv("BOT_NLU_THREADS", "0")  # on the loop, as Rasa parses
    nlu_pool.reset()
    unsure, serial = [], []
    for text in texts:  # the texts e5 runs for: the n-gram model alone is not sure
        before = e5.calls
        (parsed,) = parse_serially(processor, [text])
        if e5.calls > before:
            unsure.append(text)
            serial.append(parsed)
        if len(unsure) == TEXTS:
            break
    assert len(unsure) == TEXTS

    monkeypatch.setenv("BOT_NLU_THREADS", str(THREADS))
    nlu_pool.reset()
    try:
        assert nlu_pool.queue() is not None
        e5.most = 0
        for _ in range(2):
            concurrent = run_apart(parse_all(processor, unsure))
            assert [comparable(p) for p in concurrent] == [comparable(p) for p in serial]
        assert e5.most >= 2, "e5 never ran in two threads at once: the test proved nothing"
    finally:
        nlu_pool.reset()


def test_no_threads_parses_on_the_loop(processor, monkeypatch):
    monkeypatch.setenv("BOT_NLU_THREADS", "0")
    nlu_pool.reset()
    names: list[tuple[str, str]] = []  # (the loop's thread, the graph's thread)
    original = processor._parse_message_with_graph
    loop_thread: list[str] = []

    def recording(*args: Any, **kwargs: Any) -> Any:
        names.append((loop_thread[-1], threading.current_thread().name))
        return original(*args, **kwargs)

    async def parse_once() -> None:
        loop_thread.append(threading.current_thread().name)
        await processor.parse_message(UserMessage("Kan dere fjerne virus fra PC-en min?"))

    monkeypatch.setattr(processor, "_parse_message_with_graph", recording)
    run_apart(parse_once())
    monkeypatch.setenv("BOT_NLU_THREADS", "2")
    nlu_pool.reset()
    try:
        run_apart(parse_once())
    finally:
        nlu_pool.reset()
    (loop_a, graph_a), (loop_b, graph_b) = names
    assert graph_a == loop_a  # BOT_NLU_THREADS=0: on the loop, as Rasa does
    assert graph_b != loop_b and graph_b.startswith("nlu")


def test_a_flood_waits_behind_its_own_messages_and_is_told_past_its_bound(processor, monkeypatch):
    """Through the patched parse_message: one client's twenty messages at once and
    then a quiet client's one. The quiet one is parsed third (after the flood's
    next turn), not 21st; the flood's messages past its wait bound are refused
    at once (nlu_pool.Busy,
    which the channels turn into "too many messages"), never parsed late."""
    monkeypatch.setenv("BOT_NLU_THREADS", "1")
    monkeypatch.setenv("BOT_PARSE_WAIT_SECONDS", "1")
    nlu_pool.reset()
    texts = [q.text for q in eval_questions(EVAL_SETS[0])][:21]
    finished: list[str] = []

    async def one(client: str, text: str, name: str) -> None:
        nlu_pool.CLIENT.set(client)  # this task's own context, as a channel's request
        try:
            await processor.parse_message(UserMessage(text))
            finished.append(name)
        except nlu_pool.Busy as busy:
            assert 1 < busy.wait < 60
            finished.append("refused")

    async def scenario() -> None:
        flood = [one("10.0.0.1", t, f"flood-{i}") for i, t in enumerate(texts[:20])]
        await asyncio.gather(*flood, one("10.0.0.2", texts[20], "quiet"))

    try:
        run_apart(scenario())
    finally:
        nlu_pool.reset()
    parsed = [name for name in finished if name != "refused"]
    # the flood's next turn (queued before the quiet one came), then the quiet one
    assert parsed[:3] == ["flood-0", "flood-1", "quiet"]
    assert parsed[3:] == [f"flood-{i}" for i in range(2, len(parsed) - 1)]
    assert finished.count("refused") == 20 + 1 - len(parsed) > 0


def test_a_client_has_at_most_its_turns_in_flight_and_a_quiet_one_goes_between(model, monkeypatch):
    """Through Agent.handle_message, as every channel calls it, and the patched
    MessageProcessor.handle_message: one client's eight messages at once, in eight
    conversations, and a quiet client's one. The flood never has more than
    BOT_TURNS_PER_CLIENT turns in flight (from reading the message to saving the
    tracker); the quiet one does not wait for the flood's (it is answered before
    the flood's last); every message is handled, nothing refused."""
    monkeypatch.setenv("BOT_TURNS_PER_CLIENT", "2")
    monkeypatch.setenv("BOT_PARSE_WAIT_SECONDS", "600")  # a slow machine refuses nothing
    nlu_pool.reset()
    patches.apply()
    agent = Agent.load(str(model))
    texts = [q.text for q in eval_questions(EVAL_SETS[0])][:9]
    in_flight: dict[str, int] = {}
    most: dict[str, int] = {}
    finished: list[str] = []
    processor = agent.processor
    log_message, save_tracker = processor.log_message, processor.save_tracker

    async def begins(message: UserMessage, *args: Any, **kwargs: Any) -> Any:
        client = str(nlu_pool.CLIENT.get())  # a turn's first step
        in_flight[client] = in_flight.get(client, 0) + 1
        most[client] = max(most.get(client, 0), in_flight[client])
        return await log_message(message, *args, **kwargs)

    async def ends(tracker: Any) -> None:
        await save_tracker(tracker)  # and its last
        in_flight[str(nlu_pool.CLIENT.get())] -= 1

    processor.log_message = begins  # type: ignore[method-assign]
    processor.save_tracker = ends  # type: ignore[method-assign]

    async def one(client: str, text: str, name: str) -> None:
        nlu_pool.CLIENT.set(client)
        await agent.handle_message(UserMessage(text, sender_id=name))
        finished.append(name)

    async def scenario() -> None:
        flood = [one("10.0.0.1", t, f"flood-{i}") for i, t in enumerate(texts[:8])]
        await asyncio.gather(*flood, one("10.0.0.2", texts[8], "quiet"))

    try:
        run_apart(scenario())
    finally:
        nlu_pool.reset()
    assert most == {"10.0.0.1": 2, "10.0.0.2": 1}
    assert sorted(finished) == sorted([f"flood-{i}" for i in range(8)] + ["quiet"])
    assert finished.index("quiet") < finished.index("flood-7")
