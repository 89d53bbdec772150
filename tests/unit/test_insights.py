"""The insights on SQLite and PostgreSQL: the summary of a generated tracker
store (bench/insights_store.py, in Rasa's shape) against what was generated;
incremental, idempotent, rebuilt when the store or the summary's meaning
changes; what retention and `forget` take away; PostgreSQL's settle time; and
what is shown: hidden counts, rates, CSV, text, charts, periods."""

from __future__ import annotations

import datetime as dt
import json
import time
import xml.dom.minidom
from typing import Any

import pytest
import sqlalchemy as sa

from bench import insights_store
from bot import db, insights
from bot.insights import bookkeeping, charts, figures, report
from bot.insights.period import Period, PeriodError
from bot.privacy import retention, subject
from bot.rulebase import store
from bot.tracker_events import EVENTS

pytestmark = pytest.mark.unit

PERIOD = Period.last(30)


def disagreements(tally: insights_store.Tally, url: str) -> list[str]:
    return insights_store.disagreements(tally, figures.compute(PERIOD, url))


@pytest.fixture
def stores(database_url, tmp_path) -> tuple[str, str]:
    """The project database and a tracker store (PostgreSQL: one database, as deployed)."""
    db.ensure_schema(database_url)
    store.load(database_url)
    tracker = (
        database_url
        if database_url.startswith("postgresql")
        else (f"sqlite:///{tmp_path / 'tracker.db'}")
    )
    return database_url, tracker


def test_the_figures_are_what_was_generated(stores) -> None:
    url, tracker = stores
    tally = insights_store.generate(tracker, url, 4000)
    done = insights.summarise(url, tracker)
    assert done.events > 0 and done.turns == sum(tally.messages.values())
    assert done.answers == sum(sum(c.values()) for c in tally.answers.values())
    assert disagreements(tally, url) == []


def test_the_summary_is_incremental_and_idempotent(stores) -> None:
    url, tracker = stores
    first = insights_store.generate(tracker, url, 1500, seed=1)
    insights.summarise(url, tracker, batch=200)  # many batches
    again = insights.summarise(url, tracker)
    assert (again.events, again.turns) == (0, 0)
    more = insights_store.generate(tracker, url, 800, seed=2, days=3)
    added = insights.summarise(url, tracker)
    assert added.turns == sum(more.messages.values())
    assert disagreements(insights_store.merge(first, more), url) == []


def test_a_new_tracker_store_or_summary_version_is_summarised_again(stores) -> None:
    url, tracker = stores
    insights_store.generate(tracker, url, 1500, seed=3)
    insights.summarise(url, tracker)
    with db.engine_for(tracker).begin() as conn:  # the store replaced by a smaller one
        conn.execute(sa.delete(EVENTS))
        if tracker.startswith("postgresql"):
            conn.execute(sa.text("ALTER SEQUENCE events_seq RESTART WITH 1"))
    with db.engine_for(url).begin() as conn:
        conn.execute(sa.delete(db.ServiceRequest.__table__))
        conn.execute(sa.delete(db.Feedback.__table__))
    smaller = insights_store.generate(tracker, url, 300, seed=4)
    done = insights.summarise(url, tracker)
    assert done.rebuilt
    assert disagreements(smaller, url) == []
    with db.session_scope(url) as session:  # what a row means changed in an upgrade
        session.merge(db.Meta(key=bookkeeping.VERSION_KEY, value="0"))
    assert insights.summarise(url, tracker).rebuilt
    assert disagreements(smaller, url) == []


def test_forget_and_retention_take_the_figures_with_them(stores) -> None:
    url, tracker = stores
    insights_store.generate(tracker, url, 1500, seed=5)
    insights.summarise(url, tracker)
    with db.session_scope(url) as session:
        sender = session.scalars(sa.select(db.InsightTurn.sender).limit(1)).one()
        before = figures.compute(PERIOD, url)["conversations"]["all"]
    subject.forget(sender, url=url, tracker_url=tracker)
    insights.summarise(url, tracker)
    assert figures.compute(PERIOD, url)["conversations"]["all"] == before - 1
    with db.session_scope(url) as session:
        for table in (db.InsightTurn, db.InsightAnswer, db.InsightForm, db.InsightSender):
            assert session.scalar(sa.select(sa.func.count()).where(table.sender == sender)) == 0
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=400)
    retention.purge(30, now=later, url=url, tracker_url=tracker)
    insights.summarise(url, tracker)
    gone = figures.compute(PERIOD, url)
    assert gone["conversations"]["all"] == 0 and gone["answers"]["paid"]["all"] == 0


