"""`bot run`, `bot serve` and `bot shell`: prepare, start the servers, serve.

`make run` calls `bot run`; `make test` calls `bot prepare --for-tests`, and the
test suite starts the servers itself through bot.runtime.servers.Servers.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bot import settings
from bot.privacy import retention
from bot.runtime import model_server, nlu_jobs
from bot.runtime.build import prepare, prepare_database
from bot.runtime.processes import (
    RASA,
    LaunchError,
    action_server_command,
    answers,
    check_ports_free,
    endpoints_file,
    pulls_models,
    rasa_env,
    rasa_server_command,
    step,
)
from bot.runtime.servers import (
    InboxSyncer,
    Servers,
    ensure_secrets,
    refuse_weak_secrets,
    serve,
    stop_on_sigterm,
    sync_inbox,
)
from bot.settings import PROJECT_DIR, Settings


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
        if nlu_jobs.shutdown(cfg):  # a trainer's warm retrain process, if one was started
            step("stopped the warm retrain process")

    serve(start, lambda: servers.procs, stop, banner(public_url(cfg)))


def serve_one(kind: str) -> None:
    """One server in the foreground, for a container (deploy/): `init` loads the
    database and exits; `rasa` and `actions` replace this process (exec), so the
    server itself gets the orchestrator's SIGTERM. No training, no generated
    secrets: replicas must share the model and the tokens they are given."""
    cfg = settings.load()
    refuse_weak_secrets(cfg)  # init too: the first container to start says what to fix
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


def shell_command(cfg: Settings, model: Path, port: int) -> list[str]:
    """`rasa shell` on `port`. Its own server is Rasa's stock REST channel, with none
    of our limits: it listens on this machine only."""
    return [
        *RASA,
        "shell",
        "--model",
        str(model),
        "--endpoints",
        str(endpoints_file(cfg)),
        "--port",
        str(port),
        "--interface",
        "127.0.0.1",
    ]


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
    cmd = shell_command(cfg, model, port)
    try:
        subprocess.run(cmd, cwd=PROJECT_DIR, env=rasa_env(cfg))
    except KeyboardInterrupt:
        pass
    finally:
        if helper:
            helper.stop()
