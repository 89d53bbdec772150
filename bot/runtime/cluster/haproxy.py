"""Who listens where in a cluster, and HAProxy's configuration for it, rendered
from deploy/haproxy.cfg.template (for `bot cluster` and for deploy/compose)."""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

from bot.runtime import processes
from bot.settings import PROJECT_DIR, Settings

TEMPLATE = PROJECT_DIR / "deploy" / "haproxy.cfg.template"

ACTIONS_OFFSET = 50  # action servers listen from cluster_first_port + 50


@dataclass(frozen=True)
class Layout:
    """Who listens where."""

    host: str  # the public port's interface
    public_port: int
    actions_port: int  # the balancer port of the action tier (loopback)
    stats_port: int
    rasa_ports: tuple[int, ...]
    action_ports: tuple[int, ...]

    @classmethod
    def fixed(cls, cfg: Settings, n_rasa: int, n_actions: int) -> Layout:
        first = cfg.cluster_first_port
        return cls(
            host=cfg.host,
            public_port=cfg.rasa_port,
            actions_port=cfg.actions_port,
            stats_port=cfg.cluster_stats_port,
            rasa_ports=tuple(first + i for i in range(n_rasa)),
            action_ports=tuple(first + ACTIONS_OFFSET + i for i in range(n_actions)),
        )

    @classmethod
    def free(cls, n_rasa: int, n_actions: int, host: str = "127.0.0.1") -> Layout:
        """Ports free now (tests and benchmarks run beside other clusters)."""
        port = processes.free_port
        return cls(
            host=host,
            public_port=port(),
            actions_port=port(),
            stats_port=port(),
            rasa_ports=tuple(port() for _ in range(n_rasa)),
            action_ports=tuple(port() for _ in range(n_actions)),
        )

    def ports(self) -> list[tuple[str, int]]:
        return [
            (self.host, self.public_port),
            ("127.0.0.1", self.actions_port),
            ("127.0.0.1", self.stats_port),
            *(("127.0.0.1", p) for p in self.rasa_ports + self.action_ports),
        ]


def render_haproxy(
    *,
    rasa: list[str],
    actions: list[str],
    public_bind: str,
    actions_bind: str,
    stats_bind: str,
    stats_socket: str,
    api_clients: str,
    server_options: str = "",
    resolvers: str = "",
    flood_rate: int,
) -> str:
    """deploy/haproxy.cfg.template with these servers ("host:port" each).
    api_clients: an ACL condition, the clients that may reach Rasa's whole HTTP
    API through the public port (everyone else gets the public routes only).
    server_options: added to every server line (compose: DNS resolution).
    flood_rate: requests in 10 s from one address (not an API client) before
    HAProxy answers 429 itself (settings.proxy_rate_per_client)."""
    options = f" {server_options}" if server_options else ""

    def servers(prefix: str, addresses: list[str], cookie: bool = False) -> str:
        return "\n".join(
            f"    server {prefix}{i} {address} check{options}"
            + (f" cookie {prefix}{i}" if cookie else "")
            for i, address in enumerate(addresses)
        )

    return string.Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        stats_socket=stats_socket,
        api_clients=api_clients,
        public_bind=public_bind,
        actions_bind=actions_bind,
        stats_bind=stats_bind,
        resolvers=resolvers,
        flood_rate=flood_rate,
        rasa_servers=servers("rasa", rasa),
        rasa_sticky_servers=servers("rasa", rasa, cookie=True),
        action_servers=servers("actions", actions),
    )


LOCAL_API_CLIENTS = "src 127.0.0.1 ::1"


def render_for(layout: Layout, stats_socket: Path, flood_rate: int) -> str:
    """The template for a cluster on this machine."""
    return render_haproxy(
        rasa=[f"127.0.0.1:{p}" for p in layout.rasa_ports],
        actions=[f"127.0.0.1:{p}" for p in layout.action_ports],
        public_bind=f"{layout.host}:{layout.public_port}",
        actions_bind=f"127.0.0.1:{layout.actions_port}",
        stats_bind=f"127.0.0.1:{layout.stats_port}",
        stats_socket=str(stats_socket),
        # this host's tools use the API through the balancer (BOT_HOST may be public)
        api_clients=LOCAL_API_CLIENTS,
        flood_rate=flood_rate,
    )


# deploy/compose/haproxy.cfg: the same template for compose.yaml's services
# (tests/cluster/test_deploy.py checks that the committed file is this).
COMPOSE_RESOLVERS = """resolvers compose
    nameserver docker 127.0.0.11:53
    hold valid 5s
"""


def render_for_compose() -> str:
    return render_haproxy(
        rasa=["rasa0:5005", "rasa1:5005"],
        actions=["actions0:5055", "actions1:5055"],
        public_bind=":8080",
        actions_bind=":5055",
        stats_bind=":8404",
        stats_socket="/tmp/haproxy.sock",
        api_clients="always_false",  # the API stays inside the compose network
        server_options="resolvers compose init-addr last,libc,none",
        resolvers=COMPOSE_RESOLVERS,
        flood_rate=Settings.proxy_rate_per_client,  # the default
    )
