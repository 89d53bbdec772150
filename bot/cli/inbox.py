"""`bot inbox ...` and `bot phrase ...`: what customers left behind, and adding
phrases to the training data.

bot inbox sync                   read new conversations and thumbs-down into the inbox
bot inbox list [--lang L] [--reason R] [--status S|all] [--intent I] [--json]
bot inbox show ID [--json]       one entry, with the conversation around it (masked)
bot inbox assign ID INTENT       write its text as an example of INTENT (checked first)
bot inbox ignore ID              nothing to learn from it
bot inbox oos ID                 add it to the out-of-scope examples
bot phrase add INTENT "TEXT" [--lang L]   a phrase from elsewhere (checked first)
bot phrase check INTENT "TEXT" [--lang L] the check alone; nothing written
bot phrase intents               the intents a phrase can go to, and their files

The logic is in bot/training/ (inbox, phrases, conflicts); this module parses,
prints, and turns expected failures into one line on stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot import settings
from bot.cli import errors
from bot.contract import LANGS
from bot.db import INBOX_STATUSES
from bot.training.inbox import REASONS

STATUSES = (*INBOX_STATUSES, "all")


def _guarded(action: Callable[[argparse.Namespace, settings.Settings], int]):
    def run(args: argparse.Namespace) -> int:
        from bot.training.inbox import InboxError
        from bot.training.phrases import PhraseRefused

        try:
            return action(args, settings.load())
        except PhraseRefused as exc:
            if getattr(args, "json", False) and exc.verdict is not None:
                _dump({"written": False, "error": str(exc), "check": exc.verdict.to_json()})
            elif exc.verdict is not None:
                _print_verdict(exc.verdict)
            print(f"Not added: {exc}.", file=sys.stderr)
            return 1
        except InboxError as exc:
            print(f"{exc}.", file=sys.stderr)
            return 1
        except OSError as exc:
            print(
                f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr
            )
            return 1
        except SQLAlchemyError as exc:
            return errors.database_unusable(exc, "BOT_DATABASE_URL and BOT_TRACKER_URL")

    return run


def _dump(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2)
    print()


def _progress(count: int) -> None:
    print(
        f"embedding {count} training example(s) for the near-duplicate check "
        "(once; cached in var/cache)...",
        file=sys.stderr,
        flush=True,
    )


# ---------------------------------------------------------------- inbox


def _sync(args: argparse.Namespace, cfg: settings.Settings) -> int:
    from bot.training import inbox

    done = inbox.sync(url=cfg.database_url, tracker_url=cfg.tracker_url)
    print(f"Inbox synced: {done.summary()}.")
    return 0


def _cut(text: str, width: int) -> str:
    """One line of at most `width` characters (textwrap.shorten drops a long word whole)."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _conf(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _list(args: argparse.Namespace, cfg: settings.Settings) -> int:
    from bot.training import inbox

    status = None if args.status == "all" else args.status
    rows = inbox.list_entries(
        lang=args.lang, reason=args.reason, status=status, intent=args.intent, url=cfg.database_url
    )
    if args.limit:
        rows = rows[: args.limit]
    if args.json:
        _dump([r.to_json() for r in rows])
        return 0
    if not rows:
        print(
            "The inbox has no entries"
            + (
                " that match."
                if status != "new" or args.lang or args.reason or args.intent
                else " to review."
            ),
            file=sys.stderr,
        )
        return 0
    print(
        f"{'id':>5}  {'n':>3}  lang  {'reasons':<28}  {'predicted':<30}  {'suggestion':<24}  text"
    )
    for r in rows:
        predicted = f"{r.intent or '-'} ({_conf(r.confidence)})"
        print(
            f"{r.id:>5}  {r.count:>3}  {r.lang:<4}  {','.join(r.reasons):<28}  "
            f"{_cut(predicted, 30):<30}  {_cut(r.suggestion or '-', 24):<24}  "
            f"{_cut(r.text, 60)}"
        )
    return 0


