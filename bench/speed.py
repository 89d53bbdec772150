"""Speed and memory of our pipeline against Rasa's default one, side by side.

    .venv/bin/python -m bench.speed [--rounds 3] [--messages 100] [--quick] [--users 8]
        [--pipelines a,b,...] [--baselines b,...] [--busy N]

A pipeline is a name in bench.models or label=model.tar.gz, each with optional
@VAR=value settings for its servers: e.g. `before=M@BOT_CODE_DIR=../old-checkout`
serves model M with another checkout's code (the code before a change), side by
side. `--busy N` keeps N cores busy while measuring (a loaded machine, the same
for every pipeline).

Both pipelines' models (bench.models: trained once, reused while their inputs
are unchanged) are served at the same time, each by its own Rasa server and
action server on its own SQLite databases, and the same load is sent to one,
then the other, alternating the order each round, so that the machine's noise
shows as a range and falls on both alike. Per round and pipeline:

- POST /model/parse, one at a time: p50 / p95 (NLU alone);
- the REST channel, one user: p50 / p95, then the same questions again (warm:
  an answer cache, if any, hits);
- the REST channel, `--users` concurrent users (8) in conversations of 5: p50 / p95 and
  messages per second;
- GET /version, a route that does no work, idle and while the users talk
  (a probe every 20 ms): how long anything waits for Rasa's event loop;
- CPU per message while the users talk: Rasa's event-loop thread (the loop
  probe's requests included), its other threads (parsing, the tracker store),
  the action server; and how busy the machine's cores were (what bounds
  messages per second);
- resident memory of the Rasa server and the action server after the round.

Each round sends questions neither server has seen yet (both held-out sets,
shuffled with a fixed seed), so cold figures are cold. It prints the range of
each figure and of the per-round ratio chosen / default against the targets of
issue 16, and writes bench/results/speed.json. `--quick` (one round, fewer
messages) is a smoke run of a minute or two once the models exist.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bot import db, rulebase, secrets, settings
from bot.runtime.servers import Servers
from bot.settings import environment
from bot.text import normalise
from bot.training.examples import EVAL_SETS, eval_questions

from .env import BUSY_COMMAND, busy_cores, scratch
from .models import PIPELINES, RESULTS, resolve

USERS = 8
CONVERSATION = 5  # messages per simulated conversation


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


def post(url: str, body: dict, headers: dict[str, str] | None = None) -> float:
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **(headers or {})}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()
    return (time.perf_counter() - started) * 1000


TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def thread_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of a process's main thread (Rasa's event loop: Sanic serves one
    worker in the main thread) and of all its other threads, those that ended
    included (the process's total less the main thread's)."""
    main = _cpu_seconds(Path(f"/proc/{pid}/task/{pid}/stat"))
    return main, _cpu_seconds(Path(f"/proc/{pid}/stat")) - main


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU time per message while users talk: Rasa's loop thread, its other threads
    (parsing, tracker store), the action server, and how busy the whole machine was."""

    def __init__(self, served: Served) -> None:
        self.pids = [p.pid for p in served.servers.procs]  # [actions, rasa]

    def __enter__(self) -> CpuMeter:
        self.start = [thread_cpu(pid) for pid in self.pids], machine_busy()
        return self

    def __exit__(self, *exc: object) -> None:
        self.end = [thread_cpu(pid) for pid in self.pids], machine_busy()

    def per_message(self, messages: int) -> dict[str, float]:
        (a0, r0), (b0, t0) = self.start
        (a1, r1), (b1, t1) = self.end
        ms = 1000 / max(1, messages)
        return {
            "loop_cpu_ms": (r1[0] - r0[0]) * ms,
            "rasa_threads_cpu_ms": (r1[1] - r0[1]) * ms,
            "actions_cpu_ms": (sum(a1) - sum(a0)) * ms,
            "machine_busy_pct": 100 * (b1 - b0) / max(1, t1 - t0),
        }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


@dataclass
class Served:
    """One pipeline's servers, on their own ports and databases."""

    name: str
    cfg: settings.Settings
    servers: Servers

    @classmethod
    def start(cls, name: str, model: Path, env: dict[str, str] | None = None) -> Served:
        var = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        # env, e.g. OMP_NUM_THREADS: the servers inherit it
        with environment({**scratch(var), **(env or {})}):  # the pipeline's settings win
            cfg = settings.load()
            db.upgrade(cfg.database_url)
            rulebase.load(cfg.database_url)
            servers = Servers(cfg, model, log_dir=var / "logs")
            servers.start()
        return cls(name, servers.cfg, servers)

    def parse(self, text: str) -> float:
        headers = {"Authorization": f"Bearer {secrets.bearer(self.cfg.api_token or '')}"}
        return post(f"{self.cfg.rasa_url}/model/parse", {"text": text}, headers)

    def send(self, sender: str, text: str) -> float:
        url = f"{self.cfg.rasa_url}/webhooks/rest/webhook"
        return post(url, {"sender": sender, "message": text})

    def memory(self) -> dict[str, float]:
        procs = self.servers.procs
        return {"actions_rss_mb": rss_mb(procs[0].pid), "rasa_rss_mb": rss_mb(procs[1].pid)}


