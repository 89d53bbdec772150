"""bot.runtime.ports: a taken port, and the process holding it, as `make run` reports them."""

from __future__ import annotations

import os
import socket

from bot.runtime import ports


def test_a_listening_socket_is_found_with_its_process():
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        assert not ports.is_free("127.0.0.1", port)
        assert not ports.is_free("0.0.0.0", port)  # what BOT_HOST=0.0.0.0 would bind
        assert os.getpid() in [pid for pid, _ in ports.holders(port)]
        message = ports.describe_holder(port)
        assert message.startswith(f"port {port} is already in use by pid {os.getpid()} (")
    assert ports.is_free("127.0.0.1", port)


def test_a_bound_socket_that_does_not_listen_is_named_by_its_port():
    # not in /proc/net/tcp, so no holder; the port is still taken
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        assert not ports.is_free("127.0.0.1", port)
        assert ports.describe_holder(port) == (
            f"port {port} is already in use (the holding process could not be identified)"
        )
