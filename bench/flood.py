"""One client floods, another asks quietly: does the quiet one still get its answers?

    .venv/bin/python -m bench.flood [--messages 60] [--flood-threads 4] [--quick]
    .venv/bin/python -m bench.flood --sockets 200 [--quick]
    .venv/bin/python -m bench.flood --fair [--quick] [--busy N]

Starts its own servers (the trained model, a temporary database) for each
setting compared: by default, with the rate limits as configured
(BOT_RATE_PER_CLIENT, BOT_RATE_PER_SENDER, BOT_TURNS_PER_CLIENT), and with them
lifted, to show what they buy. In each, the quiet client (from
127.0.0.1: one question every 0.5 s, each in a new conversation, questions from
eval/heldout.csv) is timed first on the quiet server, then while the flooding
client (from 127.0.0.2, a separate client address for the limits) sends
questions as fast as it can on `--flood-threads` connections, a new sender id
each time (so the per-client limit, not the per-sender one, is what holds it).

With `--sockets N` the flooder is N socket.io connections from 127.0.0.2
instead (python-socketio's client, polling, as tests/conversation/test_socketio.py),
each sending its next message as soon as the last is answered or refused; the
settings compared are the per-address limits as configured (BOT_RATE_PER_CLIENT,
BOT_BURST_PER_CLIENT, BOT_SOCKETS_PER_CLIENT) and lifted (only the per-socket
rate of bot/rasa_addons/channels/socketio.py left, as before the per-address ones).

With `--fair` every run lifts the rate limits, and compares parsing on the
event loop (BOT_NLU_THREADS=0, as Rasa does, every turn at once), the fair parse
queue (bot/fair_queue.py) alone, and with it a client's turns in flight capped
at 2 and at 1 (BOT_TURNS_PER_CLIENT, bot/client_turns.py): what taking turns by
client buys on its own. `--busy N` keeps N cores busy throughout (a loaded
machine, the same for every setting).

Prints, per setting: the quiet client's p50/p95 quiet and under the flood,
the p95 ratio (target: within 2x), and what the flooder got (answered, 429).
Figures vary with the machine's load: compare the columns of one run.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import random
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bot import settings
from bot.runtime import build
from bot.runtime.servers import Servers
from bot.settings import PROJECT_DIR, environment

from .env import BUSY_COMMAND, busy_cores, scratch

QUIET_EVERY = 0.5  # seconds between the quiet client's questions


def questions() -> list[str]:
    with (PROJECT_DIR / "eval" / "heldout.csv").open(encoding="utf-8") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


def post(conn: http.client.HTTPConnection, sender: str, text: str) -> tuple[int, float]:
    body = json.dumps({"sender": sender, "message": text})
    started = time.perf_counter()
    conn.request("POST", "/webhooks/rest/webhook", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    return response.status, (time.perf_counter() - started) * 1000


def connect(port: int, source: str) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=120, source_address=(source, 0))


def quiet(port: int, texts: list[str], n: int, refused: list[int] | None = None) -> list[float]:
    """The quiet client's answer times; any other status is noted in `refused`."""
    conn = connect(port, "127.0.0.1")
    times = []
    for text in random.sample(texts, n):
        status, ms = post(conn, uuid.uuid4().hex, text)
        if status == 200:
            times.append(ms)
        elif refused is not None:
            refused.append(status)
        time.sleep(QUIET_EVERY)
    conn.close()
    return times


def flood(port: int, texts: list[str], stop: threading.Event, got: dict[int, int]) -> None:
    conn = connect(port, "127.0.0.2")
    while not stop.is_set():
        try:
            status, _ = post(conn, uuid.uuid4().hex, random.choice(texts))
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = connect(port, "127.0.0.2")
            status = 0
        got[status] = got.get(status, 0) + 1
    conn.close()


