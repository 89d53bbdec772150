"""Reading the rule base files (content/rulebase/) and checking every entry:
a malformed one is refused with its file, id and problem."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.contract import LANGS, VERDICTS
from bot.rulebase.model import RulebaseError
from bot.settings import CONTENT_DIR

_QUEUE_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")  # the queues are whatever services.yml names
RULEBASE_DIR = CONTENT_DIR / "rulebase"
_CLAUSE_ID = re.compile(r"^(?P<prefix>[a-z0-9]+):(?P<section>[0-9]+(?:\.[0-9]+)*[a-z]?)$")


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


_parsed: dict[tuple[str, str], Source] = {}  # (folder, digest of its files) -> Source
_parsed_lock = threading.Lock()


def _digest(directory: Path) -> str:
    """Changes with any byte of any file under the folder (parsing is the slow part:
    about 0.25 s; hashing the bytes about a millisecond)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(directory)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def read(directory: Path = RULEBASE_DIR) -> Source:
    """Parse and validate every rule base file; raise RulebaseError listing all problems.
    The same bytes give the same (immutable in use) Source, parsed once per process."""
    key = (str(directory), _digest(directory))
    with _parsed_lock:
        cached = _parsed.get(key)
    if cached is not None:
        return cached
    source = _parse(directory)
    with _parsed_lock:
        if len(_parsed) >= 8:  # a few folders at most (tests edit copies)
            _parsed.clear()
        _parsed[key] = source
    return source


def _parse(directory: Path) -> Source:
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
