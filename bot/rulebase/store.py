"""Storing the rule base: validate every file, then replace the stored rule
base in one transaction (a broken edit leaves the old one in place)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import delete

from bot import db
from bot.rulebase.source import RULEBASE_DIR, Source, read

# ---------------------------------------------------------------- storing


def load(url: str | None = None, directory: Path = RULEBASE_DIR) -> tuple[str, bool]:
    """Validate the files and replace the stored rule base; (version, changed)."""
    source = read(directory)
    db.upgrade(url)
    with db.session_scope(url) as session:
        stored = session.get(db.Meta, "rulebase_version")
        if stored is not None and stored.value == source.version:
            return source.version, False
        _replace(session, source)
    return source.version, True


def _replace(session, source: Source) -> None:
    for model in (db.TopicClause, db.Topic, db.ClauseLink, db.Clause, db.Service, db.Document):
        session.execute(delete(model))
    session.flush()
    for doc in source.documents:
        titles = {**doc["title_translations"], doc["language"]: doc["title"]}
        session.add(
            db.Document(
                prefix=doc["prefix"],
                title=doc["title"],
                titles=titles,
                date=doc["date"],
                language=doc["language"],
                article_id=doc.get("article_id"),
                url=doc.get("url"),
                seed=doc["seed"],
            )
        )
    for n, svc in enumerate(source.services):
        session.add(
            db.Service(
                id=svc["id"],
                queue=svc["queue"],
                names=svc["name"],
                summaries=svc["summary"],
                position=n,
                sold_by=list(svc["sold_by"]),
            )
        )
    session.flush()
    language = {d["prefix"]: d["language"] for d in source.documents}
    links = set()
    for n, clause in enumerate(source.clauses):
        prefix, section = clause["id"].split(":", 1)
        texts = {**clause["text"], language[prefix]: clause["original"]}
        session.add(
            db.Clause(
                id=clause["id"],
                document=prefix,
                section=clause["section"],
                position=n,
                original=clause["original"],
                texts=texts,
                verdict=clause["verdict"],
                service=clause.get("service"),
            )
        )
        for other in clause.get("see_also") or []:
            links |= {(clause["id"], other), (other, clause["id"])}
    session.flush()
    session.add_all(db.ClauseLink(clause_id=a, other_id=b) for a, b in sorted(links))
    for n, topic in enumerate(source.topics):
        session.add(
            db.Topic(
                id=topic["id"],
                intent=topic["intent"],
                verdict=topic["verdict"],
                description=" ".join(str(topic.get("description", "")).split()),
                titles=topic["title"],
                leads=topic["lead"],
                follow_up=topic.get("follow_up"),
                position=n,
            )
        )
    session.flush()
    for topic in source.topics:
        session.add_all(
            db.TopicClause(topic_id=topic["id"], clause_id=cid, rank=rank)
            for rank, cid in enumerate(topic["clauses"])
        )
    session.merge(db.Meta(key="rulebase_version", value=source.version))
    session.merge(
        db.Meta(key="rulebase_loaded_at", value=dt.datetime.now(dt.timezone.utc).isoformat())
    )