class Sockets:
    """N socket.io connections from 127.0.0.2; a pacing thread sends one message
    on each of them every PACE seconds, whatever came back (an attacker does
    not wait). A reply is counted refused when it is the channel's
    too_many_messages (in any language), answered when it carries an answer."""

    PACE = 0.2  # seconds: 5 a second a socket, the per-socket limit

    def __init__(self, port: int, n: int, texts: list[str]) -> None:
        import requests
        import socketio
        from requests.adapters import HTTPAdapter

        from bot.contract import LANGS
        from bot.messages import say

        class FromFlooder(HTTPAdapter):
            def init_poolmanager(self, *args: object, **kwargs: object) -> None:
                kwargs["source_address"] = ("127.0.0.2", 0)
                super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]

        self.texts = texts
        self.stop = threading.Event()
        self.got = {"answered": 0, "refused": 0, "sockets_refused": 0, "sent": 0}
        self.refusals = tuple(say("too_many_messages", lang, seconds=0)[:20] for lang in LANGS)
        self.lock = threading.Lock()
        self.clients: list = []
        refused: set[int] = set()
        pending = []
        for i in range(n):
            session = requests.Session()
            session.mount("http://", FromFlooder())
            client = socketio.Client(reconnection=False, http_session=session)
            client.on("bot_uttered", self._replied)
            client.on("connect_error", lambda _data, i=i: refused.add(i))
            # wait=False: on a refusal, connect() would then wait on its long-poll
            client.connect(f"http://127.0.0.1:{port}", transports=["polling"], wait=False)
            pending.append(client)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(
            "/" not in c.namespaces and i not in refused for i, c in enumerate(pending)
        ):
            time.sleep(0.05)
        for client in pending:
            if "/" in client.namespaces:
                self.clients.append(client)
            else:
                self.got["sockets_refused"] += 1
                threading.Thread(target=client.disconnect, daemon=True).start()
        self.pacer = threading.Thread(target=self._pace, daemon=True)

    def _replied(self, data: dict) -> None:
        text = str(data.get("text", ""))
        with self.lock:
            if text.startswith(self.refusals):
                self.got["refused"] += 1
            elif "answer" in (data.get("metadata") or {}):
                self.got["answered"] += 1

    def _pace(self) -> None:
        while not self.stop.is_set():
            for client in self.clients:
                try:
                    client.emit("user_uttered", {"message": random.choice(self.texts)})
                    self.got["sent"] += 1
                except Exception:  # noqa: BLE001 - a socket the server closed: skipped
                    pass
            self.stop.wait(self.PACE)

    def start(self) -> None:
        self.pacer.start()

    def close(self) -> None:
        self.stop.set()
        self.pacer.join()
        for client in self.clients:
            threading.Thread(target=client.disconnect, daemon=True).start()


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def scenario(
    name: str, env: dict[str, str], texts: list[str], n: int, threads: int, sockets: int = 0
) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp)
        with environment({**scratch(var), **env}):  # its rate limits win
            cfg = settings.load()
            build.prepare_database(cfg)
            servers = Servers(cfg, build.train(cfg), log_dir=var / "logs")
            servers.start()
            try:
                servers.wait_ready(timeout=600)
                quiet(cfg.rasa_port, texts, 5)  # warm up
                refused: list[int] = []
                alone = quiet(cfg.rasa_port, texts, n, refused)
                stop, got = threading.Event(), dict[int, int]()
                flooders = [
                    threading.Thread(target=flood, args=(cfg.rasa_port, texts, stop, got))
                    for _ in range(0 if sockets else threads)
                ]
                flooding = Sockets(cfg.rasa_port, sockets, texts) if sockets else None
                started = time.monotonic()
                for thread in flooders:
                    thread.start()
                if flooding:
                    flooding.start()
                time.sleep(2)  # the flood under way (and past any burst allowance)
                flooded = quiet(cfg.rasa_port, texts, n, refused)
                stop.set()
                if flooding:
                    flooding.close()
                    got = {200: flooding.got["answered"], 429: flooding.got["refused"]}
                    got[-1] = flooding.got["sockets_refused"]
                    got[-2] = flooding.got["sent"]
                for thread in flooders:
                    thread.join()
                seconds = time.monotonic() - started
            finally:
                servers.stop()
    return {
        "setting": name,
        "quiet_p50_ms": statistics.median(alone),
        "quiet_p95_ms": p95(alone),
        "flooded_p50_ms": statistics.median(flooded),
        "flooded_p95_ms": p95(flooded),
        "p95_ratio": p95(flooded) / p95(alone),
        "flood_answered_per_s": got.get(200, 0) / seconds,
        "flood_429_per_s": got.get(429, 0) / seconds,
        "flood_other": sum(v for k, v in got.items() if k not in (200, 429, -1, -2)),
        "sockets_refused": got.get(-1, 0),
        "flood_sent_per_s": got.get(-2, 0) / seconds,
        "quiet_refused": len(refused),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=60, help="quiet questions per phase")
    parser.add_argument("--flood-threads", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="20 questions per phase")
    parser.add_argument(
        "--sockets", type=int, default=0, help="flood over this many socket.io connections"
    )
    parser.add_argument(
        "--fair",
        action="store_true",
        help="rate limits lifted every time: parsing on the loop, the fair parse queue, "
        "and with it 2 and 1 turns in flight per client",
    )
    parser.add_argument("--busy", type=int, default=0, help="cores kept busy throughout")
    args = parser.parse_args()
    with busy_cores(args.busy):
        run(args)


