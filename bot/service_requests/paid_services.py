"""The paid services a request can name, as the rule base has them: ids (in
services.yml order), names, queues, and which clause names which service.

Read through `rulebase.current(url)`, so the database's rule base decides
(the same one the answers cite). A database the rule base was never loaded
into (a fresh clone before `bot rulebase load`, a test's empty database) or
cannot be reached falls back to the rule base files, read and checked by
`rulebase.read` - the same source `bot rulebase load` would store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from bot import db, rulebase


@dataclass(frozen=True)
class Catalogue:
    services: Mapping[str, rulebase.Service]  # id -> service, services.yml order
    clause_services: Mapping[str, str | None]  # clause id -> the service it names, if any

    @property
    def service_ids(self) -> tuple[str, ...]:
        return tuple(self.services)

    @property
    def queues(self) -> tuple[str, ...]:
        """The request queues: those the services name, each once, in order."""
        return tuple(dict.fromkeys(s.queue for s in self.services.values()))


def _from_rules(rules: rulebase.RuleBase) -> Catalogue:
    return Catalogue(
        services=rules.services,
        clause_services={
            cid: clause.service.id if clause.service else None
            for cid, clause in rules.clauses.items()
        },
    )


def from_files() -> Catalogue:
    """The services of the rule base files (no database: e.g. for `bot --help`);
    rulebase.read parses the files once per content."""
    source = rulebase.read()
    return Catalogue(
        services={
            str(s["id"]): rulebase.Service(
                str(s["id"]),
                s["queue"],
                dict(s["name"]),
                dict(s["summary"]),
                tuple(s.get("sold_by") or ()),
            )
            for s in source.services
        },
        clause_services={str(c["id"]): c.get("service") for c in source.clauses},
    )


def current(url: str | None = None) -> Catalogue:
    """The services of the database's rule base (else of the rule base files)."""
    try:
        return _from_rules(rulebase.current(db.resolve_url(url)))
    except (rulebase.RulebaseMissing, SQLAlchemyError):
        return from_files()


def service_ids(url: str | None = None) -> tuple[str, ...]:
    """The service ids, in services.yml order."""
    return current(url).service_ids


def queues(url: str | None = None) -> tuple[str, ...]:
    """The request queues: those services.yml names (through the rule base)."""
    return current(url).queues
