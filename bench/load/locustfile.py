"""Simulated customers for the load test (Locust, in var/load-venv: see bench/load/run.py).

Runs in the load generator's own environment, so it imports nothing from the
project: bench/load/run.py writes everything it needs (questions, the form's
prompts, the fault replies, the ramp) to the JSON file named by LOAD_CONFIG.

Each user holds conversations of realistic length: a few held-out questions in
one language, sometimes a record lookup, and now and then a paid-service
request carried through the whole form with a unique marker in its
description. The user answers whatever field the bot asks for; a fault reply
(the bot says to try again) or a failed request is tried again after a pause,
as a person would. Every request's time and outcome goes to requests.csv,
every paid request's outcome (filed with a reference, deferred, abandoned) to
outcomes.jsonl, and CPU and memory of the watched processes (the load
generator's own included) to monitor.csv, all under the config's out_dir.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import time
import uuid
from pathlib import Path
from typing import Any

import gevent
import psutil
from locust import LoadTestShape, between, events, task
from locust.contrib.fasthttp import FastHttpUser

CONFIG: dict[str, Any] = json.loads(Path(os.environ["LOAD_CONFIG"]).read_text(encoding="utf-8"))
OUT = Path(CONFIG["out_dir"])
REFERENCE = re.compile(r"SR-\d{4}-\d{6}")
RETRIES = 8  # tries of one form step before the user gives up

_requests: list[tuple[float, float, int, str]] = []  # start, ms, failed, kind
_monitor: list[tuple[float, str, float, float]] = []  # t, process, cpu %, rss MB
_outcomes: list[dict[str, Any]] = []


def _fault_reply(text: str) -> bool:
    return any(apology in text for apology in CONFIG["apologies"])


class Customer(FastHttpUser):
    wait_time = between(*CONFIG["think"])
    network_timeout = 60.0
    connection_timeout = 10.0

    def _send(self, sender: str, text: str, kind: str, lang: str) -> list[dict] | None:
        """One message; the bot's messages, or None when it failed (counted as an error)."""
        body = {"sender": sender, "message": text, "metadata": {"lang": lang}}
        with self.client.post(
            "/webhooks/rest/webhook", json=body, name=kind, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return None
            try:
                messages = response.json()
            except ValueError:
                response.failure("not JSON")
                return None
            if not isinstance(messages, list) or not messages:
                response.failure("no reply")
                return None
            text_out = "\n".join(str(m.get("text", "")) for m in messages)
            if _fault_reply(text_out):
                response.failure("fault reply")
                return messages  # an answer, but an apology: the caller may retry
            response.success()
            return messages

    @task
    def conversation(self) -> None:
        lang = random.choice(sorted(CONFIG["questions"]))
        sender = f"load-{CONFIG['run_id']}-{uuid.uuid4().hex[:12]}"
        low, high = CONFIG["questions_per_conversation"]
        for text in random.sample(CONFIG["questions"][lang], random.randint(low, high)):
            self._send(sender, text, "question", lang)
            gevent.sleep(self.wait_time())
        if random.random() < CONFIG["lookup_share"]:
            self._send(sender, random.choice(CONFIG["lookups"][lang]), "lookup", lang)
            gevent.sleep(self.wait_time())
        if random.random() < CONFIG["paid_share"]:
            self.paid_request(sender, lang)

    def paid_request(self, sender: str, lang: str) -> None:
        phrases = CONFIG["paid"][lang]
        marker = f"LT{CONFIG['run_id']}x{uuid.uuid4().hex[:10]}"
        answers = {
            "service": phrases["service"],
            "name": "Kari Nordmann",
            "email": f"{marker.lower()}@example.no",
            "company": "Lasttest AS",
            "country": phrases["country"],
            "licence_key": "-",
            "description": f"{phrases['description']} Ref {marker}",
            "confirmed": phrases["yes"],
        }
        outcome: dict[str, Any] = {"marker": marker, "sender": sender, "outcome": "interrupted"}
        try:
            self._fill(sender, lang, phrases["start"], answers, outcome)
        finally:  # also when the run ends mid-form (the user is stopped)
            _outcomes.append(outcome)

    def _fill(
        self, sender: str, lang: str, text: str, answers: dict[str, str], outcome: dict[str, Any]
    ) -> None:
        tries, steps = 0, 0
        while steps < 30:
            messages = self._send(sender, text, "paid request", lang)
            reply = "\n".join(str(m.get("text", "")) for m in messages or [])
            custom = [m["custom"] for m in messages or [] if isinstance(m.get("custom"), dict)]
            filed = [c["service_request"] for c in custom if "service_request" in c]
            found = REFERENCE.search(reply)
            if filed or found:
                reference = filed[0]["reference"] if filed else found.group(0) if found else ""
                outcome.update(outcome="filed", reference=reference)
                return
            if any(d in reply for d in CONFIG["deferred"]):
                outcome.update(outcome="deferred")
                return
            asked = next(
                (f for f, frags in CONFIG["prompts"].items() if any(x in reply for x in frags)),
                None,
            )
            if asked is None:  # a fault, an error, or something unexpected: try again
                tries += 1
                if tries > RETRIES:
                    outcome.update(outcome="abandoned", last_reply=reply[:200])
                    return
                gevent.sleep(1.0 + tries)
                continue
            tries, steps = 0, steps + 1
            text = answers[asked]
            gevent.sleep(self.wait_time())
        outcome.update(outcome="abandoned", last_reply="the form never ended")


class Ramp(LoadTestShape):
    """CONFIG["steps"]: [users, seconds] pairs, one after the other."""

    def tick(self) -> tuple[int, float] | None:
        elapsed = self.get_run_time()
        for users, seconds in CONFIG["steps"]:
            if elapsed < seconds:
                return users, max(1.0, users / 2)
            elapsed -= seconds
        return None


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception=None, **kw) -> None:
    start = kw.get("start_time") or time.time() - response_time / 1000
    _requests.append((start, response_time, 1 if exception else 0, name))


