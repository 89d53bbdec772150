"""`bot privacy purge|forget|export`: retention and one person's data.

The core is bot.privacy (imported when a command runs, so `bot --help` stays
light); a database that cannot be used is one line on stderr and exit code 1.
Nothing printed here shows a full key, e-mail address or phone number.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from bot import settings
from bot.cli import errors


def _guarded(action: Callable[[argparse.Namespace, settings.Settings], int]):
    def run(args: argparse.Namespace) -> int:
        try:
            return action(args, settings.load())
        except SQLAlchemyError as exc:
            return errors.database_unusable(exc, "BOT_DATABASE_URL and BOT_TRACKER_URL")

    return run


def _purge(args: argparse.Namespace, cfg: settings.Settings) -> int:
    from bot.privacy import retention

    days = cfg.retention_days if args.days is None else args.days
    if days <= 0:
        print("Nothing deleted: BOT_RETENTION_DAYS=0 keeps everything.", file=sys.stderr)
        return 0
    done = retention.purge(days, url=cfg.database_url, tracker_url=cfg.tracker_url)
    print(f"Older than {days} days: {done.summary()}.")
    return 0


def _forget(args: argparse.Namespace, cfg: settings.Settings) -> int:
    from bot.privacy import subject

    done = subject.forget(args.sender, url=cfg.database_url, tracker_url=cfg.tracker_url)
    print(f"{args.sender}: {done.summary()}.")
    return 0


def _export(args: argparse.Namespace, cfg: settings.Settings) -> int:
    from bot.privacy import subject

    found = subject.export(args.sender, url=cfg.database_url, tracker_url=cfg.tracker_url)
    json.dump(found, sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `privacy` and its actions to the top-level parser."""
    priv = sub.add_parser("privacy", help="retention; export or forget one person's data")
    priv_sub = priv.add_subparsers(dest="action", required=True)
    purge = priv_sub.add_parser(
        "purge", help="delete conversations, feedback and drafts older than BOT_RETENTION_DAYS"
    )
    purge.add_argument("--days", type=int, help="this many days instead of BOT_RETENTION_DAYS")
    purge.set_defaults(func=_guarded(_purge))
    forget = priv_sub.add_parser(
        "forget", help="delete one sender's conversation, feedback and draft; anonymise requests"
    )
    forget.add_argument("sender", help="the conversation id (the chat page's sender)")
    forget.set_defaults(func=_guarded(_forget))
    export = priv_sub.add_parser("export", help="everything stored about one sender, as JSON")
    export.add_argument("sender")
    export.set_defaults(func=_guarded(_export))
