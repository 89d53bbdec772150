"""Is a TCP port free, and if not, which process holds it (for `make run`'s message).

The holder is found as `ss -ltnp` finds it: the socket's inode in /proc/net/tcp{,6},
then the process with that inode among its open files in /proc/<pid>/fd. Another
user's processes cannot be looked into without root, and a socket bound but not
listening is not in /proc/net/tcp: then only the port is named.
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

PROC = Path("/proc")
_LISTEN = "0A"  # TCP state in /proc/net/tcp


def is_free(host: str, port: int) -> bool:
    """Whether a server could bind `port` on `host` now (as Sanic does: SO_REUSEADDR)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _socket_inodes(port: int) -> set[str]:
    """Inodes of the TCP sockets bound to `port` (listening ones, or any if none listen)."""
    listening: set[str] = set()
    bound: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or int(fields[1].rsplit(":", 1)[1], 16) != port:
                continue
            inode = fields[9]
            if inode != "0":
                (listening if fields[3] == _LISTEN else bound).add(inode)
    return listening or bound


def holders(port: int) -> list[tuple[int, str]]:
    """(pid, command line) of each process with a socket on `port` we may look into."""
    inodes = {f"socket:[{inode}]" for inode in _socket_inodes(port)}
    if not inodes:
        return []
    found = []
    for proc in PROC.iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fds = os.listdir(proc / "fd")
            if any(os.readlink(proc / "fd" / fd) in inodes for fd in fds):
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").strip()
                found.append((int(proc.name), cmdline.decode(errors="replace")))
        except OSError:  # gone, or another user's
            continue
    return sorted(found)


def describe_holder(port: int) -> str:
    """'port 5005 is in use by pid 123 (python -m ...)', or just 'port 5005 is in use'."""
    found = holders(port)
    if not found:
        # another user's process, or a socket bound but not listening (not in /proc/net/tcp)
        return f"port {port} is already in use (the holding process could not be identified)"
    pid, cmdline = found[0]
    if len(cmdline) > 160:
        cmdline = cmdline[:157] + "..."
    more = f" and {len(found) - 1} more" if len(found) > 1 else ""
    return f"port {port} is already in use by pid {pid} ({cmdline}){more}"
