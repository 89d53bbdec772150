"""The `bot` command: run the assistant, and the tools agents and editors use.

bot run                          database, model, both servers (make run)
bot shell                        rasa shell against the same set-up (make shell)
bot prepare [--for-tests]        generate, load the rule base, (validate,) train
bot rulebase load                reload content/rulebase/ after an edit (no retraining)
bot rules list [--json]          every clause
bot rules show ID [--lang L]     one clause, its wording, verdict, links, topics
bot rules search TEXT            clauses whose wording holds every word
bot ask "QUESTION" [--json]      ask the running assistant; language, intent, verdict, reply
bot ask --file FILE [--out CSV]  a file of questions (text or CSV) to a CSV table
bot import products FILE.csv     load product records (all or nothing; contract §3)
bot import licences FILE.csv     load licence records (the products must be there first)
bot records products [--json]    every product version and its support status today
bot records licence KEY          a licence's status and what it entitles to (key masked)
bot records version PRODUCT VER  a product version's status and entitlement
bot requests list [--queue Q] [--status S] [--json]   paid-service requests (keys masked)
bot requests show REF            one request, every field (key masked)
bot requests export --format csv|json [--out FILE]   every request, for the team
bot requests set-status REF STATUS   new, in_progress or closed
bot requests notify REF          send a request to the webhook again
bot requests routing             the routing table (content/routing.csv), checked
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import textwrap

from sqlalchemy.exc import SQLAlchemyError

from bot import answers, db, generate, rulebase, settings
from bot.contract import LANGS


def _load_rulebase(_args) -> int:
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


def _list(args) -> int:
    rules = _rules()
    if args.json:
        json.dump([clause_record(c) for c in rules.clauses.values()], sys.stdout,
                  ensure_ascii=False, indent=2)  # fmt: skip
        print()
        return 0
    for clause in rules.clauses.values():
        text = clause.text(args.lang)
        print(f"{clause.id:<16} {clause.verdict:<13} {textwrap.shorten(text, 90)}")
    return 0


def _show(args) -> int:
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


def _search(args) -> int:
    hits = _rules().search(" ".join(args.text))
    if not hits:
        print("No clause matches.", file=sys.stderr)
        return 1
    for clause in hits:
        print(
            f"{clause.id:<16} {clause.verdict:<13} {textwrap.shorten(clause.text(args.lang), 90)}"
        )
    return 0


def _generate(_args) -> int:
    changed = generate.generate()
    print("\n".join(f"wrote {p}" for p in changed) or "generated files up to date")
    return 0


def _prepare(args) -> int:
    from bot import launcher

    launcher.prepare(settings.load(), for_tests=args.for_tests)
    return 0


def _run(_args) -> int:
    from bot import launcher

    launcher.run()
    return 0


def _shell(_args) -> int:
    from bot import launcher

    launcher.shell()
    return 0


def _ask(args) -> int:
    from pathlib import Path

    from bot import ask

    try:
        if args.file:
            if args.question or args.json:
                usage = "bot ask: give a QUESTION or --file, not both (--json is for one question)"
                print(usage, file=sys.stderr)
                return 2
            ask.ask_file(Path(args.file), Path(args.out) if args.out else None, args.lang)
            return 0
        if args.out:
            print("bot ask: --out goes with --file", file=sys.stderr)
            return 2
        result = ask.ask(" ".join(args.question), args.lang)
    except ask.AskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(ask.format_json(result) if args.json else ask.format_plain(result))
    return 0


def _import(args) -> int:
    from bot import records

    load = records.import_products if args.kind == "products" else records.import_licences
    try:
        result = load(args.file, settings.load().database_url)
    except records.ImportFailed as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print("Nothing was imported.", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"cannot use the database: {exc}. Check BOT_DATABASE_URL.", file=sys.stderr)
        print("Nothing was imported.", file=sys.stderr)
        return 1
    state = "" if result.changed else " (nothing changed)"
    print(f"Imported {result.summary()}{state}.")
    return 0


def _records_products(args) -> int:
    from bot import records

    rows = records.find_products(settings.load().database_url)
    if args.json:
        data = [
            {
                "product": r.product,
                "version": r.version,
                "segment": r.segment,
                "released": r.released.isoformat(),
                "end_of_support": r.end_of_support.isoformat() if r.end_of_support else None,
                "status": r.status(),
            }
            for r in rows
        ]
        json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    if not rows:
        print("No product records: `bot import products FILE.csv` loads some.", file=sys.stderr)
        return 1
    width = max(len(r.product) for r in rows)
    print(f"{'product':<{width}}  {'version':<8} {'segment':<9} {'released':<10}  "
          f"{'support ends':<12}  status")  # fmt: skip
    for r in rows:
        ends = r.end_of_support.isoformat() if r.end_of_support else "-"
        print(f"{r.product:<{width}}  {r.version:<8} {r.segment:<9} {r.released.isoformat()}  "
              f"{ends:<12}  {r.status()}")  # fmt: skip
    return 0


def _print_entitlement(ent) -> None:
    print(f"Verdict: {ent.verdict} ({ent.reason}); rules: {', '.join(ent.rule_ids)}")
    if ent.service:
        print(f"Paid route: {ent.service}")
    print(f"Lookup: {json.dumps(ent.lookup, ensure_ascii=False)}")


def _records_licence(args) -> int:
    from bot import records

    url = settings.load().database_url
    licence = records.lookup_licence(args.key, url=url)
    if not licence.well_formed:
        print(f"{licence.masked_key} is not a licence key (four groups of five letters or "
              "digits joined by '-')", file=sys.stderr)  # fmt: skip
        return 1
    if licence.status == "unknown":
        print(f"Licence {licence.masked_key}: not on record.", file=sys.stderr)
        return 1
    print(f"Licence {licence.masked_key}: {licence.status}, valid until "
          f"{licence.valid_until.isoformat()}")  # fmt: skip
    print(f"Product: {licence.product} {licence.version} ({licence.segment})")
    print(f"Holder:  {licence.holder}")
    _print_entitlement(records.entitlement(key=args.key, url=url))
    return 0


def _records_version(args) -> int:
    from bot import records

    url = settings.load().database_url
    status = records.lookup_version(args.product, args.version, url=url)
    if status.status == "unknown":
        what = {"unknown_product": "no such product", "unknown_version": "no such version"}
        near = f"; nearest: {', '.join(status.nearest)}" if status.nearest else ""
        print(f"{args.product} {args.version}: {what.get(status.reason, 'unknown')}{near}",
              file=sys.stderr)  # fmt: skip
        return 1
    ends = status.support_ends.isoformat() if status.support_ends else "no end date set"
    print(f"{status.product} {status.record_version} ({status.segment}, matched {status.match}): "
          f"{status.status}; support ends: {ends}")  # fmt: skip
    if status.alternatives:
        print(f"Also in this family: {', '.join(status.alternatives)}")
    _print_entitlement(records.entitlement(status.product, args.version, url=url))
    return 0


def _requests_call(action, args) -> int:
    """Run one `bot requests` action with one-line errors and exit codes."""
    from bot import service_requests as sr

    try:
        return action(sr, settings.load().database_url, args)
    except sr.RequestNotFound:
        print(f"No service request {args.reference!r} (`bot requests list` shows them).",
              file=sys.stderr)  # fmt: skip
        return 1
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0]
        print(f"cannot use the database: {first}. Check BOT_DATABASE_URL.", file=sys.stderr)
        return 1


def _requests_list(sr, url, args) -> int:
    rows = sr.list_requests(args.queue, args.status, url)
    if args.json:
        json.dump([r.record() for r in rows], sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    if not rows:
        print("No service requests" + (" match." if args.queue or args.status else "."),
              file=sys.stderr)  # fmt: skip
        return 0
    print(f"{'reference':<14}  {'created (UTC)':<16}  {'queue':<21}  {'status':<11}  "
          f"{'service':<21}  {'country':<7}  name")  # fmt: skip
    for r in rows:
        created = r.created_at.strftime("%Y-%m-%d %H:%M")
        print(f"{r.reference:<14}  {created:<16}  {r.queue:<21}  {r.status:<11}  "
              f"{r.service:<21}  {r.country:<7}  {textwrap.shorten(r.name, 40)}")  # fmt: skip
    return 0


def _requests_show(sr, url, args) -> int:
    record = sr.get_request(args.reference, url).record()
    width = max(len(k) for k in record)
    for key, value in record.items():
        if key == "description":
            continue
        print(f"{key + ':':<{width + 1}}  {'-' if value is None else value}")
    print("description:")
    print(textwrap.indent(record["description"], "  "))
    return 0


def _requests_export(sr, url, args) -> int:
    text = sr.export_requests(args.format, args.queue, args.status, url)
    if args.out:
        from pathlib import Path

        Path(args.out).write_text(text, encoding="utf-8", newline="")
        count = len(sr.list_requests(args.queue, args.status, url))
        print(f"Wrote {count} request(s) to {args.out}.", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _requests_set_status(sr, url, args) -> int:
    stored = sr.set_status(args.reference, args.status, url)
    print(f"{stored.reference}: {stored.status}")
    return 0


def _requests_notify(sr, url, args) -> int:
    stored = sr.get_request(args.reference, url)
    if sr.webhook_url() is None:
        print("No webhook: set BOT_REQUESTS_WEBHOOK_URL.", file=sys.stderr)
        return 1
    result = sr.notify(stored.reference, url=url)
    print(f"{stored.reference}: webhook {result}")
    return 0 if result == "delivered" else 1


def _requests_routing(sr, _url, _args) -> int:
    path = sr.routing_file()
    problems = sr.check_routing(path)
    if problems:
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        print("The routing table has problems; no request can be filed until they are fixed.",
              file=sys.stderr)  # fmt: skip
        return 1
    print(f"{path}")
    for row in sr.read_routing(path):
        queue = row.queue or "(not offered)"
        note = f"  # {row.note}" if row.note else ""
        print(f"  {row.service:<22} {row.country:<3} {queue:<22}{note}".rstrip())
    return 0


def _requests(action):
    return lambda args: _requests_call(action, args)


def sr_queues() -> tuple[str, ...]:
    from bot import service_requests

    return service_requests.queues()


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="bot", description="The support-scope assistant.")
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the assistant").set_defaults(func=_run)
    sub.add_parser("shell", help="rasa shell against this set-up").set_defaults(func=_shell)
    prep = sub.add_parser("prepare", help="generate, load the rule base, train if needed")
    prep.add_argument("--for-tests", action="store_true", help="also run rasa data validate")
    prep.set_defaults(func=_prepare)
    sub.add_parser("generate", help="write the generated domain and rules").set_defaults(
        func=_generate
    )

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

    ask = sub.add_parser("ask", help="ask the running assistant (make run) a question")
    ask.add_argument("question", nargs="*", help="the question (quote it)")
    ask.add_argument("--lang", choices=LANGS, help="answer in this language, as a page would")
    ask.add_argument("--json", action="store_true", help="one JSON object")
    ask.add_argument("--file", help="questions, one a line, or a CSV with a question column")
    ask.add_argument("--out", help="with --file: write the CSV table here (default: stdout)")
    ask.set_defaults(func=_ask)

    imp = sub.add_parser("import", help="load product or licence records from a CSV file")
    imp.add_argument("kind", choices=("products", "licences"), help="which records the file holds")
    imp.add_argument("file", help="UTF-8 CSV with a header row (answer-contract.md §3)")
    imp.set_defaults(func=_import)

    rec = sub.add_parser("records", help="read the product and licence records")
    rec_sub = rec.add_subparsers(dest="action", required=True)
    prods = rec_sub.add_parser("products", help="every product version and its status today")
    prods.add_argument("--json", action="store_true", help="every field, as JSON")
    prods.set_defaults(func=_records_products)
    lic = rec_sub.add_parser("licence", help="a licence's status (the key is shown masked)")
    lic.add_argument("key", help="XXXXX-XXXXX-XXXXX-XXXXX")
    lic.set_defaults(func=_records_licence)
    ver = rec_sub.add_parser("version", help="a product version's status and entitlement")
    ver.add_argument("product", help='a name or abbreviation, e.g. "KES" (quote names)')
    ver.add_argument("version", help="e.g. 11.6.0.394")
    ver.set_defaults(func=_records_version)

    statuses = ("new", "in_progress", "closed")  # service_requests.STATUSES
    req = sub.add_parser("requests", help="paid-service requests filed by the assistant")
    req_sub = req.add_subparsers(dest="action", required=True)
    rlist = req_sub.add_parser("list", help="requests, oldest first (licence keys masked)")
    rlist.add_argument("--queue", choices=sr_queues())
    rlist.add_argument("--status", choices=statuses)
    rlist.add_argument("--json", action="store_true", help="every field, as JSON")
    rlist.set_defaults(func=_requests(_requests_list))
    rshow = req_sub.add_parser("show", help="one request, every field (licence key masked)")
    rshow.add_argument("reference", help="e.g. SR-2026-000042")
    rshow.set_defaults(func=_requests(_requests_show))
    rexp = req_sub.add_parser("export", help="every request as CSV or JSON (keys masked)")
    rexp.add_argument("--format", choices=("csv", "json"), required=True)
    rexp.add_argument("--out", help="write to this file (default: stdout)")
    rexp.add_argument("--queue", choices=sr_queues())
    rexp.add_argument("--status", choices=statuses)
    rexp.set_defaults(func=_requests(_requests_export))
    rset = req_sub.add_parser("set-status", help="move a request to new, in_progress or closed")
    rset.add_argument("reference")
    rset.add_argument("status", choices=statuses)
    rset.set_defaults(func=_requests(_requests_set_status))
    rnot = req_sub.add_parser("notify", help="send a request to the webhook again")
    rnot.add_argument("reference")
    rnot.set_defaults(func=_requests(_requests_notify))
    rrout = req_sub.add_parser("routing", help="check and print the routing table")
    rrout.set_defaults(func=_requests(_requests_routing))
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `bot rules list | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
