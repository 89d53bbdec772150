"""Prepare and start the assistant: database, model, action server, Rasa server.

`make run` calls `bot run`; `make test` calls `bot prepare --for-tests`, and the
test suite starts the servers itself through `Servers`.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from bot import db, generate, ports, rulebase, secrets, settings
from bot.privacy import retention
from bot.settings import PROJECT_DIR, Settings
from bot.training import model_server, warm

# The `rasa` command, with this project's patches to Rasa applied first.
RASA = (sys.executable, "-m", "bot.rasa_addons.main")
# `rasa run` with the API secret read from the environment (not the command line).
RASA_SERVER = (sys.executable, "-m", "bot.rasa_addons.server")
# The SDK's action server, loopback only, token-checked (`rasa run actions` would
# import Rasa, and with it TensorFlow, into a process that never needs them).
ACTION_SERVER = (sys.executable, "-m", "bot.rasa_addons.action_server")
# Everything a trained model depends on; the model is named after their hash.
# data/ holds Rasa training data only (content/ is read at answer time); the
# channels and Rasa patches in bot/rasa_addons are not part of the model.
TRAINING_INPUTS = ("config.yml", "domain", "data")
MODEL_CODE = (
    "bot/rasa_addons/e5_featurizer.py",
    "bot/rasa_addons/language_detector.py",
    "bot/rasa_addons/linear_intent_classifier.py",
    "bot/rasa_addons/record_facts.py",
    # what the classifier's weights are computed by
    "bot/rasa_addons/softmax_fit.py",
    "bot/rasa_addons/lbfgs.py",
)
# files of MODEL_CODE that no config names, by the component that uses them
MODEL_CODE_HELPERS = {
    "bot/rasa_addons/linear_intent_classifier.py": (
        "bot/rasa_addons/softmax_fit.py",
        "bot/rasa_addons/lbfgs.py",
    ),
}
NLU_DATA = ("data",)


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


class LaunchError(SystemExit):
    """A failure with a message that says what to do; exits without a traceback."""

    def __init__(self, message: str):
        super().__init__(f"error: {message}")


# ---------------------------------------------------------------- environment


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
    # endpoints.yml sends BOT_ACTIONS_TOKEN; bot.rasa_addons.server reads BOT_API_TOKEN.
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


# ---------------------------------------------------------------- model


def _files(paths: Iterable[str]) -> list[Path]:
    found = []
    for rel in paths:
        path = PROJECT_DIR / rel
        found += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return [p for p in found if "__pycache__" not in p.parts and p.exists()]


def fingerprint() -> str:
    digest = hashlib.sha256()
    for path in _files(TRAINING_INPUTS + MODEL_CODE + ("requirements.lock",)):
        digest.update(str(path.relative_to(PROJECT_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def model_path(cfg: Settings) -> Path:
    return cfg.models_dir / f"model-{fingerprint()}.tar.gz"


def train_command(config: Path, target: Path) -> list[str]:
    """`rasa train` of this project's data with `config`, into the file `target`."""
    return [
        *RASA,
        "train",
        "--config",
        str(config),
        "--domain",
        "domain",
        "--data",
        *NLU_DATA,
        "--out",
        str(target.parent),
        "--fixed-model-name",
        target.name.removesuffix(".tar.gz"),
    ]


def train(cfg: Settings, config: Path = PROJECT_DIR / "config.yml") -> Path:
    """Train unless a model of exactly these inputs exists; return its path."""
    target = model_path(cfg)
    if target.exists():
        step(f"model up to date: {target.relative_to(PROJECT_DIR)}")
        return target
    step("training the model (data, config or domain changed)")
    started = time.monotonic()
    result = subprocess.run(train_command(config, target), cwd=PROJECT_DIR, env=rasa_env(cfg))
    if result.returncode != 0 or not target.exists():
        raise LaunchError("training failed (see the messages above); fix the data and run again")
    step(f"trained in {time.monotonic() - started:.0f} s: {target.relative_to(PROJECT_DIR)}")
    return target


def validate_data(cfg: Settings) -> None:
    step("validating the training data (rasa data validate)")
    cmd = [
        *RASA,
        "data",
        "validate",
        "--fail-on-warnings",
        "--domain",
        "domain",
        "--data",
        *NLU_DATA,
        "--config",
        "config.yml",
    ]
    if subprocess.run(cmd, cwd=PROJECT_DIR, env=rasa_env(cfg)).returncode != 0:
        raise LaunchError("the training data is inconsistent (see above)")


# ---------------------------------------------------------------- database


def prepare_database(cfg: Settings) -> None:
    step(f"database: {make_url(cfg.database_url).render_as_string(hide_password=True)}")
    try:
        db.upgrade(cfg.database_url)
        version, changed = rulebase.load(cfg.database_url)
    except rulebase.RulebaseError as exc:
        raise LaunchError(str(exc)) from None
    except Exception as exc:  # a connection refused, a bad URL
        raise LaunchError(f"cannot use the database: {exc}. Check BOT_DATABASE_URL.") from None
    step(f"rule base {'loaded' if changed else 'up to date'} (version {version})")
    if cfg.sample_records:  # a deployment with its own records sets BOT_SAMPLE_RECORDS=0
        from bot import records

        try:
            loaded = [
                records.import_products(records.SAMPLE_PRODUCTS, cfg.database_url),
                records.import_licences(records.SAMPLE_LICENCES, cfg.database_url),
            ]
        except records.ImportFailed as exc:
            raise LaunchError(str(exc)) from None
        step(f"sample records: {'; '.join(result.summary() for result in loaded)}")