PROBE_EVERY = 0.02  # seconds between two GET /version of the loop probe


class LoopProbe:
    """GET /version, a route that does no work, over and over while users talk: its
    time is how long anything waits for Rasa's event loop (issue 26)."""

    def __init__(self, url: str) -> None:
        self.url, self.times = f"{url}/version", list[float]()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            with urllib.request.urlopen(self.url, timeout=120) as response:
                response.read()
            self.times.append((time.perf_counter() - started) * 1000)
            self.stop.wait(PROBE_EVERY)

    def __enter__(self) -> LoopProbe:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def idle_probe(served: Served, seconds: float = 2.0) -> list[float]:
    with LoopProbe(served.cfg.rasa_url) as probe:
        time.sleep(seconds)
    return probe.times


def measure(
    served: Served, texts: list[str], messages: int, users: int = USERS
) -> dict[str, float]:
    """One round on one pipeline: 4 × `messages` distinct questions (plus repeats)."""
    parse_texts = texts[:messages]
    one_texts = texts[messages : 2 * messages]
    many_texts = texts[2 * messages : 4 * messages]
    run = uuid.uuid4().hex[:6]
    parse = [served.parse(t) for t in parse_texts]
    one = [served.send(f"one-{run}-{i // CONVERSATION}", t) for i, t in enumerate(one_texts)]
    warm = [served.send(f"warm-{run}-{i // CONVERSATION}", t) for i, t in enumerate(one_texts)]
    per_user = len(many_texts) // users

    def user(u: int) -> list[float]:
        # a new conversation every CONVERSATION messages: customers' chats are short
        mine = many_texts[u * per_user : (u + 1) * per_user]
        return [served.send(f"u{u}-{run}-{i // CONVERSATION}", t) for i, t in enumerate(mine)]

    idle = idle_probe(served)
    started = time.perf_counter()
    with CpuMeter(served) as cpu, LoopProbe(served.cfg.rasa_url) as probe:
        with ThreadPoolExecutor(users) as pool:
            many = [ms for batch in pool.map(user, range(users)) for ms in batch]
    elapsed = time.perf_counter() - started
    return {
        "version_idle_p95_ms": percentile(idle, 95),
        "version_users_p50_ms": statistics.median(probe.times),
        "version_users_p95_ms": percentile(probe.times, 95),
        "parse_p50_ms": statistics.median(parse),
        "parse_p95_ms": percentile(parse, 95),
        "one_user_p50_ms": statistics.median(one),
        "one_user_p95_ms": percentile(one, 95),
        "one_user_warm_p50_ms": statistics.median(warm),
        "users_p50_ms": statistics.median(many),
        "users_p95_ms": percentile(many, 95),
        "users_msgs_per_s": len(many) / elapsed,
        **cpu.per_message(len(many)),
        **served.memory(),
    }


ROWS = [
    ("parse_p50_ms", "/model/parse p50 (ms)"),
    ("parse_p95_ms", "/model/parse p95 (ms)"),
    ("one_user_p50_ms", "REST 1 user p50 (ms)"),
    ("one_user_p95_ms", "REST 1 user p95 (ms)"),
    ("one_user_warm_p50_ms", "REST 1 user p50, repeat"),
    ("users_p50_ms", "REST {users} users p50 (ms)"),
    ("users_p95_ms", "REST {users} users p95 (ms)"),
    ("users_msgs_per_s", "REST {users} users msgs/s"),
    ("version_idle_p95_ms", "GET /version idle p95 (ms)"),
    ("version_users_p50_ms", "GET /version, {users} users, p50"),
    ("version_users_p95_ms", "GET /version, {users} users, p95"),
    ("loop_cpu_ms", "loop thread CPU/msg (ms)"),
    ("rasa_threads_cpu_ms", "Rasa other threads CPU/msg"),
    ("actions_cpu_ms", "action server CPU/msg (ms)"),
    ("machine_busy_pct", "machine busy, {users} users %"),
    ("rasa_rss_mb", "Rasa server RSS (MB)"),
    ("actions_rss_mb", "action server RSS (MB)"),
    ("ready_s", "start to ready (s)"),
    ("train_s", "training (s)"),
]
# issue 16: figure, comparison of the ratio chosen / default, bound
TARGETS: list[tuple[str, Callable[[float], bool], str]] = [
    ("parse_p50_ms", lambda r: r <= 0.8, "<= 0.8"),
    ("users_msgs_per_s", lambda r: r >= 1.2, ">= 1.2"),
    ("users_p95_ms", lambda r: r <= 1.0, "<= 1.0"),
]


def questions() -> list[str]:
    """Both held-out sets, each question once (normalised), in a fixed shuffled order."""
    seen: set[str] = set()
    texts = []
    for path in EVAL_SETS:
        for q in eval_questions(path):
            key = normalise(q.text)
            if key not in seen:
                seen.add(key)
                texts.append(q.text)
    random.Random(16).shuffle(texts)
    return texts


