"""Configuration from the environment, with defaults that work on a fresh clone.

Every variable is documented in the docs/configuration.md, "Variables". Nothing else in
the project reads os.environ for these names.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.client_address import parse_networks

PROJECT_DIR = Path(os.environ.get("BOT_PROJECT_DIR", Path(__file__).resolve().parents[1]))
# What the bot says and knows (rule base, messages, word lists, routing, sample
# records): read at answer time, so an edit here needs no retraining.
CONTENT_DIR = PROJECT_DIR / "content"


DEFAULT_CLUSTER_DATABASE = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_CLUSTER_LOCK_STORE = "redis://127.0.0.1:6379/0"


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
    sample_records: bool  # load content/records/ samples at start (BOT_SAMPLE_RECORDS=0: don't)
    routing_file: Path  # paid service x country -> queue
    requests_webhook_url: str | None  # where filed requests are POSTed; None: nowhere
    # Secrets (env, else the file `make run` generated in var/secrets/; None: not set yet)
    api_token: str | None = field(repr=False)  # Rasa's HTTP API (BOT_API_TOKEN)
    actions_token: str | None = field(repr=False)  # Rasa -> action server (BOT_ACTIONS_TOKEN)
    trainer_token: str | None = field(repr=False)  # the trainers' tools (BOT_TRAINER_TOKEN)
    agent_token: str | None = field(repr=False)  # `bot ask`'s NLU reading (BOT_AGENT_TOKEN)
    # What a public website may send
    allowed_origins: tuple[str, ...]  # CORS and socket.io (BOT_ALLOWED_ORIGINS); (): same origin
    max_message_chars: int  # longer messages are answered at once, never parsed
    max_body_bytes: int  # larger request bodies get 413
    rate_per_sender: int  # messages a minute, one conversation
    rate_per_client: int  # requests a minute, one client address (REST, chat routes, socket.io)
    action_timeout: float  # seconds Rasa waits for the action server
    retention_days: int  # conversations, feedback and inbox older than this are deleted; 0: kept
    retention_every_seconds: int  # the action server purges this often (and at its start)
    request_retention_days: int  # filed requests are anonymised after this; 0: kept
    # The trainers' inbox (bot/training/inbox/)
    inbox_confidence: float  # answers below this confidence go to the inbox
    inbox_sync_seconds: (
        int  # how often the launcher syncs the inbox while it runs; 0: at start only
    )
    # `make cluster` (bot/runtime/cluster.py): the production shape on one machine
    cluster_rasa: int = 2  # Rasa replicas (BOT_CLUSTER_RASA)
    cluster_actions: int = 2  # action servers (BOT_CLUSTER_ACTIONS)
    cluster_first_port: int = 5100  # replicas from here, action servers from here + 50
    cluster_stats_port: int = 8404  # HAProxy's status page (loopback)
    # PostgreSQL and Redis: the cluster refuses SQLite and the in-memory lock
    cluster_database_url: str = DEFAULT_CLUSTER_DATABASE
    cluster_tracker_url: str = DEFAULT_CLUSTER_DATABASE
    cluster_lock_store_url: str = DEFAULT_CLUSTER_LOCK_STORE
    lock_store_prefix: str = "bot:lock:"  # Redis keys of the lock store (BOT_LOCK_STORE_PREFIX)
    actions_url: str | None = None  # BOT_ACTIONS_URL: the action endpoint elsewhere (containers)
    # retrains and evaluations run in a warm process that stays this long after its
    # last job (BOT_RETRAIN_WARM_SECONDS); 0: a fresh process each time
    retrain_warm_seconds: int = 900
    # threads that parse messages off Rasa's event loop (BOT_NLU_THREADS); 0: on the loop
    nlu_threads: int = 1
    # a client's newest message waits at most this long for a parse thread, else it
    # is refused at once, "send it again in N s" (BOT_PARSE_WAIT_SECONDS)
    parse_wait_seconds: float = 20.0
    # turns one client address may have in flight at once, across its conversations
    # (BOT_TURNS_PER_CLIENT; bot/client_turns.py); more wait, as long as above. One:
    # a flooder's quiet neighbour's p95 rose 1.6-1.8x, with two 2.1-2.8x (bench/RESULTS.md)
    turns_per_client: int = 1
    # the insights summary reads PostgreSQL's events only once they are this old
    # (BOT_INSIGHTS_SETTLE_SECONDS; bot/insights/summary.py says why)
    insights_settle_seconds: int = 60
    # One client address across every channel and replica (bot/address_limits.py)
    burst_per_client: int = 10  # of rate_per_client, at once (BOT_BURST_PER_CLIENT)
    sockets_per_client: int = 20  # open socket.io connections (BOT_SOCKETS_PER_CLIENT)
    # requests in 10 s one address may send through the cluster's HAProxy before it
    # answers 429 itself (BOT_PROXY_RATE_PER_CLIENT): a backstop far above the limits
    # above, so that a flood is refused in C before a replica spends Python on it
    proxy_rate_per_client: int = 300
    # X-Forwarded-For is read only from these peers (BOT_TRUSTED_PROXIES): addresses
    # or CIDR networks; (): never (bot/client_address.py)
    trusted_proxies: tuple[str, ...] = ()
    # the limits in Redis, shared by replicas (BOT_LIMITS_REDIS_URL, else the lock
    # store's BOT_LOCK_STORE_URL); "": in the process
    limits_redis_url: str = ""
    limits_prefix: str = "bot:limits:"  # their keys (BOT_LIMITS_PREFIX)

    @property
    def action_endpoint(self) -> str:
        return self.actions_url or f"http://127.0.0.1:{self.actions_port}/webhook"

    @property
    def model_server_url(self) -> str:
        """Where Rasa pulls the live model: `GET /model` beside the action endpoint,
        so a container reaches it through the same balancer (BOT_ACTIONS_URL)."""
        base = self.action_endpoint.rstrip("/")
        return base.removesuffix("/webhook") + "/model"

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


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip() or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise SystemExit(f"{name}={value} must be at least {minimum}")
    return value


SECRETS = {  # setting -> environment variable, and the file name under var/secrets/
    "api_token": "BOT_API_TOKEN",
    "actions_token": "BOT_ACTIONS_TOKEN",
    "trainer_token": "BOT_TRAINER_TOKEN",
    "agent_token": "BOT_AGENT_TOKEN",
}


def secret_file(var_dir: Path, env_name: str) -> Path:
    return var_dir / "secrets" / env_name.lower()


def secret(env_name: str, var_dir: Path) -> str | None:
    """The secret from the environment, else its file under var/secrets/; None: unset.
    Read afresh at each call (the trainer page re-reads its token per request)."""
    value = os.environ.get(env_name, "").strip()
    if value:
        return value
    try:
        return secret_file(var_dir, env_name).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _fraction(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip() or str(default)
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise SystemExit(f"{name}={value} must be between 0 and 1")
    return value


def usable_cores() -> int:
    """The cores this process may run on (its affinity: a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _origins() -> tuple[str, ...]:
    """Other sites' pages that may call the bot; () (the default): only the
    server's own pages (the chat page it serves), whatever host name it has."""
    raw = os.environ.get("BOT_ALLOWED_ORIGINS", "").strip()
    return tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())


