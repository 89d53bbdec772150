"""The warm NLU worker (bot.runtime.nlu_jobs, bot.rasa_addons.entry.nlu_worker): jobs after
the first run in the same process, answer as a fresh process does, survive a
failing job and bad requests, and a dead or stopped worker is replaced."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from bot import settings
from bot.runtime import nlu_jobs, processes, retrain
from bot.settings import PROJECT_DIR

TEXTS = ["Can you disinfect my PC?", "Hvor lenge har dere åpent?", "Hej"]


def _parse(cfg: settings.Settings, model: Path) -> dict:
    return retrain.nlu_job(cfg, parse=(model,), texts=TEXTS)


def _cold_parse(cfg: settings.Settings, model: Path) -> list:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "t.json").write_text(json.dumps(TEXTS), encoding="utf-8")
        out = Path(tmp) / "r.json"
        args = ["--out", str(out), "--parse", str(model), "--texts", f"{tmp}/t.json"]
        subprocess.run(
            [*retrain.NLU_JOB, *args], cwd=PROJECT_DIR, env=processes.rasa_env(cfg), check=True
        )
        return json.loads(out.read_text(encoding="utf-8"))["parses"][str(model)]


def _alive(pid: int) -> bool:
    """Running (a zombie, exited and waiting for this process to reap it, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _gone(pid: int, timeout: float = 60) -> bool:  # a loaded machine: Rasa exits slowly
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not _alive(pid):
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def cfg(bot_env) -> settings.Settings:
    yield bot_env
    nlu_jobs.shutdown(bot_env)


def test_jobs_run_in_one_warm_process_and_answer_as_a_fresh_one(cfg, model):
    first = _parse(cfg, model)
    second = _parse(cfg, model)
    assert first["worker_pid"] and first["worker_pid"] == second["worker_pid"]
    assert first["worker_pid"] not in (os.getpid(), None)
    parses = first["parses"][str(model)]
    assert parses == second["parses"][str(model)] == _cold_parse(cfg, model)
    assert parses[0]["intent"]["name"] == "scope_disinfection"


def test_a_failing_job_is_reported_and_the_worker_goes_on(cfg, model, tmp_path):
    pid = _parse(cfg, model)["worker_pid"]
    with pytest.raises(retrain.RetrainFailed, match="training failed"):
        retrain.nlu_job(cfg, parse=(tmp_path / "no-such-model.tar.gz",), texts=TEXTS)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect("\0" + nlu_jobs.worker_name(cfg))
    with conn, conn.makefile("rb") as stream:
        conn.sendall(b'["not", "an", "object"]\n')
        assert "bad request" in json.loads(stream.readline())["error"]
    assert _parse(cfg, model)["worker_pid"] == pid


def test_a_killed_worker_is_replaced_and_a_stopped_one_exits(cfg, model):
    pid = _parse(cfg, model)["worker_pid"]
    os.kill(pid, signal.SIGKILL)
    assert _gone(pid)
    deadline = time.monotonic() + 30  # the socket goes when its last thread has exited
    while (conn := nlu_jobs._connect(nlu_jobs.worker_name(cfg))) is not None:
        conn.close()
        assert time.monotonic() < deadline
        time.sleep(0.2)
    new = _parse(cfg, model)["worker_pid"]
    assert new != pid
    assert nlu_jobs.shutdown(cfg) is True
    assert _gone(new)
    assert nlu_jobs.shutdown(cfg) is False


def test_an_idle_worker_exits_on_its_own(cfg, model, monkeypatch):
    monkeypatch.setenv("BOT_RETRAIN_WARM_SECONDS", "2")
    pid = _parse(settings.load(), model)["worker_pid"]
    assert _gone(pid, timeout=30)


def test_without_a_warm_process_each_job_runs_in_a_new_one(cfg, model, monkeypatch):
    monkeypatch.setenv("BOT_RETRAIN_WARM_SECONDS", "0")
    result = _parse(settings.load(), model)
    assert "worker_pid" not in result
    assert result["parses"][str(model)][0]["intent"]["name"] == "scope_disinfection"


def test_warming_up_starts_the_worker_the_next_job_uses_and_only_one(cfg, model, monkeypatch):
    """After a phrase is written (retrain.warm_up): the worker starts in the
    background and listens before it imports Rasa, so a warm-up or a job that comes
    meanwhile finds it (no second Rasa); probes do not use up its jobs."""
    assert nlu_jobs._connect(nlu_jobs.worker_name(cfg)) is None
    assert retrain.warm_up(cfg) is True
    started = nlu_jobs._started[-1]
    log = cfg.var_dir / "retrain" / "nlu-worker.log"
    deadline = time.monotonic() + 60
    while (conn := nlu_jobs._connect(nlu_jobs.worker_name(cfg))) is None:  # bound, listening
        assert started.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    conn.close()
    assert f"NLU worker {started.pid} ready" not in log.read_text()  # still importing
    assert retrain.warm_up(cfg) is False
    assert _parse(cfg, model)["worker_pid"] == started.pid
    assert f"NLU worker {started.pid} ready" in log.read_text()
    monkeypatch.setenv("BOT_RETRAIN_WARM_SECONDS", "0")
    assert retrain.warm_up(settings.load()) is False  # retrains without a warm process


_AS_OTHER_USER = """
import json, socket, sys
conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
conn.connect("\\0" + sys.argv[1])
try:
    conn.sendall(json.dumps({"argv": ["--out", "/tmp/x.json"]}).encode() + b"\\n")
    print(repr(conn.makefile("rb").read()))
except (BrokenPipeError, ConnectionResetError):  # closed before reading the request
    print(repr(b""))
"""


@pytest.mark.skipif(
    os.getuid() != 0 or not Path("/usr/bin/python3").exists(),
    reason="needs root (to connect as another user) and the system's python3",
)
def test_the_worker_serves_only_its_own_user(cfg, model):
    """SO_PEERCRED: a process of another user is disconnected without an answer."""
    pid = _parse(cfg, model)["worker_pid"]
    other = subprocess.run(
        # the system's interpreter: another user may not enter this one's directories
        ["/usr/bin/python3", "-c", _AS_OTHER_USER, nlu_jobs.worker_name(cfg)],
        user=65534,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert other.returncode == 0, other.stderr
    assert other.stdout.strip() == "b''"  # closed, nothing said
    assert _parse(cfg, model)["worker_pid"] == pid
