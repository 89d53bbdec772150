"""Facts in a message (product, version, licence key), against the sample product
records stored in a real database; and a product imported during a test is
recognised without a restart."""

from __future__ import annotations

import pytest

from bot import records
from bot.records import facts, names

KES_W = "Kaspersky Endpoint Security for Windows"
KES_L = "Kaspersky Endpoint Security for Linux"
KSC = "Kaspersky Security Center"
KIS = "Kaspersky Internet Security"
KTS = "Kaspersky Total Security"
KAV = "Kaspersky Anti-Virus"
KSOS = "Kaspersky Small Office Security"
CLOUD = "Kaspersky Security Cloud"
MAIL = "Kaspersky Security for Mail Server"
PLUS = "Kaspersky Plus"
KEY = "ZRM6N-TL7VJ-Q26X8-ZEB76"

# (message, product, version, licence key, bad key as written)
MESSAGES = [
    # English
    ("Hi, I use KES 11.6.0.394 and it crashes on start", KES_W, "11.6.0.394", None, None),
    ("Does support still cover Kaspersky Internet Security 2021?", KIS, "2021", None, None),
    ("security endpoint kaspersky 11.10 will not update", KES_W, "11.10", None, None),
    ("Endpont Securty for Linux v12 is slow", KES_L, "12", None, None),
    ("We run KSC14 on our server", KSC, "14", None, None),
    ("KES for Linux 11.4 and KSC 15", KES_L, "11.4", None, None),
    ("I have had Kaspersky Plus for 3 years", PLUS, None, None, None),
    ("Kaspersky Plus since 2021, still fine?", PLUS, None, None, None),
    ("Do you support Windows 11 with KES for Windows?", KES_W, None, None, None),
    ("kaspersky antivirus 19 expired 2021-06-30", KAV, "19", None, None),
    ("my licence key is zrm6n-tl7vj-q26x8-zeb76, is it valid?", None, None, KEY, None),
    ("license: ZRM6N-TL7VJ-Q26X8-ZEB7 does not work", None, None, None, "ZRM6N-TL7VJ-Q26X8-ZEB7"),
    ("KSOS 7 licence ZRM6NTL7VJQ26X8ZEB76", KSOS, "7", None, "ZRM6NTL7VJQ26X8ZEB76"),
    ("I need help with my internet security settings", None, None, None, None),
    ("Is Internet Security 20 still supported?", KIS, "20", None, None),
    ("total security version 21 on two PCs", KTS, "21", None, None),
    ("my Windows Security Center is turned off", None, None, None, None),
    ("Kaspersky Security for Mail Server 9.0 drops mail", MAIL, "9.0", None, None),
    ("what does standard support include?", None, None, None, None),
    ("Kaspersky Security Centre 15.1 with key ZRM6N-TL7VJ-Q26X8-ZEB76", KSC, "15.1", KEY, None),
    # Norwegian
    ("Jeg har Kaspersky Endpoint Security for Windows versjon 12.1", KES_W, "12.1", None, None),
    ("Hei! Vi bruker KIS versjon 21, utløper 30.06.2021", KIS, "21", None, None),
    ("Har KTS, kjøpt 30.06.2021", KTS, None, None, None),
    ("Lisensen min er ZRM6N–TL7VJ–Q26X8–ZEB76 (fra nettbutikken)", None, None, KEY, None),
    ("Nøkkelen ZRM6N-TL7VJ-Q26X-ZEB76 virker ikke", None, None, None, "ZRM6N-TL7VJ-Q26X-ZEB76"),
    ("Kaspersky Endpoint Security til Linux 12.2 på serverne våre", KES_L, "12.2", None, None),
    ("kaspersky internett security 19 fungerer ikke", KIS, "19", None, None),
    ("Støtter dere kes 11? Lisens ZRM6N-TL7VJ-Q26X8-ZEB76", KES_W, "11", KEY, None),
    ("Vi har Small Office Security 8 på kontoret", KSOS, "8", None, None),
    ("Kaspersky Anti-Virus v21 gir feilmelding", KAV, "21", None, None),
    ("Jeg har hatt KIS i 3 år", KIS, None, None, None),
    # Swedish
    ("Vi kör Kaspersky Security Center 14.2.0.26967 på servern", KSC, "14.2.0.26967", None, None),
    ("Jag har Kasperskys Internett Security 20", KIS, "20", None, None),
    ("Gäller supporten för KES 12.6 för Windows?", KES_W, "12.6", None, None),
    ("Vi använder Kaspersky Endpoint Security för Linux, version 12.0", KES_L, "12.0", None, None),
    ("Min licensnyckel är zrm6n-tl7vj-q26x8-zeb76", None, None, KEY, None),
    ("Kaspersky Security Cloud 21 slutade fungera den 2024-12-31", CLOUD, "21", None, None),
    ("Har ni support för KAV?", KAV, None, None, None),
    ("KESL 11.2 på våra servrar", KES_L, "11.2", None, None),
    ("Kaspersky Total Security 2021 installerad 30/06/21", KTS, "2021", None, None),
    # replies to "which version?"
    ("12", None, "12", None, None),
    ("11.6.0.394.", None, "11.6.0.394", None, None),
    ("v21", None, "21", None, None),
    ("I have 3", None, None, None, None),
]


