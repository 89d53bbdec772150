"""The production shape on one machine: `make cluster` (`bot cluster`).

N Rasa servers and M action servers on loopback ports, PostgreSQL for the
tracker store and the project database, Redis for the lock store, and HAProxy
in front of both tiers: one public port (REST webhook, chat page, socket.io)
and one port that every replica's action endpoint points at. HAProxy's
configuration is rendered from deploy/haproxy.cfg.template into var/cluster/.

For scripts and tests (the load test starts one the same way):

    from bot.runtime import cluster
    handle = cluster.start(n_rasa=2, n_actions=2)   # ready when it returns
    handle.url                                      # the balancer's public URL
    handle.rasa_urls                                # each replica, straight
    handle.kill_rasa(0)                             # a fault, for the fault run
    handle.stop()

Replicas rather than Sanic workers: see docs/operations.md, "Replicas, not Sanic workers".
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bot import secrets, settings
from bot.privacy import retention
from bot.runtime import build, model_server, nlu_jobs, ports, processes, servers
from bot.runtime.cluster.checks import check_haproxy, check_postgres, check_redis
from bot.runtime.cluster.haproxy import Layout, render_for
from bot.runtime.launcher import banner
from bot.runtime.processes import LaunchError, step
from bot.settings import Settings


def cluster_settings(cfg: Settings) -> Settings:
    """`cfg` on PostgreSQL and Redis (the cluster's defaults, or what the
    environment sets)."""
    return dataclasses.replace(
        cfg,
        database_url=cfg.cluster_database_url,
        tracker_url=cfg.cluster_tracker_url,
        lock_store_url=cfg.cluster_lock_store_url,
    )


@dataclass
class Cluster:
    """The running cluster: child processes, by name ("rasa0", "actions1", "haproxy")."""

    cfg: Settings  # on PostgreSQL and Redis (cluster_settings)
    model: Path
    layout: Layout
    run_dir: Path  # haproxy.cfg, its stats socket, logs/
    log_to_files: bool = True
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The public port (HAProxy): REST, chat page, socket.io."""
        host = "127.0.0.1" if self.layout.host == "0.0.0.0" else self.layout.host
        return f"http://{host}:{self.layout.public_port}"

    @property
    def rasa_urls(self) -> list[str]:
        """Each replica, straight (past the balancer)."""
        return [f"http://127.0.0.1:{p}" for p in self.layout.rasa_ports]

    @property
    def action_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.layout.action_ports]

    @property
    def stats_url(self) -> str:
        return f"http://127.0.0.1:{self.layout.stats_port}/"

    @property
    def stats_socket(self) -> Path:
        return self.run_dir / "haproxy.sock"

    @property
    def log_dir(self) -> Path | None:
        return self.run_dir / "logs" if self.log_to_files else None

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.procs.items()}

    # -- what each process runs

    def _replica_cfg(self, port: int) -> Settings:
        # Loopback only; its action endpoint is the balancer's action port.
        return dataclasses.replace(
            self.cfg, host="127.0.0.1", rasa_port=port, actions_port=self.layout.actions_port
        )

    def _replica_env(self, port: int) -> dict[str, str]:
        env = processes.rasa_env(self._replica_cfg(port))
        # The client address from HAProxy's X-Forwarded-For (the last entry), read
        # only when the peer is HAProxy, which reaches the replicas over loopback:
        # limits stay per client, not per balancer (bot/client_address.py).
        env.pop("SANIC_PROXIES_COUNT", None)
        env["BOT_TRUSTED_PROXIES"] = "127.0.0.1,::1"
        # e5's OpenMP threads: the machine's cores shared among the replicas (two
        # replicas with two threads each on two cores would fight for them),
        # unless the environment chooses
        if "OMP_NUM_THREADS" not in os.environ:
            cores = os.cpu_count() or 1
            env["OMP_NUM_THREADS"] = str(max(1, cores // len(self.layout.rasa_ports)))
        return env

    def _spawn_rasa(self, i: int) -> None:
        port = self.layout.rasa_ports[i]
        cmd = processes.rasa_server_command(self._replica_cfg(port), self.model)
        self.procs[f"rasa{i}"] = processes.spawn(
            f"rasa{i}", cmd, self._replica_env(port), self.log_dir
        )

    def _spawn_actions(self, i: int) -> None:
        cfg = dataclasses.replace(self.cfg, actions_port=self.layout.action_ports[i])
        self.procs[f"actions{i}"] = processes.spawn(
            f"actions{i}",
            processes.action_server_command(cfg),
            processes.rasa_env(cfg),
            self.log_dir,
        )

    def _spawn_haproxy(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config = self.run_dir / "haproxy.cfg"
        config.write_text(
            render_for(self.layout, self.stats_socket, self.cfg.proxy_rate_per_client),
            encoding="utf-8",
        )
        haproxy = check_haproxy()
        checked = subprocess.run([haproxy, "-c", "-q", "-f", str(config)], capture_output=True)
        if checked.returncode != 0:
            raise LaunchError(f"HAProxy refuses {config}: {checked.stderr.decode().strip()}")
        # -db: stay in the foreground (our child, stopped with the others)
        self.procs["haproxy"] = processes.spawn(
            "haproxy", [haproxy, "-db", "-f", str(config)], {"PATH": "/usr/bin:/bin"}, self.log_dir
        )

    # -- start, stop, faults

    def start(self, timeout: float = 300) -> float:
        """Start everything; seconds until the balancer answers through each tier.

        Action servers and HAProxy first: the replicas load their model from the
        model server (endpoints `models:`), which the action servers serve behind
        the balancer's action port, so both must answer before any replica starts.
        Then the first replica (it creates the tracker table; replicas creating it
        at the same moment collide and one waits 5 s), then the others together."""
        api = secrets.api_headers(self.cfg)
        n_rasa, n_actions = len(self.layout.rasa_ports), len(self.layout.action_ports)
        if processes.pulls_models(self.cfg):  # the model every replica pulls
            model_server.activate(self.cfg, self.model)
        step(f"starting {n_actions} action server(s) and HAProxy")
        for i in range(n_actions):
            self._spawn_actions(i)
        self._spawn_haproxy()
        checks = {f"action server {i + 1}": f"{u}/health" for i, u in enumerate(self.action_urls)}
        checks["balancer (action port)"] = f"http://127.0.0.1:{self.layout.actions_port}/health"
        elapsed = processes.wait_answering(
            checks, self.procs.values(), None, timeout, progress=True
        )
        step(f"starting Rasa replica 1 of {n_rasa}")
        self._spawn_rasa(0)
        checks = {"Rasa replica 1": f"{self.rasa_urls[0]}/status"}
        elapsed += processes.wait_answering(
            checks, self.procs.values(), api, timeout, progress=True
        )
        if n_rasa > 1:
            step(f"starting Rasa replica{'s 2-' if n_rasa > 2 else ' '}{n_rasa} of {n_rasa}")
            for i in range(1, n_rasa):
                self._spawn_rasa(i)
            checks = {f"Rasa replica {i + 1}": f"{u}/status" for i, u in enumerate(self.rasa_urls)}
            del checks["Rasa replica 1"]
            elapsed += processes.wait_answering(
                checks, self.procs.values(), api, timeout, progress=True
            )
        checks = {"balancer (public port)": f"{self.url}/webhooks/chat/health"}
        elapsed += processes.wait_answering(checks, self.procs.values(), None, 30, progress=True)
        return elapsed + self._wait_all_up(30)

    def _wait_all_up(self, timeout: float) -> float:
        """Until HAProxy's health checks see every server up (the replicas started
        after it, and it counts a few good checks before it sends them traffic)."""
        started = time.monotonic()
        while True:
            down = [s for (_b, s), v in self.server_states().items() if not v.startswith("UP")]
            if not down:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise LaunchError(f"HAProxy does not see {', '.join(sorted(set(down)))} up")
            time.sleep(0.25)

    def stop(self) -> None:
        # The balancer first: no request reaches a server that is stopping.
        order = sorted(self.procs, key=lambda name: name != "haproxy")
        processes.stop_processes(self.procs[name] for name in order)
        self.procs = {}
        nlu_jobs.shutdown(self.cfg)  # a warm retrain process a replica's trainer page started

    def supervise(self) -> list[subprocess.Popen]:
        """Restart any replica or action server that has exited (the balancer sends
        its traffic to the others meanwhile); the processes whose death ends the
        cluster: the balancer alone."""
        for name, proc in list(self.procs.items()):
            if name == "haproxy" or proc.poll() is None:
                continue
            step(f"{name} exited (code {proc.returncode}); restarting it, the others serve")
            kind = name.rstrip("0123456789")
            i = int(name[len(kind) :])
            (self._spawn_rasa if kind == "rasa" else self._spawn_actions)(i)
        return [self.procs["haproxy"]] if "haproxy" in self.procs else []

    def kill(self, name: str) -> None:
        """SIGKILL one process ("rasa0", "actions1"): a crash, for fault tests."""
        proc = self.procs[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def kill_rasa(self, i: int) -> None:
        self.kill(f"rasa{i}")

    def kill_actions(self, i: int) -> None:
        self.kill(f"actions{i}")

    def server_states(self) -> dict[tuple[str, str], str]:
        """HAProxy's view: (backend, server) -> "UP", "DOWN", ... (the stats socket)."""
        import csv
        import socket

        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(self.stats_socket))
            sock.sendall(b"show stat\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        rows = csv.DictReader("".join(c.decode() for c in chunks).lstrip("# ").splitlines())
        return {
            (row["pxname"], row["svname"]): row["status"]
            for row in rows
            if row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def prepare(cfg: Settings, model: Path | None = None) -> tuple[Settings, Path]:
    """Check PostgreSQL, Redis and HAProxy before anything starts, then load the
    database and (unless `model` is given) train as `make run` does. Returns the
    cluster's settings (on PostgreSQL and Redis) and the model."""
    cfg = cluster_settings(servers.ensure_secrets(cfg))
    step("checking PostgreSQL, Redis and HAProxy")
    check_postgres(cfg.database_url, "project database")
    if cfg.tracker_url != cfg.database_url:
        check_postgres(cfg.tracker_url, "tracker store")
    check_redis(cfg.lock_store_url)
    check_haproxy()
    if model is not None:
        build.prepare_database(cfg)
        return cfg, model
    return cfg, build.prepare(cfg)


def start(
    n_rasa: int = 2,
    n_actions: int = 2,
    *,
    cfg: Settings | None = None,
    model: Path | None = None,
    free_ports: bool = True,
    run_dir: Path | None = None,
    log_to_files: bool = True,
    timeout: float = 300,
) -> Cluster:
    """A running cluster (ready when this returns); `stop()` it, or use `with`.

    cfg: settings (default: the environment's); the cluster runs on its
    cluster_database_url, cluster_tracker_url and cluster_lock_store_url
    (BOT_DATABASE_URL, BOT_TRACKER_URL, BOT_LOCK_STORE_URL, else PostgreSQL and
    Redis on this machine). model: a trained model (default: trained if needed,
    as `make run` does); the database is loaded either way. free_ports: any free
    loopback ports (the default, for scripts and tests) instead of the fixed
    ones of `make cluster`. Logs go to run_dir/logs (default var/cluster/logs).
    """
    cfg, model = prepare(cfg or settings.load(), model)
    layout = Layout.free(n_rasa, n_actions) if free_ports else Layout.fixed(cfg, n_rasa, n_actions)
    handle = Cluster(
        cfg, model, layout, run_dir or cfg.var_dir / "cluster", log_to_files=log_to_files
    )
    try:
        handle.start(timeout)
    except BaseException:
        handle.stop()
        raise
    return handle


@contextmanager
def running(n_rasa: int = 2, n_actions: int = 2, **kwargs: object) -> Iterator[Cluster]:
    handle = start(n_rasa, n_actions, **kwargs)  # type: ignore[arg-type]
    try:
        yield handle
    finally:
        handle.stop()


def run(n_rasa: int | None = None, n_actions: int | None = None) -> None:
    """`make cluster`: check, prepare, start, serve until Ctrl-C or SIGTERM."""
    servers.stop_on_sigterm()
    base = settings.load()
    n_rasa = n_rasa or base.cluster_rasa
    n_actions = n_actions or base.cluster_actions
    cfg, model = prepare(base)
    layout = Layout.fixed(cfg, n_rasa, n_actions)
    for host, port in layout.ports():
        if not ports.is_free(host, port):
            raise LaunchError(
                f"{ports.describe_holder(port)}; stop it, or set BOT_RASA_PORT / "
                "BOT_ACTIONS_PORT / BOT_CLUSTER_FIRST_PORT / BOT_CLUSTER_STATS_PORT"
            )
    step(retention.purge_at_start(cfg))  # as `make run`: BOT_RETENTION_DAYS
    handle = Cluster(cfg, model, layout, cfg.var_dir / "cluster")
    step(f"logs in {handle.log_dir}")
    listing = "\n".join(
        [f"  Replicas:  {', '.join(handle.rasa_urls)} (each straight, past the balancer)"]
        + [f"  Actions:   {', '.join(handle.action_urls)} behind 127.0.0.1:{layout.actions_port}"]
        + [f"  HAProxy:   {handle.stats_url} (server states)"]
    )
    servers.serve(
        handle.start,
        handle.supervise,  # a dead replica or action server is restarted, not fatal
        handle.stop,
        banner(handle.url) + listing + "\n",
    )
