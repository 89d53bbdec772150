"""Reading the stored rule base: an immutable snapshot per database, cached
until `load` stores a new version (so a corrected sentence is live at once)."""

from __future__ import annotations

import threading

from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from bot import db
from bot.rulebase.model import Clause, Document, RuleBase, Service, Topic

# ---------------------------------------------------------------- reading the database

_cache: dict[str, RuleBase] = {}
_cache_lock = threading.Lock()


class RulebaseMissing(Exception):
    """No rule base has been loaded into this database yet."""


def current(url: str | None = None) -> RuleBase:
    """The stored rule base; re-read only when `load` has stored a new version."""
    key = db.resolve_url(url)
    with db.session_scope(key) as session:
        try:
            stored = session.get(db.Meta, "rulebase_version")
        except (sa_exc.OperationalError, sa_exc.ProgrammingError) as exc:
            if not db.is_missing_table(exc):
                raise
            stored = None  # a database without the schema yet
        if stored is None:
            raise RulebaseMissing("no rule base in the database: run `bot rulebase load`")
        cached = _cache.get(key)
        if cached is not None and cached.version == stored.value:
            return cached
        snapshot = _snapshot(session, stored.value)
    with _cache_lock:
        _cache[key] = snapshot
    return snapshot


def _snapshot(session, version: str) -> RuleBase:
    documents = {
        d.prefix: Document(
            d.prefix, d.title, dict(d.titles), d.date, d.language, d.article_id, d.url, d.seed
        )
        for d in session.scalars(select(db.Document))
    }
    services = {
        s.id: Service(s.id, s.queue, dict(s.names), dict(s.summaries), tuple(s.sold_by or ()))
        for s in session.scalars(select(db.Service).order_by(db.Service.position))
    }
    links: dict[str, list[str]] = {}
    for link in session.scalars(select(db.ClauseLink)):
        links.setdefault(link.clause_id, []).append(link.other_id)
    topic_rows = list(session.scalars(select(db.Topic).order_by(db.Topic.position)))
    members: dict[str, list[tuple[int, str]]] = {}
    topics_of: dict[str, list[str]] = {}
    for tc in session.scalars(select(db.TopicClause)):
        members.setdefault(tc.topic_id, []).append((tc.rank, tc.clause_id))
    for t in topic_rows:
        for _, cid in sorted(members.get(t.id, [])):
            topics_of.setdefault(cid, []).append(t.id)
    order = {d: n for n, d in enumerate(documents)}
    clauses = {
        c.id: Clause(
            id=c.id,
            document=documents[c.document],
            section=c.section,
            original=c.original,
            texts=dict(c.texts),
            verdict=c.verdict,
            service=services.get(c.service) if c.service else None,
            see_also=tuple(sorted(links.get(c.id, []), key=lambda i: (order[i.split(":")[0]], i))),
            topics=tuple(topics_of.get(c.id, [])),
        )
        for c in session.scalars(select(db.Clause).order_by(db.Clause.position))
    }
    topics = {
        t.id: Topic(
            t.id,
            t.intent,
            t.verdict,
            t.description,
            dict(t.titles),
            dict(t.leads),
            tuple(cid for _, cid in sorted(members.get(t.id, []))),
            t.follow_up,
        )
        for t in topic_rows
    }
    return RuleBase(
        version=version,
        documents=documents,
        services=services,
        clauses=clauses,
        topics=topics,
        by_intent={t.intent: t for t in topics.values()},
    )


def clear_cache() -> None:
    """Forget every cached snapshot (tests; a process that swaps databases)."""
    with _cache_lock:
        _cache.clear()
