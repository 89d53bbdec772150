"""Property-based: keys, phone numbers and e-mail addresses generated in every
format the request form accepts (any case, every kind of space and dash, mixed
separators, glued, full-width), inside en/nb/sv sentences, are masked exactly
(the rest of the sentence as written); versions, dates, SR references and
prices in the same sentences are left alone. Then the same messages through the
log filter, as a running server logs them.

Hypothesis runs derandomised (the same examples every run, so the test cannot
flake) and keeps no example database in the work tree."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot import records
from bot.privacy import log_filter, mask
from bot.service_requests import validation
from bot.text import canonical
from tests.privacy_formats import MESSAGES, leaks

PROPERTY = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

SPACES = [" ", "  ", "   ", "\u00a0", "\u2009", "\u202f", "\u2007", "\u3000", "\u00a0 "]
DASHES = ["-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212", "\ufe63"]
DASHES += ["\uff0d", "_", "--"]
GLUE = ["", "\u200b"]  # nothing, or a zero-width space: 20 characters in a row
KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@st.composite
def written_keys(draw: st.DrawFn) -> tuple[str, str]:
    """(a key as a customer types it, the key as the form stores it)."""
    groups = [draw(st.text(KEY_CHARS, min_size=5, max_size=5)) for _ in range(4)]
    spaced = st.builds(
        lambda a, d, b: a + d + b,
        st.sampled_from(SPACES),
        st.sampled_from(DASHES),
        st.sampled_from(SPACES),
    )
    separator = st.one_of(st.sampled_from(SPACES), st.sampled_from(DASHES), spaced)
    glued = draw(st.booleans())
    seps = [draw(st.sampled_from(GLUE) if glued else separator) for _ in range(3)]
    case = draw(st.sampled_from([str.upper, str.lower, str.title, str.swapcase]))
    text = groups[0] + "".join(s + g for s, g in zip(seps, groups[1:], strict=True))
    text = case(text)
    if draw(st.booleans()):  # typed on a phone set to full width
        text = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() and c.isascii() else c for c in text)
    normal = "-".join(groups)
    # The documented limit: a key not joined by dashes and not in capitals needs
    # digits in two of its groups (97 % of random keys), or it reads as words
    # ("which about there would", "about 12000 users using") and is left.
    dashed = not glued and all(any(ch in canonical(s) for ch in "-_") for s in seps)
    capitals = not any(c.islower() for c in canonical(text))
    digits = sum(any(c.isdigit() for c in g) for g in groups)
    assume(dashed or (capitals and (not glued or digits > 0)) or digits >= 2)
    return text, normal


NORWEGIAN = st.sampled_from(["2", "3", "4", "5", "6", "7", "9"]).flatmap(
    lambda first: st.text("0123456789", min_size=7, max_size=7).map(lambda rest: first + rest)
)
SWEDISH_MOBILE = st.text("0123456789", min_size=7, max_size=7).map(
    lambda rest: "07" + "02369"[int(rest[0]) % 5] + rest
)
GROUPINGS = {
    8: [(3, 2, 3), (2, 2, 2, 2), (4, 4), (8,), (3, 3, 2)],
    10: [(3, 3, 2, 2), (3, 7), (2, 3, 3, 2), (10,)],
}


def _grouped(digits: str, sizes: tuple[int, ...], sep: str) -> str:
    out, i = [], 0
    for size in sizes:
        out.append(digits[i : i + size])
        i += size
    return sep.join(out)


@st.composite
def phones(draw: st.DrawFn) -> str:
    """Norwegian 8 digits or Swedish mobiles, grouped with one kind of separator,
    with or without +47/0047/+46 (the Swedish trunk 0 then dropped or bracketed)."""
    sep = draw(st.sampled_from([" ", "\u00a0", "\u2009", "\u202f", "-", "\u2013", "."]))
    if draw(st.booleans()):
        digits = draw(NORWEGIAN)
        sizes = draw(st.sampled_from(GROUPINGS[8]))
        assume(not (sep == "." and len(sizes) == 2))  # "2234.5678" is a decimal number
        number = _grouped(digits, sizes, sep)
        prefix = draw(st.sampled_from(["", "+47 ", "0047 ", "+47"]))
        return prefix + number
    digits = draw(SWEDISH_MOBILE)
    style = draw(st.sampled_from(["national", "slash", "international", "trunk"]))
    if style == "slash":
        return digits[:3] + "/" + _grouped(digits[3:], (3, 2, 2), " ")
    if style == "international":
        return "+46 " + _grouped(digits[1:], (2, 3, 2, 2), sep)
    if style == "trunk":
        return "+46 (0)" + _grouped(digits[1:], (2, 3, 2, 2), " " if sep == "." else sep)
    sizes = draw(st.sampled_from(GROUPINGS[10]))
    assume(not (sep == "." and len(sizes) == 2))  # "070.1234567" is a decimal number
    return _grouped(digits, sizes, sep)


LOCAL_CHARS = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789æøåäöéÆØÅ!#$%&'*+/=?^_`{|}~-"
)


@st.composite
def addresses(draw: st.DrawFn) -> str:
    atoms = draw(st.lists(st.text(LOCAL_CHARS, min_size=1, max_size=10), min_size=1, max_size=3))
    labels = draw(
        st.lists(
            st.from_regex(r"[a-zæøåäö0-9](?:[a-zæøåäö0-9-]{0,8}[a-zæøåäö0-9])?", fullmatch=True),
            min_size=1,
            max_size=2,
        )
    )
    tld = draw(st.sampled_from(["no", "se", "com", "co.uk", "museum"]))
    address = ".".join(atoms) + "@" + ".".join([*labels, tld])
    assume(validation.email_address(address) is not None)  # the form accepts it
    return address


def expected_email(address: str) -> str:
    # a quote or backtick first is read as quoting the address (bot/privacy/mask.py)
    if address[0] in "'`" and address[1] != "@":
        return address[0] + mask.mask_email(address[1:])
    return mask.mask_email(address)


SENTENCES = [
    "Hi, my licence key is {key} and you can call me on {phone} or write to {email}, thanks.",
    "Hei! Lisensnøkkelen min er {key}. Ring meg på {phone} eller send e-post til {email}.",
    "Hej, min licensnyckel är {key}, ring {phone} eller mejla {email} tack.",
    "Nøkkel: {key}? Telefon {phone} Kristian, e-post {email}",
    "{key} fungerar inte. Nummer: {phone}. Adress: {email}",
]


@PROPERTY
@given(st.sampled_from(SENTENCES), written_keys(), phones(), addresses())
def test_no_key_phone_or_address_survives(sentence, key, phone, address) -> None:
    written, normal = key
    assert validation.clean("licence_key", written, None) == (normal, None)  # the form takes it
    text = sentence.format(key=written, phone=phone, email=address)
    expected = sentence.format(
        key=records.mask_key(normal), phone="[phone]", email=expected_email(address)
    )
    assert mask.mask_text(text) == expected


VERSIONS = st.builds(
    "{}.{}.{}.{}".format,
    st.integers(1, 21),
    st.integers(0, 20),
    st.integers(0, 12),
    st.integers(100, 99999),
)
DATES = st.dates().flatmap(
    lambda d: st.sampled_from(
        [
            d.isoformat(),
            d.strftime("%d.%m.%Y"),
            f"{d.day}.{d.month}.{d.year}",
            d.strftime("%d/%m/%Y"),
        ]
    )
)
REFERENCES = st.builds("SR-{}-{:06d}".format, st.integers(2024, 2030), st.integers(1, 999999))
AMOUNTS = st.integers(1_000, 99_999_999).map(lambda n: f"{n:,}".replace(",", " "))
PRICES = st.builds(
    lambda amount, form: form.format(amount),
    AMOUNTS,
    st.sampled_from(["{} kr", "NOK {}", "kr {}", "{} kroner", "{} SEK", "{},-", "{} kronor"]),
)
ORDINARY = [
    "Is Kaspersky Endpoint Security {version} still supported after {date}?",
    "Versjon {version} kom ut {date}; saken er {ref} og prisen {price}.",
    "Min ärende {ref} gäller version {version}, det kostar {price} från {date}.",
]


@PROPERTY
@given(st.sampled_from(ORDINARY), VERSIONS, DATES, REFERENCES, PRICES)
def test_versions_dates_references_and_prices_stay(sentence, version, date, ref, price) -> None:
    text = sentence.format(version=version, date=date, ref=ref, price=price)
    assert mask.mask_text(text) == text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("key ABCDE - 12345 - FGHIJ - 67890", "key •••••-•••••-•••••-67890"),
        ("key ABCDE-12345 FGHIJ-67890", "key •••••-•••••-•••••-67890"),
        ("key ABCDE-12345-FGHIJ 67890", "key •••••-•••••-•••••-67890"),  # not three groups
        ("Hello ABCDE 12345 FGHIJ 67890", "•••••-•••••-•••••-•••••-67890"),  # a word run in
        ("koden ABCDE-12345-FGHIJ-67890", "koden •••••-•••••-•••••-67890"),  # dashes set it apart
        ("ring 070.123.45.67 / 070/123 45 67", "ring [phone] / [phone]"),
        ("ring 912 34 567 Kristian", "ring [phone] Kristian"),  # not a price: no "kr"
        ("12 345 678 kr, 12 345 678 kroner", "12 345 678 kr, 12 345 678 kroner"),
        ("mail 'kari@nordmann.no'", "mail 'k***@nordmann.no'"),
        ("mail kari!#$%&'*+/=?^_`{|}~@x.no", "mail k***@x.no"),
        ("build 14.2.0.26967, IP-free 21.13.10.391", "build 14.2.0.26967, IP-free 21.13.10.391"),
        ("versjon 21.13.10.39", "versjon 21.13.10.39"),  # 8 digits, but a version
        # words of five with one number among them are what the customer asked
        ("We have about 12000 users using KES 11", "We have about 12000 users using KES 11"),
        ("key zrm6n tl7vj q26x8 zeb76", "key •••••-•••••-•••••-ZEB76"),  # small letters, digits
        # two numbers side by side, and numbers between words' punctuation
        ("numbers 91234567 98765432", "numbers [phone] [phone]"),
        ("call 912 34 567 - 987 65 432", "call [phone] - [phone]"),
        ("ring 91 23 45 67 2026-01-15", "ring [phone] 2026-01-15"),
        ("tlf 22334455/91234567", "tlf [phone]/[phone]"),
        ("912 34 567-jobb, Tlf.nr.91234567", "[phone]-jobb, Tlf.nr.[phone]"),
        ("912 34 567 (22 33 44 55 jobb)", "[phone] [phone] jobb)"),
        # a key dash-joined to a word
        ("ABCDE-12345-FGHIJ-67890-lisensen", "•••••-•••••-•••••-67890-lisensen"),
        ("licensekey-ABCDE-12345-FGHIJ-67890 ok", "licensekey-•••••-•••••-•••••-67890 ok"),
        # counts in thousands are what the customer asked about
        ("vi har 12 000 000 brukere", "vi har 12 000 000 brukere"),
    ],
)
def test_formats_named_in_the_issue(text: str, masked: str) -> None:
    assert mask.mask_text(text) == masked


def test_known_values_are_found_in_any_spacing() -> None:
    known = mask.known_values({"name": "Kari Nordmann", "company": "Fjordvik AS"})
    text = "Kari\u00a0Nordmann fra Fjordvik\u2009AS"
    assert mask.mask_text(text, known) == "[name] fra [company]"


@pytest.mark.parametrize(("message", "secrets"), MESSAGES)
def test_the_log_filter_masks_every_format(message, secrets, caplog) -> None:
    """As a running server logs a user's message (the REST channel on an error)."""
    log_filter.install()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("rasa.core.channels.rest").error(
            "An exception occured while handling user message '%s'.", message
        )
        try:
            raise ValueError(message)
        except ValueError:
            logging.getLogger("sanic.error").exception("failed")
    assert leaks(message, secrets) == secrets  # the message holds them...
    assert leaks(caplog.text, secrets) == []  # ...the log does not
    assert "ZEB76" in caplog.text
