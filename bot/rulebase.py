"""The rule base: both support documents as clauses, with topics and paid services.

Source of truth: YAML under content/rulebase/ (one entry per clause id). `load`
validates every file, then replaces the rule base in the database in one
transaction, so a broken edit leaves the old rule base in place. Readers get an
immutable snapshot (`current`), cached until the stored version changes, so a
corrected sentence is live after `bot rulebase load` with no retraining and no
restart.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete, select
from sqlalchemy import exc as sa_exc

from bot import db
from bot.contract import LANGS, VERDICTS
from bot.settings import CONTENT_DIR
from bot.text import fold

_QUEUE_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")  # the queues are whatever services.yml names
RULEBASE_DIR = CONTENT_DIR / "rulebase"
_CLAUSE_ID = re.compile(r"^(?P<prefix>[a-z0-9]+):(?P<section>[0-9]+(?:\.[0-9]+)*[a-z]?)$")


class RulebaseError(Exception):
    """The rule base files are malformed; `problems` lists each one as file: id: what."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("the rule base has problems:\n" + "\n".join(f"  {p}" for p in problems))


# ---------------------------------------------------------------- snapshot types


@dataclass(frozen=True)
class Document:
    prefix: str
    title: str
    titles: dict[str, str]
    date: dt.date
    language: str
    article_id: str | None
    url: str | None
    seed: str


@dataclass(frozen=True)
class Service:
    id: str
    queue: str
    names: dict[str, str]
    summaries: dict[str, str]
    # The clauses whose original wording sells it: an answer offers the service
    # only when it cites one of them (nothing promised the documents don't say).
    sold_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Clause:
    id: str
    document: Document
    section: str
    original: str
    texts: dict[str, str]
    verdict: str
    service: Service | None
    see_also: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()

    def text(self, lang: str) -> str:
        return self.texts.get(lang) or self.original


@dataclass(frozen=True)
class Topic:
    id: str
    intent: str
    verdict: str
    description: str
    titles: dict[str, str]
    leads: dict[str, str]
    clauses: tuple[str, ...]
    follow_up: str | None = None  # an intent offered as a button after the answer


@dataclass(frozen=True)
class RuleBase:
    version: str
    documents: dict[str, Document]
    services: dict[str, Service]
    clauses: dict[str, Clause]  # in document order
    topics: dict[str, Topic]  # in file order
    by_intent: dict[str, Topic] = field(default_factory=dict)

    def clause(self, clause_id: str) -> Clause | None:
        return self.clauses.get(clause_id)

    def topic_for_intent(self, intent: str) -> Topic | None:
        return self.by_intent.get(intent)

    def search(self, text: str) -> list[Clause]:
        """Clauses whose id, original or any wording holds every word of `text`."""
        words = fold(text).split()
        if not words:
            return []
        hits = []
        for clause in self.clauses.values():
            haystack = fold(" ".join([clause.id, clause.original, *clause.texts.values()]))
            if all(w in haystack for w in words):
                hits.append((sum(haystack.count(w) for w in words), clause))
        hits.sort(key=lambda hit: -hit[0])  # stable: document order among equals
        return [clause for _, clause in hits]


# ---------------------------------------------------------------- reading files


