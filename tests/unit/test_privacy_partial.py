"""The request summary's view of each form value (bot/privacy/partial.py)."""

from __future__ import annotations

import pytest

from bot.privacy import mask, partial


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("name", "Kari Nordmann", "Ka•• No••••••"),
        ("name", "Bo Ek", "Bo Ek"),  # words of two letters are shown whole
        ("name", "Åsa-Britt Öberg", "Ås•-Br••• Öb•••"),
        ("company", "Fjordvik Regnskap AS", "Fj•••••• Re•••••• AS"),
        ("email", "kari.nordmann@fjordvik.no", "ka•••@fj••••••.no"),
        ("email", "ab@mail.example.no", "a•••@ma••.ex•••••.no"),
        ("email", "not an address", "[e-mail]"),
        ("licence_key", "ABCDE-12345-FGHIJ-6789K", "•••••-•••••-•••••-6789K"),
        ("country", "NO", "NO"),
    ],
)
def test_each_value_is_shown_in_part(field, value, shown):
    assert partial.shown(field, value) == shown


def test_the_description_is_its_start_masked():
    text = "Ring meg på 912 34 567 om oppsettet av KES på førti bærbare maskiner"
    shown = partial.shown("description", text)
    assert shown.startswith("Ring meg på [phone] om oppsettet")
    assert shown.endswith("…") and len(shown) <= partial.DESCRIPTION_CHARS + 1
    assert "912" not in shown
    assert partial.shown("description", "Short one") == "Short one"


def test_the_description_hides_the_forms_own_name_and_company():
    known = mask.known_values({"name": "Kari Nordmann", "company": "Fjordvik Regnskap AS"})
    text = "Kari her, fra Fjordvik Regnskap AS"
    assert partial.shown("description", text, known) == "[name] her, fra [company]"
