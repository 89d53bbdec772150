"""Text helpers shared by the core: one rule each for comparing and cleaning.

`fold` is how two texts are compared everywhere (search, keywords, names,
countries, form answers); `normalise` is the stricter form used to tell
whether two sentences are the same example (training vs evaluation data);
`CONTROL` / `strip_controls` decide what counts as a control character in
text that came from a user.
"""

from __future__ import annotations

import re
import unicodedata

# Bidirectional overrides and marks: invisible, and able to reorder what a
# reader sees (e.g. a name that displays differently from what is stored).
BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_CONTROL_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Zl", "Zp"})
_PUNCTUATION = re.compile(r"[^\w\s]", re.UNICODE)


def fold(text: str) -> str:
    """Case-, width- and space-insensitive form: NFKC, casefold, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


# How customers type Norwegian and Swedish without their letters: "stotte" for
# "støtte", "pa" or "paa" for "på", "behover" for "behöver", "naer"
# for "nær". The n-gram features and the evaluation-overlap key see every spelling
# as one. An explicit table, not strip_accents: ø and æ are letters of their own
# to Unicode (no combining mark to drop).
LETTER_FOLDS = {
    "å": "a", "ä": "a", "à": "a", "á": "a", "â": "a",
    "ø": "o", "ö": "o", "ó": "o", "ô": "o",
    "æ": "ae", "é": "e", "è": "e", "ê": "e", "ü": "u",
}  # fmt: skip
# Digraphs typed for the letters, folded after the table: "aa" (å). Not "oe" (ø, ö):
# it would make Norwegian "noe" ("something") the English "no", and "does" "dos".
# "ae" stays: it is what æ folds to.
LETTER_DIGRAPHS = (("aa", "a"),)
_LETTER_TABLE = str.maketrans(LETTER_FOLDS)


def fold_letters(text: str) -> str:
    """Lower case with æøå/åäö and their typed stand-ins folded: "Støtte på"
    -> "stotte pa", "stotte paa" -> "stotte pa", "Behöver" -> "behover"."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_LETTER_TABLE)
    for digraph, letter in LETTER_DIGRAPHS:
        folded = folded.replace(digraph, letter)
    return folded


def sentence_key(text: str) -> str:
    """The form in which an evaluation question and a training example count as the
    same sentence: normalise, then the letters folded, so that a question typed
    without æøå is not a new sentence beside its spelled-out twin."""
    return fold_letters(normalise(text))


def strip_accents(text: str) -> str:
    """ "Tromsø" stays, "Österrike" -> "Osterrike": combining marks removed
    (ø and å are letters of their own and are kept)."""
    return "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    )


def normalise(text: str) -> str:
    """The form in which two examples count as the same sentence: folded and
    without punctuation ("Is support available 24/7?" == "is support available 247")."""
    return " ".join(_PUNCTUATION.sub("", fold(text)).split())


def is_control(ch: str, multiline: bool = False) -> bool:
    """A character that has no place in user text (a newline only in multi-line text)."""
    if multiline and ch in "\n\t":
        return False
    return unicodedata.category(ch) in _CONTROL_CATEGORIES or ch in BIDI


def has_controls(text: str, multiline: bool = False) -> bool:
    return any(is_control(ch, multiline) for ch in text)


def strip_controls(text: str, multiline: bool = False) -> str:
    """NFC, line ends as \\n, control characters removed, outer space trimmed."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in text if not is_control(ch, multiline)).strip()


# Every kind of space and dash as the one ASCII character, whatever a phone, a
# document or a keyboard layout put there: the masker and the licence-key rule
# both read text in this form (bot/privacy/mask.py, bot/records/keys.py).
_SPACES = frozenset({"Zs", "Zl", "Zp"})


def _canonical_char(ch: str) -> str:
    if ch.isspace() or unicodedata.category(ch) in _SPACES:
        return " "
    if unicodedata.category(ch) == "Pd" or ch == "\u2212":  # minus sign
        return "-"
    if unicodedata.category(ch) == "Cf":  # zero-width spaces, soft hyphens, BOM, bidi marks
        return ""
    return ch


def canonical_spans(text: str) -> tuple[str, list[int], list[int]]:
    """The text in canonical form (NFKC, every space kind as " ", every dash kind
    as "-", invisible format characters dropped), and for each of its characters
    the start and end in `text` of what it came from, so that a span found in the
    canonical form can be replaced in the text as written."""
    if text.isascii():  # NFKC changes no ASCII character; only the spaces differ
        canonical = "".join(" " if ch.isspace() else ch for ch in text)
        return canonical, list(range(len(text))), list(range(1, len(text) + 1))
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i = 0
    while i < len(text):
        j = i + 1  # a character and the combining marks after it, normalised together
        while j < len(text) and unicodedata.combining(text[j]):
            j += 1
        for ch in unicodedata.normalize("NFKC", text[i:j]):
            for piece in _canonical_char(ch):
                out.append(piece)
                starts.append(i)
                ends.append(j)
        i = j
    return "".join(out), starts, ends


def canonical(text: str) -> str:
    """NFKC, every space kind as " ", every dash kind as "-", format characters dropped."""
    return canonical_spans(text)[0]
