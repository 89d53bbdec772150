"""The assistant's processes: the commands that start them, the environment they
run in, starting, waiting for and stopping them.

Shared by `bot run` (bot.runtime.launcher), the cluster, the retrain and the
benchmarks and tests that start their own servers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.runtime import ports
from bot.settings import PROJECT_DIR, Settings

# The `rasa` command, with this project's patches to Rasa applied first.
# Files the servers and the bot command create (databases, logs, models, caches):
# owner-only, in an owner-only var/ (docs/security-and-privacy.md, "Personal data")
PRIVATE_UMASK = 0o077
RASA = (sys.executable, "-m", "bot.rasa_addons.entry.rasa_cli")

# `rasa run` with the API secret read from the environment (not the command line).
RASA_SERVER = (sys.executable, "-m", "bot.rasa_addons.entry.server")

# The SDK's action server, loopback only, token-checked (`rasa run actions` would
# import Rasa, and with it TensorFlow, into a process that never needs them).
ACTION_SERVER = (sys.executable, "-m", "bot.rasa_addons.entry.action_server")


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


class LaunchError(SystemExit):
    """A failure with a message that says what to do; exits without a traceback."""

    def __init__(self, message: str):
        super().__init__(f"error: {message}")


def rasa_env(cfg: Settings) -> dict[str, str]:
    """The environment both servers run in: endpoints.yml reads it."""
    env = dict(os.environ)
    tracker = make_url(cfg.tracker_url)
    if tracker.get_backend_name() == "sqlite" and tracker.database:
        Path(tracker.database).parent.mkdir(parents=True, exist_ok=True)
    env.update(
        BOT_ACTION_ENDPOINT=cfg.action_endpoint,
        BOT_TRACKER_URL=cfg.tracker_url,
        BOT_TRACKER_DIALECT=tracker.get_backend_name(),
        BOT_DATABASE_URL=cfg.database_url,
        # the servers' var/ is the caller's (the live-model pointer, the outbox, caches)
        BOT_VAR_DIR=str(cfg.var_dir),
        LOG_LEVEL=cfg.log_level,
        LOG_LEVEL_LIBRARIES=os.environ.get("LOG_LEVEL_LIBRARIES", "ERROR"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_DIR), env.get("PYTHONPATH")])),
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        TF_CPP_MIN_LOG_LEVEL="2",
        RASA_TELEMETRY_ENABLED="false",
        # Sanic refuses larger bodies with 413 before any handler reads them.
        SANIC_REQUEST_MAX_SIZE=str(cfg.max_body_bytes),
        # endpoints.yml `models:`: the live model, served by the action server
        BOT_MODEL_SERVER_URL=cfg.model_server_url,
    )
    # endpoints.yml sends BOT_ACTIONS_TOKEN; bot.rasa_addons.entry.server reads BOT_API_TOKEN.
    # In the environment (readable by this user only), never on a command line.
    for name, value in (("BOT_API_TOKEN", cfg.api_token), ("BOT_ACTIONS_TOKEN", cfg.actions_token)):
        if value:
            env[name] = value
    if cfg.lock_store_url:
        lock = make_url(cfg.lock_store_url)
        env.update(
            BOT_LOCK_STORE_HOST=lock.host or "127.0.0.1",
            BOT_LOCK_STORE_PORT=str(lock.port or 6379),
            BOT_LOCK_STORE_DB=(lock.database or "0"),
            BOT_LOCK_STORE_PREFIX=cfg.lock_store_prefix,
        )
        if lock.password:  # in the environment, never in a file or on a command line
            env["BOT_LOCK_STORE_PASSWORD"] = lock.password
    # The per-address limits in Redis too, so replicas share them (bot/address_limits.py)
    limits_url = cfg.limits_redis_url or cfg.lock_store_url
    if limits_url:
        env.update(BOT_LIMITS_REDIS_URL=limits_url, BOT_LIMITS_PREFIX=cfg.limits_prefix)
    return env


def endpoints_file(cfg: Settings) -> Path:
    name = "endpoints.redis-lock.yml" if cfg.lock_store_url else "endpoints.yml"
    return PROJECT_DIR / name


def pulls_models(cfg: Settings) -> bool:
    """Do the Rasa servers pull their model (endpoints.yml `models:`), so that
    `bot retrain` goes live without a restart? Otherwise `--model` is loaded once."""
    import yaml

    endpoints = yaml.safe_load(endpoints_file(cfg).read_text(encoding="utf-8")) or {}
    return bool(endpoints.get("models"))


def free_port() -> int:
    """A TCP port free on this machine now (tests and benchmarks run their own servers)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str, headers: dict[str, str] | None = None) -> bool:
    """Does `url` answer 200 within 2 s?"""
    try:
        request = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def check_ports_free(cfg: Settings) -> None:
    """Refuse to start on a port another process holds, and say which process."""
    for port, host, name in (
        (cfg.rasa_port, cfg.host, "BOT_RASA_PORT"),
        (cfg.actions_port, "127.0.0.1", "BOT_ACTIONS_PORT"),
    ):
        if not ports.is_free(host, port):
            raise LaunchError(f"{ports.describe_holder(port)}; stop it or set {name}")


