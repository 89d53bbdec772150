"""How fast the Insights view answers on a large store.

    .venv/bin/python -m bench.insights [--events 1000000] [--database URL] [--runs 7]

Creates a fresh database (PostgreSQL at BOT_TEST_POSTGRES_URL's server, default
postgresql://postgres@127.0.0.1:5432/test, or `--database sqlite`), loads the
rule base, generates a tracker store of `--events` events in Rasa's shape over
28 days with its feedback and filed requests (bench/insights_store.py), and
times, in this process:

- the first summary, which reads every event once (what a deployment pays once,
  when it upgrades to a version with insights, and the launcher's timer after);
- the trainer page's work for one view (`bot.insights.page_view`: the summary
  brought up to date, every figure of the last 30 days, the charts), `--runs`
  times; the HTTP route adds only JSON encoding to it;
- the same with one more day of events arriving first (an incremental summary).

Prints the times and checks the figures against what was generated. The
database is dropped afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench import insights_store
from bot import db, insights, settings
from bot.insights import figures as figure_counts
from bot.rulebase import store
from bot.tracker_events import EVENTS

ADMIN_URL = os.environ.get("BOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _new_postgres() -> tuple[str, sa.engine.Engine]:
    name = f"bot_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    return url, admin


def _drop(url: str, admin: sa.engine.Engine) -> None:
    db.engine_for(url).dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database", default="postgresql", choices=("postgresql", "sqlite"))
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="bench-insights-"))
    admin = None
    if args.database == "postgresql":
        url, admin = _new_postgres()
        tracker_url = url  # one database, as `make cluster` and the deploy files have it
    else:
        url = f"sqlite:///{scratch / 'bot.db'}"
        tracker_url = f"sqlite:///{scratch / 'tracker.db'}"
    env = {"BOT_VAR_DIR": str(scratch), "BOT_DATABASE_URL": url, "BOT_TRACKER_URL": tracker_url}
    try:
        with settings.environment(env):
            db.ensure_schema(url)
            store.load(url)
            now = dt.datetime.now(dt.timezone.utc)
            started = time.perf_counter()
            tally = insights_store.generate(tracker_url, url, args.events, now=now)
            print(f"generated {tally.events:,} events in {time.perf_counter() - started:.1f} s")

            started = time.perf_counter()
            done = insights.summarise(url, tracker_url)
            first = time.perf_counter() - started
            print(
                f"first summary: {first:.1f} s for {done.events:,} events read "
                f"({done.turns:,} turns, {done.answers:,} answers, {done.forms:,} forms)"
            )
            period = insights.Period.last(30)
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                view = insights.page_view(period, url, tracker_url)
                body = json.dumps(view)
                times.append(time.perf_counter() - started)
            print(
                f"page view, {args.runs} runs: median {statistics.median(times) * 1000:.0f} ms, "
                f"max {max(times) * 1000:.0f} ms ({len(body):,} bytes of JSON)"
            )
            day = insights_store.generate(
                tracker_url, url, max(args.events // 28, 1000), days=1, seed=28, now=now
            )
            started = time.perf_counter()
            insights.page_view(period, url, tracker_url)
            print(
                f"page view after one more day ({day.events:,} new events): "
                f"{(time.perf_counter() - started) * 1000:.0f} ms"
            )
            with db.engine(tracker_url).connect() as conn:
                stored = conn.execute(sa.select(sa.func.count()).select_from(EVENTS)).scalar()
            print(f"tracker store: {stored:,} events ({args.database})")
            raw = figure_counts.compute(period, url)
            wrong = insights_store.disagreements(insights_store.merge(tally, day), raw)
            for line in wrong:
                print(f"  differs: {line}")
            print("figures agree with the generated" if not wrong else f"{len(wrong)} differ")
            return 1 if wrong else 0
    finally:
        if admin is not None:
            _drop(url, admin)


if __name__ == "__main__":
    raise SystemExit(main())
