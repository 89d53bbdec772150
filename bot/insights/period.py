"""The period the figures cover: whole days in UTC, both ends included."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

DEFAULT_DAYS = 30
MAX_DAYS = 3660  # ten years: anything longer is a typo


class PeriodError(ValueError):
    """A period that is not one; the message says why (safe to show)."""


@dataclass(frozen=True)
class Period:
    since: dt.date
    until: dt.date

    @classmethod
    def last(cls, days: int, today: dt.date | None = None) -> Period:
        end = today or dt.datetime.now(dt.timezone.utc).date()
        return cls(end - dt.timedelta(days=days - 1), end)

    @classmethod
    def parse(
        cls,
        days: str | None = None,
        since: str | None = None,
        until: str | None = None,
        today: dt.date | None = None,
    ) -> Period:
        """From text as a command line or a query string gives it: --days N, or
        --since DATE with an optional --until DATE (default today)."""
        today = today or dt.datetime.now(dt.timezone.utc).date()
        if since in (None, ""):
            if until not in (None, ""):
                raise PeriodError("until needs since (or give days)")
            return cls.last(_days(days) if days not in (None, "") else DEFAULT_DAYS, today)
        if days not in (None, ""):
            raise PeriodError("give days or since, not both")
        first = _date(since, "since")
        last = _date(until, "until") if until not in (None, "") else today
        if last > today + dt.timedelta(days=366):
            raise PeriodError(f"until {last} is more than a year ahead")
        if last < first:
            raise PeriodError(f"until {last} is before since {first}")
        if (last - first).days >= MAX_DAYS:
            raise PeriodError(f"a period of at most {MAX_DAYS} days")
        return cls(first, last)

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.since, dt.time(), dt.timezone.utc)

    @property
    def end(self) -> dt.datetime:
        """The moment after the last day."""
        return dt.datetime.combine(self.until + dt.timedelta(days=1), dt.time(), dt.timezone.utc)


def _days(text: str | None) -> int:
    try:
        days = int(str(text))
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_DAYS:
        raise PeriodError(f"days must be a whole number from 1 to {MAX_DAYS}")
    return days


def _date(text: str | None, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        raise PeriodError(f"{name} must be a date, YYYY-MM-DD") from None
