"""e5's OpenMP settings reach libgomp in the Rasa server's own process.

libgomp reads OMP_NUM_THREADS and OMP_WAIT_POLICY once, when it loads, and
Rasa's imports load it long before E5Featurizer runs: set there, they were
ignored, and e5 ran on every core, spinning, which on a busy machine cost the
parse pool several times its throughput. The server's entry point sets them
first; libgomp itself says what it read (OMP_DISPLAY_ENV)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot import settings
from bot.runtime import processes

pytestmark = pytest.mark.process  # starts the server's entry point


def _libgomp_settings(env: dict[str, str], entry: str = "server", *args: str) -> list[str]:
    """What libgomp read in `python -m bot.rasa_addons.entry.<entry>` (`run --help`
    for the server: it loads everything and stops)."""
    env = {k: v for k, v in env.items() if not k.startswith("OMP_")}
    run = subprocess.run(
        [sys.executable, "-m", f"bot.rasa_addons.entry.{entry}", *(args or ("run", "--help"))],
        env={**env, "OMP_DISPLAY_ENV": "TRUE", "BOT_API_TOKEN": "t" * 32},
        cwd=settings.PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    shown = [line.strip() for line in (run.stdout + run.stderr).splitlines()]
    assert "OPENMP DISPLAY ENVIRONMENT BEGIN" in shown, run.stderr[-2000:]
    return [line for line in shown if line.startswith(("OMP_NUM_THREADS", "OMP_WAIT_POLICY"))]


def test_the_rasa_server_runs_e5_on_one_passive_thread():
    shown = _libgomp_settings(processes.rasa_env(settings.load()))
    assert shown and set(shown) == {"OMP_NUM_THREADS = '1'", "OMP_WAIT_POLICY = 'PASSIVE'"}


def test_the_nlu_jobs_threads_wait_passively():
    """The retrain's and evaluation's jobs (bot.rasa_addons.entry.nlu_job) run beside
    the live server: their e5 threads must not spin either."""
    shown = _libgomp_settings(processes.rasa_env(settings.load()), "nlu_job", "--help")
    assert "OMP_WAIT_POLICY = 'PASSIVE'" in shown
