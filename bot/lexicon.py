"""Word lists that editors and trainers change: `content/lexicon/*.yml`.

Each file holds `lists:`, a mapping from a list's name to either a plain list
of words (any language) or a mapping of language -> list. Every word is
compared folded (bot.text.fold), so the files can be written naturally.
The files are read again when one changes: an edit is live at once, with no
retraining and no restart. A malformed file is refused whole, naming the file,
the list and the problem.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.contract import LANGS
from bot.settings import CONTENT_DIR
from bot.text import fold

LEXICON_DIR = CONTENT_DIR / "lexicon"


class LexiconError(Exception):
    """A lexicon file is malformed; the message names the file and the list."""


@dataclass(frozen=True)
class WordList:
    name: str
    file: str
    by_lang: Mapping[str, tuple[str, ...]]  # "*" for a list that is not per language

    def words(self, lang: str | None = None) -> tuple[str, ...]:
        """As written, in file order: one language's (plus the shared ones), or all."""
        if lang is None:
            seen = dict.fromkeys(w for ws in self.by_lang.values() for w in ws)
            return tuple(seen)
        return self.by_lang.get(lang, ()) + self.by_lang.get("*", ())

    def folded(self, lang: str | None = None) -> frozenset[str]:
        return frozenset(fold(w) for w in self.words(lang))


def _words(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise LexiconError(f"{where}: expected a non-empty list of words")
    seen: dict[str, str] = {}
    for word in value:
        if not isinstance(word, (str, int)) or not str(word).strip():
            raise LexiconError(f"{where}: {word!r} is not a word")
        key = fold(str(word))
        if key in seen:
            raise LexiconError(f"{where}: {word!r} is listed twice")
        seen[key] = str(word).strip()
    return tuple(seen.values())


def read(directory: Path = LEXICON_DIR) -> dict[str, WordList]:
    """Every list of every file in the directory; LexiconError if any is malformed."""
    lists: dict[str, WordList] = {}
    for path in sorted(directory.glob("*.yml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise LexiconError(f"{path.name}: not valid YAML: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("lists"), dict):
            raise LexiconError(f"{path.name}: expected a top-level 'lists:' mapping")
        for name, value in doc["lists"].items():
            where = f"{path.name}: {name}"
            if name in lists:
                raise LexiconError(f"{where}: also defined in {lists[name].file}")
            if isinstance(value, dict):
                unknown = set(value) - set(LANGS)
                if unknown:
                    raise LexiconError(f"{where}: languages must be {', '.join(LANGS)}")
                by_lang = {lang: _words(ws, f"{where}.{lang}") for lang, ws in value.items()}
            else:
                by_lang = {"*": _words(value, where)}
            lists[name] = WordList(name, path.name, by_lang)
    return lists


_cache: tuple[tuple, dict[str, WordList]] | None = None
_lock = threading.Lock()


def _stamp(directory: Path) -> tuple:
    return tuple(
        (p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(directory.glob("*.yml"))
    )


def get(name: str, directory: Path = LEXICON_DIR) -> WordList:
    """One list, re-read when a file changed. KeyError names the lists there are."""
    global _cache
    stamp = (str(directory), _stamp(directory))
    with _lock:
        if _cache is None or _cache[0] != stamp:
            _cache = (stamp, read(directory))
        lists = _cache[1]
    if name not in lists:
        raise KeyError(
            f"no word list {name!r} in {directory} (there are: {', '.join(sorted(lists))})"
        )
    return lists[name]
