"""How the assistant answers realistic chat messages, end to end through its servers.

    .venv/bin/python -m bench.dialogue [--label NAME] [--limit N] [--verbose]
    .venv/bin/python -m bench.dialogue --url URL --token-file PATH [--label NAME]

bench.accuracy scores the NLU alone; a customer sees the replies. This sends each
message of eval/heldout_realistic.csv (written blind in a chat widget's styles;
`a|b`: either topic answers it, `a+b`: two questions, both need an answer) to the
REST channel as the first message of a new conversation (a random sender id, no
metadata), reads the bot's messages and their `custom.answer` payloads
(answer-contract.md §2, several per turn: §2a), and, when that turn missed and
offered buttons, "clicks" the first one (its payload, same conversation).

What is right for an expected intent, from the replies (and the tracker's
active_loop, GET /conversations/<id>/tracker):

- `scope_<id>`: an answer whose rule_ids[0] is the topic's first clause
  (content/rulebase/topics.yml). Topics sharing a first clause (scope_software_bugs
  and scope_standard_support both start with rules:4.1.1) are not told apart:
  the topic's first clause is what a reader sees cited first.
- `check_licence`: an answer with a `lookup` carrying `licence`, an answer whose
  rule_ids[0] is one of scope_licence's clauses (the licence rule, then the key
  is asked), or the licence form (licence_form) active after the turn.
- `request_service`: the service request form active after the turn, or a
  `service_request` filed.
- `out_of_scope`: every answer of the turn is a fallback (or none cites a clause),
  and no form was started (a form asking for a licence key or a service is not
  falling back).

Figures per language and pooled (share, n):

- direct: in-scope single messages (not out_of_scope, not a+b) answered right
  in the first turn;
- within one click: direct, or right after clicking the first offered button;
- confidently wrong: in-scope messages (single and a+b) whose first turn gave an
  answer citing clauses, with a verdict other than fallback, and nothing right
  for any expected intent;
- stray answer: in-scope messages (single and a+b) whose first turn has a right
  answer and, beside it, an answer citing clauses that is right for none of the
  expected intents (a second answer nobody asked for);
- both answered: a+b messages with a right answer for each of the two intents;
- OOS fallback: out_of_scope messages that fell back.

Without --url it prepares a scratch var/ (database, rule base, sample records),
uses the model `bot prepare` trains (trained now if missing), starts both servers
on free ports with the rate limits raised (bench/env.py), measures, and stops
them. It refuses to run if a sentence of the set is also a training example.
Writes bench/results/dialogue-<label>-<timestamp>.json and the missed rows to
bench/results/dialogue-misses-<label>-<timestamp>.csv.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets as random_ids
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from bot import secrets, settings
from bot.settings import CONTENT_DIR, PROJECT_DIR, environment
from bot.training.examples import EvalQuestion, check_apart, eval_questions

from .env import scratch
from .models import RESULTS

EVAL_SET = PROJECT_DIR / "eval" / "heldout_realistic.csv"
TOPICS = CONTENT_DIR / "rulebase" / "topics.yml"
LANGS = ("en", "nb", "sv")
OOS = "out_of_scope"
CHECK_LICENCE = "check_licence"
REQUEST_SERVICE = "request_service"
LICENCE_TOPIC = "scope_licence"
LICENCE_FORMS = frozenset({"licence_form"})
REQUEST_FORM = "service_request_form"
METRICS = (
    ("direct", "direct"),
    ("within_click", "within 1 click"),
    ("confidently_wrong", "confidently wrong"),
    ("stray_answer", "stray answer"),
    ("both_answered", "both answered"),
    ("oos_fallback", "OOS fallback"),
)
MISS_KINDS = (
    "fallback_right_suggestion",  # fell back; its first button was the right topic
    "fallback_wrong_suggestion",  # fell back; its first button was not
    "fallback_no_suggestion",  # fell back without a button
    "wrong_topic",  # answered from another topic (single message)
    "form_or_other",  # no clause cited, no fallback either (a form started, small talk)
    "two_questions_one_answered",  # a+b: one of the two answered
    "two_questions_none_answered",  # a+b: neither answered
    "oos_answered",  # out_of_scope answered from a topic or a form started
)


# --------------------------------------------------------------------- HTTP


class Client:
    """The REST channel and the tracker of one running assistant."""

    def __init__(self, url: str, api_token: str | None) -> None:
        self.url = url.rstrip("/")
        self.api_token = api_token
        self.requests = 0
        self.throttled = 0  # 429 answers waited out

    def _call(self, method: str, path: str, body: dict[str, Any] | None, auth: bool) -> Any:
        headers = {"Content-Type": "application/json"}
        if auth and self.api_token:
            headers["Authorization"] = f"Bearer {secrets.bearer(self.api_token)}"
        data = json.dumps(body).encode() if body is not None else None
        for _ in range(20):
            request = urllib.request.Request(
                self.url + path, data=data, headers=headers, method=method
            )
            self.requests += 1
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    return json.loads(response.read() or b"null")
            except urllib.error.HTTPError as exc:
                if exc.code != 429:
                    raise
                self.throttled += 1
                time.sleep(float(exc.headers.get("Retry-After") or 1))
        raise RuntimeError(f"{path}: still refused (429) after 20 tries; raise the rate limits")

    def say(self, sender: str, text: str) -> list[dict[str, Any]]:
        body = {"sender": sender, "message": text}
        replies = self._call("POST", "/webhooks/rest/webhook", body, False)
        return [r for r in replies or [] if isinstance(r, dict)]

    def active_loop(self, sender: str) -> str | None:
        quoted = urllib.parse.quote(sender, safe="")
        tracker = self._call("GET", f"/conversations/{quoted}/tracker", None, True) or {}
        loop = tracker.get("active_loop") or {}
        return loop.get("name") or None

    def turn(self, sender: str, text: str, tracker: bool) -> Turn:
        replies = self.say(sender, text)
        return Turn(text, replies, self.active_loop(sender) if tracker else None)


# ------------------------------------------------------------- one turn


@dataclass
class Turn:
    """What the user sent and the bot's messages; the active form after it (if asked)."""

    sent: str
    replies: list[dict[str, Any]]
    active_loop: str | None = None

    def customs(self, key: str) -> list[dict[str, Any]]:
        found = []
        for reply in self.replies:
            custom = reply.get("custom")
            if isinstance(custom, dict) and isinstance(custom.get(key), dict):
                found.append(custom[key])
        return found

    @property
    def answers(self) -> list[dict[str, Any]]:
        return self.customs("answer")

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [b for r in self.replies for b in r.get("buttons") or [] if isinstance(b, dict)]

    @property
    def topical(self) -> list[dict[str, Any]]:
        """Answers that cite clauses and do not fall back."""
        return [a for a in self.answers if a.get("rule_ids") and a.get("verdict") != "fallback"]

    @property
    def form_started(self) -> bool:
        return bool(self.active_loop) or bool(self.customs("service_request"))

    @property
    def fell_back(self) -> bool:
        answers = self.answers
        no_clause = all(a.get("verdict") == "fallback" for a in answers) or not any(
            a.get("rule_ids") for a in answers
        )
        return no_clause and not self.form_started


