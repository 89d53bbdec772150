"""Faults, through the real servers: the user always gets a reply, and `bot run`
stops cleanly and refuses a taken port with a useful message.

(a) action server stopped or hung: the Rasa server apologises in the user's
    language, at once or within BOT_ACTION_TIMEOUT;
(b) the project database unreachable (PostgreSQL behind a proxy we cut): the
    action server says to try again shortly, and answers again when it is back;
    a paid request confirmed meanwhile is filed, once, when it is back;
(c) SIGTERM to `bot run`: both servers stop, their ports are free, exit 0;
(d) a port taken: `bot run` names the process holding it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot import db
from bot.messages import say
from bot.privacy import drafts
from bot.runtime import build, ports, processes
from bot.runtime.servers import Servers
from bot.service_requests import deferred
from bot.settings import Settings
from tests.conftest import POSTGRES_ADMIN_URL, _postgres_database
from tests.conversation.questions import DISINFECTION
from tests.conversation.test_service_requests import (
    DESCRIPTION,
    YES,
    filled_up_to_summary,
    requests_of,
)

BOT = str(Path(sys.executable).with_name("bot"))


@contextlib.contextmanager
def action_server_replaced(running_bot, cfg=None) -> Iterator[Servers]:
    """Stop the shared action server; afterwards start it again and wait for it.

    With `cfg`, an action server of those settings runs on the same port meanwhile.
    """
    servers = running_bot.servers
    os.killpg(servers.procs[0].pid, signal.SIGTERM)
    servers.procs[0].wait(timeout=30)
    stand_in = Servers(cfg, servers.model, log_dir=servers.log_dir) if cfg else None
    try:
        if stand_in:
            stand_in.procs = [stand_in._spawn("actions-standin", stand_in._actions_cmd())]
            stand_in.wait_ready()
        yield servers
    finally:
        if stand_in:
            stand_in.stop()
        servers.procs[0] = servers._spawn("actions", servers._actions_cmd())
        servers.wait_ready()


def timed_ask(running_bot, text: str):
    started = time.monotonic()
    reply = running_bot.ask(text)
    return reply, time.monotonic() - started


# ---------------------------------------------------------------- (a) action server


@pytest.mark.parametrize("lang", ["en", "nb", "sv"])
def test_action_server_stopped_the_user_is_told_at_once(running_bot, lang):
    running_bot.ask(DISINFECTION[lang])  # warm: a fresh server's first message is slow
    with action_server_replaced(running_bot):
        reply, seconds = timed_ask(running_bot, DISINFECTION[lang])
    assert reply.text == say("action_failed", lang)
    assert seconds < running_bot.cfg.action_timeout / 2  # refused at once, not timed out
    assert running_bot.ask(DISINFECTION[lang]).answer["lang"] == lang  # and back


def test_action_server_hung_the_user_is_told_within_the_action_timeout(running_bot):
    timeout = running_bot.cfg.action_timeout
    with action_server_replaced(running_bot), socket.socket() as hung:
        # accepts connections (the kernel completes the handshake) and never answers
        hung.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hung.bind(("127.0.0.1", running_bot.cfg.actions_port))
        hung.listen(16)
        reply, seconds = timed_ask(running_bot, DISINFECTION["nb"])
    assert reply.text == say("action_failed", "nb")
    assert timeout - 0.5 <= seconds < timeout + 8, seconds


# ---------------------------------------------------------------- (b) database


class Proxy:
    """A TCP proxy to PostgreSQL that can be cut (listener and live connections) and restored."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = processes.free_port()
        self.listener: socket.socket | None = None
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self.lock:
            if self.listener:
                # shutdown wakes the thread blocked in accept(); close alone leaves
                # the kernel socket listening while that call holds it
                with contextlib.suppress(OSError):
                    self.listener.shutdown(socket.SHUT_RDWR)
                self.listener.close()
                self.listener = None
            for conn in self.conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self.conns.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)


@pytest.fixture
def postgres_behind_proxy(running_bot) -> Iterator[tuple[Settings, Proxy]]:
    with _postgres_database() as url:
        real = make_url(url)
        admin = make_url(POSTGRES_ADMIN_URL)
        proxy = Proxy((admin.host or "127.0.0.1", admin.port or 5432))
        proxy.start()
        try:
            via_proxy = real.set(host="127.0.0.1", port=proxy.port)
            cfg = dataclasses.replace(
                running_bot.cfg, database_url=via_proxy.render_as_string(hide_password=False)
            )
            build.prepare_database(cfg)
            yield cfg, proxy
        finally:
            proxy.cut()
            db.engine_for(cfg.database_url).dispose()


