"""The load test: simulated customers (Locust) ramping from 1 to 64 users
against the single server or the cluster, with or without faults.

    make load-env                                   # once: Locust in var/load-venv
    .venv/bin/python -m bench.load.run [--quick]    # the single server, no faults
    .venv/bin/python -m bench.load.run --faults     # kills and restarts mid-load
    .venv/bin/python -m bench.load.run --cluster "bot cluster" [--faults]

A target is a base URL plus the processes to watch and to kill:

- the single server (default): `make run`'s shape, started here through the
  launcher (bot.runtime.servers.Servers) on free ports with a temporary var/; the
  project database on a throwaway PostgreSQL (bench/load/postgres.py; with
  --sqlite, SQLite), the tracker store on SQLite. --faults kills the action
  server (SIGKILL) and restarts it, then the Rasa server, then restarts
  PostgreSQL, each once, mid-load.
- the cluster (--cluster COMMAND, e.g. "bot cluster"): the command is started
  with the same environment (throwaway PostgreSQL for both databases, ports,
  webhook) and must serve the REST webhook on BOT_RASA_PORT; its Rasa servers
  and action servers are found by their command lines in its process tree.
  --faults kills one Rasa server and one action server (SIGKILL), restarting
  neither: the balancer must take them out.

Every paid request carries a unique marker; afterwards the outbox is drained
and the database's rows and the webhook receiver's deliveries are counted per
marker: lost (the user was told filed or deferred, no row), duplicated (two
rows), and not delivered to the webhook. Prints messages/s, p50/p95/p99 and
error rate per step, CPU and memory per process (the load generator's own
included), the faults' error windows; writes bench/results/load-<stamp>.json
and a plot (throughput and latency against users) beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot import db, messages, settings
from bot.runtime import build, processes, servers
from bot.service_requests import FIELDS, deferred
from bot.settings import PROJECT_DIR, environment

HERE = Path(__file__).resolve().parent
RESULTS = PROJECT_DIR / "bench" / "results"
LOAD_VENV = PROJECT_DIR / "var" / "load-venv"
FULL_STEPS = [(1, 60), (2, 60), (4, 60), (8, 60), (16, 60), (32, 60), (64, 60)]
QUICK_STEPS = [(1, 15), (4, 15), (16, 20)]
SETTLE = 5.0  # seconds at the start of each step left out of its figures (users arriving)
LANGS = ("en", "nb", "sv")

# The paid-request conversation in each language (the form's answers besides the
# user's own details, which the locustfile makes up with the marker).
PAID = {
    "en": {
        "start": "We'd like to buy a remote session with one of your specialists",
        "service": "professional_services",
        "country": "Norway",
        "yes": "yes",
        "description": "We need help setting up KES on 40 laptops.",
    },
    "nb": {
        "start": "Vi vil gjerne bestille en fjernøkt med en av spesialistene deres",
        "service": "professional_services",
        "country": "Norge",
        "yes": "ja",
        "description": "Vi trenger hjelp til å sette opp KES på 40 bærbare.",
    },
    "sv": {
        "start": "Vi vill beställa en fjärrsession med en av era specialister",
        "service": "professional_services",
        "country": "Sverige",
        "yes": "ja",
        "description": "Vi behöver hjälp att installera KES på 40 bärbara datorer.",
    },
}
LOOKUPS = {
    "en": ["Is Kaspersky Internet Security 19 still supported?", "Is KES 11.6 still supported?"],
    "nb": ["Er Kaspersky Internet Security 19 fortsatt støttet?", "Støttes KES 11.6 fortsatt?"],
    "sv": ["Stöds Kaspersky Internet Security 19 fortfarande?", "Stöds KES 11.6 fortfarande?"],
}


def _fragment(key: str, lang: str) -> str:
    """The longest fixed part of a message (its placeholders cut out)."""
    cut = "\x00"
    names = ("service", "name", "email", "company", "country", "key", "description", "limit")
    text = messages.say(key, lang, **dict.fromkeys(names, cut))
    return max(text.split(cut), key=len).strip()


def load_config(args: argparse.Namespace, out: Path, watch_file: Path, run_id: str) -> dict:
    questions: dict[str, list[str]] = defaultdict(list)
    with (PROJECT_DIR / "eval" / "heldout.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            questions[row["lang"]].append(row["text"])
    return {
        "run_id": run_id,
        "out_dir": str(out),
        "watch_file": str(watch_file),
        "steps": args.steps,
        "think": args.think,
        "questions": dict(questions),
        "questions_per_conversation": [3, 6],
        "lookups": LOOKUPS,
        "lookup_share": 0.5,
        "paid": PAID,
        "paid_share": args.paid_share,
        "prompts": {f: [_fragment(f"ask_sr_{f}", lang) for lang in LANGS] for f in FIELDS}
        | {"confirmed": [_fragment("sr_summary", lang) for lang in LANGS]},
        "apologies": [
            messages.say(key, lang)
            for key in ("action_failed", "database_unavailable")
            for lang in LANGS
        ],
        "deferred": [messages.say("sr_deferred", lang) for lang in LANGS],
    }


# ---------------------------------------------------------------- the webhook receiver


class Receiver:
    """BOT_REQUESTS_WEBHOOK_URL for the run: counts deliveries per reference."""

    def __init__(self) -> None:
        self.deliveries: Counter[str] = Counter()
        self.descriptions: dict[str, str] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    request = json.loads(body)["service_request"]
                    receiver.deliveries[request["reference"]] += 1
                    receiver.descriptions[request["reference"]] = request["description"]
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/filed"


# ---------------------------------------------------------------- targets


@dataclass
class Fault:
    at: float  # fraction of the run
    name: str
    act: Any  # () -> None, blocking until done (restart included)
    times: list[float] = field(default_factory=list)  # when it began and ended


class Single:
    """`make run`'s shape: one action server and one Rasa server (bot.runtime.servers)."""

    def __init__(self, cfg: settings.Settings, pg: Any | None) -> None:
        self.cfg, self.pg = cfg, pg
        self.servers = servers.Servers(cfg, build.train(cfg), log_dir=cfg.var_dir / "logs")
        self.url = cfg.rasa_url

    def start(self) -> None:
        self.servers.start()
        self.servers.wait_ready(timeout=600)

    def stop(self) -> None:
        self.servers.stop()

    def processes(self) -> dict[str, list[int]]:
        found = {"action server": [self.servers.procs[0].pid], "Rasa server": []}
        if len(self.servers.procs) > 1:
            found["Rasa server"] = [self.servers.procs[1].pid]
        if self.pg and self.pg.pid():
            found["PostgreSQL"] = [self.pg.pid()]
        return found

    def _kill_and_restart(self, index: int) -> None:
        self.servers.kill(index)
        time.sleep(2)  # down for a moment, as a crash and a supervisor's restart would be
        self.servers.respawn(index)
        self.servers.wait_ready(timeout=300)

    def faults(self) -> list[Fault]:
        found = [
            Fault(0.30, "action server killed and restarted", lambda: self._kill_and_restart(0)),
            Fault(0.50, "Rasa server killed and restarted", lambda: self._kill_and_restart(1)),
        ]  # fmt: skip
        if self.pg:
            found.append(Fault(0.70, "PostgreSQL down 5 s", lambda: self.pg.restart(5.0)))
        return found