@dataclass(frozen=True)
class Judge:
    """What is right for each expected intent (see the module docstring)."""

    first_clause: dict[str, str]  # scope intent -> its topic's first clause
    licence_clauses: frozenset[str]

    @classmethod
    def from_topics(cls, path: Path = TOPICS) -> Judge:
        topics = (yaml.safe_load(path.read_text(encoding="utf-8")) or {})["topics"]
        first = {t["intent"]: t["clauses"][0] for t in topics}
        licence = next(t for t in topics if t["intent"] == LICENCE_TOPIC)["clauses"]
        return cls(first, frozenset(licence))

    def known(self, intent: str) -> bool:
        return intent in self.first_clause or intent in (CHECK_LICENCE, REQUEST_SERVICE, OOS)

    def right(self, turn: Turn, intent: str) -> bool:
        answers = turn.answers
        firsts = [a["rule_ids"][0] for a in answers if a.get("rule_ids")]
        if intent == OOS:
            return turn.fell_back
        if intent == CHECK_LICENCE:
            lookups = [a.get("lookup") for a in answers]
            return (
                any(isinstance(lk, dict) and "licence" in lk for lk in lookups)
                or any(f in self.licence_clauses for f in firsts)
                or turn.active_loop in LICENCE_FORMS
            )
        if intent == REQUEST_SERVICE:
            return turn.active_loop == REQUEST_FORM or bool(turn.customs("service_request"))
        return self.first_clause[intent] in firsts

    def fits(self, answer: dict[str, Any], intents: tuple[str, ...]) -> bool:
        """Is this one answer right for one of the expected intents?"""
        ids = answer.get("rule_ids") or []
        first = ids[0] if ids else None
        lookup = answer.get("lookup")
        for intent in intents:
            if intent == CHECK_LICENCE and (
                first in self.licence_clauses or (isinstance(lookup, dict) and "licence" in lookup)
            ):
                return True
            if intent in self.first_clause and first == self.first_clause[intent]:
                return True
        return False


