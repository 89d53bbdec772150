"""`POST /model/parse` on two running assistants, side by side: the code before a
change against the code after it, each with its own model.

    .venv/bin/python -m bench.parse_speed --before URL TOKEN_FILE --after URL TOKEN_FILE
        [--rounds 3] [--messages 150]

Start each with `bot run` (its own ports: BOT_RASA_PORT, BOT_ACTIONS_PORT); the
commit before a change runs from a git worktree. Each round sends the same
questions, not seen before in that run, one at a time, each to both sides in
turn, alternating which goes first, so that the machine's noise falls on both
alike; restart both servers before a run (e5's cache remembers what they saw).
The questions are the realistic set's and the independent set's (long messages
are what segments cost). Prints p50 and p95 per side and round, and the ratio
after / before per round and over all messages: the figure issue 23 bounds (p50
at most 1.25x).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import urllib.request
from pathlib import Path

from bot import secrets
from bot.settings import PROJECT_DIR
from bot.training.examples import eval_questions

SETS = ("heldout_realistic.csv", "heldout_independent.csv")


def _parse_time(url: str, token: str, text: str) -> float:
    request = urllib.request.Request(
        f"{url}/model/parse",
        data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
    return time.perf_counter() - started


def _token(path: str) -> str:
    """A bearer token for the server whose API secret is in `path`."""
    return secrets.bearer(Path(path).read_text(encoding="utf-8").strip(), lifetime=3600)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", nargs=2, metavar=("URL", "TOKEN_FILE"), required=True)
    parser.add_argument("--after", nargs=2, metavar=("URL", "TOKEN_FILE"), required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=150, help="per round")
    args = parser.parse_args()
    texts = [q.text for name in SETS for q in eval_questions(PROJECT_DIR / "eval" / name)]
    random.Random(23).shuffle(texts)
    sides = {"before": args.before, "after": args.after}
    tokens = {name: _token(token_file) for name, (_, token_file) in sides.items()}
    for name, (url, _) in sides.items():  # warm up: first parses load lazily
        for text in texts[:5]:
            _parse_time(url, tokens[name], text)
    rows: list[dict[str, dict[str, float]]] = []
    ratios: list[float] = []
    pooled: dict[str, list[float]] = {"before": [], "after": []}
    for n in range(args.rounds):
        batch = texts[5 + n * args.messages : 5 + (n + 1) * args.messages]
        times: dict[str, list[float]] = {"before": [], "after": []}
        for i, text in enumerate(batch):  # message by message, who goes first alternating
            for name in ("before", "after") if i % 2 == 0 else ("after", "before"):
                times[name].append(_parse_time(sides[name][0], tokens[name], text))
        for name, t in times.items():
            pooled[name] += t
        row = {
            name: {"p50": statistics.median(t) * 1000, "p95": _pct(t, 0.95) * 1000}
            for name, t in times.items()
        }
        ratios.append(row["after"]["p50"] / row["before"]["p50"])
        rows.append(row)
        print(
            f"round {n + 1}: before p50 {row['before']['p50']:.1f} ms p95 "
            f"{row['before']['p95']:.1f} ms; after p50 {row['after']['p50']:.1f} ms p95 "
            f"{row['after']['p95']:.1f} ms; p50 after/before {ratios[-1]:.2f}x",
            flush=True,
        )
    print(f"p50 after/before: {min(ratios):.2f}x-{max(ratios):.2f}x over {len(rows)} rounds")
    p50 = {name: statistics.median(t) * 1000 for name, t in pooled.items()}
    print(
        f"all {len(pooled['after'])} messages: before p50 {p50['before']:.1f} ms, after p50 "
        f"{p50['after']:.1f} ms, after/before {p50['after'] / p50['before']:.2f}x"
    )
    out = PROJECT_DIR / "bench" / "results" / "parse_speed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rounds": rows, "ratio_p50": ratios}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