def _watch() -> None:
    """Every second: CPU and memory of each watched process tree and of this one."""
    known: dict[int, psutil.Process] = {}

    def sample(pid: int) -> tuple[float, float]:
        try:
            root = known.setdefault(pid, psutil.Process(pid))
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0.0, 0.0
        cpu = rss = 0.0
        for proc in tree:
            proc = known.setdefault(proc.pid, proc)
            try:
                cpu += proc.cpu_percent(None)
                rss += proc.memory_info().rss / 2**20
            except psutil.Error:
                pass
        return cpu, rss

    me = psutil.Process()
    me.cpu_percent(None)
    psutil.cpu_percent(None)
    watch_file = Path(CONFIG["watch_file"])
    while True:
        gevent.sleep(1.0)
        now = time.time()
        try:
            watched = json.loads(watch_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            watched = {}
        for name, pids in watched.items():
            cpu = rss = 0.0
            for pid in pids:
                c, r = sample(int(pid))
                cpu, rss = cpu + c, rss + r
            _monitor.append((now, name, cpu, rss))
        _monitor.append((now, "load generator", me.cpu_percent(None), me.memory_info().rss / 2**20))
        _monitor.append((now, "machine", psutil.cpu_percent(None), os.getloadavg()[0]))


@events.test_start.add_listener
def _started(environment, **kw) -> None:
    gevent.spawn(_watch)


@events.quitting.add_listener
def _write(environment, **kw) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "requests.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["start", "ms", "failed", "kind"])
        writer.writerows(_requests)
    with (OUT / "monitor.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["t", "process", "cpu_percent", "rss_mb"])
        writer.writerows(_monitor)
    with (OUT / "outcomes.jsonl").open("w", encoding="utf-8") as handle:
        for outcome in _outcomes:
            handle.write(json.dumps(outcome) + "\n")
