"""Speed and memory through the REST channel, action server and database in the
loop: our pipeline against Rasa's default pipeline on the same bot, side by side.

    .venv/bin/python -m bench.speed [--pipelines chosen,rasa-default] [--messages 200]

For each pipeline: training time from scratch (full model; reused while the
inputs are unchanged, so delete bench/results/models to re-measure), time from
start to ready, p50/p95 per message for one user and for 8 concurrent users,
messages per second with 8 users, and resident memory of both servers after
the run. Questions are drawn from bench/heldout.csv. Figures vary with the
machine's load: compare the two pipelines from one run, as ratios.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot import db, launcher, rulebase, settings
from bot.settings import PROJECT_DIR

from .accuracy import PIPELINES, RESULTS

HELDOUT = PROJECT_DIR / "bench" / "heldout.csv"  # the team's held-out questions

USERS = 8
CONVERSATION = 5  # messages per simulated conversation


def full_model(name: str, config: Path, cfg: settings.Settings) -> tuple[Path, float | None]:
    digest = hashlib.sha256(config.read_bytes() + launcher.fingerprint().encode())
    target = RESULTS / "models" / f"full-{name}-{digest.hexdigest()[:12]}.tar.gz"
    if target.exists():
        return target, None
    print(f"training {name} from scratch", flush=True)
    started = time.monotonic()
    cmd = [*launcher.train_command(config, target), "--force"]
    subprocess.run(
        cmd,
        cwd=PROJECT_DIR,
        env=launcher.rasa_env(cfg),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return target, time.monotonic() - started


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().split()
            status = (entry / "status").read_text()
        except OSError:
            continue
        if int(entry.name) == pid or int(stat[4]) == os.getpgid(pid):
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def send(url: str, sender: str, text: str) -> float:
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
    return (time.perf_counter() - started) * 1000


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure(name: str, model: Path, texts: list[str], messages: int) -> dict:
    var = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    os.environ.update(
        BOT_VAR_DIR=str(var),
        BOT_DATABASE_URL=f"sqlite:///{var / 'bot.db'}",
        BOT_TRACKER_URL=f"sqlite:///{var / 'tracker.db'}",
        BOT_RASA_PORT=str(launcher.free_port()),
        BOT_ACTIONS_PORT=str(launcher.free_port()),
        BOT_LOG_LEVEL="WARNING",
    )
    cfg = settings.load()
    db.upgrade(cfg.database_url)
    rulebase.load(cfg.database_url)
    servers = launcher.Servers(cfg, model, log_dir=var / "logs")
    started = time.monotonic()
    servers.start()
    try:
        servers.wait_ready(timeout=600)
        ready = time.monotonic() - started
        url = f"{cfg.rasa_url}/webhooks/rest/webhook"
        for text in texts[:10]:  # warm-up: first-call costs are not steady state
            send(url, "warm-up", text)
        single = [
            send(url, f"one-{i // CONVERSATION}", texts[i % len(texts)]) for i in range(messages)
        ]

        def user(u: int) -> list[float]:
            # a new conversation every CONVERSATION messages: customers' chats are short
            run = uuid.uuid4().hex[:6]
            return [
                send(url, f"user-{u}-{run}-{i // CONVERSATION}", texts[(u * 37 + i) % len(texts)])
                for i in range(messages // 2)
            ]

        started_many = time.perf_counter()
        with ThreadPoolExecutor(USERS) as pool:
            many = [ms for batch in pool.map(user, range(USERS)) for ms in batch]
        elapsed = time.perf_counter() - started_many
        memory = {
            n: rss_mb(p.pid) for n, p in zip(("actions", "rasa"), servers.procs or [], strict=True)
        }
    finally:
        servers.stop()
    return {
        "ready_s": ready,
        "one_user_p50_ms": statistics.median(single),
        "one_user_p95_ms": percentile(single, 95),
        "eight_users_p50_ms": statistics.median(many),
        "eight_users_p95_ms": percentile(many, 95),
        "eight_users_msgs_per_s": len(many) / elapsed,
        "rasa_rss_mb": memory["rasa"],
        "actions_rss_mb": memory["actions"],
        "total_rss_mb": memory["rasa"] + memory["actions"],
    }


ROWS = [
    ("train_s", "training from scratch (s)"),
    ("ready_s", "start to ready (s)"),
    ("one_user_p50_ms", "1 user p50 (ms)"),
    ("one_user_p95_ms", "1 user p95 (ms)"),
    ("eight_users_p50_ms", "8 users p50 (ms)"),
    ("eight_users_p95_ms", "8 users p95 (ms)"),
    ("eight_users_msgs_per_s", "8 users messages/s"),
    ("rasa_rss_mb", "Rasa server RSS (MB)"),
    ("actions_rss_mb", "action server RSS (MB)"),
    ("total_rss_mb", "both servers RSS (MB)"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pipelines", default=",".join(PIPELINES))
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    with HELDOUT.open(encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    base = settings.load()
    results = {}
    for name in args.pipelines.split(","):
        model, seconds = full_model(name, PIPELINES[name], base)
        print(f"measuring {name}", flush=True)
        results[name] = {"train_s": seconds, **measure(name, model, texts, args.messages)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "speed.json").write_text(json.dumps(results, indent=2))
    names = list(results)
    print(
        f"\n{'':<28}" + "".join(f"{n:>14}" for n in names) + ("   ratio" if len(names) == 2 else "")
    )
    for key, label in ROWS:
        values = [results[n].get(key) for n in names]
        cells = "".join(f"{v:>14.1f}" if v is not None else f"{'(reused)':>14}" for v in values)
        ratio = ""
        if len(values) == 2 and all(values) and values[0]:
            ratio = f"{values[1] / values[0]:>8.2f}"
        print(f"{label:<28}{cells}{ratio}")
    if len(names) == 2:
        print(f"\nratio = {names[1]} / {names[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
