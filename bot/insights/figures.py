"""The figures, counted by the database: SQL aggregates over the summary
(bot/insights/summary.py), the feedback and the filed requests, for one period.

Every count comes per language ("en", "nb", "sv") and for all ("all"): a
conversation's language is the one it was answered in, so a conversation
answered in two languages counts once in each and once in "all". What the
figures are is in docs/insights.md. These are the raw counts; what a person
or another tool is shown (small counts hidden) is bot/insights/report.py.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot import db, rulebase, settings
from bot.contract import LANGS, VERDICTS
from bot.insights.period import Period

ByLang = dict[str, int]
CATEGORIES = (*VERDICTS, "lookup", "fallback", "out_of_scope")
FORM_ENDS = ("filed", "cancelled", "abandoned", "in_progress")
FORM_ROWS = ("started", *FORM_ENDS)  # the request form's figures, in the order shown
ABANDONED_AFTER = dt.timedelta(minutes=60)  # the domain's session_expiration_time
HANDOFF_INTENT = "human_handoff"


def by_lang(rows: Any = (), total: int | None = None) -> ByLang:
    """(lang, n) rows as {"all": n, "en": n, "nb": n, "sv": n}; "all" is their sum
    unless given (distinct conversations are counted once in "all")."""
    found: ByLang = {"all": 0, **{lang: 0 for lang in LANGS}}
    for lang, n in rows:
        if lang in LANGS:
            found[lang] += int(n or 0)
    found["all"] = sum(found[lang] for lang in LANGS) if total is None else int(total)
    return found


def _add(into: ByLang, other: ByLang) -> None:
    for key, n in other.items():
        into[key] = into.get(key, 0) + n


def _grouped(rows: Any) -> dict[str, ByLang]:
    """(key, lang, n) rows as {key: ByLang}."""
    found: dict[str, ByLang] = {}
    for key, lang, n in rows:
        _add(found.setdefault(key, by_lang()), by_lang([(lang, n)]))
    return found


def _largest_first(groups: dict[str, ByLang]) -> dict[str, ByLang]:
    return dict(sorted(groups.items(), key=lambda kv: (-kv[1]["all"], kv[0])))


class _Counts:
    def __init__(self, session: Session, period: Period):
        self.session, self.period = session, period

    def within(self, table: Any, column: str = "at") -> Any:
        at = getattr(table, column)
        return sa.and_(at >= self.period.start, at < self.period.end)

    def per_lang(self, statement: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.session.execute(statement)]

    def distinct_senders(self, table: Any, *where: Any) -> ByLang:
        """Conversations, per language and in all. Counted from a GROUP BY in a
        subquery, which PostgreSQL hashes, not count(DISTINCT), which it sorts
        (twice as slow on 150,000 rows)."""
        pairs = (
            sa.select(table.lang, table.sender)
            .where(*where)
            .group_by(table.lang, table.sender)
            .subquery()
        )
        rows = self.per_lang(sa.select(pairs.c.lang, sa.func.count()).group_by(pairs.c.lang))
        senders = sa.select(table.sender).where(*where).group_by(table.sender).subquery()
        total = self.session.scalar(sa.select(sa.func.count()).select_from(senders))
        return by_lang(rows, total)

    def rows(self, table: Any, *where: Any) -> ByLang:
        count = sa.func.count()
        return by_lang(
            self.per_lang(sa.select(table.lang, count).where(*where).group_by(table.lang))
        )


def compute(
    period: Period,
    url: str | None = None,
    *,
    now: dt.datetime | None = None,
    low_confidence: float | None = None,
) -> dict[str, Any]:
    """Every figure of the period, as plain data (counts, not yet hidden)."""
    cfg = settings.load()
    url = db.ensure_schema(url)
    now = now or dt.datetime.now(dt.timezone.utc)
    threshold = cfg.inbox_confidence if low_confidence is None else low_confidence
    with db.session_scope(url) as session:
        c = _Counts(session, period)
        figures: dict[str, Any] = {
            "period": {"since": period.since.isoformat(), "until": period.until.isoformat()},
            **_conversations(c),
            "answers": _answers(c),
            **_topics_and_clauses(c, url),
            "weeks": _weeks(c, threshold),
            "requests": _requests(c),
            "forms": _forms(c, now),
        }
    return figures


def _conversations(c: _Counts) -> dict[str, ByLang]:
    T, A = db.InsightTurn, db.InsightAnswer
    in_period = c.within(T)
    # settled: answered from the rule base or the records, never a fallback,
    # and nobody asked for a person
    # NOT IN a subquery: both databases build its set once (SQLite an index,
    # PostgreSQL a hash), where a correlated NOT EXISTS costs SQLite a lookup a row
    failed = sa.select(A.sender).where(c.within(A), A.kind == "fallback")
    handoff = sa.select(T.sender).where(in_period, T.intent == HANDOFF_INTENT)
    settled = c.distinct_senders(
        A,
        c.within(A),
        A.kind.in_(("topic", "lookup")),
        A.sender.not_in(failed),
        A.sender.not_in(handoff),
    )
    return {
        "conversations": c.distinct_senders(T, in_period),
        "settled": settled,
        "messages": c.rows(T, in_period),
        "questions": c.rows(T, in_period, T.kind == "question"),
        "fell_back": c.rows(T, in_period, T.kind == "question", T.fallback),
    }


def _answers(c: _Counts) -> dict[str, ByLang]:
    A = db.InsightAnswer
    category = sa.case(
        (A.kind.in_(("lookup", "fallback", "out_of_scope")), A.kind), else_=A.verdict
    )
    rows = c.per_lang(
        sa.select(category, A.lang, sa.func.count()).where(c.within(A)).group_by(category, A.lang)
    )
    counted = _grouped(rows)
    return {name: counted.get(name, by_lang()) for name in CATEGORIES}


def _feedback_by_topic(c: _Counts, topics: dict[tuple[str, ...], str]) -> dict[str, Any]:
    F = db.Feedback
    rows = c.per_lang(
        sa.select(sa.cast(F.rule_ids, sa.Text), F.rating, F.lang, sa.func.count())
        .where(c.within(F, "created_at"))
        .group_by(sa.cast(F.rule_ids, sa.Text), F.rating, F.lang)
    )
    per_topic: dict[str, dict[str, ByLang]] = {}
    totals = {"up": by_lang(), "down": by_lang()}
    for raw, rating, lang, n in rows:
        if rating not in totals:
            continue
        counted = by_lang([(lang, n)])
        _add(totals[rating], counted)
        try:
            ids = tuple(json.loads(raw) or ())
        except (TypeError, ValueError):
            ids = ()
        topic = topics.get(ids)
        if topic:
            mine = per_topic.setdefault(topic, {"up": by_lang(), "down": by_lang()})
            _add(mine[rating], counted)
    return {"totals": totals, "topics": per_topic}


def _topics_and_clauses(c: _Counts, url: str) -> dict[str, Any]:
    A = db.InsightAnswer
    try:
        rules = rulebase.current(url)
        known = list(rules.topics.values())
    except rulebase.RulebaseMissing:
        known = []
    topics = {t.clauses: t.id for t in known}
    asked = _grouped(
        c.per_lang(
            sa.select(A.topic, A.lang, sa.func.count())
            .where(c.within(A), A.topic.is_not(None))
            .group_by(A.topic, A.lang)
        )
    )
    feedback = _feedback_by_topic(c, topics)
    listed = []
    for topic in known:
        votes = feedback["topics"].get(topic.id, {"up": by_lang(), "down": by_lang()})
        answers = asked.get(topic.id, by_lang())
        if answers["all"] or votes["up"]["all"] or votes["down"]["all"]:
            listed.append(
                {
                    "topic": topic.id,
                    "intent": topic.intent,
                    "title": dict(topic.titles),
                    "answers": answers,
                    "up": votes["up"],
                    "down": votes["down"],
                }
            )
    listed.sort(key=lambda t: (-t["answers"]["all"], t["topic"]))
    # clauses: the answers grouped by their list of clauses (a few dozen lists), then spread
    cited: dict[str, Counter[str]] = {}
    for raw, lang, n in c.per_lang(
        sa.select(A.rule_ids, A.lang, sa.func.count())
        .where(c.within(A), A.kind.in_(("topic", "lookup")))
        .group_by(A.rule_ids, A.lang)
    ):
        for clause in json.loads(raw or "[]"):
            cited.setdefault(clause, Counter())[lang] += int(n)
    clauses: list[dict[str, Any]] = [
        {"clause": clause, "cited": by_lang(counts.items())} for clause, counts in cited.items()
    ]
    clauses.sort(key=lambda x: (-int(x["cited"]["all"]), str(x["clause"])))
    return {"topics": listed, "clauses": clauses, "feedback": feedback["totals"]}


def _weeks(c: _Counts, threshold: float) -> list[dict[str, Any]]:
    T = db.InsightTurn
    low = sa.and_(T.confidence.is_not(None), T.confidence < threshold)
    rows = c.per_lang(
        sa.select(
            T.week,
            T.lang,
            sa.func.count(),
            sa.func.sum(sa.case((T.fallback, 1), else_=0)),
            sa.func.sum(sa.case((low, 1), else_=0)),
        )
        .where(c.within(T), T.kind == "question")
        .group_by(T.week, T.lang)
        .order_by(T.week)
    )
    weeks: dict[str, dict[str, Any]] = {}
    for week, lang, questions, fallback, uncertain in rows:
        key = week.isoformat() if hasattr(week, "isoformat") else str(week)
        row = weeks.setdefault(
            key,
            {
                "week": key,
                "questions": by_lang(),
                "fallback": by_lang(),
                "low_confidence": by_lang(),
            },
        )
        _add(row["questions"], by_lang([(lang, questions)]))
        _add(row["fallback"], by_lang([(lang, fallback)]))
        _add(row["low_confidence"], by_lang([(lang, uncertain)]))
    return [weeks[k] for k in sorted(weeks)]


def _requests(c: _Counts) -> dict[str, Any]:
    R, A = db.ServiceRequest, db.InsightAnswer
    found: dict[str, Any] = {}
    for name in ("service", "queue", "country"):
        column = getattr(R, name)
        groups = _grouped(
            c.per_lang(
                sa.select(column, R.language, sa.func.count())
                .where(c.within(R, "created_at"))
                .group_by(column, R.language)
            )
        )
        found[f"by_{name}"] = _largest_first(groups)
    found["filed"] = by_lang(
        c.per_lang(
            sa.select(R.language, sa.func.count())
            .where(c.within(R, "created_at"))
            .group_by(R.language)
        )
    )
    offered = (c.within(A), A.verdict == "paid")
    followed = sa.exists().where(R.conversation_id == A.sender, R.created_at >= A.at)
    found["offered"] = c.distinct_senders(A, *offered)
    found["offered_then_filed"] = c.distinct_senders(A, *offered, followed)
    return found


def _forms(c: _Counts, now: dt.datetime) -> dict[str, Any]:
    F = db.InsightForm
    stale = F.last_at < now - ABANDONED_AFTER
    end = sa.case(
        (F.outcome != "open", F.outcome),
        (stale, "abandoned"),
        else_="in_progress",
    )
    ended = _grouped(
        c.per_lang(sa.select(end, F.lang, sa.func.count()).where(c.within(F)).group_by(end, F.lang))
    )
    found: dict[str, Any] = {"started": c.rows(F, c.within(F))}
    found |= {name: ended.get(name, by_lang()) for name in FORM_ENDS}
    gave_up = sa.or_(F.outcome.in_(("cancelled", "abandoned")), sa.and_(F.outcome == "open", stale))
    step = sa.func.coalesce(F.step, "start")
    steps = _grouped(
        c.per_lang(
            sa.select(step, F.lang, sa.func.count())
            .where(c.within(F), gave_up)
            .group_by(step, F.lang)
        )
    )
    found["given_up_at"] = _largest_first(steps)
    return found