def test_postgresql_reads_an_event_only_once_it_has_settled(stores) -> None:
    url, tracker = stores
    insights_store.generate(tracker, url, 200, seed=6)
    insights.summarise(url, tracker)
    with db.engine_for(tracker).begin() as conn:  # a message saved just now
        data = insights_store._user("hello", "greet", 0.99, "nb")
        conn.execute(
            EVENTS.insert(),
            {
                "sender_id": "fresh",
                "type_name": "user",
                "timestamp": time.time(),
                "intent_name": "greet",
                "data": json.dumps(data),
            },
        )
    waited = insights.summarise(url, tracker, settle_seconds=60)
    settled = insights.summarise(url, tracker, settle_seconds=0)
    if tracker.startswith("postgresql"):  # ids may commit out of order there
        assert (waited.turns, settled.turns) == (0, 1)
    else:  # SQLite's one writer commits them in order
        assert (waited.turns, settled.turns) == (1, 0)


def test_the_settle_time_counts_every_event_not_only_those_read(stores) -> None:
    """An action event (which the summary skips) saved just now stops the read
    before it: a user event behind it, with a lower id not yet committed, would
    otherwise be passed over for good."""
    url, tracker = stores
    insights_store.generate(tracker, url, 200, seed=9)
    insights.summarise(url, tracker)
    with db.engine_for(tracker).begin() as conn:
        fresh = insights_store._action("action_listen")
        old = insights_store._user("hello again", "greet", 0.99, "sv")
        for at, data in ((time.time(), fresh), (time.time() - 3600, old)):
            conn.execute(
                EVENTS.insert(),
                {
                    "sender_id": "late",
                    "type_name": data["event"],
                    "timestamp": at,
                    "data": json.dumps(data),
                },
            )
    waited = insights.summarise(url, tracker, settle_seconds=60)
    if tracker.startswith("postgresql"):
        assert (waited.turns, waited.behind) == (0, 2)
        assert insights.summarise(url, tracker, settle_seconds=0).turns == 1
    else:
        assert (waited.turns, waited.behind) == (1, 0)


def test_forget_brings_the_cursor_back_for_reused_ids(stores) -> None:
    url, tracker = stores
    first = insights_store.generate(tracker, url, 600, seed=10)
    insights.summarise(url, tracker)
    with db.engine_for(tracker).connect() as conn:
        newest = conn.execute(
            sa.select(EVENTS.c.sender_id).order_by(EVENTS.c.id.desc()).limit(1)
        ).scalar_one()
    exported = subject.export(newest, url=url, tracker_url=tracker)
    assert exported["insights"]["turns"] and "sender" not in exported["insights"]["turns"][0]
    subject.forget(newest, url=url, tracker_url=tracker)
    with db.engine_for(tracker).connect() as conn:
        left = conn.execute(sa.select(sa.func.max(EVENTS.c.id))).scalar()
    with db.session_scope(url) as session:
        assert session.get(db.InboxCursor, bookkeeping.CURSOR).position == left
    more = insights_store.generate(tracker, url, 300, seed=11, days=2)  # SQLite reuses ids
    assert insights.summarise(url, tracker).turns == sum(more.messages.values())
    assert figures.compute(PERIOD, url)["conversations"]["all"] == (
        sum(first.conversations.values()) - 1 + sum(more.conversations.values())
    )


def test_a_changed_rule_base_names_the_topics_again(stores) -> None:
    url, tracker = stores
    tally = insights_store.generate(tracker, url, 1500, seed=12)
    insights.summarise(url, tracker)
    with db.session_scope(url) as session:  # as if summarised before the rule base was loaded
        A = db.InsightAnswer
        session.execute(sa.update(A).where(A.kind == "topic").values(kind="other", topic=None))
        session.merge(db.Meta(key=bookkeeping.RULES_KEY, value="none"))
    named = figures.compute(PERIOD, url)["topics"]
    assert all(t["answers"]["all"] == 0 for t in named)  # only their thumbs are left
    insights.summarise(url, tracker)
    assert disagreements(tally, url) == []


# ---------------------------------------------------------------- what is shown


