"""Facts in a user's message: which product, which version, which licence key.

Plain Python with spaCy (a blank multilingual tokenizer, no model download);
nothing here imports Rasa. `extract(text)` gives a `Facts`. The product names
come from the product records, so `current_matcher()` rebuilds the matcher
when an import changes them (one cheap query of the stored records_version
per call), when content/records/aliases.csv changes, or when the word lists
of content/lexicon/records.yml do.

Products (the forms a name may take: bot.records.names), found two ways and
the longer match kept:

1. a spaCy `PhraseMatcher(attr="LOWER")` over exact forms: names, their
   derived forms and the aliases of content/records/aliases.csv;
2. a forgiving pass over the same forms compared as sets of words, so word
   order does not matter ("security endpoint kaspersky"), linking words
   inside a name are skipped, and a long word may carry a typo.

A name without "Kaspersky" is made of everyday words, so it counts only when
written with a capital ("Internet Security") or followed by a version ("total
security 20"), and never after another vendor's name ("Windows Security
Center", "Norton Internet Security"): "my internet security settings" names
no product. A form that fits several products (KES, KSC for Security Center
and Security Cloud, "Kaspersky Endpoint Security") is dropped unless
aliases.csv says which product it means; the full name of a product always
wins over an alias, and an alias over a derived form.

Licence keys (bot.records.keys) and dates (2021-06-30, 30.06.2021, 30/06/2021)
are taken out before versions (bot.records.versions) are looked for. Facts
never show a key in their repr.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot import db
from bot.records import names, words
from bot.records.aliases import ALIASES, read_aliases
from bot.records.csv_import import records_version
from bot.records.keys import keys_in, mask_key
from bot.records.lookup import find_products, product_names
from bot.records.versions import BARE, DOTTED, V_FORM, version_in
from bot.text import fold

if TYPE_CHECKING:
    from spacy.tokens import Doc

log = logging.getLogger(__name__)

DATES = (
    re.compile(r"(?<![\d.\-/])\d{4}-\d{1,2}-\d{1,2}(?![\d\-])"),
    re.compile(r"(?<![\d.\-/])\d{1,2}[./]\d{1,2}[./](?:19|20)\d{2}(?![\d.]\d)"),
    re.compile(r"(?<![\d.\-/])\d{1,2}/\d{1,2}/\d{2}(?![\d/])"),
)


@dataclass(frozen=True)
class Facts:
    """What one message says. `licence_key` is normalised (upper case, '-')."""

    product: str | None = None
    version: str | None = None
    licence_key: str | None = field(default=None, repr=False)
    bad_key: str | None = field(default=None, repr=False)  # as written
    mentions: tuple[str, ...] = ()  # every product named, in order
    product_text: str | None = None  # the words that named the product

    @property
    def masked_key(self) -> str | None:
        return mask_key(self.licence_key) if self.licence_key else None

    @property
    def masked_bad_key(self) -> str | None:
        return mask_key(self.bad_key) if self.bad_key else None

    def __repr__(self) -> str:
        return (
            f"Facts(product={self.product!r}, version={self.version!r}, "
            f"licence_key={self.masked_key!r}, bad_key={self.masked_bad_key!r}, "
            f"mentions={self.mentions!r})"
        )


@dataclass(frozen=True)
class _Match:
    start: int
    end: int
    product: str
    size: int  # content words
    exact: bool

    @property
    def rank(self) -> tuple[int, bool, int]:
        return (self.size, self.exact, -self.start)


class ProductMatcher:
    """Finds product names, versions and licence keys in a message."""

    @names.one_thread_at_a_time
    def __init__(
        self,
        product_names: list[str],
        aliases: dict[str, str] | None = None,
        lists: words.Words | None = None,
    ):
        from spacy.matcher import PhraseMatcher

        self.names = sorted(set(product_names), key=str.casefold)
        self.lists = lists or words.current()
        fillers = self.lists.name_fillers
        nlp = names.nlp()
        canonical = {fold(n): n for n in self.names}
        # priority 0: full names, 1: aliases, 2: derived forms
        claims: dict[tuple[str, ...], dict[int, set[tuple[str, bool]]]] = {}
        phrases: dict[tuple[str, ...], list[list[str]]] = {}  # content key -> word sequences

        def claim(phrase: str, product: str, priority: int, weak: bool = False) -> None:
            for spelling in names.spellings(phrase):
                seq = names.words(spelling)
                key = names.content(seq, fillers)
                if not key:
                    continue
                claims.setdefault(key, {}).setdefault(priority, set()).add((product, weak))
                phrases.setdefault(key, [])
                if seq not in phrases[key]:
                    phrases[key].append(seq)

        for name in self.names:
            claim(name, name, 0)
            for form in names.derived_forms(name, fillers):
                claim(form, name, 2, weak=names.is_bare(form, fillers))
        for alias, target in (aliases or {}).items():
            product = canonical.get(fold(target))
            if product is None:
                continue  # an alias of a product this database does not hold
            claim(alias, product, 1)
            alias_words = alias.split()
            if alias_words[0].lower() == names.VENDOR and len(alias_words) >= 3:
                claim(" ".join(alias_words[1:]), product, 1, weak=True)

        self.index: dict[tuple[str, ...], str] = {}
        self.weak: set[tuple[str, ...]] = set()  # generic words: need a capital or a version
        for key, by_priority in claims.items():
            best = by_priority[min(by_priority)]
            products = {product for product, _ in best}
            if len(products) == 1:  # a form two products share names neither
                self.index[key] = products.pop()
                if all(weak for _, weak in best):
                    self.weak.add(key)
        self.vocabulary = frozenset(w for key in self.index for w in key)
        self.abbreviations = sorted(
            (
                key[0]
                for key in self.index
                if len(key) == 1
                and len(key[0]) <= 6
                and key[0].isalpha()
                and not any(key[0] == fold(n) for n in self.names)
            ),
            key=len,
            reverse=True,
        )
        self._labels: dict[str, str] = {}
        self.matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        for n, (key, product) in enumerate(sorted(self.index.items())):
            label = f"P{n}"
            self._labels[label] = product
            self.matcher.add(label, [nlp.make_doc(" ".join(seq)) for seq in phrases[key]])
        self._canon_cache: dict[str, str | None] = {}
        glue = "|".join(re.escape(a) for a in self.abbreviations)
        self._glued = re.compile(rf"(?i)\b({glue})(\d)") if glue else None

    @classmethod
    def from_database(
        cls, url: str | None = None, aliases_path: Path = ALIASES, lists: words.Words | None = None
    ) -> ProductMatcher:
        found = product_names(find_products(url))
        aliases, problems = read_aliases(aliases_path)
        for problem in problems:
            log.warning("%s: %s (row skipped)", aliases_path, problem)
        return cls(found, aliases, lists)

    # ------------------------------------------------------------ products

    def _canon(self, word: str) -> str | None:
        """The vocabulary word `word` stands for (itself, or a unique near spelling)."""
        if word in self.vocabulary or word in self.lists.name_fillers:
            return word
        if word in self._canon_cache:
            return self._canon_cache[word]
        found = None
        budget = names.typo_budget(word)
        if budget and word.isalpha():
            scored = []
            for known in self.vocabulary:
                if len(known) < 5:
                    continue
                limit = min(budget, names.typo_budget(known))
                d = names.edit_distance(word, known, limit)
                if d <= limit:
                    scored.append((d, known))
            scored.sort()
            if scored and (len(scored) == 1 or scored[0][0] < scored[1][0]):
                found = scored[0][1]
        self._canon_cache[word] = found
        return found

    def _named_plainly(self, doc: Doc, start: int, end: int) -> bool:
        """Generic words name a product only when capitalised or followed by a version:
        "Internet Security", "total security 20", but not "my internet security settings"."""
        if start > 0 and doc[start - 1].lower_ in self.lists.other_vendors:
            return False  # "Windows Security Center", "Norton Internet Security"
        if doc[start].text[:1].isupper():
            return True
        following = [t.text for t in doc[end : end + 2]]
        if following and following[0].lower() in self.lists.version_words:
            following = following[1:]  # "total security version 21"
        return bool(following) and any(
            pattern.match(following[0]) for pattern in (DOTTED, BARE, V_FORM)
        )

    def _matches(self, doc: Doc) -> list[_Match]:
        found = []
        fillers = self.lists.name_fillers
        for label_id, start, end in self.matcher(doc):
            key = names.content([t.lower_ for t in doc[start:end]], fillers)
            if key in self.weak and not self._named_plainly(doc, start, end):
                continue
            product = self._labels[doc.vocab.strings[label_id]]
            found.append(_Match(start, end, product, len(key), exact=True))
        canon = [self._canon(t.lower_) for t in doc]
        for i in range(len(doc)):
            if canon[i] is None or canon[i] in fillers:
                continue
            seen: list[str] = []
            for j in range(i, min(len(doc), i + 12)):
                word = canon[j]
                if word is None:
                    break
                if word in fillers:
                    continue
                seen.append(word)
                key = tuple(sorted(seen))
                named = self.index.get(key)
                if key in self.weak and not self._named_plainly(doc, i, j + 1):
                    continue
                if named is not None:
                    found.append(_Match(i, j + 1, named, len(seen), exact=False))
        return found

    def _products_in(self, doc: Doc) -> list[_Match]:
        """The best non-overlapping matches, in the order of the text."""
        chosen: list[_Match] = []
        for match in sorted(self._matches(doc), key=lambda m: m.rank, reverse=True):
            if all(match.end <= c.start or match.start >= c.end for c in chosen):
                chosen.append(match)
        return sorted(chosen, key=lambda m: m.start)

    # ------------------------------------------------------------ the message

    @names.one_thread_at_a_time
    def extract(self, text: str) -> Facts:
        key, bad_key, rest = keys_in(text or "")
        for pattern in DATES:
            rest = pattern.sub(lambda m: " " * len(m.group()), rest)
        if self._glued is not None:
            rest = self._glued.sub(r"\1 \2", rest)  # KES11 -> KES 11
        doc = names.nlp().make_doc(rest)
        mentions = self._products_in(doc)
        best = max(mentions, key=lambda m: m.rank, default=None)
        return Facts(
            product=best.product if best else None,
            version=version_in(doc, best.end if best else None, self.lists),
            licence_key=key,
            bad_key=bad_key,
            mentions=tuple(dict.fromkeys(m.product for m in mentions)),
            product_text=doc[best.start : best.end].text if best else None,
        )


# ---------------------------------------------------------------- the live matcher

_cache: dict[str, tuple[tuple[object, ...], ProductMatcher]] = {}
_lock = threading.Lock()


def _file_stamp(path: Path) -> tuple[int | None, ...]:
    try:
        stat = os.stat(path)
    except OSError:
        return (None,)
    return (stat.st_mtime_ns, stat.st_size)


def current_matcher(url: str | None = None, aliases_path: Path = ALIASES) -> ProductMatcher:
    """The matcher for the stored products; rebuilt when an import changed them
    (records_version), the alias file or the word lists changed. One query per call."""
    url = db.resolve_url(url)
    lists = words.current()
    stamp = (records_version(url), _file_stamp(aliases_path), str(aliases_path), lists)
    cached = _cache.get(url)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    with _lock:
        cached = _cache.get(url)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        matcher = ProductMatcher.from_database(url, aliases_path, lists)
        _cache[url] = (stamp, matcher)
        return matcher


def extract(text: str, url: str | None = None) -> Facts:
    """Facts in `text`, against the products stored now."""
    return current_matcher(url).extract(text)
