"""Retention in every shape (issue 25, item 5): the action server itself purges,
at its start and every BOT_RETENTION_EVERY_SECONDS, so a container deployment,
which never runs `make run`, forgets old conversations too."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
import urllib.request

import pytest
import sqlalchemy as sa

from bot import db
from bot.runtime import processes
from bot.settings import PROJECT_DIR
from bot.tracker_events import EVENTS, TRACKER_METADATA

pytestmark = pytest.mark.process


def _conversation(engine: sa.engine.Engine, sender: str, days_ago: float) -> None:
    at = time.time() - days_ago * 86400
    with engine.begin() as connection:
        connection.execute(
            EVENTS.insert(),
            [
                {"sender_id": sender, "type_name": "user", "timestamp": at, "data": "{}"},
                {"sender_id": sender, "type_name": "bot", "timestamp": at + 1, "data": "{}"},
            ],
        )


def _senders(engine: sa.engine.Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(sa.select(EVENTS.c.sender_id)).scalars())


def test_the_action_server_forgets_old_conversations_while_it_runs(tmp_path):
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    engine = db.engine_for(tracker_url)
    TRACKER_METADATA.create_all(engine)
    _conversation(engine, "recent-conversation-0001", days_ago=1)
    _conversation(engine, "old-conversation-000001", days_ago=40)
    port = processes.free_port()
    env = {
        **os.environ,
        "BOT_VAR_DIR": str(tmp_path),
        "BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "BOT_TRACKER_URL": tracker_url,
        "BOT_RETENTION_DAYS": "30",
        "BOT_RETENTION_EVERY_SECONDS": "1",
        "BOT_ACTIONS_TOKEN": secrets.token_urlsafe(32),
    }
    cmd = [*processes.ACTION_SERVER, "--actions", "actions", "--port", str(port)]
    server = subprocess.Popen(
        cmd, cwd=PROJECT_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 120
        while "old-conversation-000001" in _senders(engine):
            assert server.poll() is None, "the action server stopped"
            assert time.monotonic() < deadline, "the old conversation was never purged"
            time.sleep(0.5)
        assert _senders(engine) == {"recent-conversation-0001"}
        # and again later, while it keeps running: a conversation that has aged since
        _conversation(engine, "aged-conversation-00001", days_ago=31)
        while "aged-conversation-00001" in _senders(engine):
            assert time.monotonic() < deadline, "the next round never came"
            time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
            assert answer.status == 200  # it purged while serving
    finally:
        server.terminate()
        server.wait(timeout=30)