def private_var_dir(cfg: Settings | None = None) -> None:
    """var/ (BOT_VAR_DIR) owner-only: made so, or made so if an earlier run left it
    open (its databases, logs and secrets are nobody else's to read)."""
    from bot import settings

    var_dir = (cfg or settings.load()).var_dir
    try:
        var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if var_dir.stat().st_mode & 0o077:
            os.chmod(var_dir, 0o700)
    except OSError:  # not ours to change (a mounted volume): the command says what fails
        pass


def spawn(name: str, cmd: list[str], env: dict[str, str], log_dir: Path | None) -> subprocess.Popen:
    """A server as a child in its own process group (stopped with everything it
    started); its output to `log_dir/<name>.log`, or to ours without one."""
    out = None
    if log_dir is not None:
        log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = log_dir / f"{name}.log"
        # owner-only: a log may hold what a message said (masked, but still theirs)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.chmod(path, 0o600)  # one created before this rule
        out = os.fdopen(fd, "ab")  # noqa: SIM115 (kept open for the child)
    return subprocess.Popen(
        cmd,
        # BOT_CODE_DIR: another checkout's code (`-m` imports from the working
        # directory first), for a benchmark of the code before a change side by side
        cwd=env.get("BOT_CODE_DIR") or PROJECT_DIR,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
        start_new_session=True,
        umask=PRIVATE_UMASK,  # the databases and files a server creates: owner-only
    )


def rasa_server_command(cfg: Settings, model: Path) -> list[str]:
    """`rasa run` on cfg.host:cfg.rasa_port, its action endpoint cfg.action_endpoint."""
    # --cors: only the configured origins get CORS headers (browsers then refuse
    # other sites' scripts); the HTTP API itself needs the JWT (see server.py).
    # No --cors at all (the default): same-origin pages only.
    cors = ["--cors", *cfg.allowed_origins] if cfg.allowed_origins else []
    return [
        *RASA_SERVER,
        "run",
        "--model",
        str(model),
        "--endpoints",
        str(endpoints_file(cfg)),
        "--credentials",
        "credentials.yml",
        "--enable-api",
        *cors,
        "--interface",
        cfg.host,
        "--port",
        str(cfg.rasa_port),
    ]


def action_server_command(cfg: Settings) -> list[str]:
    return [*ACTION_SERVER, "--actions", "actions", "--port", str(cfg.actions_port)]


def wait_answering(
    checks: dict[str, str],
    procs: Iterable[subprocess.Popen],
    headers: dict[str, str] | None = None,
    timeout: float = 180,
    progress: bool = False,
) -> float:
    """Seconds until every URL of `checks` (name -> URL) answers 200; raises if
    one of `procs` dies or time runs out. `progress`: a line as each answers."""
    started = time.monotonic()
    pending = dict(checks)
    while pending:
        for name, url in list(pending.items()):
            if answers(url, headers):
                del pending[name]
                if progress:
                    step(f"{name} ready ({time.monotonic() - started:.1f} s)")
        for proc in procs:
            if proc.poll() is not None:
                raise LaunchError(
                    f"a server stopped during start-up (exit {proc.returncode}); "
                    "see its messages above (or its log). Is the port already in use?"
                )
        if time.monotonic() - started > timeout:
            raise LaunchError(f"{', '.join(pending)} did not answer within {timeout:.0f} s")
        time.sleep(0.2)
    return time.monotonic() - started


def stop_processes(procs: Iterable[subprocess.Popen]) -> None:
    """SIGTERM to each process group, then SIGKILL to any still there after 15 s."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