def test_one_hidden_language_never_follows_from_the_total() -> None:
    def n(all_: int, en: int, nb: int, sv: int) -> dict[str, int]:
        return {"all": all_, "en": en, "nb": nb, "sv": sv}

    assert report.by_lang_shown(n(12, 9, 3, 0)) == {"all": 12, "en": "< 5", "nb": "< 5", "sv": 0}
    assert report.by_lang_shown(n(3, 0, 3, 0))["all"] == "< 5"
    assert report.by_lang_shown(n(8, 0, 0, 8)) == n(8, 0, 0, 8)
    # two hidden: their sum follows, neither does
    assert report.by_lang_shown(n(12, 6, 3, 3)) == {"all": 12, "en": 6, "nb": "< 5", "sv": "< 5"}
    # one hidden, nothing else to hide: the total goes
    assert report.by_lang_shown({"all": 9, "en": 0, "nb": 9, "sv": 0}) == n(9, 0, 9, 0)
    assert report.by_lang_shown({"all": 6, "en": 6, "nb": 0, "sv": 0}) == n(6, 6, 0, 0)
    odd = {"all": 7, "en": 3, "nb": 0, "sv": 0}  # (a conversation in two languages)
    assert report.by_lang_shown(odd)["all"] == "< 5"


def test_small_counts_are_hidden_and_rates_need_both_counts() -> None:
    assert [report.count(n) for n in (0, 1, 4, 5, 120)] == [0, "< 5", "< 5", 5, 120]
    assert report.rate(0, 10) == 0.0 and report.rate(5, 10) == 0.5
    assert report.rate(3, 10) is None and report.rate(4, 4) is None and report.rate(0, 3) is None


def raw_figures() -> dict[str, Any]:
    def n(all_: int, en: int, nb: int, sv: int) -> dict[str, int]:
        return {"all": all_, "en": en, "nb": nb, "sv": sv}

    empty = n(0, 0, 0, 0)
    return {
        "period": {"since": "2026-11-01", "until": "2026-11-30"},
        "conversations": n(40, 20, 12, 8),
        "settled": n(30, 15, 10, 5),
        "messages": n(90, 50, 25, 15),
        "questions": n(60, 30, 20, 10),
        "fell_back": n(6, 3, 2, 1),
        "answers": {k: empty for k in figures.CATEGORIES} | {"fallback": n(6, 3, 2, 1)},
        "topics": [
            {
                "topic": "disinfection",
                "intent": "scope_disinfection",
                "title": {"en": 'Disinfection <b>&"', "nb": "x", "sv": "y"},
                "answers": n(25, 12, 8, 5),
                "up": n(7, 7, 0, 0),
                "down": n(2, 0, 2, 0),
            }
        ],
        "clauses": [{"clause": "rules:4.2.3", "cited": n(25, 12, 8, 5)}],
        "feedback": {"up": n(7, 7, 0, 0), "down": n(2, 0, 2, 0)},
        "weeks": [
            {
                "week": "2026-11-23",
                "questions": n(60, 30, 20, 10),
                "fallback": n(6, 3, 2, 1),
                "low_confidence": n(12, 6, 4, 2),
            }
        ],
        "requests": {
            "by_service": {"=cmd|' /C calc'!A0": n(5, 0, 5, 0)},
            "by_queue": {"professional_services": n(5, 0, 5, 0)},
            "by_country": {"NO": n(5, 0, 5, 0), "IS": n(1, 0, 1, 0), "FI": n(2, 2, 0, 0)},
            "filed": n(5, 0, 5, 0),
            "offered": n(10, 2, 8, 0),
            "offered_then_filed": n(5, 0, 5, 0),
        },
        "forms": {
            "started": n(9, 0, 9, 0),
            "filed": n(5, 0, 5, 0),
            "cancelled": n(3, 0, 3, 0),
            "abandoned": n(1, 0, 1, 0),
            "in_progress": empty,
            "given_up_at": {"sr_email": n(4, 0, 4, 0)},
        },
    }


