"""`bot insights --json` on conversations held through the real servers.

Customers talk in en, nb and sv through the REST channel (topic answers, two
questions in one message, a product lookup, a fallback, an out-of-scope
question, thumbs up and down through the chat page's route, a request filed,
one cancelled, one left half-way). Their rows (tracker events, feedback, filed
requests) are copied as the servers wrote them into fresh stores, SQLite and
PostgreSQL, so other tests' conversations stay out; then every figure the
command prints is compared with what the test counts itself from the replies
and from the trackers Rasa's own API returns.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from bot import db, insights, rulebase
from bot.contract import LANGS
from bot.insights import figures
from bot.rulebase import store
from bot.tracker_events import EVENTS, TRACKER_METADATA
from tests.conftest import DATABASES, _database
from tests.conversation.questions import DISINFECTION, ONSITE, TWO_QUESTIONS
from tests.conversation.test_chat_channel import CHAT, request
from tests.conversation.test_inbox import falls_back
from tests.conversation.test_service_requests import COUNTRY, SKIP, START, STOP, YES
from tests.servers import Bot

LOW = 0.6  # BOT_INBOX_CONFIDENCE, as the servers run
OUT_OF_SCOPE = (
    "what will the weather be like in Oslo tomorrow",
    "can you recommend a good pizza place",
    "who won the football match yesterday",
)
LOOKUP = "Is Kaspersky Internet Security 19 still supported?"
MIN = 5


def shown(n: int) -> int | str:
    """The rule the command promises, restated: 1 to 4 are hidden."""
    return n if n == 0 or n >= MIN else "< 5"


def raw(counts: Counter) -> dict[str, int]:
    return {"all": sum(counts.values()), **{lang: counts[lang] for lang in LANGS}}


def by_lang(counts: Counter) -> dict[str, int | str]:
    """As shown; where one language alone is hidden beside a shown total, the
    smallest other language is hidden too (or the total, if no other has any)."""
    exact = raw(counts)
    out: dict[str, int | str] = {key: shown(n) for key, n in exact.items()}
    small = [lang for lang in LANGS if 0 < exact[lang] < MIN]
    if len(small) == 1 and exact["all"] >= MIN:
        others = [lang for lang in LANGS if lang not in small and exact[lang] > 0]
        out[min(others, key=lambda lang: exact[lang]) if others else "all"] = "< 5"
    return out


@dataclass
class Seen:
    """What the test itself counted of the conversations it held."""

    senders: list[str] = field(default_factory=list)
    conversations: Counter = field(default_factory=Counter)
    messages: Counter = field(default_factory=Counter)
    questions: Counter = field(default_factory=Counter)
    answers: dict[str, Counter] = field(default_factory=dict)
    topics: dict[str, Counter] = field(default_factory=dict)
    clauses: dict[str, Counter] = field(default_factory=dict)
    up: dict[str, Counter] = field(default_factory=dict)
    down: dict[str, Counter] = field(default_factory=dict)
    unsettled: set[str] = field(default_factory=set)
    settled_by: dict[str, str] = field(default_factory=dict)  # sender -> lang
    offered: dict[str, str] = field(default_factory=dict)
    forms: dict[str, Counter] = field(default_factory=dict)
    given_up_at: dict[str, Counter] = field(default_factory=dict)
    filed: dict[str, Counter] = field(default_factory=dict)
    buyer: str = ""  # the conversation that filed a request


class Customer:
    """One conversation: every message sent and every answer got, counted."""

    def __init__(self, bot: Bot, seen: Seen, lang: str):
        self.bot, self.seen, self.lang = bot, seen, lang
        self.sender = uuid.uuid4().hex
        self.in_form = False
        seen.senders.append(self.sender)
        seen.conversations[lang] += 1

    def say(self, text: str, *, out_of_scope: bool = False) -> list[dict]:
        reply = self.bot.ask(text, self.sender, self.lang)
        seen, lang = self.seen, self.lang
        seen.messages[lang] += 1
        if not self.in_form and not text.startswith("/"):
            seen.questions[lang] += 1
        topics = {
            t.clauses: t.id for t in rulebase.current(self.bot.cfg.database_url).topics.values()
        }
        for answer in reply.answers:
            assert answer["lang"] == lang, answer
            if "lookup" in answer:
                category = "lookup"
            elif answer["verdict"] == "fallback":
                category = "out_of_scope" if out_of_scope else "fallback"
            else:
                category = answer["verdict"]
            seen.answers.setdefault(category, Counter())[lang] += 1
            topic = None if "lookup" in answer else topics.get(tuple(answer["rule_ids"]))
            if topic:
                seen.topics.setdefault(topic, Counter())[lang] += 1
            if topic or category == "lookup":
                seen.settled_by.setdefault(self.sender, lang)
                for clause in answer["rule_ids"]:
                    seen.clauses.setdefault(clause, Counter())[lang] += 1
            if category == "fallback":
                seen.unsettled.add(self.sender)
            if answer["verdict"] == "paid":
                seen.offered.setdefault(self.sender, lang)
        return reply.answers

    def rate(self, answer: dict, rating: str) -> None:
        body = {"sender": self.sender, "rating": rating, "rule_ids": answer["rule_ids"]}
        body |= {"verdict": answer["verdict"], "lang": self.lang}
        status, _, raw = request(self.bot, "POST", f"{CHAT}/feedback", body)
        assert status == 201, raw
        topics = {
            t.clauses: t.id for t in rulebase.current(self.bot.cfg.database_url).topics.values()
        }
        table = self.seen.up if rating == "up" else self.seen.down
        table.setdefault(topics[tuple(answer["rule_ids"])], Counter())[self.lang] += 1

    def start_form(self) -> None:
        self.in_form = True
        self.seen.forms.setdefault("started", Counter())[self.lang] += 1


def out_of_scope_text(bot: Bot) -> str:
    for text in OUT_OF_SCOPE:
        parsed = bot.post("/model/parse", {"text": text})
        assert isinstance(parsed, dict)
        if parsed["intent"]["name"] == "out_of_scope":
            return text
    pytest.fail(f"none of {OUT_OF_SCOPE} reads as out_of_scope with this model")


def hold_conversations(bot: Bot, *, fallback: bool = True) -> Seen:
    """The conversations the figures are checked on. `fallback=False` leaves out
    the message that falls back: it is test_inbox's too, whose entry must stay
    that conversation's alone (the browser tests share these servers)."""
    seen = Seen()
    for lang in LANGS:
        for i in range(5):  # five answers of one topic per language: shown exactly
            customer = Customer(bot, seen, lang)
            (answer,) = customer.say(DISINFECTION[lang])
            if lang == "en":
                customer.rate(answer, "up")
            elif i == 0:
                customer.rate(answer, "down")
        Customer(bot, seen, lang).say(ONSITE[lang])  # paid: offers the request
    two = Customer(bot, seen, "en")
    assert len(two.say(TWO_QUESTIONS["en"])) == 2  # two answers, one question
    assert two.say(LOOKUP)[0].get("lookup")
    if fallback:
        Customer(bot, seen, "en").say(falls_back(bot))
    Customer(bot, seen, "sv").say(out_of_scope_text(bot), out_of_scope=True)

    # nb: a paid answer, its button, the form to the end: filed
    buyer = Customer(bot, seen, "nb")
    seen.buyer = buyer.sender
    (paid,) = buyer.say(ONSITE["nb"])
    button = '/request_service{"sr_service": "professional_services"}'
    buyer.say(button)  # the form starts after it
    buyer.start_form()
    for text in ("Kari Nordmann", "kari@example.no", "Fjordvik Regnskap AS", COUNTRY["nb"]):
        buyer.say(text)
    buyer.say(SKIP["nb"])
    buyer.say("Vi trenger hjelp til å sette opp KES på 40 bærbare.")
    buyer.say(YES["nb"])
    seen.forms.setdefault("filed", Counter())["nb"] += 1
    seen.filed.setdefault("professional_services", Counter())["nb"] += 1
    # sv: started, then cancelled when the e-mail was asked
    quitter = Customer(bot, seen, "sv")
    quitter.say(START["sv"])  # asked outside the form; the form starts after it
    quitter.start_form()
    quitter.say("Kari Nordmann")
    quitter.say(STOP["sv"])
    quitter.say(YES["sv"])
    seen.forms.setdefault("cancelled", Counter())["sv"] += 1
    seen.given_up_at.setdefault("sr_email", Counter())["sv"] += 1
    # en: started and still open (its session has not expired): in progress
    busy = Customer(bot, seen, "en")
    busy.say(START["en"])
    busy.start_form()
    busy.say("Ola Nordmann")
    seen.forms.setdefault("in_progress", Counter())["en"] += 1
    return seen