def test_database_unreachable_try_again_shortly_then_recovers(running_bot, postgres_behind_proxy):
    cfg, proxy = postgres_behind_proxy
    with action_server_replaced(running_bot, cfg):
        assert running_bot.ask(DISINFECTION["sv"]).answer["verdict"] == "excluded"
        proxy.cut()
        reply, seconds = timed_ask(running_bot, DISINFECTION["sv"])
        # said by the action server (a 200), not the Rasa server's apology for a 500
        assert reply.text == say("database_unavailable", "sv")
        assert seconds < 10
        proxy.start()  # back, same address: no restart of anything
        assert running_bot.ask(DISINFECTION["sv"]).answer["verdict"] == "excluded"


def test_a_request_confirmed_while_the_database_is_down_is_filed_when_it_is_back(
    running_bot, postgres_behind_proxy
):
    cfg, proxy = postgres_behind_proxy
    sender = uuid.uuid4().hex
    with action_server_replaced(running_bot, cfg):
        summary = filled_up_to_summary(running_bot, sender, "nb", email="kari@fjordvik.no")
        assert [b["payload"] for b in summary.buttons] == ["/affirm", "/deny", "/stop"]
        proxy.cut()
        reply = running_bot.ask(YES["nb"], sender)
        assert reply.text == say("sr_deferred", "nb")  # told: saved, filed when back
        (entry,) = deferred.pending(cfg.var_dir)
        saved = entry.read_text(encoding="utf-8")
        assert sender in saved
        for personal in ("Kari Nordmann", "kari@fjordvik.no", "Fjordvik Regnskap"):
            assert personal not in saved  # only the masked slots: the values wait in the draft
        assert requests_of(sender, running_bot.cfg.database_url) == []

        proxy.start()  # back: the action server's drainer files it, no restart, no new message
        deadline = time.monotonic() + 120
        while deferred.pending(cfg.var_dir) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert deferred.pending(cfg.var_dir) == []
        (stored,) = requests_of(sender, cfg.database_url)
        assert (stored.name, stored.email, stored.description, stored.language) == (
            "Kari Nordmann",
            "kari@fjordvik.no",
            DESCRIPTION["nb"],
            "nb",
        )
        assert not drafts.exists(sender, cfg.database_url)
        # the form is closed: the conversation goes on, and nothing is filed twice
        assert running_bot.ask(DISINFECTION["nb"], sender).answer["verdict"] == "excluded"
        assert len(requests_of(sender, cfg.database_url)) == 1


# ---------------------------------------------------------------- (c), (d) bot run


def run_env(tmp_path: Path, model: Path, **ports_: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
    env.update(
        BOT_VAR_DIR=str(tmp_path / "var"),
        BOT_DATABASE_URL=f"sqlite:///{tmp_path / 'var' / 'bot.db'}",
        BOT_TRACKER_URL=f"sqlite:///{tmp_path / 'var' / 'tracker.db'}",
        BOT_MODELS_DIR=str(model.parent),  # the model the session trained: no training
        BOT_RASA_PORT=str(ports_.get("rasa", processes.free_port())),
        BOT_ACTIONS_PORT=str(ports_.get("actions", processes.free_port())),
        BOT_LOG_LEVEL="WARNING",
    )
    return env


def wait_for_line(proc: subprocess.Popen, needle: str, timeout: float) -> list[str]:
    lines: list[str] = []
    done = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if needle in line:
                done.set()
        done.set()

    threading.Thread(target=read, daemon=True).start()
    done.wait(timeout)
    return lines


def test_sigterm_stops_both_servers_and_frees_their_ports(tmp_path, model):
    env = run_env(tmp_path, model)
    rasa_port, actions_port = int(env["BOT_RASA_PORT"]), int(env["BOT_ACTIONS_PORT"])
    proc = subprocess.Popen(
        [BOT, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        lines = wait_for_line(proc, "ready in", timeout=300)
        assert any("ready in" in line for line in lines), "".join(lines)
        assert not ports.is_free("127.0.0.1", rasa_port)
        assert not ports.is_free("127.0.0.1", actions_port)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert ports.is_free("127.0.0.1", rasa_port) and ports.is_free("127.0.0.1", actions_port)
    output = "".join(lines)
    # the secrets were generated, said where, and never printed
    for name in ("bot_api_token", "bot_actions_token", "bot_trainer_token", "bot_agent_token"):
        path = tmp_path / "var" / "secrets" / name
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        assert f"generated {name.upper()} in {path}" in output
        assert path.read_text().strip() not in output


def test_a_taken_port_is_refused_naming_its_holder(tmp_path, model):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        started = time.monotonic()
        done = subprocess.run(
            [BOT, "run"],
            env=run_env(tmp_path, model, rasa=port),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1
    assert f"port {port} is already in use by pid {os.getpid()} (" in done.stderr
    assert "BOT_RASA_PORT" in done.stderr
    assert time.monotonic() - started < 60  # before any training or start-up
