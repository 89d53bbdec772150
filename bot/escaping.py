"""Text that leaves for another program: spreadsheet cells and HTTP header values.

Pure helpers, no I/O. `spreadsheet_cell` is for every CSV the project writes
for people to open (`bot requests export --format csv`, `bot ask --file`); `header_value` for
every value that reaches an HTTP header (the requests webhook's headers).
"""

from __future__ import annotations

# A cell starting with one of these is a formula to Excel, LibreOffice or
# Google Sheets (= + - @), or can smuggle one in after a tab or line break.
# The full-width forms are folded to these by some spreadsheets.
FORMULA_STARTS = frozenset("=+-@\t\r\n|\uff1d\uff0b\uff0d\uff20")


def spreadsheet_cell(value: object) -> str:
    """The value as text no spreadsheet runs: a leading ' when it could start a
    formula, also behind leading spaces (Excel ignores them)."""
    text = "" if value is None else str(value)
    first = text.lstrip(" ")[:1]
    return "'" + text if first and first in FORMULA_STARTS else text


class UnsafeHeader(ValueError):
    """A header value with a line break or another control character."""


def header_value(value: object) -> str:
    """The value for an HTTP header, or UnsafeHeader: CR or LF would end the
    header and start another (header injection); any other control character,
    NUL included, has no place there either."""
    text = str(value)
    bad = next((ch for ch in text if ord(ch) < 0x20 and ch != "\t" or ord(ch) == 0x7F), None)
    if bad is not None:
        raise UnsafeHeader(f"header value holds control character U+{ord(bad):04X}")
    return text
