"""bot.service_requests.countries: a country typed by a user -> its ISO code
(CLDR names in en/nb/sv through Babel, plus the lexicon's aliases), and a
code's name in the user's language."""

from __future__ import annotations

import pytest

from bot import lexicon
from bot import service_requests as sr
from bot.contract import LANGS
from bot.service_requests import countries

# The hand-written list the CLDR data replaced: the officially assigned codes.
ISO_3166_1 = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO
    BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ
    DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP
    GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG
    KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML
    MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE
    PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL
    SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM
    US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
    """.split()
)


@pytest.fixture(autouse=True)
def _empty_default_database(tmp_path, monkeypatch):
    monkeypatch.setenv("BOT_DATABASE_URL", f"sqlite:///{tmp_path / 'default.db'}")
    monkeypatch.delenv("BOT_ROUTING_FILE", raising=False)


@pytest.mark.parametrize(
    "text, code",
    [
        ("Norway", "NO"),
        ("Norge", "NO"),
        ("Noreg", "NO"),
        ("no", "NO"),
        ("Sverige", "SE"),
        ("sweden", "SE"),
        ("se", "SE"),
        ("Danmark", "DK"),
        ("Suomi", "FI"),
        ("Island", "IS"),
        ("Storbritannia", "GB"),
        ("Förenade kungariket", "GB"),
        ("UK", "GB"),
        ("Tyskland", "DE"),
        ("Österrike", "AT"),
        ("the Netherlands", "NL"),
        ("jp", "JP"),
        ("  Færøyene ", "FO"),
    ],
)
def test_country_names_in_three_languages_and_codes(text, code):
    assert sr.country_code(text) == code


@pytest.mark.parametrize("text", ["Atlantis", "XX", "", "Nor way", "Norgeland"])
def test_unknown_country_is_a_clear_error(text):
    assert sr.country_code(text) is None
    with pytest.raises(sr.UnknownCountry, match="unknown country"):
        sr.route("premium_support", text)


def test_a_language_is_not_a_country_any_more():
    # before: the hand-written list had the language "Svenska" as a name of Sweden
    assert sr.country_code("Svenska") is None
    assert sr.validate_field("country", "Svenska") == (None, "country_unknown")
    # after, still: CLDR's names and the lexicon's aliases
    still = {
        "Sverige": "SE",
        "Sweden": "SE",
        "Norge": "NO",
        "Noreg": "NO",
        "USA": "US",
        "Storbritannia": "GB",
        "U.S.A.": "US",
        "Deutschland": "DE",
    }
    assert {name: sr.country_code(name) for name in still} == still


def test_codes_are_the_officially_assigned_ones():
    # CLDR's regions without groupings (EU, UN), user-assigned (XK, ZZ) and reserved (AC) codes
    assert countries.CODES == ISO_3166_1
    for code in ("EU", "UN", "XK", "ZZ", "AC", "QO", "UK"):
        assert sr.country_code(code) != code


def test_every_alias_resolves_and_none_repeats_cldr():
    table = countries.aliases()
    assert table and set(table.values()) <= countries.CODES
    for entry in lexicon.get("sr_country_aliases").words():
        name, _, code = (p.strip() for p in entry.rpartition("="))
        assert sr.country_code(name) == code, entry
        key = countries._key(name)
        assert key not in countries._by_cldr_name(), f"{entry}: CLDR has this name already"


def test_a_malformed_alias_is_refused_naming_the_entry(monkeypatch):
    bad = lexicon.WordList(
        "sr_country_aliases", "service_requests.yml", {"*": ("Noreg = NO", "Narnia = NA1")}
    )
    monkeypatch.setattr(countries.lexicon, "get", lambda name: bad)
    with pytest.raises(lexicon.LexiconError, match="'Narnia = NA1'"):
        countries.aliases()


@pytest.mark.parametrize(
    "code, lang, name",
    [
        ("SE", "nb", "Sverige"),
        ("SE", "en", "Sweden"),
        ("GB", "sv", "Storbritannien"),
        ("GB", "nb", "Storbritannia"),
        ("IS", "en", "Iceland"),
        ("no", "sv", "Norge"),
        ("NO", "de", "Norway"),
        ("XX", "nb", "XX"),
    ],
)
def test_country_name_in_the_users_language(code, lang, name):
    assert sr.country_name(code, lang) == name


def test_every_name_shown_is_understood_back():
    for lang in LANGS:
        for code in countries.CODES:
            assert sr.country_code(sr.country_name(code, lang)) == code, (code, lang)
