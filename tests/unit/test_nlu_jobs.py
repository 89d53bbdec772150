"""The warm NLU worker's client (bot.runtime.nlu_jobs) talks only to a worker of
its own user: the listener's uid is read with SO_PEERCRED on a real abstract
Unix socket, as the worker (bot.rasa_addons.entry.nlu_worker) reads its clients'.
No Rasa here: the listeners are a thread of this process and, as root, a process
of another user; the worker itself is tested in tests/rasa_addons/test_nlu_worker.py.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import settings
from bot.runtime import nlu_jobs

RESULT = {"result": {"parses": {}}, "worker_pid": 4242}


class Listener:
    """One connection accepted on an abstract name in a thread; what it read."""

    def __init__(self) -> None:
        self.name = f"bot-test-nlu-{uuid.uuid4().hex[:12]}"
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind("\0" + self.name)
        self.server.listen(1)
        self.server.settimeout(60)  # a failed test must not hang the run
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn, conn.makefile("rb") as stream:
            line = stream.readline()  # b"" when the client closed without a word
            self.received.append(line)
            if line:
                conn.sendall(json.dumps(RESULT).encode() + b"\n")

    def finish(self) -> list[bytes]:
        self.thread.join(60)
        self.server.close()
        return self.received


@pytest.fixture
def listener() -> Iterator[Listener]:
    served = Listener()
    yield served
    served.server.close()


def test_a_worker_of_our_own_user_gets_the_job(listener):
    conn = nlu_jobs._connect(listener.name)
    assert conn is not None
    assert nlu_jobs.peer_uid(conn) == os.getuid()
    result = nlu_jobs._exchange(conn, ["--parse", "m.tar.gz"], io.StringIO())
    assert result == {"parses": {}, "worker_pid": 4242}
    assert [json.loads(line) for line in listener.finish()] == [{"argv": ["--parse", "m.tar.gz"]}]


def test_a_listener_of_another_uid_is_refused_before_a_word_is_sent(listener):
    ours = os.getuid()
    with pytest.raises(nlu_jobs.ForeignWorker) as refused:
        nlu_jobs._connect(listener.name, uid=ours + 1)
    assert str(refused.value) == (
        f"the NLU worker's socket {listener.name} is held by uid {ours}, not by this "
        f"user (uid {ours + 1}): refusing to use it; stop that process or change BOT_VAR_DIR"
    )
    assert isinstance(refused.value, nlu_jobs.WorkerFailed)  # retrain runs the job cold
    assert listener.finish() == [b""]  # connected, then closed: nothing sent


def test_nobody_listening_is_none():
    assert nlu_jobs._connect(f"bot-test-nlu-{uuid.uuid4().hex[:12]}") is None


_LISTEN_AS_OTHER_USER = """
import socket, sys
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind("\\0" + sys.argv[1])
server.listen(2)
server.settimeout(60)
print("listening", flush=True)
for _ in range(2):
    conn, _ = server.accept()
    print(repr(conn.makefile("rb").read()), flush=True)
"""


@pytest.mark.process
@pytest.mark.skipif(
    os.getuid() != 0 or not Path("/usr/bin/python3").exists(),
    reason="needs root (to listen as another user) and the system's python3",
)
def test_a_worker_name_taken_by_another_user_is_never_sent_a_job(monkeypatch):
    """An abstract name is anyone's to bind: another user's process posing as the
    worker gets neither the job nor a stop, and no worker is started beside it."""
    name = f"bot-test-nlu-{uuid.uuid4().hex[:12]}"
    monkeypatch.setattr(nlu_jobs, "worker_name", lambda cfg: name)
    started = list(nlu_jobs._started)
    other = subprocess.Popen(
        # the system's interpreter: another user may not enter this one's directories
        ["/usr/bin/python3", "-c", _LISTEN_AS_OTHER_USER, name],
        user=65534,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout is not None
        assert other.stdout.readline() == "listening\n"
        cfg = settings.load()
        with pytest.raises(nlu_jobs.ForeignWorker, match=r"is held by uid 65534, not by"):
            nlu_jobs.run(cfg, ["--parse", "m.tar.gz"], env={}, out=io.StringIO())
        assert nlu_jobs._started == started
        assert nlu_jobs.shutdown(cfg) is False  # not ours to stop
        out, _ = other.communicate(timeout=60)  # two connections, each closed unread
        assert out == "b''\nb''\n"
        assert other.returncode == 0
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