class Cluster:
    """Any command that serves the assistant on BOT_RASA_PORT (e.g. `bot cluster`):
    its Rasa and action servers are found by command line in its process tree."""

    KINDS = {  # first match wins: an action server's command line may say "rasa run" too
        "action server": ("bot.rasa_addons.entry.action_server", "rasa_sdk", "run actions"),
        "Rasa server": (
            "bot.rasa_addons.entry.server",
            "bot.rasa_addons.entry.rasa_cli run",
            "rasa run",
        ),
        "balancer": ("haproxy", "nginx"),
        "Redis": ("redis-server",),
    }

    def __init__(self, cfg: settings.Settings, command: str, pg: Any | None) -> None:
        self.cfg, self.command, self.pg = cfg, shlex.split(command), pg
        self.url = cfg.rasa_url
        self.proc: subprocess.Popen | None = None
        self.killed: set[int] = set()

    def start(self) -> None:
        log = (self.cfg.var_dir / "cluster.log").open("ab")
        env = os.environ.copy()  # `bot` is .venv/bin/bot, also when make did not activate it
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        self.proc = subprocess.Popen(
            self.command, cwd=PROJECT_DIR, env=env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 900
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{self.command} did not come up: see {log.name}")
            time.sleep(1)

    def _answers(self) -> bool:
        body = json.dumps({"sender": "load-ready", "message": "hello"}).encode()
        request = urllib.request.Request(
            self.url + "/webhooks/rest/webhook",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)

    def _tree(self) -> list[tuple[int, str]]:
        assert self.proc is not None
        children: dict[int, list[int]] = defaultdict(list)
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError):
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                    children[ppid].append(int(entry.name))
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            with contextlib.suppress(OSError):
                found.append(
                    (pid, (Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")).decode())
                )
            todo += children.get(pid, [])
        return found

    def processes(self) -> dict[str, list[int]]:
        found: dict[str, list[int]] = defaultdict(list)
        for pid, cmdline in self._tree():
            kind = self._kind(cmdline)
            if kind and pid not in self.killed:
                found[kind].append(pid)
        if self.pg and self.pg.pid():
            found["PostgreSQL"] = [self.pg.pid()]
        # one entry per replica, so each shows its own CPU and memory
        return {
            f"{k} {i + 1}" if len(v) > 1 else k: [p]
            for k, v in found.items()
            for i, p in enumerate(v)
        }

    def _kind(self, cmdline: str) -> str | None:
        return next(
            (k for k, needles in self.KINDS.items() if any(n in cmdline for n in needles)), None
        )

    def _kill_one(self, kind: str) -> None:
        pids = [
            pid for pid, cmd in self._tree() if self._kind(cmd) == kind and pid not in self.killed
        ]
        if pids:
            self.killed.add(pids[0])
            with contextlib.suppress(ProcessLookupError):
                os.kill(pids[0], signal.SIGKILL)

    def faults(self) -> list[Fault]:
        return [
            Fault(0.35, "one action server killed", lambda: self._kill_one("action server")),
            Fault(0.55, "one Rasa server killed", lambda: self._kill_one("Rasa server")),
        ]


# ---------------------------------------------------------------- the run


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else 0.0
    )


def step_of(offset: float, steps: list[tuple[int, int]]) -> int | None:
    """Index of the step an offset (seconds from the start) falls in, past its settling time."""
    for index, (_users, seconds) in enumerate(steps):
        if offset < seconds:
            return index if offset >= min(SETTLE, seconds / 3) else None
        offset -= seconds
    return None


def figures(out: Path, steps: list[tuple[int, int]], started: float) -> dict:
    rows = []
    with (out / "requests.csv").open() as handle:
        for row in csv.DictReader(handle):
            rows.append(
                (float(row["start"]) - started, float(row["ms"]), int(row["failed"]), row["kind"])
            )
    monitor: list[tuple[float, str, float, float]] = []
    with (out / "monitor.csv").open() as handle:
        for row in csv.DictReader(handle):
            monitor.append(
                (
                    float(row["t"]) - started,
                    row["process"],
                    float(row["cpu_percent"]),
                    float(row["rss_mb"]),
                )
            )
    per_step = []
    for index, (users, seconds) in enumerate(steps):
        mine = [r for r in rows if step_of(r[0], steps) == index]
        measured = seconds - min(SETTLE, seconds / 3)
        ms = [r[1] for r in mine]
        cpu: dict[str, list[float]] = defaultdict(list)
        rss: dict[str, float] = defaultdict(float)
        for t, name, c, r in monitor:
            if step_of(t, steps) == index:
                cpu[name].append(c)
                rss[name] = max(rss[name], r)
        per_step.append(
            {
                "users": users,
                "requests": len(mine),
                "msgs_per_s": len(mine) / measured if measured else 0.0,
                "p50_ms": percentile(ms, 50),
                "p95_ms": percentile(ms, 95),
                "p99_ms": percentile(ms, 99),
                "error_rate": sum(r[2] for r in mine) / len(mine) if mine else 0.0,
                "cpu_percent": {k: statistics.mean(v) for k, v in cpu.items()},
                "rss_mb": dict(rss),
            }
        )
    return {"steps": per_step, "timeline": rows}


def error_windows(
    timeline: list, faults: list[Fault], started: float, window: float = 5.0
) -> list[dict]:
    """Per fault: errors from its start until it was over, and in the windows after."""
    found = []
    for fault in faults:
        if len(fault.times) < 2:
            continue
        begin, end = fault.times[0] - started, fault.times[1] - started
        during = [r for r in timeline if begin <= r[0] < end]
        after = []
        for k in range(6):
            lo = end + k * window
            chunk = [r for r in timeline if lo <= r[0] < lo + window]
            after.append(sum(r[2] for r in chunk))
        found.append(
            {
                "fault": fault.name,
                "at_s": round(begin, 1),
                "lasted_s": round(end - begin, 1),
                "requests_during": len(during),
                "errors_during": sum(r[2] for r in during),
                f"errors_per_{window:.0f}s_after": after,
            }
        )
    return found


def count_requests(
    database_url: str, out: Path, run_id: str, receiver: Receiver, var_dir: Path
) -> dict:
    """Markers the users saw filed or deferred, against database rows and webhook deliveries."""
    deadline = time.monotonic() + 120
    while deferred.pending(var_dir) and time.monotonic() < deadline:
        time.sleep(1)  # the action servers' drainers file what waited for the database
    left = len(deferred.pending(var_dir))
    outcomes = [
        json.loads(line) for line in (out / "outcomes.jsonl").read_text().splitlines() if line
    ]
    with db.session_scope(database_url) as session:
        rows = session.execute(
            select(db.ServiceRequest.reference, db.ServiceRequest.description).where(
                db.ServiceRequest.description.like(f"%Ref LT{run_id}x%")
            )
        ).all()
    per_marker: Counter[str] = Counter()
    references: dict[str, list[str]] = defaultdict(list)
    for reference, description in rows:
        marker = description.rsplit("Ref ", 1)[-1].strip()
        per_marker[marker] += 1
        references[marker].append(reference)
    told = Counter(o["outcome"] for o in outcomes)
    confirmed = [o for o in outcomes if o["outcome"] in ("filed", "deferred")]
    time.sleep(3)  # the last webhook calls
    return {
        "users_told": dict(told),
        "rows": len(rows),
        "lost": sorted(o["marker"] for o in confirmed if per_marker[o["marker"]] == 0),
        "duplicated": sorted(m for m, n in per_marker.items() if n > 1),
        "filed_but_not_seen": sorted(
            m for m in per_marker if m not in {o["marker"] for o in confirmed}
        ),
        "outbox_left": left,
        "webhook_references": len(receiver.deliveries),
        "webhook_missing": sorted(
            r for refs in references.values() for r in refs if r not in receiver.deliveries
        ),
        "webhook_repeated": sorted(r for r, n in receiver.deliveries.items() if n > 1),
    }


def print_report(result: dict) -> None:
    print(
        f"\n{result['target']}; machine load at start {result['load_at_start']}, "
        f"end {result['load_at_end']}"
    )
    print(
        f"{'users':>5} {'msgs/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>7}"
        "   CPU % / RSS MB per process"
    )
    for s in result["steps"]:
        procs = "  ".join(
            f"{name} {s['cpu_percent'].get(name, 0):.0f}%/{s['rss_mb'].get(name, 0):.0f}"
            for name in sorted(s["cpu_percent"])
            if name != "machine"
        )
        machine = s["cpu_percent"].get("machine")
        print(
            f"{s['users']:>5} {s['msgs_per_s']:>7.1f} {s['p50_ms']:>7.0f} {s['p95_ms']:>7.0f} "
            f"{s['p99_ms']:>7.0f} {100 * s['error_rate']:>6.2f}%   {procs}"
            + (f"  (machine {machine:.0f}% CPU)" if machine is not None else "")
        )
    total = sum(s["requests"] for s in result["steps"])
    errors = sum(s["error_rate"] * s["requests"] for s in result["steps"])
    print(
        f"all steps: {total} messages, {errors:.0f} errors ({100 * errors / max(total, 1):.2f} %)"
    )
    for fault in result.get("faults", []):
        print(f"fault: {json.dumps(fault)}")
    counted = result["service_requests"]
    print(
        "service requests: users told {users_told}; rows {rows}; lost {n_lost}; duplicated "
        "{n_dup}; filed but unseen by the user {n_unseen}; outbox left {outbox_left}; "
        "webhook: {webhook_references} references, missing {n_missing}, repeated {n_rep}".format(
            **counted,
            n_lost=len(counted["lost"]),
            n_dup=len(counted["duplicated"]),
            n_unseen=len(counted["filed_but_not_seen"]),
            n_missing=len(counted["webhook_missing"]),
            n_rep=len(counted["webhook_repeated"]),
        )
    )


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    users = [s["users"] for s in result["steps"]]
    fig, left = plt.subplots(figsize=(8, 4.5))
    left.plot(
        users,
        [s["msgs_per_s"] for s in result["steps"]],
        "o-",
        color="tab:blue",
        label="messages/s",
    )
    left.set_xscale("log", base=2)
    left.set_xticks(users)
    left.set_xticklabels([str(u) for u in users])
    left.set_xlabel("simulated users")
    left.set_ylabel("messages/s", color="tab:blue")
    right = left.twinx()
    for key, style in (("p50_ms", "s--"), ("p95_ms", "^--"), ("p99_ms", "v:")):
        right.plot(users, [s[key] for s in result["steps"]], style, color="tab:red", label=key[:3])
    right.set_ylabel("latency, ms (p50 / p95 / p99)", color="tab:red")
    right.legend(loc="upper left")
    left.set_title(f"{result['target']} (load {result['load_at_start']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def parse_steps(text: str) -> list[tuple[int, int]]:
    """ "1:60,2:60,..." -> [(1, 60), (2, 60), ...]"""
    return [(int(u), int(s)) for u, s in (part.split(":") for part in text.split(","))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 short steps (1, 4, 16 users)")
    parser.add_argument(
        "--steps", type=parse_steps, help="users:seconds,... (default 1..64, 60 s each)"
    )
    parser.add_argument("--think", type=float, nargs=2, default=[0.5, 1.5], metavar=("MIN", "MAX"),
                        help="seconds a user waits between messages")  # fmt: skip
    parser.add_argument(
        "--paid-share", type=float, default=0.3, help="conversations with a paid request"
    )
    parser.add_argument("--faults", action="store_true", help="kill and restart parts mid-load")
    parser.add_argument(
        "--sqlite",
        action="store_true",
        help="project database on SQLite, not a throwaway PostgreSQL",
    )
    parser.add_argument(
        "--cluster", metavar="COMMAND", help='a command serving the cluster, e.g. "bot cluster"'
    )
    parser.add_argument("--url", help="where --cluster serves the webhook (default: BOT_RASA_PORT)")
    parser.add_argument(
        "--side-by-side",
        action="store_true",
        help="with --cluster: run the single server first, the same load, and print ratios",
    )
    args = parser.parse_args()
    args.steps = args.steps or (QUICK_STEPS if args.quick else FULL_STEPS)
    if not (LOAD_VENV / "bin" / "locust").exists():
        raise SystemExit("no Locust: run `make load-env` first (var/load-venv)")
    if args.side_by_side and args.cluster:
        single = run(argparse.Namespace(**{**vars(args), "cluster": None, "url": None}))
        cluster = run(args)
        side_by_side(single, cluster)
        return 1 if failed(single) or failed(cluster) else 0
    return 1 if failed(run(args)) else 0


def failed(result: dict) -> bool:
    counted = result["service_requests"]
    return bool(counted["lost"] or counted["duplicated"])


def side_by_side(single: dict, cluster: dict) -> None:
    print(f"\nside by side (same run; load {single['load_at_start']} → {cluster['load_at_end']})")
    print(f"{'users':>5} {'msgs/s single':>14} {'cluster':>8} {'ratio':>6}   "
          f"{'p95 single':>10} {'cluster':>8} {'ratio':>6}")  # fmt: skip
    for a, b in zip(single["steps"], cluster["steps"], strict=True):
        rate = b["msgs_per_s"] / a["msgs_per_s"] if a["msgs_per_s"] else float("nan")
        p95 = b["p95_ms"] / a["p95_ms"] if a["p95_ms"] else float("nan")
        print(f"{a['users']:>5} {a['msgs_per_s']:>14.1f} {b['msgs_per_s']:>8.1f} {rate:>6.2f}   "
              f"{a['p95_ms']:>10.0f} {b['p95_ms']:>8.0f} {p95:>6.2f}")  # fmt: skip
    print("ratio = cluster / single (targets: messages/s ≥ 1.3 at 16 users, p95 ≤ 1)")


def run(args: argparse.Namespace) -> dict:
    """One load run against one target; prints its report and returns its figures."""
    locust = LOAD_VENV / "bin" / "locust"
    from bench.load.postgres import ThrowawayPostgres

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_id = stamp.replace("-", "")[4:]
    out = RESULTS / f"load-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    var = Path(tempfile.mkdtemp(prefix="load-var-"))
    pg = None if args.sqlite else ThrowawayPostgres().create()
    receiver = Receiver()
    database_url = f"sqlite:///{var / 'bot.db'}" if pg is None else pg.url
    tracker_url = f"sqlite:///{var / 'tracker.db'}"
    if pg is not None and args.cluster:  # the cluster keeps conversations in PostgreSQL too
        pg_tracker = pg.url.rsplit("/", 1)[0] + "/tracker"
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=pg.port, user="postgres")
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("CREATE DATABASE tracker")
        conn.close()
        tracker_url = pg_tracker
    overrides = {
        "BOT_VAR_DIR": str(var),
        "BOT_DATABASE_URL": database_url,
        "BOT_TRACKER_URL": tracker_url,
        "BOT_RASA_PORT": str(processes.free_port()),
        "BOT_ACTIONS_PORT": str(processes.free_port()),
        "BOT_LOG_LEVEL": "WARNING",
        "BOT_RATE_PER_CLIENT": "1000000",  # every simulated user comes from 127.0.0.1
        "BOT_TURNS_PER_CLIENT": "1000",  # and would otherwise take turns as one client
        "BOT_REQUESTS_WEBHOOK_URL": receiver.url,
        "BOT_RETENTION_DAYS": "0",
    }
    target: Single | Cluster | None = None
    try:
        with environment(overrides):
            cfg = settings.load()
            print(
                f"==> database {'SQLite' if pg is None else f'throwaway PostgreSQL on :{pg.port}'}",
                flush=True,
            )
            build.prepare_database(cfg)
            target = Cluster(cfg, args.cluster, pg) if args.cluster else Single(cfg, pg)
            if args.url:
                target.url = args.url.rstrip("/")
            print("==> starting the target", flush=True)
            target.start()
            watch_file = out / "watch.json"
            watch_file.write_text(json.dumps(target.processes()))
            config_file = out / "config.json"
            config_file.write_text(json.dumps(load_config(args, out, watch_file, run_id)))
            total = sum(s for _, s in args.steps)
            load_at_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
            print(
                f"==> {len(args.steps)} steps, {total} s: {args.steps}; load {load_at_start}",
                flush=True,
            )
            env = dict(os.environ, LOAD_CONFIG=str(config_file))
            started = time.time()
            proc = subprocess.Popen(
                [str(locust), "-f", str(HERE / "locustfile.py"), "--headless", "--host", target.url,
                 "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "60"],
                cwd=out, env=env,
            )  # fmt: skip
            faults = target.faults() if args.faults else []
            for fault in faults:
                delay = started + fault.at * total - time.time()
                if delay > 0:
                    time.sleep(delay)
                if proc.poll() is not None:  # the load is over (a restart took long)
                    print(f"==> fault skipped, the load had ended: {fault.name}", flush=True)
                    continue
                print(f"==> fault: {fault.name}", flush=True)
                fault.times.append(time.time())
                fault.act()
                fault.times.append(time.time())
                watch_file.write_text(json.dumps(target.processes()))
            while proc.poll() is None:
                watch_file.write_text(json.dumps(target.processes()))
                time.sleep(2)
            result = {
                "target": f"cluster ({args.cluster})" if args.cluster else "single server",
                "database": "SQLite" if pg is None else "PostgreSQL (throwaway)",
                "think_s": args.think,
                "load_at_start": load_at_start,
                "load_at_end": " ".join(f"{x:.2f}" for x in os.getloadavg()),
                **figures(out, args.steps, started),
            }
            result["faults"] = error_windows(result.pop("timeline"), faults, started)
            result["service_requests"] = count_requests(database_url, out, run_id, receiver, var)
    finally:
        if target is not None:
            target.stop()
        if pg is not None:
            pg.remove()
    (RESULTS / f"load-{stamp}.json").write_text(json.dumps(result, indent=2))
    print_report(result)
    plot(result, RESULTS / f"load-{stamp}.png")
    print(f"\nwrote {RESULTS / f'load-{stamp}.json'} and .png; raw data in {out}")
    return result


if __name__ == "__main__":
    sys.exit(main())