# ------------------------------------------------------------ one message


def kind_of(q: EvalQuestion) -> str:
    if q.intents == (OOS,):
        return "out_of_scope"
    if q.both:
        return "a+b"
    if CHECK_LICENCE in q.intents:
        return CHECK_LICENCE
    if REQUEST_SERVICE in q.intents:
        return REQUEST_SERVICE
    return "scope"


@dataclass
class Outcome:
    question: EvalQuestion
    first: Turn
    click: Turn | None = None
    flags: dict[str, bool] = field(default_factory=dict)  # metric -> counted as a hit
    miss: str | None = None

    @property
    def kind(self) -> str:
        return kind_of(self.question)


def converse(client: Client, judge: Judge, q: EvalQuestion) -> Outcome:
    """One new conversation: the message, and a click on the first button if it missed."""
    sender = random_ids.token_hex(16)
    # the tracker always: a scope question that wrongly starts a form must not
    # count as falling back
    tracker = True
    first = client.turn(sender, q.text, tracker)
    out = Outcome(q, first)
    rights = {i: judge.right(first, i) for i in q.intents}
    wrong = bool(first.topical) and not any(rights.values())
    if out.kind == "out_of_scope":
        out.flags["oos_fallback"] = rights[OOS]
        if not rights[OOS]:
            out.miss = "oos_answered"
        return out
    out.flags["confidently_wrong"] = wrong
    stray = [a for a in first.topical if not judge.fits(a, q.intents)]
    out.flags["stray_answer"] = bool(stray) and any(rights.values())
    if q.both:
        answered = sum(rights.values())
        out.flags["both_answered"] = answered == len(rights)
        if answered == 1:
            out.miss = "two_questions_one_answered"
        elif answered == 0:
            out.miss = "two_questions_none_answered"
        return out
    direct = any(rights.values())
    out.flags["direct"] = direct
    out.flags["within_click"] = direct
    if direct:
        return out
    if first.buttons:
        payload = str(first.buttons[0].get("payload") or "")
        out.click = client.turn(sender, payload, tracker)
        out.flags["within_click"] = any(judge.right(out.click, i) for i in q.intents)
    if wrong:
        out.miss = "wrong_topic"
    elif not first.fell_back:
        out.miss = "form_or_other"
    elif out.click is None:
        out.miss = "fallback_no_suggestion"
    else:
        good = out.flags["within_click"]
        out.miss = "fallback_right_suggestion" if good else "fallback_wrong_suggestion"
    return out