def _proxies() -> tuple[str, ...]:
    raw = os.environ.get("BOT_TRUSTED_PROXIES", "")
    proxies = tuple(p.strip() for p in raw.split(",") if p.strip())
    try:
        parse_networks(proxies)
    except ValueError as exc:
        raise SystemExit(f"BOT_TRUSTED_PROXIES: {exc}") from None
    return proxies


def load() -> Settings:
    """Read the settings now (tests change the environment between runs)."""
    var_dir = Path(os.environ.get("BOT_VAR_DIR", PROJECT_DIR / "var"))
    rasa_port = _port("BOT_RASA_PORT", 5005)
    return Settings(
        database_url=os.environ.get("BOT_DATABASE_URL") or f"sqlite:///{var_dir / 'bot.db'}",
        tracker_url=os.environ.get("BOT_TRACKER_URL") or f"sqlite:///{var_dir / 'tracker.db'}",
        rasa_port=rasa_port,
        actions_port=_port("BOT_ACTIONS_PORT", 5055),
        host=os.environ.get("BOT_HOST", "127.0.0.1"),
        log_level=os.environ.get("BOT_LOG_LEVEL", "INFO").upper(),
        lock_store_url=os.environ.get("BOT_LOCK_STORE_URL", ""),
        models_dir=Path(os.environ.get("BOT_MODELS_DIR", PROJECT_DIR / "models")),
        var_dir=var_dir,
        sample_records=os.environ.get("BOT_SAMPLE_RECORDS", "1") != "0",
        routing_file=Path(os.environ.get("BOT_ROUTING_FILE") or CONTENT_DIR / "routing.csv"),
        requests_webhook_url=(os.environ.get("BOT_REQUESTS_WEBHOOK_URL") or "").strip() or None,
        api_token=secret("BOT_API_TOKEN", var_dir),
        actions_token=secret("BOT_ACTIONS_TOKEN", var_dir),
        trainer_token=secret("BOT_TRAINER_TOKEN", var_dir),
        agent_token=secret("BOT_AGENT_TOKEN", var_dir),
        allowed_origins=_origins(),
        max_message_chars=_int("BOT_MAX_MESSAGE_CHARS", 1000, minimum=1),
        max_body_bytes=_int("BOT_MAX_BODY_BYTES", 64 * 1024, minimum=1024),
        rate_per_sender=_int("BOT_RATE_PER_SENDER", 30, minimum=1),
        rate_per_client=_int("BOT_RATE_PER_CLIENT", 120, minimum=1),
        action_timeout=float(_int("BOT_ACTION_TIMEOUT", 10, minimum=1)),
        retention_days=_int("BOT_RETENTION_DAYS", 90),
        retention_every_seconds=_int("BOT_RETENTION_EVERY_SECONDS", 6 * 3600, minimum=1),
        request_retention_days=_int("BOT_REQUEST_RETENTION_DAYS", 365),
        inbox_confidence=_fraction("BOT_INBOX_CONFIDENCE", 0.6),
        inbox_sync_seconds=_int("BOT_INBOX_SYNC_SECONDS", 60),
        cluster_rasa=_int("BOT_CLUSTER_RASA", 2, minimum=1),
        cluster_actions=_int("BOT_CLUSTER_ACTIONS", 2, minimum=1),
        cluster_first_port=_port("BOT_CLUSTER_FIRST_PORT", 5100),
        cluster_stats_port=_port("BOT_CLUSTER_STATS_PORT", 8404),
        cluster_database_url=os.environ.get("BOT_DATABASE_URL") or DEFAULT_CLUSTER_DATABASE,
        cluster_tracker_url=(
            os.environ.get("BOT_TRACKER_URL")
            or os.environ.get("BOT_DATABASE_URL")
            or DEFAULT_CLUSTER_DATABASE
        ),
        cluster_lock_store_url=os.environ.get("BOT_LOCK_STORE_URL") or DEFAULT_CLUSTER_LOCK_STORE,
        lock_store_prefix=os.environ.get("BOT_LOCK_STORE_PREFIX", "").strip() or "bot:lock:",
        actions_url=os.environ.get("BOT_ACTIONS_URL", "").strip() or None,
        retrain_warm_seconds=_int("BOT_RETRAIN_WARM_SECONDS", 900),
        nlu_threads=_int("BOT_NLU_THREADS", max(1, usable_cores() - 1)),
        parse_wait_seconds=float(_int("BOT_PARSE_WAIT_SECONDS", 20, minimum=1)),
        turns_per_client=_int("BOT_TURNS_PER_CLIENT", 1, minimum=1),
        burst_per_client=_int("BOT_BURST_PER_CLIENT", 10, minimum=1),
        sockets_per_client=_int("BOT_SOCKETS_PER_CLIENT", 20, minimum=1),
        proxy_rate_per_client=_int("BOT_PROXY_RATE_PER_CLIENT", 300, minimum=1),
        trusted_proxies=_proxies(),
        limits_redis_url=(
            os.environ.get("BOT_LIMITS_REDIS_URL", "").strip()
            or os.environ.get("BOT_LOCK_STORE_URL", "").strip()
        ),
        limits_prefix=os.environ.get("BOT_LIMITS_PREFIX", "").strip() or "bot:limits:",
        insights_settle_seconds=_int("BOT_INSIGHTS_SETTLE_SECONDS", 60),
    )


@contextlib.contextmanager
def environment(overrides: Mapping[str, str | None]) -> Iterator[None]:
    """os.environ with `overrides` (None: unset) inside the block, which is what
    load() and the servers started there see; as it was after it."""
    saved = {key: os.environ.get(key) for key in overrides}

    def put(values: Mapping[str, str | None]) -> None:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    try:
        put(overrides)
        yield
    finally:
        put(saved)
