"""The phrase catalogue (content/messages.yml): everything the assistant says that
is not a clause. Re-read when the file changes, so a fix is live at once."""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path

import yaml

from bot.settings import CONTENT_DIR

CATALOGUE = CONTENT_DIR / "messages.yml"

_lock = threading.Lock()
_loaded: tuple[Path, float, dict[str, dict[str, str]]] | None = None


def catalogue(path: Path = CATALOGUE) -> dict[str, dict[str, str]]:
    global _loaded
    mtime = os.stat(path).st_mtime
    with _lock:
        if _loaded is None or _loaded[0] != path or _loaded[1] != mtime:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))["messages"]
            _loaded = (path, mtime, data)
        return _loaded[2]


def say(key: str, lang: str, /, **values: object) -> str:
    """The message `key` in `lang` (English if that language is missing)."""
    entry = catalogue()[key]
    return (entry.get(lang) or entry["en"]).format(**values)


def join(items: list[str], lang: str) -> str:
    """ "A", "A and B", "A, B and C" in the language."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {say('list_and', lang)} {items[-1]}"


def date(value: dt.date, lang: str) -> str:
    month = say("months", lang).split()[value.month - 1]
    return say("date", lang, day=value.day, month=month, year=value.year)