def low_confidence(bot: Bot, senders: list[str]) -> Counter:
    """Questions below the threshold, from the trackers Rasa's API returns."""
    found: Counter = Counter()
    for sender in senders:
        tracker = bot.get(f"/conversations/{sender}/tracker")
        assert isinstance(tracker, dict)
        loop = None
        for event in tracker["events"]:
            if event["event"] == "active_loop":
                loop = event.get("name")
            if event["event"] != "user" or loop or event["text"].startswith("/"):
                continue
            if event["parse_data"]["intent"]["confidence"] < LOW:
                found[event["metadata"]["lang"]] += 1
    return found


def copy_rows(bot: Bot, senders: list[str], url: str, tracker_url: str) -> None:
    """The servers' own rows of these conversations, into fresh stores."""
    db.ensure_schema(url)
    store.load(url)
    TRACKER_METADATA.create_all(db.engine_for(tracker_url))
    source = db.engine_for(bot.cfg.tracker_url)
    with source.connect() as read, db.engine_for(tracker_url).begin() as write:
        rows = read.execute(sa.select(EVENTS).where(EVENTS.c.sender_id.in_(senders))).mappings()
        write.execute(EVENTS.insert(), [dict(r) for r in rows])
    project = db.engine_for(bot.cfg.database_url)
    with project.connect() as read, db.engine_for(url).begin() as write:
        for table, column in (
            (db.Feedback.__table__, "sender"),
            (db.ServiceRequest.__table__, "conversation_id"),
        ):
            rows = read.execute(sa.select(table).where(table.c[column].in_(senders))).mappings()
            found = [{k: utc(v) for k, v in r.items()} for r in rows]
            if found:
                write.execute(table.insert(), found)