# ---------------------------------------------------------------- report


def table(outcomes: list[Outcome]) -> dict[str, dict[str, dict[str, float]]]:
    """lang (and "all") -> metric -> {"hits", "n", "share"}."""
    cells: dict[str, dict[str, dict[str, float]]] = {}
    for lang in (*LANGS, "all"):
        mine = [o for o in outcomes if lang in ("all", o.question.lang)]
        cells[lang] = {}
        for key, _ in METRICS:
            counted = [o.flags[key] for o in mine if key in o.flags]
            hits, n = sum(counted), len(counted)
            cells[lang][key] = {"hits": hits, "n": n, "share": hits / n if n else float("nan")}
    return cells


def render(rows: dict[str, dict[str, dict[str, dict[str, float]]]]) -> list[str]:
    width = max([10, *(len(label) + 2 for label in rows)])
    head = f"{'row':<{width}}{'lang':<6}" + "".join(f"{label:>22}" for _, label in METRICS)
    lines = [head]
    for label, cells in rows.items():
        for lang, metrics in cells.items():
            line = f"{label:<{width}}{lang:<6}"
            for key, _ in METRICS:
                c = metrics[key]
                share = f"{100 * c['share']:.1f}%" if c["n"] else "-"
                line += f"{share + ' (' + str(int(c['hits'])) + '/' + str(int(c['n'])) + ')':>22}"
            lines.append(line)
    return lines


def show(out: Outcome) -> None:
    """One conversation, as the client saw it (--verbose)."""
    q = out.question
    label = ("+" if q.both else "|").join(q.intents)
    print(f"\n--- example: {out.kind} ({q.lang}, expected {label})")
    for turn in (out.first, out.click):
        if turn is None:
            continue
        print(f"user: {turn.sent}")
        for reply in turn.replies:
            shown = {k: v for k, v in reply.items() if k != "recipient_id"}
            print(f"  bot: {json.dumps(shown, ensure_ascii=False)}")
        if turn.active_loop is not None:
            print(f"  active_loop: {turn.active_loop}")
    print(f"  counted: {out.flags}  miss: {out.miss}")


def write_misses(path: Path, outcomes: list[Outcome]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["lang", "intents", "text", "miss", "first_rule_ids", "first_button", "click_rule_ids"]
        )
        for o in outcomes:
            if o.miss is None:
                continue
            q = o.question
            button = o.first.buttons[0].get("payload") if o.first.buttons else ""
            click = o.click.answers if o.click else []
            writer.writerow(
                [
                    q.lang,
                    ("+" if q.both else "|").join(q.intents),
                    q.text,
                    o.miss,
                    ";".join(",".join(a.get("rule_ids") or []) for a in o.first.answers),
                    button,
                    ";".join(",".join(a.get("rule_ids") or []) for a in click),
                ]
            )


# --------------------------------------------------------------- servers


def start_servers() -> tuple[Any, Path, float]:
    """Our own servers on a scratch var/ (as bench.speed does), with the model
    `bot prepare` trains (trained now if missing); with the seconds to ready."""
    from bot.runtime import build
    from bot.runtime.servers import Servers

    var = Path(tempfile.mkdtemp(prefix="bench-dialogue-"))
    started = time.monotonic()
    with environment(scratch(var)):
        cfg = settings.load()
        build.prepare_database(cfg)  # the rule base and the sample records, as `bot run` has
        model = build.train(cfg)
        servers = Servers(cfg, model, log_dir=var / "logs")
        servers.start()
    try:
        servers.wait_ready(timeout=900)
    except BaseException:
        servers.stop()
        raise
    return servers, var, time.monotonic() - started


