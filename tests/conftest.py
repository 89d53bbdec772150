"""Shared fixtures: real databases (SQLite and PostgreSQL), and no state leaking
between tests through the engine or rule base caches.

`database_url` (and its module-scoped twin `module_database_url`) is
parametrized over both databases, so every test that uses it runs twice. The
PostgreSQL case creates a fresh, uniquely named database on the server at
BOT_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test) and
drops it afterwards. If that server cannot be reached the test FAILS, because
CI has it; set BOT_TEST_SKIP_POSTGRES=1 to skip those cases instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

import bot.db
import bot.rulebase

DATABASES = ["sqlite", "postgresql"]
POSTGRES_ADMIN_URL = os.environ.get(
    "BOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)

_postgres_problem: list[str] = []  # filled once per session, if the server is unreachable


def _postgres_reachable() -> str | None:
    """None if the server answers, else why not (checked once per session)."""
    if not _postgres_problem:
        engine = sa.create_engine(POSTGRES_ADMIN_URL, future=True)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            _postgres_problem.append("")
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
            _postgres_problem.append(f"{type(exc).__name__}: {exc}".strip())
        finally:
            engine.dispose()
    return _postgres_problem[0] or None


def _forget_engine(url: str) -> None:
    bot.db.engine_for(url).dispose()
    bot.db.engine_for.cache_clear()


@contextmanager
def _sqlite_database(directory: Path) -> Iterator[str]:
    url = f"sqlite:///{directory / 'bot.db'}"
    try:
        yield url
    finally:
        _forget_engine(url)


@contextmanager
def _postgres_database() -> Iterator[str]:
    problem = _postgres_reachable()
    if problem:
        message = (
            f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable ({problem}). "
            "Start it, point BOT_TEST_POSTGRES_URL at a server, or set "
            "BOT_TEST_SKIP_POSTGRES=1 to skip the PostgreSQL cases."
        )
        if os.environ.get("BOT_TEST_SKIP_POSTGRES") == "1":
            pytest.skip(message)
        pytest.fail(message, pytrace=False)
    name = f"bot_test_{uuid.uuid4().hex}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        try:
            yield url
        finally:
            _forget_engine(url)
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def _database(kind: str, directory: Path) -> Iterator[str]:
    if kind == "sqlite":
        with _sqlite_database(directory) as url:
            yield url
    elif kind == "postgresql":
        with _postgres_database() as url:
            yield url
    else:  # pragma: no cover - a typo in a parametrization
        raise ValueError(f"unknown database kind {kind!r}")


@pytest.fixture(params=DATABASES, ids=DATABASES)
def database_url(request, tmp_path) -> Iterator[str]:
    """An empty database of its own for one test: SQLite file or fresh PostgreSQL database."""
    with _database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="module", params=DATABASES, ids=DATABASES)
def module_database_url(request, tmp_path_factory) -> Iterator[str]:
    """Like `database_url`, shared by the tests of one module (for read-only tests)."""
    with _database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


# Test tiers, so each runs alone (`make test-fast` is unit tests on SQLite):
#   unit      tests/unit and tests/actions: the core and the actions, no servers
#   postgres  a case that runs on PostgreSQL (the `postgresql` database parameter)
#   rasa      tests/rasa_addons: this project's Rasa code in process (imports Rasa)
#   servers   tests/conversation: a real Rasa server and action server
#   browser   tests/browser: the chat pages in Debian's Chromium
#   cluster   tests/cluster: replicas behind HAProxy on PostgreSQL and Redis (also `servers`)
_TIER_BY_DIR = {
    "unit": "unit",
    "actions": "unit",
    "rasa_addons": "rasa",
    "conversation": "servers",
    "browser": "browser",
    "cluster": "servers",  # tests/cluster: replicas behind HAProxy (also marked `cluster`)
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests_dir = Path(__file__).parent
    for item in items:
        parts = item.path.relative_to(tests_dir).parts
        tier = _TIER_BY_DIR.get(parts[0]) if len(parts) > 1 else None
        if tier:
            item.add_marker(tier)
        if parts[0] == "cluster" and len(parts) > 1:
            item.add_marker("cluster")
        callspec = getattr(item, "callspec", None)
        if callspec and "postgresql" in callspec.params.values():
            item.add_marker("postgres")


@pytest.fixture(autouse=True)
def _fresh_rulebase_cache() -> Iterator[None]:
    """Rule base snapshots are cached per URL in the process; never across tests."""
    bot.rulebase.clear_cache()
    yield
    bot.rulebase.clear_cache()


# The Rasa and action servers (session-scoped), shared by tests/conversation and
# tests/browser: one pair for the whole run.
from tests.servers import bot_env, model, running_bot  # noqa: E402, F401