def utc(value: Any) -> Any:
    """SQLite hands back its times without a zone; they were stored in UTC."""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def insights_json(url: str, tracker_url: str, *args: str) -> dict[str, Any]:
    env = {**os.environ, "BOT_DATABASE_URL": url, "BOT_TRACKER_URL": tracker_url}
    env["BOT_INSIGHTS_SETTLE_SECONDS"] = "0"  # nothing writes to these copies
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "insights", "--json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def expected(seen: Seen, low: Counter, by_lang: Any = by_lang) -> dict[str, Any]:
    settled = Counter(
        lang for sender, lang in seen.settled_by.items() if sender not in seen.unsettled
    )
    fallback = seen.answers.get("fallback", Counter())
    return {
        "conversations": by_lang(seen.conversations),
        "settled": by_lang(settled),
        "messages": by_lang(seen.messages),
        "questions": by_lang(seen.questions),
        "answers": {k: by_lang(v) for k, v in seen.answers.items()},
        "topics": {
            t: {
                "answers": by_lang(c),
                "up": by_lang(seen.up.get(t, Counter())),
                "down": by_lang(seen.down.get(t, Counter())),
            }
            for t, c in seen.topics.items()
        },
        "clauses": {k: by_lang(v) for k, v in seen.clauses.items()},
        "feedback": {
            "up": by_lang(sum(seen.up.values(), Counter())),
            "down": by_lang(sum(seen.down.values(), Counter())),
        },
        "week": {
            "questions": by_lang(seen.questions),
            "fallback": by_lang(fallback),
            "low_confidence": by_lang(low),
        },
        "requests": {
            "filed": by_lang(sum(seen.filed.values(), Counter())),
            "by_service": {k: by_lang(v) for k, v in seen.filed.items()},
            "by_queue": {k: by_lang(v) for k, v in seen.filed.items()},
            "by_country": {"NO": by_lang(sum(seen.filed.values(), Counter()))},
            "offered": by_lang(Counter(seen.offered.values())),
            "offered_then_filed": by_lang(Counter({"nb": 1})),
        },
        "forms": {
            **{
                k: by_lang(seen.forms.get(k, Counter()))
                for k in ("started", "filed", "cancelled", "abandoned", "in_progress")
            },
            "given_up_at": {k: by_lang(v) for k, v in seen.given_up_at.items()},
        },
    }