def _show(args: argparse.Namespace, cfg: settings.Settings) -> int:
    from bot.training import inbox

    entry = inbox.get(args.id, cfg.database_url)
    lines = inbox.context(entry, url=cfg.database_url, tracker_url=cfg.tracker_url)
    if args.json:
        _dump(
            {
                **entry.to_json(),
                "conversation": [
                    {"who": ln.who, "text": ln.text, "at": ln.at.isoformat(), "this": ln.this}
                    for ln in lines
                ],
            }
        )
        return 0
    top3 = ", ".join(f"{t['intent']} {_conf(t.get('confidence'))}" for t in entry.top3) or "-"
    print(
        f"entry {entry.id} ({entry.status}"
        + (f": {entry.assigned_intent}" if entry.assigned_intent else "")
        + ")"
    )
    for label, value in (
        ("text", entry.text),
        ("language", entry.lang),
        ("predicted", f"{entry.intent or '-'} ({_conf(entry.confidence)})"),
        ("top three", top3),
        ("rule ids", ", ".join(entry.rule_ids) or "-"),
        ("reasons", ", ".join(entry.reasons)),
        ("suggestion", entry.suggestion or "-"),
        (
            "seen",
            f"{entry.count} time(s), first {entry.first_seen:%Y-%m-%d %H:%M}, "
            f"last {entry.last_seen:%Y-%m-%d %H:%M} UTC",
        ),
        ("conversation", entry.conversation_id or "-"),
        ("file", entry.resolved_file or "-"),
    ):
        print(f"  {label:<12}  {value}")
    if lines:
        print("\n  the conversation around it (masked):")
        for ln in lines:
            mark = "->" if ln.this else "  "
            text = _cut(ln.text, 100)
            print(f"  {mark} {ln.at:%H:%M:%S} {ln.who:<4}  {text}")
    elif entry.conversation_id:
        print("\n  (the conversation is no longer in the tracker store)")
    return 0


def _print_verdict(verdict: Any) -> None:
    p = verdict.prediction
    if p is not None:
        top = ", ".join(f"{i} {c:.2f}" for i, c in p.top3)
        print(f"  the model now says: {p.intent or '-'} ({_conf(p.confidence)}); top three: {top}")
    elif verdict.prediction_note:
        print(f"  ({verdict.prediction_note})")
    for intent, found in verdict.neighbours.items():
        print(f"  nearest examples of {intent}:")
        for n in found:
            print(f"    {n.cosine:.3f}  {_cut(n.example.text, 90)}")
    for refusal in verdict.refusals:
        print(f"  refused: {refusal}")


def _written(args: argparse.Namespace, plan: Any, file: str, what: str) -> int:
    _warm_up_if_running()
    if args.json:
        _dump({"written": True, "file": file, "check": plan.verdict.to_json()})
        return 0
    _print_verdict(plan.verdict)
    note = (
        " (already understood: the model gets it right with high confidence)"
        if (plan.verdict.already_understood)
        else ""
    )
    print(f"{what} {plan.text!r} to {plan.intent} in {file}{note}.")
    print("Retrain to use it (`bot retrain`, or `make run`).")
    return 0


def _warm_up_if_running() -> None:
    """With the assistant running here, the retrain that follows a new phrase goes
    live in it: start its warm process now (retrain.warm_up). With nothing running,
    start nothing that would then wait 15 minutes for a job."""
    from bot.runtime import processes, retrain

    cfg = settings.load()
    if processes.answers(f"{cfg.rasa_url}/webhooks/chat/health"):
        retrain.warm_up(cfg)


def _assign(args: argparse.Namespace, cfg: settings.Settings) -> int:
    from bot.training import inbox

    done = inbox.assign(args.id, args.intent, url=cfg.database_url, progress=_progress)
    return _written(args, done.plan, done.entry.resolved_file or str(done.file), "Added")


def _oos(args: argparse.Namespace, cfg: settings.Settings) -> int:
    from bot.training import inbox

    done = inbox.out_of_scope(args.id, url=cfg.database_url, progress=_progress)
    return _written(args, done.plan, done.entry.resolved_file or str(done.file), "Added")