@dataclass
class Source:
    """The parsed and validated YAML, ready to store."""

    documents: list[dict[str, Any]]
    services: list[dict[str, Any]]
    clauses: list[dict[str, Any]]
    topics: list[dict[str, Any]]

    @property
    def version(self) -> str:
        # content only: the same files in another checkout are the same version
        groups = [self.documents, self.services, self.clauses, self.topics]
        content = [[{k: v for k, v in e.items() if k != "_file"} for e in g] for g in groups]
        canonical = json.dumps(
            content,
            sort_keys=True,
            default=str,
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _read_yaml(path: Path, key: str, problems: list[str]) -> list[dict[str, Any]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{path}: file is missing")
        return []
    except yaml.YAMLError as exc:
        problems.append(f"{path}: not valid YAML: {exc}")
        return []
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        problems.append(f"{path}: expected a top-level '{key}:' list")
        return []
    entries = []
    for n, entry in enumerate(data[key], 1):
        if isinstance(entry, dict):
            entries.append({**entry, "_file": str(path)})
        else:
            problems.append(f"{path}: entry {n} of '{key}' is not a mapping")
    return entries


def _lang_map(entry: dict, name: str, langs: tuple[str, ...], where: str, problems: list[str]):
    value = entry.get(name)
    if not isinstance(value, dict):
        problems.append(f"{where}: '{name}' must map each of {', '.join(langs)} to a text")
        return {}
    for lang in langs:
        if not isinstance(value.get(lang), str) or not value[lang].strip():
            problems.append(f"{where}: '{name}' has no {lang} text")
    extra = set(value) - set(LANGS)
    if extra:
        problems.append(f"{where}: '{name}' has unknown languages {sorted(extra)}")
    return {k: v.strip() for k, v in value.items() if isinstance(v, str)}


def read(directory: Path = RULEBASE_DIR) -> Source:
    """Parse and validate every rule base file; raise RulebaseError listing all problems."""
    problems: list[str] = []
    documents = _read_yaml(directory / "documents.yml", "documents", problems)
    services = _read_yaml(directory / "services.yml", "services", problems)
    # clauses/<prefix>.yml, read in the order documents.yml lists the documents
    order = [d.get("prefix") for d in documents]
    clause_files = sorted(
        (directory / "clauses").glob("*.yml"),
        key=lambda p: (order.index(p.stem) if p.stem in order else len(order), p.name),
    )
    if not clause_files:
        problems.append(f"{directory / 'clauses'}: no clause files")
    clauses = []
    for path in clause_files:
        clauses += _read_yaml(path, "clauses", problems)
    topics = _read_yaml(directory / "topics.yml", "topics", problems)
    if problems:  # unreadable files: cross-checks would only echo the same fault
        raise RulebaseError(problems)

    docs_by_prefix = _check_documents(documents, directory, problems)
    service_ids = _check_services(services, problems)
    _check_clauses(clauses, docs_by_prefix, service_ids, problems)
    _check_sold_by(services, clauses, problems)
    _check_topics(topics, {c.get("id") for c in clauses}, problems)
    if problems:
        raise RulebaseError(problems)
    return Source(documents, services, clauses, topics)


def _check_documents(documents, directory: Path, problems) -> dict[str, tuple[dict, str]]:
    found = {}
    for doc in documents:
        where = f"{doc['_file']}: {doc.get('prefix', '?')}"
        for key in ("prefix", "title", "language", "seed"):
            if not isinstance(doc.get(key), str) or not doc[key]:
                problems.append(f"{where}: '{key}' is missing")
        if doc.get("language") not in LANGS:
            problems.append(f"{where}: language must be one of {', '.join(LANGS)}")
        if not isinstance(doc.get("date"), dt.date):
            problems.append(f"{where}: 'date' must be a date (YYYY-MM-DD)")
        others = tuple(lang for lang in LANGS if lang != doc.get("language"))
        _lang_map(doc, "title_translations", others, where, problems)
        seed_path = directory / "sources" / str(doc.get("seed"))
        try:
            found[doc["prefix"]] = (doc, seed_path.read_text(encoding="utf-8"))
        except (KeyError, OSError):
            problems.append(f"{where}: source text {seed_path} cannot be read")
    return found


def _check_services(services, problems) -> set[str]:
    ids = set()
    for svc in services:
        where = f"{svc['_file']}: {svc.get('id', '?')}"
        if svc.get("id") in ids:
            problems.append(f"{where}: duplicate service id")
        ids.add(svc.get("id"))
        if not isinstance(svc.get("queue"), str) or not _QUEUE_ID.match(svc["queue"]):
            problems.append(f"{where}: queue must be a lower-case id (letters, digits, _)")
        _lang_map(svc, "name", LANGS, where, problems)
        _lang_map(svc, "summary", LANGS, where, problems)
    return ids


def _check_sold_by(services, clauses, problems) -> None:
    """Every service names the clauses that sell it, and a clause's `service` is
    one that the clause sells."""
    by_id = {c.get("id"): c for c in clauses}
    sellers: dict[str, set[str]] = {}
    for svc in services:
        where = f"{svc['_file']}: {svc.get('id', '?')}"
        sold_by = svc.get("sold_by")
        if not isinstance(sold_by, list) or not sold_by:
            problems.append(f"{where}: 'sold_by' must list the clause ids that sell it")
            continue
        for cid in sold_by:
            if cid not in by_id:
                problems.append(f"{where}: sold_by names unknown clause {cid!r}")
            sellers.setdefault(cid, set()).add(svc.get("id"))
    for cid, clause in by_id.items():
        service = clause.get("service")
        if service is not None and service not in sellers.get(cid, set()):
            problems.append(
                f"{clause['_file']}: {cid}: service {service!r} does not list it in 'sold_by'"
            )


def _check_clauses(clauses, docs, service_ids, problems) -> None:
    ids = [c.get("id") for c in clauses]
    for clause in clauses:
        cid = clause.get("id")
        where = f"{clause['_file']}: {cid or '?'}"
        match = _CLAUSE_ID.match(str(cid))
        if not match:
            problems.append(f"{where}: id must look like 'prefix:4.1.2c'")
            continue
        if ids.count(cid) > 1:
            problems.append(f"{where}: duplicate clause id")
        if match["prefix"] not in docs:
            problems.append(f"{where}: no document with prefix '{match['prefix']}'")
            continue
        doc, seed_text = docs[match["prefix"]]
        original = clause.get("original")
        if not isinstance(original, str) or not original.strip():
            problems.append(f"{where}: 'original' is missing")
        else:
            for paragraph in original.split("\n\n"):
                if paragraph.strip() not in seed_text:
                    problems.append(
                        f"{where}: 'original' is not verbatim from {doc['seed']}: "
                        f"{paragraph.strip()[:60]!r}…"
                    )
        if not isinstance(clause.get("section"), str):
            problems.append(f"{where}: 'section' must be a quoted string such as \"4.2.3\"")
        others = tuple(lang for lang in LANGS if lang != doc.get("language"))
        _lang_map(clause, "text", others, where, problems)
        if clause.get("verdict") not in VERDICTS:
            problems.append(
                f"{where}: verdict {clause.get('verdict')!r} is not one of {', '.join(VERDICTS)}"
            )
        if clause.get("service") is not None and clause["service"] not in service_ids:
            problems.append(f"{where}: unknown service {clause['service']!r}")
        for other in clause.get("see_also") or []:
            if other not in ids:
                problems.append(f"{where}: see_also names unknown clause {other!r}")
            elif other.split(":")[0] == match["prefix"]:
                problems.append(f"{where}: see_also {other!r} is in the same document")


def _check_topics(topics, clause_ids: set, problems) -> None:
    seen_ids, seen_intents = set(), set()
    for topic in topics:
        where = f"{topic['_file']}: {topic.get('id', '?')}"
        if topic.get("id") in seen_ids:
            problems.append(f"{where}: duplicate topic id")
        if topic.get("intent") in seen_intents:
            problems.append(f"{where}: intent {topic.get('intent')!r} is used twice")
        seen_ids.add(topic.get("id"))
        seen_intents.add(topic.get("intent"))
        if topic.get("intent") != f"scope_{topic.get('id')}":
            problems.append(f"{where}: intent must be 'scope_{topic.get('id')}'")
        if topic.get("verdict") not in VERDICTS:
            problems.append(f"{where}: verdict {topic.get('verdict')!r} is not one of the verdicts")
        listed = topic.get("clauses")
        if not isinstance(listed, list) or not listed:
            problems.append(f"{where}: 'clauses' must list at least one clause id")
        else:
            for cid in listed:
                if cid not in clause_ids:
                    problems.append(f"{where}: unknown clause {cid!r}")
        follow_up = topic.get("follow_up")
        if follow_up is not None and not re.fullmatch(r"[a-z][a-z0-9_]*", str(follow_up)):
            problems.append(f"{where}: follow_up must be an intent name")
        _lang_map(topic, "title", LANGS, where, problems)
        _lang_map(topic, "lead", LANGS, where, problems)


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
