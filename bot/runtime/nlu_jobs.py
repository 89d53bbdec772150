"""Run an NLU job (train, parse, cross-validate) in the warm worker
(bot.rasa_addons.entry.nlu_worker), starting it when none is running.

The worker is keyed by what its answers depend on: this interpreter, the project,
the var directory (caches, the database, the live model) and the code it imported
(bot/**/*.py, requirements.lock). After any of these changes a new worker is
started and the old one exits when idle. No Rasa
here: this runs in `bot retrain`, the trainer page's thread and the benchmarks.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

from bot.settings import PROJECT_DIR, Settings

WORKER = (sys.executable, "-m", "bot.rasa_addons.entry.nlu_worker")
START_TIMEOUT = 180.0  # importing Rasa on a busy machine
STOP_TIMEOUT = 30.0  # its last thread ends, the socket's name is free


class WorkerFailed(Exception):
    """The worker could not be started, or died during the job."""


class JobFailed(Exception):
    """The job ran and failed (the worker's message)."""


class ForeignWorker(WorkerFailed):
    """The socket's name is held by a process of another user: nothing is sent to it."""


def _code_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((PROJECT_DIR / "bot").rglob("*.py")):
        digest.update(str(path.relative_to(PROJECT_DIR)).encode())
        digest.update(path.read_bytes())
    lock = PROJECT_DIR / "requirements.lock"
    if lock.exists():
        digest.update(lock.read_bytes())
    return digest.hexdigest()


def worker_name(cfg: Settings) -> str:
    digest = hashlib.sha256()
    for part in (sys.executable, str(PROJECT_DIR), str(cfg.var_dir.resolve()), _code_digest()):
        digest.update(part.encode() + b"\0")
    return f"bot-nlu-worker-{digest.hexdigest()[:16]}"


def peer_uid(conn: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket, as the kernel
    recorded it (SO_PEERCRED): the worker checks its clients, the client its worker."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


def _connect(name: str, uid: int | None = None) -> socket.socket | None:
    """A connection to the worker listening on `name`, None if nobody listens.
    ForeignWorker if the listener is not of user `uid` (default: ours): an abstract
    name is anyone's to bind, and a job's argv and output are the project's data."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect("\0" + name)
        owner = peer_uid(conn)
    except OSError:
        conn.close()
        return None
    expected = os.getuid() if uid is None else uid
    if owner != expected:
        conn.close()
        raise ForeignWorker(
            f"the NLU worker's socket {name} is held by uid {owner}, not by this user "
            f"(uid {expected}): refusing to use it; stop that process or change BOT_VAR_DIR"
        )
    return conn


_started: list[subprocess.Popen[bytes]] = []  # reaped when they exit (no zombies)


def _spawn(cfg: Settings, name: str, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    _started[:] = [p for p in _started if p.poll() is None]
    log_dir = cfg.var_dir / "retrain"
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "nlu-worker.log").open("ab") as log:
        proc = subprocess.Popen(
            [*WORKER, "--name", name, "--idle", str(cfg.retrain_warm_seconds)],
            cwd=PROJECT_DIR,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives `bot retrain`; Ctrl-C there is not its signal
        )
    _started.append(proc)
    return proc


def _start(cfg: Settings, name: str, env: Mapping[str, str]) -> socket.socket:
    proc = _spawn(cfg, name, env)
    log = cfg.var_dir / "retrain" / "nlu-worker.log"
    started = time.monotonic()
    while time.monotonic() - started < START_TIMEOUT:
        conn = _connect(name)
        if conn is not None:
            return conn
        if proc.poll() is not None:  # exited: lost a race to another worker, or failed
            conn = _connect(name)
            if conn is not None:
                return conn
            raise WorkerFailed(f"the NLU worker exited at start; see {log}")
        time.sleep(0.2)
    proc.kill()
    raise WorkerFailed(f"the NLU worker did not start within {START_TIMEOUT:.0f} s")


def prestart(cfg: Settings, env: Mapping[str, str]) -> bool:
    """Start the worker in the background if none runs, without waiting for it; True
    if one was started. A second start while one is starting loses the race for the
    socket's name and exits at once."""
    name = worker_name(cfg)  # hashes the code: once
    conn = _connect(name)
    if conn is not None:
        conn.close()
        return False
    _spawn(cfg, name, env)
    return True


def run(
    cfg: Settings, argv: list[str], env: Mapping[str, str], out: TextIO | None = None
) -> dict[str, Any]:
    """The job's result (nlu_job's JSON); its output is written to `out` as it
    comes (stdout by default)."""
    out = out or sys.stdout
    name = worker_name(cfg)
    conn = _connect(name) or _start(cfg, name, env)
    try:
        return _exchange(conn, argv, out)
    except OSError as exc:  # e.g. reached a worker in the moment it was dying
        raise WorkerFailed(f"the NLU worker went away ({exc})") from None


def _exchange(conn: socket.socket, argv: list[str], out: TextIO) -> dict[str, Any]:
    with conn, conn.makefile("rb") as stream:
        conn.sendall(json.dumps({"argv": argv}).encode() + b"\n")
        for line in stream:
            message = json.loads(line)
            if "out" in message:
                with contextlib.suppress(ValueError, OSError):
                    out.write(message["out"])
                    out.flush()
                continue
            if "error" in message:
                raise JobFailed(message["error"])
            result = dict(message["result"])
            result["worker_pid"] = message.get("worker_pid")
            return result
    raise WorkerFailed("the NLU worker stopped during the job (killed, or out of memory)")


def shutdown(cfg: Settings) -> bool:
    """Stop the worker of these settings, if one runs (`bot run` does so when it
    stops); True if one did."""
    name = worker_name(cfg)
    try:
        conn = _connect(name)
    except ForeignWorker:  # not ours to stop
        return False
    if conn is None:
        return False
    with conn, conn.makefile("rb") as stream:
        conn.sendall(b'{"stop": true}\n')
        stream.readline()
    # Until its name is free: a job sent meanwhile would reach the exiting worker
    # and be reset (then run in a new process, seconds slower).
    deadline = time.monotonic() + STOP_TIMEOUT
    with contextlib.suppress(ForeignWorker):  # the name taken by another user: not ours
        while (still := _connect(name)) is not None and time.monotonic() < deadline:
            still.close()
            time.sleep(0.1)
    return True
