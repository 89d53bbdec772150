"""The action server and the Rasa server together, as child processes; the inbox
syncer that runs beside them; serving until Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot import secrets
from bot.runtime import model_server
from bot.runtime.processes import (
    LaunchError,
    action_server_command,
    pulls_models,
    rasa_env,
    rasa_server_command,
    spawn,
    step,
    stop_processes,
    wait_answering,
)
from bot.settings import Settings


def ensure_secrets(cfg: Settings) -> Settings:
    """Generate each secret the environment does not set; `cfg` with all of them."""
    cfg, created = secrets.complete(cfg)
    for env_name, path in created:  # where, never what
        step(f"generated {env_name} in {path} (owner-only; set {env_name} to use your own)")
    refuse_weak_secrets(cfg)
    return cfg


def refuse_weak_secrets(cfg: Settings) -> None:
    """Stop before any server starts when a secret could be guessed
    (`python -c "import secrets; print(secrets.token_urlsafe(32))"` makes a good one)."""
    problems = secrets.weak(cfg)
    if problems:
        raise LaunchError(
            "; ".join(problems) + " (e.g. python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(32))')"
        )


@dataclass
class Servers:
    """The action server and the Rasa server as child processes."""

    cfg: Settings
    model: Path
    log_dir: Path | None = None
    procs: list[subprocess.Popen] = field(default_factory=list)

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        return spawn(name, cmd, rasa_env(self.cfg), self.log_dir)

    def start(self) -> None:
        if not (self.cfg.api_token and self.cfg.actions_token):
            self.cfg = ensure_secrets(self.cfg)  # callers that skip `run`, e.g. benchmarks
        if pulls_models(self.cfg):  # Rasa then loads the model the action server serves
            model_server.activate(self.cfg, self.model)
        self.procs = [self._spawn("actions", self._actions_cmd())]
        self.procs.append(self._spawn("rasa", rasa_server_command(self.cfg, self.model)))

    def restart_actions(self) -> None:
        """Stop the action server and start it again (the Rasa server keeps running)."""
        actions = self.procs[0]
        os.killpg(actions.pid, signal.SIGTERM)
        actions.wait(timeout=15)
        self.procs[0] = self._spawn("actions", self._actions_cmd())

    def kill(self, index: int) -> None:
        """SIGKILL one server (0: actions, 1: Rasa) and its children, as a crash would."""
        proc = self.procs[index]
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def respawn(self, index: int) -> None:
        """Start a killed server again (the other keeps running); wait_ready() follows."""
        if index == 0:
            self.procs[0] = self._spawn("actions", self._actions_cmd())
        else:
            self.procs[1] = self._spawn("rasa", rasa_server_command(self.cfg, self.model))

    def _actions_cmd(self) -> list[str]:
        return action_server_command(self.cfg)

    def wait_ready(self, timeout: float = 180) -> float:
        """Seconds until both servers answer; raises if one dies or time runs out."""
        checks = {
            "action server": f"http://127.0.0.1:{self.cfg.actions_port}/health",
            "Rasa server": f"http://127.0.0.1:{self.cfg.rasa_port}/status",  # model loaded
        }
        return wait_answering(checks, self.procs, secrets.api_headers(self.cfg), timeout)

    def stop(self) -> None:
        stop_processes(self.procs)
        self.procs = []


def sync_inbox(cfg: Settings) -> str:
    """One inbox sync (bot/training/inbox.py); a line to print, never an exception:
    the assistant serves customers whether or not the inbox can be filled."""
    from bot.training import inbox

    try:
        done = inbox.sync(url=cfg.database_url, tracker_url=cfg.tracker_url)
    except Exception as exc:  # noqa: BLE001 - reported, and tried again next time
        return f"inbox sync failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return f"inbox: {done.summary()}"


def summarise_insights(cfg: Settings) -> str:
    """Bring the insights' summary up to date (bot/insights/); a line, never an
    exception, as sync_inbox. The page and `bot insights` also do it on demand:
    this keeps their wait short."""
    from bot import insights

    try:
        done = insights.summarise(cfg.database_url, cfg.tracker_url)
    except Exception as exc:  # noqa: BLE001 - reported, and tried again next time
        return f"insights summary failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return f"insights: {done.events} event(s) summarised"


class InboxSyncer(threading.Thread):
    """Syncs the inbox, and the insights' summary, every BOT_INBOX_SYNC_SECONDS
    while the servers run (a daemon thread of the launcher: no process of its
    own, stopped with it)."""

    def __init__(self, cfg: Settings):
        super().__init__(name="inbox-sync", daemon=True)
        self.cfg = cfg
        self.stopping = threading.Event()
        self.last = ""

    def run(self) -> None:
        while not self.stopping.wait(self.cfg.inbox_sync_seconds):
            line = f"{sync_inbox(self.cfg)}; {summarise_insights(self.cfg)}"
            if "failed" in line and line != self.last:  # say a failure once, not every minute
                step(line)
            self.last = line

    def stop(self) -> None:
        self.stopping.set()


class _Terminated(KeyboardInterrupt):
    """SIGTERM (systemd, Docker, Kubernetes stopping us): handled like Ctrl-C."""


def _on_sigterm(signum: int, _frame: object) -> None:
    # Once: a second SIGTERM during the orderly stop must not cut it short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Terminated()


def stop_on_sigterm() -> None:
    """From now on SIGTERM raises KeyboardInterrupt, as Ctrl-C does."""
    signal.signal(signal.SIGTERM, _on_sigterm)


def serve(
    start: Callable[[], float],
    procs: Callable[[], list[subprocess.Popen]],
    stop: Callable[[], None],
    banner: str,
) -> None:
    """Start, print `banner`, wait until Ctrl-C or SIGTERM (or a server dies),
    stop. Call stop_on_sigterm() before any slow preparation."""
    try:
        ready = start()  # inside the try: a SIGTERM during start still stops what started
        step(f"ready in {ready:.1f} s")
        print(banner, flush=True)
        while all(proc.poll() is None for proc in procs()):
            time.sleep(0.5)
        raise LaunchError("a server stopped unexpectedly; see its messages above")
    except KeyboardInterrupt:
        step("stopping")
    finally:
        stop()
        step("stopped")