def _ignore(args: argparse.Namespace, cfg: settings.Settings) -> int:
    from bot.training import inbox

    entry = inbox.ignore(args.id, url=cfg.database_url)
    print(f"Entry {entry.id} ignored: {_cut(entry.text, 80)!r}.")
    return 0


# ---------------------------------------------------------------- phrases


def _phrase_add(args: argparse.Namespace, cfg: settings.Settings) -> int:
    from bot.training import phrases
    from bot.training.examples import shown_path

    done = phrases.add(args.intent, args.text, args.lang, progress=_progress)
    return _written(args, done.plan, shown_path(done.file), "Added")


def _phrase_check(args: argparse.Namespace, cfg: settings.Settings) -> int:
    from bot.training import phrases
    from bot.training.examples import shown_path

    plan = phrases.prepare(args.intent, args.text, args.lang, progress=_progress)
    file = shown_path(plan.file)
    if args.json:
        _dump({"written": False, "file": file, "check": plan.verdict.to_json()})
        return 0
    _print_verdict(plan.verdict)
    understood = " (already understood)" if plan.verdict.already_understood else ""
    print(f"Allowed{understood}: {plan.text!r} would go to {plan.intent} in {file}.")
    return 0


def _phrase_intents(args: argparse.Namespace, cfg: settings.Settings) -> int:
    from bot.training import examples, phrases

    files = phrases.intent_files(examples.training_examples())
    if args.json:
        _dump({i: {lang: str(p.name) for lang, p in by.items()} for i, by in sorted(files.items())})
        return 0
    for intent, by_lang in sorted(files.items()):
        print(f"{intent:<36} {next(iter(by_lang.values())).name}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `inbox` and `phrase` to the top-level parser."""
    box = sub.add_parser("inbox", help="messages the assistant may have misunderstood")
    box_sub = box.add_subparsers(dest="action", required=True)
    sync = box_sub.add_parser("sync", help="read new conversations and thumbs-down into the inbox")
    sync.set_defaults(func=_guarded(_sync))

    listing = box_sub.add_parser("list", help="entries, the most frequent first")
    listing.add_argument("--lang", choices=LANGS)
    listing.add_argument("--reason", choices=REASONS)
    listing.add_argument("--status", choices=STATUSES, default="new", help="default: new")
    listing.add_argument("--intent", help="only those the model put under this intent")
    listing.add_argument("--limit", type=int, default=0, help="at most this many")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_guarded(_list))

    show = box_sub.add_parser("show", help="one entry, with the conversation around it")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_guarded(_show))

    assign = box_sub.add_parser("assign", help="write the entry's text as an example of INTENT")
    assign.add_argument("id", type=int)
    assign.add_argument("intent")
    assign.add_argument("--json", action="store_true")
    assign.set_defaults(func=_guarded(_assign))

    ignore = box_sub.add_parser("ignore", help="nothing to learn from this entry")
    ignore.add_argument("id", type=int)
    ignore.set_defaults(func=_guarded(_ignore))

    oos = box_sub.add_parser("oos", help="add the entry's text to the out-of-scope examples")
    oos.add_argument("id", type=int)
    oos.add_argument("--json", action="store_true")
    oos.set_defaults(func=_guarded(_oos))

    phrase = sub.add_parser("phrase", help="add a phrase to the training data (checked first)")
    phrase_sub = phrase.add_subparsers(dest="action", required=True)
    for name, handler, text in (
        ("add", _phrase_add, "check a phrase and append it to data/nlu/<lang>/<topic>.yml"),
        ("check", _phrase_check, "the conflict check alone; nothing is written"),
    ):
        cmd = phrase_sub.add_parser(name, help=text)
        cmd.add_argument("intent")
        cmd.add_argument("text")
        cmd.add_argument("--lang", choices=LANGS, help="default: detected from the text")
        cmd.add_argument("--json", action="store_true")
        cmd.set_defaults(func=_guarded(handler))
    intents = phrase_sub.add_parser("intents", help="the intents a phrase can go to")
    intents.add_argument("--json", action="store_true")
    intents.set_defaults(func=_guarded(_phrase_intents))
