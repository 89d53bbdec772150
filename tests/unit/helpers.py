"""Small helpers shared by the unit tests: copies of the rule base to break or
correct, a plain dump of the rule base tables, and the `bot` command run in process."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from bot import db
from bot.settings import PROJECT_DIR

RULEBASE_DIR = PROJECT_DIR / "content" / "rulebase"
RULEBASE_TABLES = (
    db.Document,
    db.Service,
    db.Clause,
    db.ClauseLink,
    db.Topic,
    db.TopicClause,
)


def copy_rulebase(destination: Path) -> Path:
    """A private copy of content/rulebase/ to edit; returns its path."""
    shutil.copytree(RULEBASE_DIR, destination)
    return destination


def edit_entry(path: Path, key: str, entry_id: str, change: Callable[[dict], None]) -> None:
    """Apply `change` to the entry `entry_id` of the top-level `key:` list in `path`."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    matches = [entry for entry in data[key] if entry.get("id") == entry_id]
    assert len(matches) == 1, f"{path} has {len(matches)} entries with id {entry_id!r}"
    change(matches[0])
    path.write_text(
        yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1_000_000),
        encoding="utf-8",
    )


def _plain(value: object) -> object:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


def table_rows(url: str) -> dict[str, list[tuple]]:
    """Every row of every rule base table, as sorted tuples of plain values."""
    rows = {}
    with db.engine_for(url).connect() as conn:
        for model in RULEBASE_TABLES:
            table = model.__table__
            result = conn.execute(sa.select(table))
            rows[table.name] = sorted((tuple(_plain(v) for v in row) for row in result), key=repr)
    return rows


def stored_version(url: str) -> str | None:
    with db.engine_for(url).connect() as conn:
        return conn.execute(
            sa.select(db.Meta.value).where(db.Meta.key == "rulebase_version")
        ).scalar()


@dataclass(frozen=True)
class CliResult:
    """What `bot ARGS` did, as a subprocess would report it."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: Mapping[str, str | None] | None = None) -> CliResult:
    """`bot ARGS` through `bot.cli.main` in this process, its output captured.

    `env` is set for this one call (None removes a variable) and restored after.
    SystemExit becomes the exit code the interpreter would give: argparse's usage
    errors exit 2; a message (e.g. no rule base) is printed on stderr and exits 1.
    Works in module-scoped fixtures too (no capsys needed).
    """
    from bot import cli

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        for name, value in (env or {}).items():
            if value is None:
                mp.delenv(name, raising=False)
            else:
                mp.setenv(name, value)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(list(args))
            except SystemExit as exc:
                if exc.code is None or isinstance(exc.code, int):
                    code = exc.code or 0
                else:
                    print(exc.code, file=sys.stderr)
                    code = 1
    return CliResult(code, out.getvalue(), err.getvalue())
