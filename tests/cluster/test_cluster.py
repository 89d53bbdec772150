"""The production shape (bot/runtime/cluster.py) on real PostgreSQL, Redis and HAProxy:
two Rasa replicas, two action servers, the balancer in front of both tiers.

Isolated from other runs: a PostgreSQL database of its own (test_cluster_<hex>,
dropped afterwards), Redis keys under a prefix of their own, free ports, and
its own var/ directory. The destructive tests (a process killed) come last.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets as random_secrets
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import socketio
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bot import records, rulebase, secrets, settings
from bot.runtime import cluster
from bot.settings import PROJECT_DIR
from tests.conftest import POSTGRES_ADMIN_URL
from tests.conversation.questions import DISINFECTION, ONSITE

REDIS_URL = os.environ.get("BOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    name = f"test_cluster_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable: {exc}", False)
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def redis_prefix() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    prefix = f"test:{uuid.uuid4().hex}:"
    yield prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


@pytest.fixture(scope="module")
def running_cluster(
    model, pg_database, redis_prefix, tmp_path_factory
) -> Iterator[cluster.Cluster]:
    var = tmp_path_factory.mktemp("cluster-var")
    cfg = dataclasses.replace(
        settings.load(),  # the session's servers' environment: tokens, rate limits
        var_dir=var,
        cluster_database_url=pg_database,
        cluster_tracker_url=pg_database,
        cluster_lock_store_url=REDIS_URL,
        lock_store_prefix=redis_prefix,
        api_token=random_secrets.token_urlsafe(32),
        actions_token=random_secrets.token_urlsafe(32),
    )
    # The first lookup loads spaCy in the action server: seconds on a busy
    # machine. What is tested here is shared state, not the action timeout.
    saved = os.environ.get("BOT_ACTION_TIMEOUT")
    os.environ["BOT_ACTION_TIMEOUT"] = "60"
    try:
        handle = cluster.start(2, 2, cfg=cfg, model=model, run_dir=var / "cluster")
    finally:
        if saved is None:
            os.environ.pop("BOT_ACTION_TIMEOUT")
        else:
            os.environ["BOT_ACTION_TIMEOUT"] = saved
    try:
        yield handle
    finally:
        handle.stop()


def post(url: str, body: dict, headers: dict | None = None) -> list[dict]:
    request = urllib.request.Request(
        url + "/webhooks/rest/webhook",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def say(url: str, sender: str, text: str, lang: str | None = None) -> list[dict]:
    body: dict = {"sender": sender, "message": text}
    if lang:
        body["metadata"] = {"lang": lang}
    return post(url, body)


def answer(messages: list[dict]) -> dict:
    found = [m["custom"]["answer"] for m in messages if "answer" in m.get("custom", {})]
    assert len(found) == 1, messages
    return found[0]


def text(messages: list[dict]) -> str:
    return "\n".join(m["text"] for m in messages if "text" in m)


def tracker_events(handle: cluster.Cluster, replica: int, sender: str) -> list[dict]:
    request = urllib.request.Request(
        f"{handle.rasa_urls[replica]}/conversations/{sender}/tracker?include_events=ALL",
        headers=secrets.api_headers(handle.cfg),
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["events"]


# ---------------------------------------------------------------- the shape


def test_both_tiers_are_behind_the_balancer(running_cluster):
    states = {k: v.split(" ")[0] for k, v in running_cluster.server_states().items()}
    assert states == {
        ("rasa", "rasa0"): "UP",
        ("rasa", "rasa1"): "UP",
        ("rasa_socketio", "rasa0"): "UP",
        ("rasa_socketio", "rasa1"): "UP",
        ("actions", "actions0"): "UP",
        ("actions", "actions1"): "UP",
    }
    reply = say(running_cluster.url, uuid.uuid4().hex, DISINFECTION["en"])
    assert answer(reply)["lang"] == "en"
    page = urllib.request.urlopen(running_cluster.url + "/webhooks/chat/", timeout=30)
    assert page.status == 200 and b"<html" in page.read().lower()


def test_the_replicas_run_on_postgresql_and_the_redis_lock_store(running_cluster, pg_database):
    sender = uuid.uuid4().hex
    say(running_cluster.url, sender, DISINFECTION["nb"])
    engine = sa.create_engine(pg_database)
    try:
        with engine.connect() as conn:
            stored = conn.execute(
                sa.text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": sender}
            ).scalar()
    finally:
        engine.dispose()
    assert stored and stored > 3  # the tracker store is this PostgreSQL database
    with open(PROJECT_DIR / "endpoints.redis-lock.yml", encoding="utf-8") as f:
        assert "bot.rasa_addons.stores.lock_store.AtomicRedisLockStore" in f.read()


# ---------------------------------------------------------------- shared state


def test_a_conversation_alternating_between_replicas_keeps_its_state(running_cluster):
    """Form slots, language and history, each message straight to the other replica."""
    first, second = running_cluster.rasa_urls
    sender = uuid.uuid4().hex
    asked = say(first, sender, "Er versjonen min fortsatt støttet?")
    assert "produkt" in text(asked).lower()
    product = say(second, sender, "vi bruker KES")  # the form's slot, on the other replica
    assert "versjon" in text(product).lower()
    assert "12.8" in [b["payload"] for m in product for b in m.get("buttons", [])]
    result = answer(say(first, sender, "12.8"))
    assert result["lookup"]["product"] == "Kaspersky Endpoint Security for Windows"
    assert result["lookup"]["version"] == "12.8"
    # "12.8" says nothing of a language: the reply's comes from the conversation
    assert result["lang"] == "nb"
    for replica in (0, 1):  # each replica reads the whole history
        events = tracker_events(running_cluster, replica, sender)
        users = [e["text"] for e in events if e["event"] == "user"]
        assert users == ["Er versjonen min fortsatt støttet?", "vi bruker KES", "12.8"]


def _turns(events: list[dict]) -> list[list[dict]]:
    """The events of each user turn: a user event up to the next one."""
    turns: list[list[dict]] = []
    for event in events:
        if event["event"] == "user":
            turns.append([event])
        elif turns:
            turns[-1].append(event)
    return turns


@pytest.mark.parametrize("attempt", range(5))
def test_two_messages_at_the_same_moment_on_two_replicas_are_processed_one_after_the_other(
    running_cluster, attempt
):
    """Both messages are sent at once, one to each replica. Processed at the same
    time, both replicas would read the same tracker and the second save would
    drop the other's events; serialised by the lock store, the tracker holds two
    complete turns, the second begun after the first ended."""
    sender = uuid.uuid4().hex
    say(running_cluster.rasa_urls[0], sender, "hei")  # the conversation exists
    texts = [DISINFECTION["nb"], ONSITE["nb"]]
    barrier = threading.Barrier(2)
    replies: dict[int, list[dict]] = {}

    def send(i: int) -> None:
        barrier.wait()
        replies[i] = say(running_cluster.rasa_urls[i], sender, texts[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(answer(replies[i])["rule_ids"] for i in (0, 1))  # both answered
    turns = _turns(tracker_events(running_cluster, 0, sender))[-2:]
    assert sorted(t[0]["text"] for t in turns) == sorted(texts)
    for turn in turns:  # each complete: its answer and back to listening
        names = [e.get("name") for e in turn if e["event"] == "action"]
        assert names[-1] == "action_listen", names
        assert any(e["event"] == "bot" for e in turn)
    earlier, later = turns
    assert later[0]["timestamp"] >= earlier[-1]["timestamp"]


def test_a_long_conversation_keeps_working(running_cluster):
    """Every action call carries the whole tracker: 25 turns are well over the
    64 KB the public may send (BOT_MAX_BODY_BYTES), which must not apply there."""
    sender = uuid.uuid4().hex
    for turn in range(25):
        reply = say(running_cluster.url, sender, DISINFECTION["en"])
        assert "fault" not in json.dumps(reply), turn
        assert answer(reply)["rule_ids"], turn


def test_a_record_import_is_seen_by_every_replica(running_cluster, tmp_path):
    csv = tmp_path / "products.csv"
    csv.write_text(
        "product,version,segment,released,end_of_support\n"
        "Kaspersky Cluster Guard,4.2,business,2026-02-01,2031-01-31\n",
        encoding="utf-8",
    )
    records.import_products(csv, running_cluster.cfg.database_url)
    for url in running_cluster.rasa_urls:
        found = answer(
            say(url, uuid.uuid4().hex, "Is Kaspersky Cluster Guard 4.2 still supported?")
        )
        assert found["lookup"]["product"] == "Kaspersky Cluster Guard"
        assert found["lookup"]["support_ends"] == "2031-01-31"


def test_a_rule_base_edit_is_seen_by_every_replica(running_cluster, tmp_path):
    import shutil

    import yaml

    url = running_cluster.cfg.database_url
    copy = tmp_path / "rulebase"
    shutil.copytree(PROJECT_DIR / "content" / "rulebase", copy)
    topics_file = copy / "topics.yml"
    data = yaml.safe_load(topics_file.read_text(encoding="utf-8"))
    for topic in data["topics"]:
        if topic["id"] == "disinfection":
            topic["lead"]["en"] = "Edited once, seen everywhere: no disinfection."
    topics_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    try:
        rulebase.load(url, directory=copy)
        # Several times each: both action servers behind the balancer answer.
        for replica in running_cluster.rasa_urls * 3:
            reply = text(say(replica, uuid.uuid4().hex, DISINFECTION["en"]))
            assert reply.startswith("Edited once, seen everywhere")
    finally:
        rulebase.load(url)


def test_socketio_through_the_balancer_sticks_to_one_replica(running_cluster):
    """Long-polling sends many requests per session; the balancer keeps them on
    the replica that holds the session (otherwise: 400 "Session ID unknown")."""
    client = socketio.SimpleClient()
    client.connect(running_cluster.url, transports=["polling"])
    try:
        client.emit("session_request", {"session_id": None})
        event, session_id = client.receive(timeout=20)
        assert event == "session_confirm"
        for question in (DISINFECTION["sv"], DISINFECTION["en"], DISINFECTION["nb"]):
            body = {"message": question, "customData": {"language": "sv"}, "session_id": session_id}
            client.emit("user_uttered", body)
            event, data = client.receive(timeout=30)
            assert event == "bot_uttered"
            assert data["metadata"]["answer"]["lang"] == "sv"
    finally:
        closing = threading.Thread(target=client.disconnect, daemon=True)
        closing.start()
        closing.join(timeout=5)


def test_the_action_servers_never_load_tensorflow(running_cluster):
    """After lookups (spaCy, whose thinc would import TensorFlow, JAX and h5py:
    about 350 MB) the action servers have none of them mapped."""
    question = "Is Kaspersky Internet Security 19 still supported?"
    for _ in range(4):
        say(running_cluster.url, uuid.uuid4().hex, question)
    maps = {
        name: Path(f"/proc/{running_cluster.procs[name].pid}/maps").read_text()
        for name in ("actions0", "actions1")
    }
    assert any("site-packages/spacy" in m for m in maps.values())  # a lookup ran
    for name, mapped in maps.items():
        assert "site-packages/tensorflow" not in mapped, name
        assert "site-packages/jaxlib" not in mapped, name


# ---------------------------------------------------------------- faults (last)


def _wait_for_state(
    handle: cluster.Cluster, server: tuple[str, str], state: str, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while handle.server_states().get(server, "").split(" ")[0] != state:
        assert time.monotonic() < deadline, handle.server_states()
        time.sleep(0.25)


def test_a_dead_replica_and_a_dead_action_server_are_taken_out(running_cluster):
    running_cluster.kill_rasa(1)
    running_cluster.kill_actions(0)
    _wait_for_state(running_cluster, ("rasa", "rasa1"), "DOWN")
    _wait_for_state(running_cluster, ("actions", "actions0"), "DOWN")
    for i in range(12):  # every message answered by what is left
        reply = say(running_cluster.url, uuid.uuid4().hex, DISINFECTION["en"])
        assert answer(reply)["rule_ids"], (i, reply)
        assert "fault" not in json.dumps(reply)


def test_the_supervisor_restarts_the_dead_and_the_balancer_takes_them_back(running_cluster):
    """What `bot cluster` does while it serves (Cluster.supervise, polled by its
    loop): the replica and the action server killed above start again, HAProxy
    sees them UP, and a message sent straight to the restarted replica is answered."""
    dead = {name: proc.pid for name, proc in running_cluster.procs.items()}
    assert [p.pid for p in running_cluster.supervise()] == [dead["haproxy"]]
    assert running_cluster.procs["rasa1"].pid != dead["rasa1"]
    assert running_cluster.procs["actions0"].pid != dead["actions0"]
    assert running_cluster.procs["rasa0"].pid == dead["rasa0"]  # alive: left alone
    _wait_for_state(running_cluster, ("rasa", "rasa1"), "UP", timeout=300)
    _wait_for_state(running_cluster, ("actions", "actions0"), "UP", timeout=300)
    reply = say(running_cluster.rasa_urls[1], uuid.uuid4().hex, DISINFECTION["en"])
    assert answer(reply)["rule_ids"]