def agree(found: dict[str, Any], want: dict[str, Any], nothing: dict[str, Any]) -> None:
    """Every figure of `found` (the command's or compute's) against the count made here."""
    for name in ("conversations", "settled", "messages", "questions", "feedback"):
        assert found[name] == want[name], name
    for category, counts in found["answers"].items():
        assert counts == want["answers"].get(category, nothing), category
    topics = {t["topic"]: {k: t[k] for k in ("answers", "up", "down")} for t in found["topics"]}
    assert topics == want["topics"]
    assert {c["clause"]: c["cited"] for c in found["clauses"]} == want["clauses"]
    (week,) = found["weeks"]
    assert {k: week[k] for k in ("questions", "fallback", "low_confidence")} == want["week"]
    assert {k: found["requests"][k] for k in want["requests"]} == want["requests"]
    assert found["forms"] == want["forms"]


@pytest.fixture(scope="module")
def held(running_bot) -> tuple[Seen, Counter]:
    seen = hold_conversations(running_bot)
    return seen, low_confidence(running_bot, seen.senders)


@pytest.mark.parametrize("kind", DATABASES)
def test_every_figure_of_bot_insights_json(running_bot, held, kind, tmp_path) -> None:
    seen, low = held
    with _database(kind, tmp_path) as url:
        tracker_url = url if kind == "postgresql" else f"sqlite:///{tmp_path / 'tracker.db'}"
        copy_rows(running_bot, seen.senders, url, tracker_url)
        got = insights_json(url, tracker_url)
        want = expected(seen, low)

        # the exact counts first, from the same stores the command read
        exact = figures.compute(insights.Period.last(30), url)
        agree(exact, expected(seen, low, raw), raw(Counter()))
        # then as shown: small counts hidden, a service or country of one request not named
        for name in ("by_service", "by_queue", "by_country"):
            (only,) = want["requests"][name].values()
            want["requests"][name] = {"other": only}
        agree(got, want, by_lang(Counter()))
        # rates: only where both counts are shown
        assert got["rates"]["settled"]["en"] == round(
            sum(
                1 for s, lang in seen.settled_by.items() if lang == "en" and s not in seen.unsettled
            )
            / seen.conversations["en"],
            4,
        )
        assert got["rates"]["offered_then_filed"]["all"] is None  # 1 of 4: hidden
        assert got["min_count"] == MIN

        # a person forgotten leaves the figures: the conversation that filed
        buyer = seen.buyer
        env = {**os.environ, "BOT_DATABASE_URL": url, "BOT_TRACKER_URL": tracker_url}
        gone = subprocess.run(
            [sys.executable, "-m", "bot.cli", "privacy", "forget", buyer],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert gone.returncode == 0, gone.stderr
        after = insights_json(url, tracker_url)
        fewer = seen.conversations.copy()
        fewer["nb"] -= 1
        assert after["conversations"] == by_lang(fewer)
        assert after["forms"]["filed"]["nb"] == 0 and after["forms"]["started"]["nb"] == 0
        # the request itself stays, anonymised, in the figures of what was sold
        assert after["requests"]["filed"] == want["requests"]["filed"]
        assert after["requests"]["offered_then_filed"]["nb"] == 0


def test_the_csv_has_the_same_figures(running_bot, held, tmp_path) -> None:
    seen, _ = held
    url, tracker_url = f"sqlite:///{tmp_path / 'bot.db'}", f"sqlite:///{tmp_path / 'tracker.db'}"
    copy_rows(running_bot, seen.senders, url, tracker_url)
    env = {**os.environ, "BOT_DATABASE_URL": url, "BOT_TRACKER_URL": tracker_url}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "insights", "--csv"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "figure,key,all,en,nb,sv,since,until"
    rows = {tuple(line.split(",")[:2]): line.split(",")[2:6] for line in lines[1:]}
    conversations = by_lang(seen.conversations)
    assert rows[("conversations", "")] == [str(conversations[k]) for k in ("all", *LANGS)]
    topic = by_lang(seen.topics["disinfection"])
    assert rows[("topics.answers", "disinfection")] == [str(topic[k]) for k in ("all", *LANGS)]
    assert rows[("forms.given_up_at", "sr_email")] == ["< 5", "0", "0", "< 5"]
    assert rows[("answers", "fallback")] == ["< 5", "< 5", "0", "0"]