def span(values: list[float]) -> str:
    low, high = min(values), max(values)
    if f"{low:.1f}" == f"{high:.1f}":
        return f"{low:.1f}"
    return f"{low:.1f}–{high:.1f}"


def report(
    names: list[str],
    rounds: list[dict[str, dict[str, float]]],
    users: int = USERS,
    base: str | None = None,
) -> list[str]:
    """Each figure's range per pipeline, and the per-round ratio of every pipeline
    to the baseline (default: the second one, Rasa's default by default)."""
    lines = [f"{'':<26}" + "".join(f"{n:>16}" for n in names)]
    base = base or (names[1] if len(names) > 1 else None)
    others = [n for n in names if n != base] if base else []
    lines[0] += "".join(f"{n + ' / ' + str(base):>26}" for n in others)
    for key, label in ROWS:
        per = [[r[n][key] for r in rounds if r[n].get(key) is not None] for n in names]
        if not all(per):
            continue
        line = f"{label.format(users=users):<26}" + "".join(f"{span(v):>16}" for v in per)
        marks = []
        for name in others:
            ratios = [
                r[name][key] / r[str(base)][key]
                for r in rounds
                if r[name].get(key) and r[str(base)].get(key)
            ]
            line += f"{span(ratios) if ratios else '':>26}"
            target = next((t for t in TARGETS if t[0] == key), None)
            if target and ratios:
                met = all(target[1](x) for x in ratios)
                marks.append(f"{name}: {'met' if met else 'NOT met'}")
        if marks:
            target = next(t for t in TARGETS if t[0] == key)
            line += f"  target {target[2]}: " + ", ".join(marks)
        lines.append(line)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--pipelines",
        default=",".join(PIPELINES),
        help="names in bench.models, or label=model.tar.gz, each with optional @VAR=value "
        "for its servers' environment; every other one is compared to the second",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=100, help="per phase and round")
    parser.add_argument("--quick", action="store_true", help="1 round of 30: a smoke run")
    parser.add_argument("--users", type=int, default=USERS, help="concurrent users (default 8)")
    parser.add_argument(
        "--baselines", default="", help="compare to each of these (names); default: the second"
    )
    parser.add_argument(
        "--busy", type=int, default=0, help="cores kept busy while measuring (a loaded machine)"
    )
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.messages = 1, 30
    texts = questions()
    need = 4 * args.messages * args.rounds + 10
    if need > len(texts):
        print(f"only {len(texts)} distinct questions for {need}: fewer rounds or messages")
        return 2
    models: dict[str, tuple[Path, float | None, dict[str, str]]] = {}
    for spec in args.pipelines.split(","):
        spec, *settings_ = spec.split("@")  # label=model.tar.gz@OMP_NUM_THREADS=1
        name, path, seconds = resolve(spec)
        models[name] = (path, seconds, dict(s.split("=", 1) for s in settings_))
    names = list(models)
    unknown = [b for b in args.baselines.split(",") if b and b not in names]
    if unknown:
        print(f"--baselines: {', '.join(unknown)} not among the pipelines {', '.join(names)}")
        return 2
    served: dict[str, Served] = {}
    ready: dict[str, float] = {}
    try:
        for name in names:  # one after the other: start-up is CPU-bound
            started = time.monotonic()
            served[name] = Served.start(name, models[name][0], models[name][2])
            served[name].servers.wait_ready(timeout=900)
            ready[name] = time.monotonic() - started
            for text in texts[-10:]:  # warm-up: first-call costs are not steady state
                served[name].send("warm-up", text)
        rounds: list[dict[str, dict[str, float]]] = []
        with busy_cores(args.busy):  # the rounds only: start-up is not measured
            for r in range(args.rounds):
                chunk = texts[r * 4 * args.messages : (r + 1) * 4 * args.messages]
                order = names if r % 2 == 0 else names[::-1]
                result: dict[str, dict[str, float]] = {}
                for name in order:
                    print(f"round {r + 1}/{args.rounds}: {name}", flush=True)
                    result[name] = measure(served[name], chunk, args.messages, args.users)
                for name in names:
                    result[name]["ready_s"] = ready[name]
                    seconds = models[name][1]
                    if seconds is not None:
                        result[name]["train_s"] = seconds
                rounds.append(result)
    finally:
        for s in served.values():
            s.servers.stop()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "speed.json").write_text(
        json.dumps({"load": os.getloadavg(), "rounds": rounds}, indent=2)
    )
    print(f"\n{args.rounds} round(s), {args.messages} messages per phase; ranges over rounds")
    if args.busy:
        print(f"background load: {args.busy} x `{' '.join(BUSY_COMMAND)}`")
    for base in args.baselines.split(",") if args.baselines else [None]:
        print("\n".join(report(names, rounds, args.users, base)), end="\n\n")
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
