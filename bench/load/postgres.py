"""A throwaway PostgreSQL server for a load run: initdb into a temporary
directory, its own port on 127.0.0.1, stopped and started at will, removed at
the end. Never the shared server on 5432.

Debian's server binaries (/usr/lib/postgresql/<version>/bin) refuse to run as
root, so as root the cluster belongs to the `postgres` user (or `nobody`).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2

from bot.runtime import processes


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise SystemExit(f"no {name}: install Debian's postgresql package")
    return found[-1]  # the newest version


class ThrowawayPostgres:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="load-pg-"))
        self.data = self.dir / "data"
        self.port = processes.free_port()
        self.user: str | None = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    pwd.getpwnam(name)
                except KeyError:
                    continue
                self.user = name
                break
            entry = pwd.getpwnam(self.user or "nobody")
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/bot"

    def _run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        full = ["runuser", "-u", self.user, "--", *cmd] if self.user else list(cmd)
        return subprocess.run(full, check=check, capture_output=True, text=True)

    def create(self) -> ThrowawayPostgres:
        self._run(
            _bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        self.start()
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres")
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("CREATE DATABASE bot")
        conn.close()
        return self

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir}"
        )
        self._run(
            _bin("pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-o", options,
            "-w", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self, down_for: float) -> None:
        """Stop (open connections are cut), stay down `down_for` seconds, start again."""
        self.stop("immediate")
        time.sleep(down_for)
        self.start()

    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
