"""What a rule base is: documents, paid services, clauses, topics, and the
immutable snapshot readers get (`RuleBase`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from bot.text import fold


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