@pytest.fixture(scope="module")
def sample_url(module_database_url) -> str:
    records.import_products(records.SAMPLE_PRODUCTS, module_database_url)
    return module_database_url


@pytest.mark.parametrize("message, product, version, key, bad_key", MESSAGES)
def test_facts_in_a_message(sample_url, message, product, version, key, bad_key):
    found = facts.extract(message, url=sample_url)
    assert (found.product, found.version, found.licence_key, found.bad_key) == (
        product,
        version,
        key,
        bad_key,
    )


def test_the_table_is_large_and_mixed():
    assert len(MESSAGES) >= 30
    assert sum(1 for m in MESSAGES if m[1] is None) >= 5  # messages naming no product
    assert sum(1 for m in MESSAGES if m[3] or m[4]) >= 8  # keys and attempts at keys


def test_every_mention_is_listed_in_order(sample_url):
    found = facts.extract("Moving from Kaspersky Internet Security to Kaspersky Plus", sample_url)
    assert found.mentions == (KIS, PLUS)
    assert found.product == KIS  # two words each: the first one
    assert found.product_text == "Kaspersky Internet Security"


def test_facts_never_show_a_key_in_repr(sample_url):
    found = facts.extract(f"key {KEY} and ZRM6N-TL7VJ-Q26X8-ZEB7", sample_url)
    assert found.licence_key == KEY
    shown = repr(found)
    assert "ZRM6N" not in shown and "TL7VJ" not in shown
    assert found.masked_key == "•••••-•••••-•••••-ZEB76"


def test_abbreviations_come_from_the_names_and_the_alias_file(sample_url):
    matcher = facts.current_matcher(sample_url)
    assert {"kis", "kts", "kav", "ksos", "kesl", "kes", "ksc"} <= set(matcher.abbreviations)
    # derived from two products at once, and no alias: not an abbreviation of either
    bare = facts.ProductMatcher([KSC, CLOUD], aliases={})
    assert "ksc" not in bare.abbreviations
    assert bare.extract("KSC 14").product is None
    with_alias = facts.ProductMatcher([KSC, CLOUD], aliases={"ksc": KSC})
    assert with_alias.extract("KSC 14").product == KSC


def test_a_product_imported_during_the_test_is_matched_without_restart(database_url, tmp_path):
    records.import_products(records.SAMPLE_PRODUCTS, database_url)
    message = "Kaspersky Password Manager 9.0 forgets my vault"
    before = facts.current_matcher(database_url)
    assert facts.extract(message, database_url).product is None
    assert facts.current_matcher(database_url) is before  # cached while nothing changes

    new = tmp_path / "new.csv"
    new.write_text(
        "product,version,segment,released,end_of_support\n"
        "Kaspersky Password Manager,9.0,home,2019-01-15,\n",
        encoding="utf-8",
    )
    records.import_products(new, database_url)

    found = facts.extract(message, database_url)
    assert (found.product, found.version) == ("Kaspersky Password Manager", "9.0")
    assert facts.extract("kaspersky pasword manager", database_url).product == (
        "Kaspersky Password Manager"
    )
    assert facts.current_matcher(database_url) is not before


def test_an_alias_added_by_an_admin_is_used_without_restart(database_url, tmp_path):
    records.import_products(records.SAMPLE_PRODUCTS, database_url)
    aliases = tmp_path / "aliases.csv"
    aliases.write_text("alias,product\n", encoding="utf-8")
    matcher = facts.current_matcher(database_url, aliases)
    assert matcher.extract("KEPW 12.6").product is None

    aliases.write_text(f"alias,product\nKEPW,{KES_W}\n", encoding="utf-8")
    found = facts.current_matcher(database_url, aliases).extract("KEPW 12.6")
    assert (found.product, found.version) == (KES_W, "12.6")


def test_an_empty_database_finds_keys_but_no_products(database_url):
    found = facts.extract(f"KES 12.1, key {KEY}", database_url)
    assert (found.product, found.licence_key) == (None, KEY)


@pytest.mark.parametrize(
    "a, b, limit, distance",
    [
        ("endpont", "endpoint", 1, 1),
        ("endpiont", "endpoint", 1, 1),
        ("centre", "center", 1, 1),
        ("could", "cloud", 1, 2),
        ("securty", "security", 2, 1),
        ("kaspersky", "kaspersky", 2, 0),
    ],
)
def test_edit_distance(a, b, limit, distance):
    assert min(names.edit_distance(a, b, limit), limit + 1) == min(distance, limit + 1)
