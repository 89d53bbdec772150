"""The environment a benchmark's own servers run in: a scratch var/ with its own
SQLite databases and free ports, so a benchmark never touches the project's."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.runtime import processes

# `--busy N`: the stated background load of a benchmark "on a loaded machine",
# applied to every side alike: N processes each keeping one core busy.
BUSY_COMMAND = [sys.executable, "-c", "while True: pass"]


@contextmanager
def busy_cores(n: int) -> Iterator[None]:
    """N processes spinning (BUSY_COMMAND) for the duration, stopped after."""
    spinners = [subprocess.Popen(BUSY_COMMAND) for _ in range(n)]
    try:
        yield
    finally:
        for proc in spinners:
            proc.kill()
            proc.wait()


def scratch(var: Path, **extra: str) -> dict[str, str]:
    """Settings for servers of their own under `var` (databases, logs, secrets)."""
    return {
        "BOT_VAR_DIR": str(var),
        "BOT_DATABASE_URL": f"sqlite:///{var / 'bot.db'}",
        "BOT_TRACKER_URL": f"sqlite:///{var / 'tracker.db'}",
        "BOT_RASA_PORT": str(processes.free_port()),
        "BOT_ACTIONS_PORT": str(processes.free_port()),
        "BOT_LOG_LEVEL": "WARNING",
        # one load generator on 127.0.0.1 sends every message: the public rate
        # limits (measured on their own by bench.flood) would refuse most of them
        "BOT_RATE_PER_CLIENT": "100000000",
        "BOT_RATE_PER_SENDER": "100000000",
        "BOT_TURNS_PER_CLIENT": "1000",  # nor should its users take turns as one client
        **extra,
    }
