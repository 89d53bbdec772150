"""The admin's product aliases (content/records/aliases.csv): other names customers
use for a product, read at each lookup so that an edit is live."""

from __future__ import annotations

from pathlib import Path

from bot.records.csv_import import RECORDS_DIR, Problem, clean_name, read_rows
from bot.text import fold

ALIASES = RECORDS_DIR / "aliases.csv"
ALIAS_COLUMNS = ("alias", "product")


def read_aliases(path: Path | str = ALIASES) -> tuple[dict[str, str], list[Problem]]:
    """{alias (folded): product} from an alias,product CSV, and the rows it skipped.

    Lenient: a bad row is skipped and reported, the rest are used, so a typo in
    the admin's alias list never stops the assistant.
    """
    problems: list[Problem] = []
    if not Path(path).exists():
        return {}, []
    aliases: dict[str, str] = {}
    for line, row in read_rows(path, ALIAS_COLUMNS, problems):
        alias, product = clean_name(row["alias"]), clean_name(row["product"])
        if not alias or not product:
            problems.append(Problem(line, "alias and product must both be given"))
        else:
            aliases[fold(alias)] = product
    return aliases, problems
