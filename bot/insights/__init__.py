"""Figures for the support team (issue 27): what customers ask, what the
assistant settles, what it sells, where it fails.

period.py    the days a report covers
reading.py   the events' fields, picked out by SQL
turns.py     one conversation's events into the summary's rows
bookkeeping.py  the summary's cursor, lock and versions
forgetting.py   retention, `forget` and export on the summary
summary.py   the tracker store's events summarised into tables, incrementally
figures.py   the figures of a period: SQL aggregates over the summary, the
             feedback and the filed requests
report.py    what may be shown (counts under 5 hidden), as JSON, CSV or text
charts.py    the trainer page's charts, as SVG drawn here

`report_for` is what `bot insights` calls, `page_view` the trainer page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.insights.charts import all_charts
from bot.insights.figures import compute
from bot.insights.forgetting import for_sender, forget_senders, purge_before
from bot.insights.period import Period, PeriodError
from bot.insights.report import shown
from bot.insights.summary import Summarised, summarise

__all__ = [
    "Period",
    "PeriodError",
    "Summarised",
    "for_sender",
    "forget_senders",
    "page_view",
    "purge_before",
    "report_for",
    "summarise",
]


def report_for(
    period: Period,
    url: str | None = None,
    tracker_url: str | None = None,
    *,
    now: dt.datetime | None = None,
    budget_seconds: float | None = None,
) -> dict[str, Any]:
    """Bring the summary up to date (within the budget, if any), then the
    period's figures as they may be shown, with how far the summary is behind."""
    done = summarise(url, tracker_url, budget_seconds=budget_seconds)
    return {**shown(compute(period, url, now=now)), "summary": {"behind": done.behind}}


PAGE_BUDGET = 5.0  # seconds a page view spends catching up before it answers


def page_view(
    period: Period, url: str | None = None, tracker_url: str | None = None
) -> dict[str, Any]:
    """What the trainer page's Insights view shows: the figures and their charts.
    A large backlog (the first view after an upgrade) is read a part per view:
    the page says how much is left, and answers within seconds meanwhile."""
    figures = report_for(period, url, tracker_url, budget_seconds=PAGE_BUDGET)
    return {**figures, "charts": all_charts(figures)}
