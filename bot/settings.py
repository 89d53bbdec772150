"""Configuration from the environment, with defaults that work on a fresh clone.

Every variable is documented in the README ("Configuration"). Nothing else in
the project reads os.environ for these names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(os.environ.get("BOT_PROJECT_DIR", Path(__file__).resolve().parents[1]))


@dataclass(frozen=True)
class Settings:
    database_url: str
    tracker_url: str
    rasa_port: int
    actions_port: int
    host: str
    log_level: str
    lock_store_url: str
    models_dir: Path
    var_dir: Path
    sample_records: bool  # load data/records/ samples at start (BOT_SAMPLE_RECORDS=0: don't)
    routing_file: Path  # paid service x country -> queue
    requests_webhook_url: str | None  # where filed requests are POSTed; None: nowhere
    allowed_origins: tuple[str, ...]  # origins the socket.io channel accepts; (): same origin only
    max_message_chars: int  # longer user messages (socket.io) are refused before NLU

    @property
    def action_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.actions_port}/webhook"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        port = int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise SystemExit(f"{name}={port} is outside 1-65535")
    return port


def _positive(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a whole number") from None
    if value < 1:
        raise SystemExit(f"{name}={value} must be at least 1")
    return value


def load() -> Settings:
    """Read the settings now (tests change the environment between runs)."""
    var_dir = Path(os.environ.get("BOT_VAR_DIR", PROJECT_DIR / "var"))
    return Settings(
        database_url=os.environ.get("BOT_DATABASE_URL") or f"sqlite:///{var_dir / 'bot.db'}",
        tracker_url=os.environ.get("BOT_TRACKER_URL") or f"sqlite:///{var_dir / 'tracker.db'}",
        rasa_port=_port("BOT_RASA_PORT", 5005),
        actions_port=_port("BOT_ACTIONS_PORT", 5055),
        host=os.environ.get("BOT_HOST", "127.0.0.1"),
        log_level=os.environ.get("BOT_LOG_LEVEL", "INFO").upper(),
        lock_store_url=os.environ.get("BOT_LOCK_STORE_URL", ""),
        models_dir=Path(os.environ.get("BOT_MODELS_DIR", PROJECT_DIR / "models")),
        var_dir=var_dir,
        sample_records=os.environ.get("BOT_SAMPLE_RECORDS", "1") != "0",
        routing_file=Path(
            os.environ.get("BOT_ROUTING_FILE") or PROJECT_DIR / "data" / "routing.csv"
        ),
        requests_webhook_url=(os.environ.get("BOT_REQUESTS_WEBHOOK_URL") or "").strip() or None,
        allowed_origins=tuple(
            o.strip().rstrip("/")
            for o in os.environ.get("BOT_ALLOWED_ORIGINS", "").split(",")
            if o.strip()
        ),
        max_message_chars=_positive("BOT_MAX_MESSAGE_CHARS", 1000),
    )
