"""Facts in a user's message: which product, which version, which licence key.

Plain Python with spaCy (a blank multilingual tokenizer, no model download);
nothing here imports Rasa. `extract(text)` gives a `Facts`; the product names
come from the product records, so `current_matcher()` rebuilds the matcher when
an import changes them (one cheap query of the stored records_version per call)
or when content/records/aliases.csv changes.

Products, found two ways and the longer match kept:

1. a spaCy `PhraseMatcher(attr="LOWER")` over exact forms: the full name, the
   name without "Kaspersky" (only when at least two words remain: "Internet
   Security", never "Plus"), hyphen variants ("Anti-Virus", "Antivirus",
   "Anti Virus"), abbreviations, and the aliases of content/records/aliases.csv;
2. a forgiving pass over the same forms compared as sets of words, so word
   order does not matter ("security endpoint kaspersky"), linking words
   inside a name are skipped ("for", "til", "för", "på", "-"), and a word of
   five letters or more may carry a typo (edit distance 1; 2 from eight
   letters: "Endpont Securty", "Internett", "Kasperskys").

A name without "Kaspersky" is made of everyday words, so it counts only when
written with a capital ("Internet Security") or followed by a version ("total
security 20"), and never after another vendor's name ("Windows Security
Center", "Norton Internet Security"): "my internet security settings" names
no product.

Abbreviations are derived from the names: the initials of every word but the
linking ones ("Kaspersky Endpoint Security for Linux" → KESL), the initials of
the part before "for" (KES) and that with the rest ("KES for Linux"), all of at
least three letters. A form that fits several products (KES, KSC for Security
Center and Security Cloud, "Kaspersky Endpoint Security") is dropped unless
aliases.csv says which product it means; the full name of a product always
wins over an alias, and an alias over a derived form.

Versions: "11", "11.6", "11.6.0.394", "2021", "v21", "version 21",
"versjon 21". A dotted number counts anywhere; a bare number only after a
version word or straight after the product ("KES 11", "Kaspersky Internet
Security 2021") or when it is the whole message (the answer to "which
version?"), and not when a unit follows ("KIS 3 år") or when it is the
Windows release after "Windows" (7, 8, 10, 11). Dates (2021-06-30, 30.06.2021,
30/06/2021) and licence keys are taken out before versions are looked for.

Licence keys: four groups of five letters or digits joined by "-" (any case;
a typographic dash counts as "-"), returned upper case. Something that looks
like an attempt at a key but is not one (a group too short or long, a group
missing, no dashes) is returned as `bad_key`, so the dialogue can ask again.
Facts never show a key in their repr.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from bot import records

log = logging.getLogger(__name__)

FILLERS = frozenset({"for", "för", "til", "till", "på", "pa", "on", "-", "–", "&"})
VERSION_WORDS = frozenset(
    {"version", "versjon", "versionen", "versjonen", "versio", "ver", "vers", "v", "release"}
)
UNITS = frozenset(
    """år ar aar year years yr yrs dag dager dagar days day måned måneder månad månader month
    months uke uker vecka veckor week weeks pc pcs pc-er datamaskin datamaskiner dator datorer
    computer computers maskin maskiner enhet enheter device devices brukere
    användare users lisenser licenser licences licenses
    stk st % gb mb kb tb ghz kr nok sek eur usd timer timmar hours minutter minuter minutes
    x ganger gånger times""".split()
)
OTHER_VENDORS = frozenset(
    """windows microsoft norton mcafee bitdefender eset avast avg sophos trend defender
    apple google f-secure panda avira webroot malwarebytes""".split()
)
OS_WORDS = frozenset({"windows", "win"})
OS_RELEASES = frozenset({"7", "8", "10", "11", "xp"})
_KEY_CHARS = "A-Za-z0-9"
_DASH = "[-\u2010\u2011\u2012\u2013\u2014\u2212]"
KEY_IN_TEXT = re.compile(
    rf"(?<![{_KEY_CHARS}]|{_DASH})[{_KEY_CHARS}]{{5}}(?:{_DASH}[{_KEY_CHARS}]{{5}}){{3}}"
    rf"(?![{_KEY_CHARS}]|{_DASH}[{_KEY_CHARS}])"
)
_DASHED_ATTEMPT = re.compile(
    rf"(?<![{_KEY_CHARS}]|{_DASH})[{_KEY_CHARS}]+(?:{_DASH}[{_KEY_CHARS}]+){{2,}}"
    rf"(?![{_KEY_CHARS}])"
)
_GLUED_ATTEMPT = re.compile(rf"(?<![{_KEY_CHARS}\-])[{_KEY_CHARS}]{{18,22}}(?![{_KEY_CHARS}\-])")
_SPACED_ATTEMPT = re.compile(
    rf"(?<![{_KEY_CHARS}])[{_KEY_CHARS}]{{5}}(?:[ _.][{_KEY_CHARS}]{{5}}){{3}}(?![{_KEY_CHARS}])"
)
DATES = (
    re.compile(r"(?<![\d.\-/])\d{4}-\d{1,2}-\d{1,2}(?![\d\-])"),
    re.compile(r"(?<![\d.\-/])\d{1,2}[./]\d{1,2}[./](?:19|20)\d{2}(?![\d.]\d)"),
    re.compile(r"(?<![\d.\-/])\d{1,2}/\d{1,2}/\d{2}(?![\d/])"),
)
_DOTTED = re.compile(r"^\d{1,5}(?:\.\d{1,6}){1,3}$")
_BARE = re.compile(r"^\d{1,4}$")
_V_FORM = re.compile(r"^[vV]\.?(\d{1,5}(?:\.\d{1,6}){0,3})$")


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
        return records.mask_key(self.licence_key) if self.licence_key else None

    @property
    def masked_bad_key(self) -> str | None:
        return records.mask_key(self.bad_key) if self.bad_key else None

    def __repr__(self) -> str:
        return (
            f"Facts(product={self.product!r}, version={self.version!r}, "
            f"licence_key={self.masked_key!r}, bad_key={self.masked_bad_key!r}, "
            f"mentions={self.mentions!r})"
        )


# ---------------------------------------------------------------- helpers


@lru_cache(maxsize=1)
def _nlp():
    import spacy

    return spacy.blank("xx")


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (a swap of neighbours costs 1), capped at limit+1."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _typo_budget(word: str) -> int:
    if len(word) >= 8:
        return 2
    if len(word) >= 5:
        return 1
    return 0


def _words(phrase: str) -> list[str]:
    """Lower-case tokens of a phrase, as the matcher sees them."""
    return [t.lower_ for t in _nlp().make_doc(phrase) if not t.is_space]


def _content(words: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(w for w in words if w not in FILLERS))


def _spellings(name: str) -> list[str]:
    """The name as written, and with each hyphenated word joined and spaced."""
    forms = [name]
    if "-" in name:
        forms += [re.sub(r"(\w)-(\w)", r"\1\2", name), re.sub(r"(\w)-(\w)", r"\1 \2", name)]
    return forms


def _initials(words: list[str]) -> str:
    parts = [p for w in words for p in re.split(r"-", w) if p and p.lower() not in FILLERS]
    return "".join(p[0] for p in parts).lower()


def _derived_forms(name: str) -> list[str]:
    """Shorter forms of a product name (see the module doc)."""
    words = name.split()
    lowered = [w.lower() for w in words]
    forms = []
    if lowered[0] == "kaspersky" and len(words) >= 3:
        forms.append(" ".join(words[1:]))
    abbreviation = _initials(words)
    if len(abbreviation) >= 3:
        forms.append(abbreviation)
    if "for" in lowered[1:]:
        cut = lowered.index("for", 1)
        head, tail = words[:cut], words[cut + 1 :]
        forms.append(" ".join(head))
        if head[0].lower() == "kaspersky" and len(head) >= 3:
            forms.append(" ".join(head[1:]))
        short = _initials(head)
        if len(short) >= 3:
            forms.append(short)
            forms.append(f"{short} for {' '.join(tail)}")
    return forms


def _is_bare(form: str) -> bool:
    """A name without "Kaspersky" in ordinary words ("Internet Security"), not an abbreviation."""
    words = form.lower().split()
    return len(words) >= 2 and "kaspersky" not in words and words[0] != _initials(form.split())


def _named_plainly(doc, start: int, end: int) -> bool:
    """Generic words name a product only when capitalised or followed by a version:
    "Internet Security", "total security 20", but not "my internet security settings"."""
    if start > 0 and doc[start - 1].lower_ in OTHER_VENDORS:
        return False  # "Windows Security Center", "Norton Internet Security"
    if doc[start].text[:1].isupper():
        return True
    following = [t.text for t in doc[end : end + 2]]
    if following and following[0].lower() in VERSION_WORDS:
        following = following[1:]  # "total security version 21"
    return bool(following) and any(
        pattern.match(following[0]) for pattern in (_DOTTED, _BARE, _V_FORM)
    )


@dataclass(frozen=True)
class _Match:
    start: int
    end: int
    product: str
    size: int  # content words
    exact: bool

    @property
    def rank(self) -> tuple:
        return (self.size, self.exact, -self.start)


# ---------------------------------------------------------------- the matcher


class ProductMatcher:
    """Finds product names, versions and licence keys in a message."""

    def __init__(self, names: list[str], aliases: dict[str, str] | None = None):
        from spacy.matcher import PhraseMatcher

        self.names = sorted(set(names), key=str.casefold)
        nlp = _nlp()
        canonical = {records._fold(n): n for n in self.names}
        # priority 0: full names, 1: aliases, 2: derived forms
        claims: dict[tuple[str, ...], dict[int, set[tuple[str, bool]]]] = {}
        phrases: dict[tuple[str, ...], list[str]] = {}  # content key -> exact word sequences

        def claim(phrase: str, product: str, priority: int, weak: bool = False) -> None:
            for spelling in _spellings(phrase):
                seq = _words(spelling)
                key = _content(seq)
                if not key:
                    continue
                claims.setdefault(key, {}).setdefault(priority, set()).add((product, weak))
                phrases.setdefault(key, [])
                if seq not in phrases[key]:
                    phrases[key].append(seq)

        for name in self.names:
            claim(name, name, 0)
            for form in _derived_forms(name):
                claim(form, name, 2, weak=_is_bare(form))
        for alias, target in (aliases or {}).items():
            product = canonical.get(records._fold(target))
            if product is None:
                continue  # an alias of a product this database does not hold
            claim(alias, product, 1)
            words = alias.split()
            if words[0].lower() == "kaspersky" and len(words) >= 3:
                claim(" ".join(words[1:]), product, 1, weak=True)

        self.index: dict[tuple[str, ...], str] = {}
        self.weak: set[tuple[str, ...]] = set()  # generic words: need a capital or a version
        for key, by_priority in claims.items():
            best = by_priority[min(by_priority)]
            products = {product for product, _ in best}
            if len(products) == 1:
                self.index[key] = products.pop()
                if all(weak for _, weak in best):
                    self.weak.add(key)
        self.vocabulary = frozenset(w for key in self.index for w in key)
        self.abbreviations = sorted(
            (key[0] for key in self.index if len(key) == 1 and len(key[0]) <= 6 and
             key[0].isalpha() and not any(key[0] == records._fold(n) for n in self.names)),
            key=len, reverse=True,
        )  # fmt: skip
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
        cls, url: str | None = None, aliases_path: Path = records.ALIASES
    ) -> ProductMatcher:
        names = records.product_names(records.find_products(url))
        aliases, problems = records.read_aliases(aliases_path)
        for problem in problems:
            log.warning("%s: %s (row skipped)", aliases_path, problem)
        return cls(names, aliases)

    # ------------------------------------------------------------ products

    def _canon(self, word: str) -> str | None:
        """The vocabulary word `word` stands for (itself, or a unique near spelling)."""
        if word in self.vocabulary or word in FILLERS:
            return word
        if word in self._canon_cache:
            return self._canon_cache[word]
        found = None
        budget = _typo_budget(word)
        if budget and word.isalpha():
            scored = []
            for known in self.vocabulary:
                if len(known) < 5:
                    continue
                limit = min(budget, _typo_budget(known))
                d = _edit_distance(word, known, limit)
                if d <= limit:
                    scored.append((d, known))
            scored.sort()
            if scored and (len(scored) == 1 or scored[0][0] < scored[1][0]):
                found = scored[0][1]
        self._canon_cache[word] = found
        return found

    def _matches(self, doc) -> list[_Match]:
        found = []
        for label_id, start, end in self.matcher(doc):
            key = _content([t.lower_ for t in doc[start:end]])
            if key in self.weak and not _named_plainly(doc, start, end):
                continue
            product = self._labels[doc.vocab.strings[label_id]]
            found.append(_Match(start, end, product, len(key), exact=True))
        canon = [self._canon(t.lower_) for t in doc]
        for i in range(len(doc)):
            if canon[i] is None or canon[i] in FILLERS:
                continue
            words: list[str] = []
            for j in range(i, min(len(doc), i + 12)):
                if canon[j] is None:
                    break
                if canon[j] in FILLERS:
                    continue
                words.append(canon[j])
                key = tuple(sorted(words))
                product = self.index.get(key)
                if key in self.weak and not _named_plainly(doc, i, j + 1):
                    continue
                if product is not None:
                    found.append(_Match(i, j + 1, product, len(words), exact=False))
        return found

    def products(self, text: str) -> list[tuple[str, str]]:
        """(product, the words that named it) for every mention, in order."""
        doc = _nlp().make_doc(text)
        return [(m.product, doc[m.start : m.end].text) for m in self.products_in(doc)]

    def products_in(self, doc) -> list[_Match]:
        """The best non-overlapping matches, in the order of the text."""
        chosen: list[_Match] = []
        for match in sorted(self._matches(doc), key=lambda m: m.rank, reverse=True):
            if all(match.end <= c.start or match.start >= c.end for c in chosen):
                chosen.append(match)
        return sorted(chosen, key=lambda m: m.start)

    # ------------------------------------------------------------ the message

    def extract(self, text: str) -> Facts:
        text = text or ""
        key, bad_key, rest = _keys(text)
        for pattern in DATES:
            rest = pattern.sub(lambda m: " " * len(m.group()), rest)
        if self._glued is not None:
            rest = self._glued.sub(r"\1 \2", rest)  # KES11 -> KES 11
        doc = _nlp().make_doc(rest)
        mentions = self.products_in(doc)
        best = max(mentions, key=lambda m: m.rank, default=None)
        version = _version(doc, best)
        names = tuple(dict.fromkeys(m.product for m in mentions))
        return Facts(
            product=best.product if best else None,
            version=version,
            licence_key=key,
            bad_key=bad_key,
            mentions=names,
            product_text=doc[best.start : best.end].text if best else None,
        )


def _keys(text: str) -> tuple[str | None, str | None, str]:
    """(first key, first attempt at a key, the text with both blanked out)."""
    key = bad = None
    rest = text

    def blank(match: re.Match) -> str:
        return " " * len(match.group())

    for match in KEY_IN_TEXT.finditer(text):
        key = key or records.normalise_key(match.group())
    rest = KEY_IN_TEXT.sub(blank, rest)
    candidates = []
    for match in _DASHED_ATTEMPT.finditer(rest):
        groups = re.split(_DASH, match.group())
        alnum = sum(len(g) for g in groups)
        if (
            3 <= len(groups) <= 5
            and all(3 <= len(g) <= 7 for g in groups)
            and alnum >= 14
            and any(ch.isdigit() for ch in match.group())
        ):
            candidates.append(match)
    for match in _GLUED_ATTEMPT.finditer(rest):
        word = match.group()
        if sum(c.isdigit() for c in word) >= 3 and sum(c.isalpha() for c in word) >= 3:
            candidates.append(match)
    for match in _SPACED_ATTEMPT.finditer(rest):
        groups = re.split(r"[ _.]", match.group())
        if sum(any(c.isdigit() for c in g) for g in groups) >= 2:
            candidates.append(match)
    if candidates:
        first = min(candidates, key=lambda m: m.start())
        bad = first.group()
        for match in candidates:
            rest = rest[: match.start()] + blank(match) + rest[match.end() :]
    return key, bad, rest


def _version_text(token_text: str) -> str | None:
    if _DOTTED.match(token_text) or _BARE.match(token_text):
        return token_text
    return None


def _version(doc, product: _Match | None) -> str | None:
    """The version the message gives (see the module doc for the rule)."""
    candidates: list[tuple[int, int, str]] = []  # (priority, position, version)
    tokens = list(doc)
    lower = [t.lower_ for t in tokens]
    for i, token in enumerate(tokens):
        v_form = _V_FORM.match(token.text)
        if v_form:
            candidates.append((0, i, v_form.group(1)))
            continue
        if lower[i].rstrip(".") in VERSION_WORDS:
            j = i + 1
            while j < len(tokens) and lower[j] in {".", ":", "nr", "nr.", "no", "no.", "#"}:
                j += 1
            if j < len(tokens) and _version_text(tokens[j].text):
                if _DOTTED.match(tokens[j].text) or lower[i].rstrip(".") != "v" or j == i + 1:
                    candidates.append((0, j, tokens[j].text))
            continue
        if _DOTTED.match(token.text) and not _followed_by_unit(lower, i):
            candidates.append((2, i, token.text))
    if product is not None and product.end < len(tokens):
        i = product.end
        text = tokens[i].text
        if _version_text(text) and not _followed_by_unit(lower, i):
            after_os = lower[i - 1] in OS_WORDS and text in OS_RELEASES
            if not after_os and (not _BARE.match(text) or len(text) < 4 or text.startswith("20")):
                candidates.append((1, i, text))
    words = [t for t in tokens if not (t.is_punct or t.is_space)]
    if len(words) == 1 and _BARE.match(words[0].text):
        candidates.append((1, words[0].i, words[0].text))  # the whole reply is "12"
    if not candidates:
        return None
    return min(candidates)[2]


def _followed_by_unit(lower: list[str], i: int) -> bool:
    return i + 1 < len(lower) and lower[i + 1] in UNITS


# ---------------------------------------------------------------- the live matcher

_cache: dict[str, tuple[tuple, ProductMatcher]] = {}
_lock = threading.Lock()


def _file_stamp(path: Path) -> tuple:
    try:
        stat = os.stat(path)
    except OSError:
        return (None,)
    return (stat.st_mtime_ns, stat.st_size)


def current_matcher(url: str | None = None, aliases_path: Path = records.ALIASES) -> ProductMatcher:
    """The matcher for the stored products; rebuilt when an import changed them
    (records_version) or the alias file changed. One query per call."""
    url = url or records._default_url()
    stamp = (records.records_version(url), _file_stamp(aliases_path), str(aliases_path))
    cached = _cache.get(url)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    with _lock:
        cached = _cache.get(url)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        matcher = ProductMatcher.from_database(url, aliases_path)
        _cache[url] = (stamp, matcher)
        return matcher


def extract(text: str, url: str | None = None) -> Facts:
    """Facts in `text`, against the products stored now."""
    return current_matcher(url).extract(text)
