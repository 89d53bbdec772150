"""Before a cluster starts: PostgreSQL, Redis and HAProxy are there and answer."""

from __future__ import annotations

import shutil

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bot import settings
from bot.runtime.processes import LaunchError

HAPROXY = "haproxy"  # Debian's package (`apt-get install haproxy`; .ci/run does it)


def check_postgres(url: str, what: str) -> None:
    """Refuse to start without PostgreSQL: Rasa's SQL tracker store would retry
    for ever, and SQLite is one file that several servers cannot share well."""
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() != "postgresql":
        raise LaunchError(
            f"the cluster needs PostgreSQL for the {what}, not {parsed.get_backend_name()} "
            f"({shown}); unset it (default {settings.DEFAULT_CLUSTER_DATABASE}) "
            "or set a postgresql:// URL"
        )
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure: say which server and why
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LaunchError(
            f"PostgreSQL for the {what} is not reachable at {shown} ({reason}). "
            "Start it (e.g. `pg_ctlcluster 15 main start`) or set BOT_DATABASE_URL / "
            "BOT_TRACKER_URL"
        ) from None
    finally:
        engine.dispose()


def check_redis(url: str) -> None:
    import redis  # type: ignore[import-untyped]  # Rasa's dependency

    shown = make_url(url).render_as_string(hide_password=True)
    try:
        redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3).ping()
    except (redis.RedisError, ValueError) as exc:
        raise LaunchError(
            f"Redis (the lock store) is not reachable at {shown} ({exc}). "
            "Start it (`redis-server --daemonize yes`) or set BOT_LOCK_STORE_URL"
        ) from None


def check_haproxy() -> str:
    found = shutil.which(HAPROXY) or shutil.which(f"/usr/sbin/{HAPROXY}")
    if not found:
        raise LaunchError("HAProxy is not installed: `apt-get install haproxy` (Debian)")
    return found