def test_shown_figures_hide_every_small_count() -> None:
    out = report.shown(raw_figures())
    assert out["answers"]["fallback"] == {"all": 6, "en": "< 5", "nb": "< 5", "sv": "< 5"}
    assert out["topics"][0]["down"] == {"all": "< 5", "en": 0, "nb": "< 5", "sv": 0}
    assert out["forms"]["given_up_at"]["sr_email"]["all"] == "< 5"
    assert out["rates"]["fallback"] == {"all": 0.1, "en": None, "nb": None, "sv": None}
    assert out["rates"]["settled"]["en"] == 0.75
    # offered: en's 2 alone hidden would be 10 - 8 - 0: nb's 8 is hidden too
    assert out["requests"]["offered"] == {"all": 10, "en": "< 5", "nb": "< 5", "sv": 0}
    assert out["rates"]["offered_then_filed"] == {"all": 0.5, "en": None, "nb": None, "sv": None}
    # a country with a handful of requests is not named: "other" holds them together
    assert out["requests"]["by_country"] == {
        "NO": {"all": 5, "en": 0, "nb": 5, "sv": 0},
        "other": {"all": "< 5", "en": "< 5", "nb": "< 5", "sv": 0},
    }
    assert out["weeks"][0]["low_confidence_rate"]["all"] == 0.2
    for _, _, values in report.rows(out):  # nothing from 1 to 4 anywhere
        assert not any(isinstance(v, int) and 0 < v < 5 for v in values.values())


def test_csv_rows_and_formula_cells() -> None:
    text = report.to_csv(report.shown(raw_figures()))
    lines = text.splitlines()
    assert lines[0] == "figure,key,all,en,nb,sv,since,until"
    assert "conversations,,40,20,12,8,2026-11-01,2026-11-30" in lines
    assert "answers,fallback,6,< 5,< 5,< 5,2026-11-01,2026-11-30" in lines
    assert "topics.down,disinfection,< 5,0,< 5,0,2026-11-01,2026-11-30" in lines
    assert "rates,fallback,0.1,,,,2026-11-01,2026-11-30" in lines
    service = [line for line in lines if line.startswith("requests.by_service")]
    assert len(service) == 1 and service[0].startswith("requests.by_service,'=cmd")


def test_text_report_reads_as_a_table() -> None:
    text = report.to_text(report.shown(raw_figures()))
    assert text.startswith("Insights 2026-11-01 to 2026-11-30")
    assert "disinfection" in text and "gave up at sr_email" in text and "< 5" in text


def test_charts_are_well_formed_svg_with_escaped_text_and_links() -> None:
    drawn = charts.all_charts(report.shown(raw_figures()))
    assert set(drawn) == {
        "weeks",
        "topics",
        "answers",
        "thumbs_down",
        "services",
        "countries",
        "forms",
    }
    for name, svg in drawn.items():
        xml.dom.minidom.parseString(svg)  # raises if not well-formed
        assert "<script" not in svg.lower(), name
    assert "Disinfection &lt;b&gt;&amp;&quot;" in drawn["topics"]
    assert 'href="#inbox?intent=scope_disinfection"' in drawn["topics"]
    # a hidden count draws no bar: the thumbs down by topic is "< 5" in all
    legend_end = drawn["thumbs_down"].index("each</text>")
    assert "<rect" not in drawn["thumbs_down"][legend_end:]
    assert "&lt; 5</text>" in drawn["thumbs_down"][legend_end:]
    # the answers that fell back: 6 in all, each language under 5: one grey bar
    assert 'fill="#b8c0c8"><title>languages under 5' in drawn["answers"]


def test_empty_figures_still_draw() -> None:
    url_free = raw_figures() | {"topics": [], "clauses": [], "weeks": []}
    for svg in charts.all_charts(report.shown(url_free)).values():
        xml.dom.minidom.parseString(svg)


def test_periods() -> None:
    today = dt.date(2026, 12, 7)
    assert Period.parse(today=today) == Period(dt.date(2026, 11, 8), today)
    assert Period.parse("7", today=today) == Period(dt.date(2026, 12, 1), today)
    assert Period.parse(None, "2026-11-01", "2026-11-30", today) == Period(
        dt.date(2026, 11, 1), dt.date(2026, 11, 30)
    )
    assert Period.parse(None, "2026-12-01", None, today).until == today
    for bad in (
        ("0", None, None),
        ("x", None, None),
        ("99999", None, None),
        ("7", "2026-11-01", None),
        (None, None, "2026-11-01"),
        (None, "2026-13-01", None),
        (None, "2026-11-30", "2026-11-01"),
        (None, "1900-01-01", "2026-11-01"),
    ):
        with pytest.raises(PeriodError):
            Period.parse(*bad, today=today)
    assert Period(today, today).end - Period(today, today).start == dt.timedelta(days=1)
    for far in ((None, "9999-12-31", "9999-12-31"), (None, "2026-12-01", "2028-01-01")):
        with pytest.raises(PeriodError, match="ahead"):
            Period.parse(*far, today=today)
