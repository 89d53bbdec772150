"""bot/escaping.py: spreadsheet cells no spreadsheet runs, header values that
cannot start another header."""

from __future__ import annotations

import csv
import io

import pytest

from bot.escaping import UnsafeHeader, header_value, spreadsheet_cell


@pytest.mark.parametrize(
    "value",
    [
        "=1+1",
        "+SUM(A1)",
        "-2+3",
        "@cmd",
        "\t=1",
        "\r=1",
        "\n=1",
        "|calc",
        '  =HYPERLINK("x")',
        "\uff1d1+1",
        '=cmd|" /C calc"!A0',
    ],
)
def test_formulas_are_neutralised(value):
    cell = spreadsheet_cell(value)
    assert cell == "'" + value


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("Kari Nordmann", "Kari Nordmann"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (42, "42"),
        ("   ", "   "),
    ],
)
def test_plain_values_are_unchanged(value, cell):
    assert spreadsheet_cell(value) == cell


def test_in_a_csv_row():
    out = io.StringIO()
    csv.writer(out).writerow([spreadsheet_cell(v) for v in ["=1+1", "ok", "@x"]])
    assert out.getvalue().strip() == "'=1+1,ok,'@x"


@pytest.mark.parametrize(
    "value", ["SR-2026-000001\r\nX-Evil: 1", "a\nb", "a\rb", "a\x00b", "a\x7fb"]
)
def test_header_values_with_controls_are_refused(value):
    with pytest.raises(UnsafeHeader):
        header_value(value)


def test_header_values_without_controls_pass():
    assert header_value("SR-2026-000001") == "SR-2026-000001"
    assert header_value("a\tb") == "a\tb"
    assert header_value(42) == "42"
