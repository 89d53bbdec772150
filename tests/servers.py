"""The real pieces for conversation and browser tests: a Rasa server and an
action server started once per test session (registered as a plugin in
tests/conftest.py, so every directory shares the one pair), on free ports,
with a fresh database and tracker store, answering over the REST channel.

The model is the one `make test` trained (`bot prepare --for-tests`); run on
its own, this trains it first.
"""

from __future__ import annotations

import json
import secrets as random_secrets
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import intent_files, secrets, settings
from bot.runtime import build, nlu_jobs, processes
from bot.runtime.servers import Servers


def new_sender() -> str:
    """A conversation of its own: 32 random hex characters, as no client guesses."""
    return uuid.uuid4().hex


@dataclass
class Bot:
    """A client of the running assistant."""

    cfg: settings.Settings
    servers: Servers

    @property
    def url(self) -> str:
        return self.cfg.rasa_url

    def _auth(self, path: str) -> dict[str, str]:
        """The HTTP API (trackers, model, status) wants the token; the channels are public."""
        return {} if path.startswith("/webhooks/") else secrets.api_headers(self.cfg)

    def post(self, path: str, body: dict) -> object:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **self._auth(path)},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def get(self, path: str) -> object:
        request = urllib.request.Request(self.url + path, headers=self._auth(path))
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def send(self, text: str, sender: str | None = None, lang: str | None = None) -> list[dict]:
        body: dict = {"sender": sender or new_sender(), "message": text}
        if lang:
            body["metadata"] = {"lang": lang}
        return self.post("/webhooks/rest/webhook", body)  # type: ignore[return-value]

    def ask(self, text: str, sender: str | None = None, lang: str | None = None) -> Reply:
        return Reply(self.send(text, sender, lang))


@dataclass
class Reply:
    """The REST channel's list of bot messages for one user message."""

    messages: list[dict]

    @property
    def text(self) -> str:
        return "\n".join(m["text"] for m in self.messages if "text" in m)

    @property
    def answer(self) -> dict:
        custom = [m["custom"]["answer"] for m in self.messages if "answer" in m.get("custom", {})]
        assert len(custom) == 1, f"expected one answer payload, got {self.messages}"
        return custom[0]

    @property
    def answers(self) -> list[dict]:
        """Every answer payload of the turn, in order (answer contract, section 2a)."""
        return [m["custom"]["answer"] for m in self.messages if "answer" in m.get("custom", {})]

    @property
    def buttons(self) -> list[dict]:
        return [b for m in self.messages for b in m.get("buttons", [])]


@pytest.fixture(scope="session")
def bot_env(tmp_path_factory) -> Iterator[settings.Settings]:
    """Environment for the servers: own ports, own database and tracker store."""
    var = tmp_path_factory.mktemp("var")
    rasa_port = processes.free_port()
    overrides = {
        "BOT_VAR_DIR": str(var),
        "BOT_DATABASE_URL": f"sqlite:///{var / 'bot.db'}",
        "BOT_TRACKER_URL": f"sqlite:///{var / 'tracker.db'}",
        "BOT_RASA_PORT": str(rasa_port),
        # First the origin of the rasa-webchat test page (tests/browser; socket.io
        # compares origins exactly), then the server's own pages, and (a pattern:
        # sanic-cors matches an origin with regex characters as one) any local
        # port, where the browser tests serve a page that embeds the widget from
        # "another site". Never a real site's.
        "BOT_ALLOWED_ORIGINS": (
            f"http://127.0.0.1:{processes.free_port()},"
            f"http://127.0.0.1:{rasa_port},http://localhost:{rasa_port},"
            r"http://127\.0\.0\.1:[0-9]+$"
        ),
        "BOT_ACTIONS_PORT": str(processes.free_port()),
        "BOT_LOG_LEVEL": "WARNING",
        # Fresh secrets per run, in the environment, so `bot ask` subprocesses have them.
        "BOT_API_TOKEN": random_secrets.token_urlsafe(32),
        "BOT_ACTIONS_TOKEN": random_secrets.token_urlsafe(32),
        "BOT_TRAINER_TOKEN": random_secrets.token_urlsafe(32),
        "BOT_AGENT_TOKEN": random_secrets.token_urlsafe(32),
        # Every test talks from 127.0.0.1: one client for the whole session, so
        # its bucket and its turns in flight are raised; the per-sender limit
        # (30 a minute) stays real.
        "BOT_RATE_PER_CLIENT": "1000000",
        "BOT_TURNS_PER_CLIENT": "1000",
        # What the launcher sets from max_body_bytes: Sanic's own 413.
        "SANIC_REQUEST_MAX_SIZE": str(64 * 1024),
    }
    with settings.environment(overrides):
        cfg = settings.load()
        build.prepare_database(cfg)  # rule base and sample records, as `make run` does
        try:
            yield cfg
        finally:
            nlu_jobs.shutdown(cfg)  # a warm retrain process some test started


@pytest.fixture(scope="session")
def model(bot_env) -> Path:
    intent_files.generate()  # the topic intents and rules, as `make test` does first
    return build.train(bot_env)


@pytest.fixture(scope="session")
def running_bot(bot_env, model) -> Iterator[Bot]:
    servers = Servers(bot_env, model, log_dir=bot_env.var_dir / "logs")
    servers.start()
    try:
        servers.wait_ready()
        yield Bot(bot_env, servers)
    finally:
        servers.stop()
