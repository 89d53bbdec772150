"""What a `bot` command prints when it cannot do its work: one wording each."""

from __future__ import annotations

import sys

from sqlalchemy.exc import SQLAlchemyError


def database_unusable(exc: SQLAlchemyError, check: str = "BOT_DATABASE_URL") -> int:
    """Say which setting to check (not the whole traceback); the exit code."""
    first = str(exc).splitlines()[0]
    print(f"cannot use the database: {first}. Check {check}.", file=sys.stderr)
    return 1
