"""`bot rulebase load` and `bot rules list|show|search`: the rule base, for editors."""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import textwrap

from bot import answers, db, rulebase, settings
from bot.contract import LANGS


def _load_rulebase(_args: argparse.Namespace) -> int:
    """Validate content/rulebase/ and store it; a broken file leaves the old one."""
    cfg = settings.load()
    try:
        version, changed = rulebase.load(cfg.database_url)
    except rulebase.RulebaseError as exc:
        print(f"Rule base NOT loaded; the stored one is unchanged.\n{exc}", file=sys.stderr)
        return 1
    rules = rulebase.current(cfg.database_url)
    state = "loaded" if changed else "unchanged"
    print(
        f"Rule base {state}: {len(rules.clauses)} clauses, {len(rules.topics)} topics, "
        f"{len(rules.services)} paid services (version {version})."
    )
    return 0


def _rules() -> rulebase.RuleBase:
    """The stored rule base; loaded from the files first if none is stored."""
    cfg = settings.load()
    try:
        return rulebase.current(cfg.database_url)
    except rulebase.RulebaseMissing:
        db.upgrade(cfg.database_url)
        try:
            rulebase.load(cfg.database_url)
        except rulebase.RulebaseError as exc:
            raise SystemExit(
                f"No rule base stored, and the files cannot be loaded.\n{exc}"
            ) from None
        return rulebase.current(cfg.database_url)


def clause_record(clause: rulebase.Clause) -> dict:
    """Every field of a clause, as `bot rules list --json` prints it."""
    doc = clause.document
    return {
        "id": clause.id,
        "document": {
            "prefix": doc.prefix,
            "title": doc.title,
            "titles": doc.titles,
            "date": doc.date.isoformat(),
            "language": doc.language,
            "article_id": doc.article_id,
            "url": doc.url,
        },
        "section": clause.section,
        "original": clause.original,
        "text": clause.texts,
        "verdict": clause.verdict,
        "topics": list(clause.topics),
        "see_also": list(clause.see_also),
        "service": None
        if clause.service is None
        else {
            "id": clause.service.id,
            "queue": clause.service.queue,
            "name": clause.service.names,
        },
    }


def _list(args: argparse.Namespace) -> int:
    """One line per clause, or every field as JSON."""
    rules = _rules()
    if args.json:
        json.dump(
            [clause_record(c) for c in rules.clauses.values()],
            sys.stdout,
            ensure_ascii=False,
            indent=2,
        )
        print()
        return 0
    for clause in rules.clauses.values():
        text = clause.text(args.lang)
        print(f"{clause.id:<16} {clause.verdict:<13} {textwrap.shorten(text, 90)}")
    return 0


def _show(args: argparse.Namespace) -> int:
    """One clause: verdict, citation, wording, original, links, topics."""
    rules = _rules()
    clause = rules.clause(args.id)
    if clause is None:
        near = difflib.get_close_matches(args.id, list(rules.clauses), n=5, cutoff=0.6)
        hint = f" Did you mean: {', '.join(near[:5])}?" if near else ""
        print(f"No clause {args.id!r}.{hint} (`bot rules list` shows all ids)", file=sys.stderr)
        return 1
    lang = args.lang
    print(f"{clause.id}  [{answers.verdict_label(clause.verdict, lang, clause.service)}]")
    print(answers.citation(clause, lang))
    print()
    print(textwrap.fill(clause.text(lang), 88))
    if lang != clause.document.language:
        print(f"\nOriginal ({clause.document.language}):")
        print(textwrap.fill(clause.original, 88))
    if clause.see_also:
        print(f"\nSee also: {', '.join(clause.see_also)}")
    if clause.topics:
        print(f"Topics:   {', '.join(clause.topics)}")
    return 0


def _search(args: argparse.Namespace) -> int:
    """Clauses whose wording holds every word; exit 1 if none."""
    hits = _rules().search(" ".join(args.text))
    if not hits:
        print("No clause matches.", file=sys.stderr)
        return 1
    for clause in hits:
        print(
            f"{clause.id:<16} {clause.verdict:<13} {textwrap.shorten(clause.text(args.lang), 90)}"
        )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `rulebase` and `rules` to the top-level parser."""
    rb = sub.add_parser("rulebase", help="the rule base in the database")
    rb_sub = rb.add_subparsers(dest="action", required=True)
    rb_sub.add_parser("load", help="validate content/rulebase/ and load it").set_defaults(
        func=_load_rulebase
    )

    rules = sub.add_parser("rules", help="read the clauses")
    rules_sub = rules.add_subparsers(dest="action", required=True)
    lst = rules_sub.add_parser("list", help="every clause")
    lst.add_argument("--json", action="store_true", help="every field, as JSON")
    lst.add_argument("--lang", choices=LANGS, default="en")
    lst.set_defaults(func=_list)
    show = rules_sub.add_parser("show", help="one clause")
    show.add_argument("id", help="e.g. rules:4.2.3 or kb101732:2.2")
    show.add_argument("--lang", choices=LANGS, default="en")
    show.set_defaults(func=_show)
    search = rules_sub.add_parser("search", help="clauses holding every word")
    search.add_argument("text", nargs="+")
    search.add_argument("--lang", choices=LANGS, default="en")
    search.set_defaults(func=_search)
