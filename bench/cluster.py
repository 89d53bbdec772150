"""A quick side by side: one Rasa server against the cluster (bot/cluster.py),
both on PostgreSQL, through the REST channel, the same questions and users.

    .venv/bin/python -m bench.cluster [--users 16] [--messages 30] [--rasa 2] [--actions 2]

Prints messages/s and p50/p95 for each, CPU seconds and resident memory (RSS)
per process, and the ratio. A rough figure for sizing; the load test (Locust,
ramping users, faults) is the real one. Each set-up gets a fresh PostgreSQL
database (dropped afterwards) and its own Redis key prefix.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bot import cluster, launcher, settings

from .accuracy import RESULTS
from .speed import CONVERSATION, HELDOUT, percentile, rss_mb, send

ADMIN_URL = os.environ.get("BOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def fresh_database() -> Iterator[str]:
    name = f"bench_cluster_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process group (the server and its children)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[2]) == pid:  # pgrp (fields after the name: state, ppid, pgrp, ...)
            total += int(stat[11]) + int(stat[12])
    return total / tick


def load(url: str, texts: list[str], users: int, messages: int) -> dict:
    for text in texts[:10]:  # warm-up
        send(url, "warm-up", text)

    errors: list[str] = []

    def user(u: int) -> list[float]:
        run = uuid.uuid4().hex[:6]
        times = []
        for i in range(messages):
            try:
                sender = f"u{u}-{run}-{i // CONVERSATION}"
                times.append(send(url, sender, texts[(u * 37 + i) % len(texts)]))
            except OSError as exc:  # counted, not fatal: a figure under overload too
                errors.append(type(exc).__name__)
        return times

    started = time.perf_counter()
    with ThreadPoolExecutor(users) as pool:
        times = [ms for batch in pool.map(user, range(users)) for ms in batch]
    elapsed = time.perf_counter() - started
    return {
        "errors": len(errors),
        "msgs_per_s": len(times) / elapsed,
        "p50_ms": statistics.median(times),
        "p95_ms": percentile(times, 95),
        "seconds": elapsed,
    }


def measure(procs: dict[str, int], url: str, texts, users, messages) -> dict:
    before = {n: cpu_seconds(p) for n, p in procs.items()}
    me = os.times()
    result = load(url, texts, users, messages)
    mine = os.times()
    result["cpu_s"] = {n: round(cpu_seconds(p) - before[n], 1) for n, p in procs.items()}
    result["cpu_s"]["load generator"] = round(mine.user + mine.system - me.user - me.system, 1)
    result["rss_mb"] = {n: round(rss_mb(p)) for n, p in procs.items()}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--messages", type=int, default=30, help="per user")
    parser.add_argument("--rasa", type=int, default=2)
    parser.add_argument("--actions", type=int, default=2)
    args = parser.parse_args()
    with HELDOUT.open(encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    var = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    os.environ.update(BOT_VAR_DIR=str(var), BOT_LOG_LEVEL="WARNING", BOT_RATE_PER_CLIENT="1000000")
    os.environ.update(BOT_RATE_PER_SENDER="1000000")
    base = launcher.ensure_secrets(settings.load())
    model = launcher.train(base)
    results: dict[str, dict] = {}

    with fresh_database() as url:
        cfg = dataclasses.replace(
            base,
            database_url=url,
            tracker_url=url,
            rasa_port=launcher.free_port(),
            actions_port=launcher.free_port(),
        )
        launcher.prepare_database(cfg)
        servers = launcher.Servers(cfg, model, log_dir=var / "single-logs")
        servers.start()
        try:
            servers.wait_ready(timeout=600)
            pids = dict(zip(("actions", "rasa"), (p.pid for p in servers.procs), strict=True))
            print("measuring the single server", flush=True)
            results["single"] = measure(
                pids, f"{cfg.rasa_url}/webhooks/rest/webhook", texts, args.users, args.messages
            )
        finally:
            servers.stop()

    with fresh_database() as url:
        cfg = dataclasses.replace(
            base,
            cluster_database_url=url,
            cluster_tracker_url=url,
            lock_store_prefix=f"bench:{uuid.uuid4().hex[:8]}:",
        )
        with cluster.running(
            args.rasa, args.actions, cfg=cfg, model=model, run_dir=var / "cluster"
        ) as handle:
            print("measuring the cluster", flush=True)
            results["cluster"] = measure(
                handle.pids(),
                f"{handle.url}/webhooks/rest/webhook",
                texts,
                args.users,
                args.messages,
            )

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cluster.json").write_text(json.dumps(results, indent=2))
    single, many = results["single"], results["cluster"]
    print(f"\n{args.users} users, {args.messages} messages each, conversations of {CONVERSATION}")
    print(f"{'':<22}{'single':>10}{'cluster':>10}{'ratio':>8}")
    print(f"{'errors':<22}{single['errors']:>10}{many['errors']:>10}")
    for key in ("msgs_per_s", "p50_ms", "p95_ms"):
        print(f"{key:<22}{single[key]:>10.1f}{many[key]:>10.1f}{many[key] / single[key]:>8.2f}")
    for name, result in results.items():
        print(f"\n{name}: CPU seconds during the run, RSS after it (MB)")
        for proc, seconds in result["cpu_s"].items():
            print(f"  {proc:<16}{seconds:>8.1f} s{result['rss_mb'].get(proc, 0):>8} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