def tree_state() -> dict[str, Any]:
    """The commit and the uncommitted files of the tree whose servers were measured."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=PROJECT_DIR, capture_output=True, text=True)
        return done.stdout

    changed = [line[3:] for line in git("status", "--porcelain").splitlines() if line]
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "uncommitted": changed}


# ------------------------------------------------------------------ main


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--url", help="an assistant already running (no servers started)")
    parser.add_argument("--token-file", type=Path, help="its BOT_API_TOKEN (with --url)")
    parser.add_argument("--label", default="now", help="the row's name")
    parser.add_argument("--limit", type=int, help="only the first N messages (a quick try)")
    parser.add_argument("--verbose", action="store_true", help="one conversation per kind")
    args = parser.parse_args()
    if args.url and not args.token_file:
        parser.error("--url needs --token-file (the tracker API shows whether a form started)")

    problems = check_apart([EVAL_SET])
    if problems:
        print(f"refusing to run: {len(problems)} sentence(s) of the set are training examples:")
        print("\n".join(problems))
        return 2
    questions = eval_questions(EVAL_SET)[: args.limit]
    judge = Judge.from_topics()
    unknown = sorted({i for q in questions for i in q.intents if not judge.known(i)})
    if unknown:
        print(f"labels without a topic in {TOPICS.name}: {', '.join(unknown)}")
        return 2

    servers = var = None
    ready = None
    tree: dict[str, Any] | None = None  # unknown for an assistant started elsewhere
    if args.url:
        client = Client(args.url, args.token_file.read_text(encoding="utf-8").strip())
    else:
        tree = tree_state()  # before the servers read it
        servers, var, ready = start_servers()
        client = Client(servers.cfg.rasa_url, servers.cfg.api_token)
    try:
        client.say(random_ids.token_hex(16), "hello")  # warm-up: first-call costs
        started = time.monotonic()
        outcomes = []
        for n, q in enumerate(questions, 1):
            outcomes.append(converse(client, judge, q))
            if n % 50 == 0:
                print(f"{n}/{len(questions)} ({time.monotonic() - started:.0f} s)", flush=True)
        seconds = time.monotonic() - started
    finally:
        if servers is not None:
            servers.stop()
    if var is not None:
        shutil.rmtree(var, ignore_errors=True)

    if args.verbose:
        shown: set[str] = set()
        for out in outcomes:
            if out.kind not in shown:
                shown.add(out.kind)
                show(out)
    cells = table(outcomes)
    misses = {
        lang: {
            kind: sum(1 for o in outcomes if o.miss == kind and lang in ("all", o.question.lang))
            for kind in MISS_KINDS
        }
        for lang in (*LANGS, "all")
    }
    oos_forms = sum(1 for o in outcomes if o.kind == "out_of_scope" and o.first.form_started)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out_json = RESULTS / f"dialogue-{args.label}-{stamp}.json"
    out_csv = RESULTS / f"dialogue-misses-{args.label}-{stamp}.csv"
    report = {
        "label": args.label,
        "when": stamp,
        "url": args.url or client.url + " (started by the benchmark)",
        "tree": tree,
        "eval_set": str(EVAL_SET.relative_to(PROJECT_DIR)),
        "messages": len(questions),
        "seconds_measuring": round(seconds, 1),
        "seconds_to_ready": round(ready, 1) if ready is not None else None,
        "requests": client.requests,
        "throttled_429": client.throttled,
        "load_average": os.getloadavg(),
        "table": cells,
        "misses": misses,
        "oos_started_a_form": oos_forms,
    }
    out_json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    write_misses(out_csv, outcomes)
    print()
    print("\n".join(render({args.label: cells})))
    took = f"\n{len(questions)} messages in {seconds:.0f} s ({client.requests} requests"
    took += f", {client.throttled} throttled)"
    print(took + (f"; servers ready in {ready:.0f} s" if ready is not None else ""))
    print("misses (all languages): " + ", ".join(f"{k} {v}" for k, v in misses["all"].items()))
    print(f"wrote {out_json.relative_to(PROJECT_DIR)} and {out_csv.relative_to(PROJECT_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
