"""`bot insights`: the support team's figures for a period, from the stores.

bot insights [--days N | --since DATE [--until DATE]] [--json | --csv]

Reads the conversations summarised so far and any new ones (bot/insights/),
then prints the figures: counts under 5 as "< 5", per language and for all.
"""

from __future__ import annotations

import argparse
import json
import sys

from sqlalchemy.exc import SQLAlchemyError

from bot import settings
from bot.cli import errors


def _run(args: argparse.Namespace) -> int:
    from bot.insights import Period, PeriodError, report, report_for

    try:
        period = Period.parse(args.days, args.since, args.until)
    except PeriodError as exc:
        print(
            f"error: {exc} (--days N, or --since YYYY-MM-DD [--until YYYY-MM-DD])", file=sys.stderr
        )
        return 2
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
    cmd.add_argument("--days", help="the last N days, today included (default 30)")
    cmd.add_argument("--since", help="first day, YYYY-MM-DD")
    cmd.add_argument("--until", help="last day, YYYY-MM-DD (default: today)")
    form = cmd.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="every figure, as JSON")
    form.add_argument("--csv", action="store_true", help="one row per figure, as CSV")
    cmd.set_defaults(func=_run)