def prepare(cfg: Settings, for_tests: bool = False) -> Path:
    for path in generate.generate():
        step(f"generated {path.relative_to(PROJECT_DIR)}")
    prepare_database(cfg)
    if for_tests:
        validate_data(cfg)
    return train(cfg)


# ---------------------------------------------------------------- servers


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


def ensure_secrets(cfg: Settings) -> Settings:
    """Generate each secret the environment does not set; `cfg` with all of them."""
    cfg, created = secrets.complete(cfg)
    for env_name, path in created:  # where, never what
        step(f"generated {env_name} in {path} (owner-only; set {env_name} to use your own)")
    return cfg


def check_ports_free(cfg: Settings) -> None:
    """Refuse to start on a port another process holds, and say which process."""
    for port, host, name in (
        (cfg.rasa_port, cfg.host, "BOT_RASA_PORT"),
        (cfg.actions_port, "127.0.0.1", "BOT_ACTIONS_PORT"),
    ):
        if not ports.is_free(host, port):
            raise LaunchError(f"{ports.describe_holder(port)}; stop it or set {name}")


def spawn(name: str, cmd: list[str], env: dict[str, str], log_dir: Path | None) -> subprocess.Popen:
    """A server as a child in its own process group (stopped with everything it
    started); its output to `log_dir/<name>.log`, or to ours without one."""
    out = None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        out = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 (kept open for the child)
    return subprocess.Popen(
        cmd,
        cwd=PROJECT_DIR,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
        start_new_session=True,
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


@dataclass
class Servers:
    """The action server and the Rasa server as child processes."""

    cfg: Settings
    model: Path
    log_dir: Path | None = None
    procs: list[subprocess.Popen] = field(default_factory=list)

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        return spawn(name, cmd, rasa_env(self.cfg), self.log_dir)

    def start(self) -> None:
        if not (self.cfg.api_token and self.cfg.actions_token):
            self.cfg = ensure_secrets(self.cfg)  # callers that skip `run`, e.g. benchmarks
        if pulls_models(self.cfg):  # Rasa then loads the model the action server serves
            model_server.activate(self.cfg, self.model)
        self.procs = [self._spawn("actions", self._actions_cmd())]
        self.procs.append(self._spawn("rasa", rasa_server_command(self.cfg, self.model)))

    def restart_actions(self) -> None:
        """Stop the action server and start it again (the Rasa server keeps running)."""
        actions = self.procs[0]
        os.killpg(actions.pid, signal.SIGTERM)
        actions.wait(timeout=15)
        self.procs[0] = self._spawn("actions", self._actions_cmd())

    def kill(self, index: int) -> None:
        """SIGKILL one server (0: actions, 1: Rasa) and its children, as a crash would."""
        proc = self.procs[index]
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def respawn(self, index: int) -> None:
        """Start a killed server again (the other keeps running); wait_ready() follows."""
        if index == 0:
            self.procs[0] = self._spawn("actions", self._actions_cmd())
        else:
            self.procs[1] = self._spawn("rasa", rasa_server_command(self.cfg, self.model))

    def _actions_cmd(self) -> list[str]:
        return action_server_command(self.cfg)

    def wait_ready(self, timeout: float = 180) -> float:
        """Seconds until both servers answer; raises if one dies or time runs out."""
        checks = {
            "action server": f"http://127.0.0.1:{self.cfg.actions_port}/health",
            "Rasa server": f"http://127.0.0.1:{self.cfg.rasa_port}/status",  # model loaded
        }
        return wait_answering(checks, self.procs, secrets.api_headers(self.cfg), timeout)

    def stop(self) -> None:
        stop_processes(self.procs)
        self.procs = []


# ---------------------------------------------------------------- the trainers' inbox


def sync_inbox(cfg: Settings) -> str:
    """One inbox sync (bot/training/inbox.py); a line to print, never an exception:
    the assistant serves customers whether or not the inbox can be filled."""
    from bot.training import inbox

    try:
        done = inbox.sync(url=cfg.database_url, tracker_url=cfg.tracker_url)
    except Exception as exc:  # noqa: BLE001 - reported, and tried again next time
        return f"inbox sync failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return f"inbox: {done.summary()}"


class InboxSyncer(threading.Thread):
    """Syncs the inbox every BOT_INBOX_SYNC_SECONDS while the servers run (a
    daemon thread of the launcher: no process of its own, stopped with it)."""

    def __init__(self, cfg: Settings):
        super().__init__(name="inbox-sync", daemon=True)
        self.cfg = cfg
        self.stopping = threading.Event()
        self.last = ""

    def run(self) -> None:
        while not self.stopping.wait(self.cfg.inbox_sync_seconds):
            line = sync_inbox(self.cfg)
            if "failed" in line and line != self.last:  # say a failure once, not every minute
                step(line)
            self.last = line

    def stop(self) -> None:
        self.stopping.set()


class _Terminated(KeyboardInterrupt):
    """SIGTERM (systemd, Docker, Kubernetes stopping us): handled like Ctrl-C."""


def _on_sigterm(signum: int, _frame: object) -> None:
    # Once: a second SIGTERM during the orderly stop must not cut it short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Terminated()


def stop_on_sigterm() -> None:
    """From now on SIGTERM raises KeyboardInterrupt, as Ctrl-C does."""
    signal.signal(signal.SIGTERM, _on_sigterm)


def serve(
    start: Callable[[], float],
    procs: Callable[[], list[subprocess.Popen]],
    stop: Callable[[], None],
    banner: str,
) -> None:
    """Start, print `banner`, wait until Ctrl-C or SIGTERM (or a server dies),
    stop. Call stop_on_sigterm() before any slow preparation."""
    try:
        ready = start()  # inside the try: a SIGTERM during start still stops what started
        step(f"ready in {ready:.1f} s")
        print(banner, flush=True)
        while all(proc.poll() is None for proc in procs()):
            time.sleep(0.5)
        raise LaunchError("a server stopped unexpectedly; see its messages above")
    except KeyboardInterrupt:
        step("stopping")
    finally:
        stop()
        step("stopped")


def public_url(cfg: Settings) -> str:
    return f"http://{'127.0.0.1' if cfg.host == '0.0.0.0' else cfg.host}:{cfg.rasa_port}"


def banner(base: str) -> str:
    return (
        f"\n  Chat page: {base}/webhooks/chat/\n"
        f"  REST:      curl -s {base}/webhooks/rest/webhook "
        '-d \'{"sender": "me", "message": "Can you disinfect my PC?"}\'\n'
        "  Shell:     make shell (in another terminal)\n"
        "  HTTP API:  Authorization: Bearer <an HS256 JWT signed with BOT_API_TOKEN>\n"
        "  Stop:      Ctrl-C (or SIGTERM)\n"
    )


def run() -> None:
    stop_on_sigterm()
    cfg = ensure_secrets(settings.load())
    check_ports_free(cfg)  # before training: a taken port fails in seconds, not minutes
    model = prepare(cfg)
    check_ports_free(cfg)
    step(retention.purge_at_start(cfg))  # BOT_RETENTION_DAYS: older conversations go
    step(sync_inbox(cfg))  # what came in since the last run
    syncer = InboxSyncer(cfg)
    servers = Servers(cfg, model)
    step("starting the action server and the Rasa server")

    def start() -> float:
        servers.start()
        ready = servers.wait_ready()
        if cfg.inbox_sync_seconds > 0:
            syncer.start()
        return ready

    def stop() -> None:
        syncer.stop()
        servers.stop()
        if warm.shutdown(cfg):  # a trainer's warm retrain process, if one was started
            step("stopped the warm retrain process")

    serve(start, lambda: servers.procs, stop, banner(public_url(cfg)))


def serve_one(kind: str) -> None:
    """One server in the foreground, for a container (deploy/): `init` loads the
    database and exits; `rasa` and `actions` replace this process (exec), so the
    server itself gets the orchestrator's SIGTERM. No training, no generated
    secrets: replicas must share the model and the tokens they are given."""
    cfg = settings.load()
    if kind == "init":
        prepare_database(cfg)
        return
    if not (cfg.api_token and cfg.actions_token):
        raise LaunchError("set BOT_API_TOKEN and BOT_ACTIONS_TOKEN (every replica needs the same)")
    if kind == "rasa":  # a directory: Rasa serves the newest model in it
        cmd = rasa_server_command(cfg, cfg.models_dir)
    elif kind == "actions":
        cmd = action_server_command(cfg)
    else:
        raise LaunchError(f"unknown server {kind!r}: init, rasa or actions")
    step(f"starting {kind}")
    os.execvpe(cmd[0], cmd, rasa_env(cfg))


def shell() -> None:
    """rasa shell against the same model, action server and tracker store."""
    cfg = ensure_secrets(settings.load())
    model = prepare(cfg)
    helper = None
    if not answers(f"http://127.0.0.1:{cfg.actions_port}/health"):
        step("starting an action server for the shell")
        helper = Servers(cfg, model, log_dir=cfg.var_dir / "logs")
        helper.procs = [helper._spawn("actions", helper._actions_cmd())]
    if pulls_models(cfg) and helper:  # no running set-up: this model is the live one
        model_server.activate(cfg, model)
    port = cfg.rasa_port + 1 if answers(f"http://127.0.0.1:{cfg.rasa_port}/") else cfg.rasa_port
    cmd = [
        *RASA,
        "shell",
        "--model",
        str(model),
        "--endpoints",
        str(endpoints_file(cfg)),
        "--port",
        str(port),
    ]
    try:
        subprocess.run(cmd, cwd=PROJECT_DIR, env=rasa_env(cfg))
    except KeyboardInterrupt:
        pass
    finally:
        if helper:
            helper.stop()
