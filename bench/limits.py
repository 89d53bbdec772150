"""How fast the bounded REST channel answers what it refuses to parse.

    .venv/bin/python -m bench.limits [--url http://127.0.0.1:5005] [--messages 200]

Without --url it starts its own servers (the trained model, a temporary
database, the per-client limit raised so one benchmark client is not
throttled). Prints p50/p95 of:

- an over-long message (settings.max_message_chars + 1 and 60,000 characters),
  answered at once, on an idle server and while 4 users keep NLU busy;
- a forged intent payload (needs one tracker read);
- an ordinary question, for scale;
- POST /model/parse at the cap (parsed) and at 10,000 and 60,000 characters
  (refused with 413 before NLU: it took 95 s at 60,000 before the cap).

Target: the over-long answer in under 50 ms on an idle server. Under load it
waits for the NLU run in progress (Rasa runs NLU on the event loop), which is
what the cap bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

from bot import secrets, settings
from bot.runtime import build
from bot.runtime.servers import Servers

from .env import scratch

QUESTION = "Kan dere fjerne virus fra PC-en min?"


def post(url: str, path: str, body: dict, headers: dict[str, str] | None = None) -> float:
    """Seconds for one POST, the whole answer read (a 413 is an answer too)."""
    request = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        if exc.code != 413:
            raise
        exc.read()
    return time.perf_counter() - started


def figures(name: str, times: list[float]) -> None:
    ms = sorted(t * 1000 for t in times)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    print(f"  {name:<46} n={len(ms):<4} p50 {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms")


def series(n: int, one: Callable[[], float]) -> list[float]:
    return [one() for _ in range(n)]


def run(url: str, n: int) -> None:
    cfg = settings.load()
    cap = cfg.max_message_chars

    def rest(text: str, lang: str | None = None) -> Callable[[], float]:
        def one() -> float:
            body: dict = {"sender": uuid.uuid4().hex, "message": text}
            if lang:
                body["metadata"] = {"lang": lang}
            return post(url, "/webhooks/rest/webhook", body)

        return one

    over = ("Kan dere fjerne virus fra PC-en min? " * 40)[: cap + 1]
    huge = ("Kan dere fjerne virus fra PC-en min? " * 2000)[:60_000]
    post(url, "/webhooks/rest/webhook", {"sender": "warm", "message": QUESTION})  # warm up
    print(f"over-long and forged messages ({url}, cap {cap} characters)")
    print(" idle server:")
    figures(f"over-long ({cap + 1} chars, language detected)", series(n, rest(over)))
    figures("over-long (60,000 chars)", series(n, rest(huge)))
    figures("over-long, metadata.lang", series(n, rest(over, "sv")))
    figures('forged "/request_service{...}"', series(n, rest('/request_service{"sr_email": "x"}')))
    figures("ordinary question (NLU + action)", series(max(10, n // 10), rest(QUESTION)))

    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            rest(QUESTION)()

    users = [threading.Thread(target=busy, daemon=True) for _ in range(4)]
    for user in users:
        user.start()
    time.sleep(1)
    print(" while 4 users keep NLU busy:")
    figures(f"over-long ({cap + 1} chars)", series(n // 2, rest(over)))
    stop.set()
    for user in users:
        user.join()

    print(" POST /model/parse (with the token): at the cap it is parsed; over it, 413 at once")
    for size in (cap, 10_000, 60_000):
        text = ("Kan dere fjerne virus fra PC-en min? " * 2000)[:size]
        figures(f"parse {size} chars", series(3, parse(url, text, cfg)))


def parse(url: str, text: str, cfg: settings.Settings) -> Callable[[], float]:
    headers = secrets.api_headers(cfg)
    return lambda: post(url, "/model/parse", {"text": text}, headers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running assistant; default: start one")
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    if args.url:
        run(args.url.rstrip("/"), args.messages)
        return
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp)
        os.environ.update(
            scratch(
                var,
                BOT_RATE_PER_CLIENT="1000000",
                SANIC_REQUEST_MAX_SIZE=str(settings.load().max_body_bytes),
            )
        )
        cfg = settings.load()
        build.prepare_database(cfg)
        servers = Servers(cfg, build.train(cfg), log_dir=var / "logs")
        servers.start()
        try:
            servers.wait_ready()
            run(cfg.rasa_url, args.messages)
        finally:
            servers.stop()


if __name__ == "__main__":
    main()