def run(args: argparse.Namespace) -> None:
    n = 20 if args.quick else args.messages
    texts = questions()
    cfg = settings.load()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    if args.busy:
        load += f"; background: {args.busy} x `{' '.join(BUSY_COMMAND)}`"
    if args.sockets:
        lifted = {
            "BOT_RATE_PER_CLIENT": "100000000",
            "BOT_BURST_PER_CLIENT": "100000000",
            "BOT_SOCKETS_PER_CLIENT": "100000",
        }
        results = [
            scenario(
                f"per-address limits on ({cfg.rate_per_client}/min, bursts of "
                f"{cfg.burst_per_client}, {cfg.sockets_per_client} sockets an address)",
                {
                    "BOT_RATE_PER_CLIENT": str(cfg.rate_per_client),
                    "BOT_BURST_PER_CLIENT": str(cfg.burst_per_client),
                    "BOT_SOCKETS_PER_CLIENT": str(cfg.sockets_per_client),
                    "BOT_TURNS_PER_CLIENT": str(cfg.turns_per_client),
                },
                texts,
                n,
                0,
                args.sockets,
            ),
            scenario("per-address limits lifted", lifted, texts, n, 0, args.sockets),
        ]
        report(results, n, f"{args.sockets} socket.io connections", load)
        return
    if args.fair:  # what taking turns by client buys on its own (issue 26)
        lifted = {"BOT_RATE_PER_CLIENT": "100000000", "BOT_RATE_PER_SENDER": "100000000"}
        settings_ = [
            ("parsing on the loop, every turn at once (as Rasa)", "0", "1000"),
            ("the fair parse queue, every turn at once", "1", "1000"),
            ("the fair parse queue, 2 turns in flight per client", "1", "2"),
            ("the fair parse queue, 1 turn in flight per client", "1", "1"),
        ]
        results = [
            scenario(
                f"limits lifted, {label}",
                {**lifted, "BOT_NLU_THREADS": threads, "BOT_TURNS_PER_CLIENT": turns},
                texts,
                n,
                args.flood_threads,
            )
            for label, threads, turns in settings_
        ]
        report(results, n, f"{args.flood_threads} connections", load)
        return
    results = [
        scenario(
            f"limits on ({cfg.rate_per_client}/min a client, {cfg.rate_per_sender}/min a sender)",
            {
                "BOT_RATE_PER_CLIENT": str(cfg.rate_per_client),
                "BOT_RATE_PER_SENDER": str(cfg.rate_per_sender),
                "BOT_TURNS_PER_CLIENT": str(cfg.turns_per_client),
            },
            texts,
            n,
            args.flood_threads,
        ),
        scenario(
            "limits lifted",
            {"BOT_RATE_PER_CLIENT": "100000000", "BOT_RATE_PER_SENDER": "100000000"},
            texts,
            n,
            args.flood_threads,
        ),
    ]
    report(results, n, f"{args.flood_threads} connections", load)


def report(results: list[dict], n: int, flooder: str, load: str) -> None:
    print(f"\nquiet client: {n} questions, one every {QUIET_EVERY} s; flooder: "
          f"{flooder}; machine load at start {load}, "
          f"end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    for r in results:
        verdict = "within 2x" if r["p95_ratio"] <= 2 else "NOT within 2x"
        print(
            f"{r['setting']}:\n"
            f"  quiet client alone     p50 {r['quiet_p50_ms']:7.1f} ms"
            f"  p95 {r['quiet_p95_ms']:7.1f} ms\n"
            f"  quiet client, flooded  p50 {r['flooded_p50_ms']:7.1f} ms"
            f"  p95 {r['flooded_p95_ms']:7.1f} ms\n"
            f"  p95 ratio {r['p95_ratio']:.2f} ({verdict}); flooder answered "
            f"{r['flood_answered_per_s']:.1f}/s, refused (429) {r['flood_429_per_s']:.1f}/s, "
            f"other {r['flood_other']}; sockets refused {r['sockets_refused']}; "
            f"socket.io messages sent {r.get('flood_sent_per_s', 0):.1f}/s; "
            f"quiet client refused {r['quiet_refused']} times"
        )  # fmt: skip
    out = PROJECT_DIR / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "flood.json").write_text(
        json.dumps({"machine_load": load, "results": results}, indent=2)
    )


if __name__ == "__main__":
    main()
