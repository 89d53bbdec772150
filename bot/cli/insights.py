"""`bot insights`: the support team's figures for a period, from the stores.

bot insights [--days N | --since DATE [--until DATE]] [--json | --csv]

Reads the conversations summarised so far and any new ones (bot/insights/),
then prints the figures: counts under 5 as "< 5", per language and for all.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from sqlalchemy.exc import SQLAlchemyError

from bot import settings
from bot.cli import errors

MAX_DAYS = 3660  # ten years: anything longer is a typo


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"--days takes a whole number from 1 to {MAX_DAYS}")
    return days


def period_of(args: argparse.Namespace, today: dt.date | None = None):
    """The period the arguments ask for; SystemExit with one line if it is not one."""
    from bot.insights import Period

    today = today or dt.datetime.now(dt.timezone.utc).date()
    if args.since is None:
        if args.until is not None:
            raise SystemExit("error: --until needs --since (or use --days)")
        return Period.last(args.days or 30, today)
    if args.days is not None:
        raise SystemExit("error: give --days or --since, not both")
    until = args.until or today
    if until < args.since:
        raise SystemExit(f"error: --until {until} is before --since {args.since}")
    if (until - args.since).days >= MAX_DAYS:
        raise SystemExit(f"error: a period of at most {MAX_DAYS} days")
    return Period(args.since, until)


def _run(args: argparse.Namespace) -> int:
    from bot.insights import report, report_for

    period = period_of(args)
    cfg = settings.load()
    try:
        figures = report_for(period, cfg.database_url, cfg.tracker_url)
    except SQLAlchemyError as exc:
        return errors.database_unusable(exc, "BOT_DATABASE_URL and BOT_TRACKER_URL")
    if args.json:
        json.dump(figures, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    elif args.csv:
        sys.stdout.write(report.to_csv(figures))
    else:
        sys.stdout.write(report.to_text(figures))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "insights",
        help="the support team's figures: questions, answers, fallbacks, feedback, requests",
        description="Figures for a period (default: the last 30 days, UTC), per language. "
        'Counts from 1 to 4 are shown as "< 5".',
    )
    cmd.add_argument("--days", type=_days, help="the last N days, today included (default 30)")
    cmd.add_argument("--since", type=_date, help="first day, YYYY-MM-DD")
    cmd.add_argument("--until", type=_date, help="last day, YYYY-MM-DD (default: today)")
    form = cmd.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="every figure, as JSON")
    form.add_argument("--csv", action="store_true", help="one row per figure, as CSV")
    cmd.set_defaults(func=_run)
