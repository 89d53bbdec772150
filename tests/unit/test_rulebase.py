"""The rule base: both documents as clauses, validated, loaded into SQL, read back.

Every test that touches a database runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest
import yaml

from bot import rulebase
from bot.settings import PROJECT_DIR

from .contract import (
    CLAUSE_IDS,
    KB101732_IDS,
    LANGS,
    ORIGINAL_LANGUAGE,
    QUEUES,
    RULES_IDS,
    SEEDS,
    VERDICTS,
)
from .helpers import RULEBASE_DIR, copy_rulebase, edit_entry, stored_version, table_rows

# ../shared/seeds beside the project (CI lays a copy there), when it exists.
SHARED_SEEDS = Path(os.environ.get("BOT_SHARED_SEEDS", PROJECT_DIR.parent / "shared" / "seeds"))
# SHA-256 of the published texts as given to the project: checked with or without shared/.
SEED_SHA256 = {
    "000_3bd3f36c4824cb4b.txt": "79138015cadec3f52174cab21a41351cff5c352b69170a1325c0c3bf49056d99",
    "001_840a43d743effd60.txt": "010d817c0d999d8eaf0b0495d58a52aa4719073c70b824e1f84c52704e5afd6b",
}
TOPICS = yaml.safe_load((RULEBASE_DIR / "topics.yml").read_text(encoding="utf-8"))["topics"]
TOPIC_IDS = [t["id"] for t in TOPICS]
NLU_DIR = PROJECT_DIR / "data" / "nlu"
MIN_EXAMPLES = 15


@pytest.fixture(scope="module")
def loaded_url(module_database_url) -> str:
    """A database holding the rule base, shared by the read-only tests of this module."""
    rulebase.load(module_database_url)
    return module_database_url


@pytest.fixture
def rb(loaded_url) -> rulebase.RuleBase:
    return rulebase.current(loaded_url)


def _paragraphs(text: str) -> list[str]:
    return re.split(r"\n[ \t]*\n", text)


# ---------------------------------------------------------------- contents


def test_exactly_the_contract_ids_are_stored(rb):
    assert len(CLAUSE_IDS) == 65 and len(set(CLAUSE_IDS)) == 65
    assert sorted(rb.clauses) == sorted(CLAUSE_IDS)
    assert [cid for cid in rb.clauses if cid.startswith("rules:")] == list(RULES_IDS)
    assert [cid for cid in rb.clauses if cid.startswith("kb101732:")] == list(KB101732_IDS)


def test_every_clause_has_wording_in_every_language(rb):
    missing = [
        (cid, lang)
        for cid, clause in rb.clauses.items()
        for lang in LANGS
        if not isinstance(clause.texts.get(lang), str) or not clause.texts[lang].strip()
    ]
    assert missing == []


def test_clause_sections_match_their_ids(rb):
    for cid, clause in rb.clauses.items():
        prefix, section = cid.split(":", 1)
        assert clause.document.prefix == prefix, cid
        assert clause.section == section, cid


def test_documents_are_the_contract_documents(rb):
    docs = rb.documents
    assert sorted(docs) == sorted(SEEDS)
    for prefix, doc in docs.items():
        assert doc.seed == SEEDS[prefix]
        assert doc.language == ORIGINAL_LANGUAGE[prefix]
        assert set(LANGS) <= set(doc.titles)
    assert docs["rules"].title == "Støtteregler for Kaspersky Software"
    assert docs["rules"].date.isoformat() == "2022-04-07"
    assert docs["rules"].article_id is None
    assert docs["kb101732"].title == "Begränsningar på Kasperskys kundtjänst"
    assert docs["kb101732"].date.isoformat() == "2023-04-04"
    assert docs["kb101732"].article_id == "101732"


def test_every_original_paragraph_is_verbatim_from_its_seed(rb):
    seeds = {
        prefix: (RULEBASE_DIR / "sources" / seed).read_text(encoding="utf-8")
        for prefix, seed in SEEDS.items()
    }
    not_verbatim = [
        (cid, paragraph)
        for cid, clause in rb.clauses.items()
        for paragraph in _paragraphs(clause.original)
        if not paragraph.strip() or paragraph not in seeds[clause.document.prefix]
    ]
    assert not_verbatim == []


def test_seed_sources_are_byte_identical_to_the_published_texts():
    assert set(SEED_SHA256) == set(SEEDS.values())
    for seed, digest in SEED_SHA256.items():
        ours = (RULEBASE_DIR / "sources" / seed).read_bytes()
        assert hashlib.sha256(ours).hexdigest() == digest, f"sources/{seed} was changed"
        shared = SHARED_SEEDS / seed
        if shared.exists():  # and the copy given to the project, where it is laid out
            assert ours == shared.read_bytes(), f"sources/{seed} differs from {shared}"


def test_the_original_language_wording_is_the_original(rb):
    for cid, clause in rb.clauses.items():
        lang = ORIGINAL_LANGUAGE[cid.split(":")[0]]
        assert clause.texts[lang] == clause.original, cid
        others = [other for other in LANGS if other != lang]
        for other in others:
            assert clause.texts[other] != clause.original, f"{cid}: {other} is not translated"


# ---------------------------------------------------------------- loading


def test_loading_twice_changes_nothing(database_url):
    version, changed = rulebase.load(database_url)
    assert changed is True
    before = table_rows(database_url)
    assert len(before["documents"]) == 2
    assert len(before["clauses"]) == 65
    assert len(before["services"]) == len(QUEUES)
    assert before["clause_links"] and before["topics"] and before["topic_clauses"]

    again, changed = rulebase.load(database_url)

    assert (again, changed) == (version, False)
    assert stored_version(database_url) == version
    assert table_rows(database_url) == before


def test_version_depends_only_on_content(tmp_path):
    """The same files in another directory (another checkout, a deployment) are
    the same rule base: reloading them must not count as a change."""
    copy = copy_rulebase(tmp_path / "rulebase")
    assert rulebase.read(copy).version == rulebase.read(RULEBASE_DIR).version


def _set(field, value):
    def change(entry):
        entry[field] = value

    return change


def _drop_translation(lang):
    def change(entry):
        del entry["text"][lang]

    return change


def _add_topic_clause(cid):
    def change(entry):
        entry["clauses"].append(cid)

    return change


def _break_yaml(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    marker = 'id: "kb101732:2.2"'
    assert text.count(marker) == 1
    path.write_text(text.replace(marker, marker + ' "stray"'), encoding="utf-8")


RULES_YML = Path("clauses") / "rules.yml"
KB_YML = Path("clauses") / "kb101732.yml"
BROKEN = {
    "unknown-verdict": (
        lambda d: edit_entry(d / RULES_YML, "clauses", "rules:4.2.3", _set("verdict", "maybe")),
        ["clauses/rules.yml", "rules:4.2.3", "verdict 'maybe' is not one of"],
    ),
    "original-not-verbatim": (
        lambda d: edit_entry(
            d / RULES_YML,
            "clauses",
            "rules:4.2.3",
            _set("original", "Desinfisering av datamaskiner utført av eksperter"),
        ),
        ["clauses/rules.yml", "rules:4.2.3", "not verbatim", SEEDS["rules"]],
    ),
    "missing-sv-translation": (
        lambda d: edit_entry(d / RULES_YML, "clauses", "rules:4.2.3", _drop_translation("sv")),
        ["clauses/rules.yml", "rules:4.2.3", "no sv text"],
    ),
    "unknown-see-also": (
        lambda d: edit_entry(
            d / RULES_YML, "clauses", "rules:4.2.3", _set("see_also", ["kb101732:9.9"])
        ),
        ["clauses/rules.yml", "rules:4.2.3", "see_also", "unknown clause 'kb101732:9.9'"],
    ),
    "topic-names-unknown-clause": (
        lambda d: edit_entry(
            d / "topics.yml", "topics", "disinfection", _add_topic_clause("rules:9.9")
        ),
        ["topics.yml", "disinfection", "unknown clause 'rules:9.9'"],
    ),
    "yaml-syntax-error": (
        lambda d: _break_yaml(d / KB_YML),
        ["clauses/kb101732.yml", "not valid YAML", "line", "kb101732:2.2"],
    ),
}


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_a_broken_rulebase_is_refused_and_the_stored_one_kept(database_url, tmp_path, case):
    break_it, expected = BROKEN[case]
    version, _ = rulebase.load(database_url)
    good = rulebase.current(database_url)
    rows = table_rows(database_url)
    copy = copy_rulebase(tmp_path / "rulebase")
    break_it(copy)

    with pytest.raises(rulebase.RulebaseError) as raised:
        rulebase.load(database_url, directory=copy)

    problems = raised.value.problems
    problem = problems[0]
    if case != "yaml-syntax-error":  # an unreadable file also leaves its ids unknown
        assert len(problems) == 1, problems
    for fragment in expected:
        assert fragment in problem, f"{fragment!r} not in {problem!r}"
    assert str(copy) in problem  # the file is named by its full path
    assert problem in str(raised.value)

    rulebase.clear_cache()
    assert stored_version(database_url) == version
    after = rulebase.current(database_url)
    assert after.version == version
    assert after.clauses["rules:4.2.3"].texts == good.clauses["rules:4.2.3"].texts
    assert after.topics["disinfection"].clauses == good.topics["disinfection"].clauses
    assert table_rows(database_url) == rows


def test_a_corrected_sentence_is_live_without_restart(database_url, tmp_path):
    rulebase.load(database_url)
    before = rulebase.current(database_url)
    assert rulebase.current(database_url) is before  # cached while the version stands
    old_text = before.clauses["rules:4.2.3"].texts["en"]
    new_text = "Disinfection of infected computers by specialists (corrected wording)"
    assert old_text != new_text
    copy = copy_rulebase(tmp_path / "rulebase")
    edit_entry(copy / RULES_YML, "clauses", "rules:4.2.3", lambda e: e["text"].update(en=new_text))

    version, changed = rulebase.load(database_url, directory=copy)

    assert changed is True
    after = rulebase.current(database_url)
    assert after.version == version != before.version
    assert after.clauses["rules:4.2.3"].texts["en"] == new_text
    assert after.clauses["rules:4.2.3"].texts["nb"] == before.clauses["rules:4.2.3"].original
    assert before.clauses["rules:4.2.3"].texts["en"] == old_text  # snapshots are immutable


def test_current_without_a_loaded_rulebase_says_so(database_url):
    from bot import db

    db.upgrade(database_url)
    with pytest.raises(rulebase.RulebaseMissing, match="bot rulebase load"):
        rulebase.current(database_url)


# ---------------------------------------------------------------- links, verdicts, routes


@pytest.mark.parametrize(
    ("a", "b"), [("rules:4.2.3", "kb101732:2.2"), ("rules:4.3.2", "kb101732:1.2")]
)
def test_named_links_go_both_ways(rb, a, b):
    assert b in rb.clauses[a].see_also
    assert a in rb.clauses[b].see_also


def test_every_link_is_symmetric_and_crosses_documents(rb):
    links = [(c.id, other) for c in rb.clauses.values() for other in c.see_also]
    assert links
    for a, b in links:
        assert b in rb.clauses, (a, b)
        assert a in rb.clauses[b].see_also, (a, b)
        assert a.split(":")[0] != b.split(":")[0], (a, b)


def test_english_wording_is_faithful(rb):
    en = {cid: clause.texts["en"] for cid, clause in rb.clauses.items()}
    assert re.search(r"\brecommendations?\b", en["rules:4.1.2c"], re.I)
    assert re.search(r"\bby\b.*\bspecialists\b", en["rules:4.2.3"], re.I)
    assert re.search(r"renewal.*\b(bought|purchased)\b on request", en["rules:4.3.2"], re.I)
    assert re.search(r"\bno longer supported\b", en["rules:4.3.2"], re.I)
    assert re.search(r"\bdisinfect", en["kb101732:2.2"], re.I)


def test_verdicts_use_the_contract_vocabulary(rb):
    answer_verdicts = set(VERDICTS) - {"fallback"}  # fallback is for replies, not clauses
    assert {c.verdict for c in rb.clauses.values()} <= answer_verdicts
    assert {t.verdict for t in rb.topics.values()} <= answer_verdicts


@pytest.mark.parametrize(
    ("cid", "verdict"),
    [
        ("rules:4.1.1", "included"),
        ("rules:4.1.2c", "included"),
        ("rules:4.2.3", "excluded"),
        ("kb101732:2.2", "excluded"),
        ("rules:4.2.5", "paid"),
        ("rules:4.2.14", "paid"),
        ("rules:4.3.1", "not_supported"),
        ("rules:4.3.2", "not_supported"),
        ("kb101732:1.2", "not_supported"),
        ("rules:4.4.1", "no_guarantee"),
        ("kb101732:4.7", "no_guarantee"),
        ("rules:4.5b", "conditional"),
        ("rules:2.2", "info"),
    ],
)
def test_clause_verdict(rb, cid, verdict):
    assert rb.clauses[cid].verdict == verdict


@pytest.mark.parametrize(
    ("cid", "queue"),
    [
        ("rules:4.2.5", "professional_services"),
        ("rules:4.2.10", "professional_services"),
        ("rules:4.2.12", "professional_services"),
        ("rules:4.2.14", "incident_response"),
        ("rules:4.3.2", "support_renewal"),
    ],
)
def test_paid_route(rb, cid, queue):
    service = rb.clauses[cid].service
    assert service is not None, f"{cid} has no paid route"
    assert service.queue == queue


# Paid clauses whose original names no service ("a paid service", "a separate paid
# service ... the catalogue varies"): they offer nothing to buy (no overreach).
PAID_WITHOUT_A_NAMED_SERVICE = {"rules:4", "kb101732:3"}
# Paid clauses that name services without selling what they describe as one of
# them: rules:5 ("some services ... may be offered as part of paid services.
# Kaspersky offers professional services and premium support"). No route of its
# own; both services list it in `sold_by`, and answers say only that they may be
# offered, never that something "can be bought as" them.
PAID_NAMING_SERVICES = {"rules:5": {"professional_services", "premium_support"}}


def test_every_paid_clause_has_a_route_to_a_contract_queue(rb):
    for clause in rb.clauses.values():
        no_route = PAID_WITHOUT_A_NAMED_SERVICE | set(PAID_NAMING_SERVICES)
        if clause.verdict == "paid" and clause.id not in no_route:
            assert clause.service is not None, clause.id
            assert clause.id in clause.service.sold_by, clause.id
        if clause.id in no_route:
            assert clause.service is None, clause.id
        if clause.id in PAID_WITHOUT_A_NAMED_SERVICE:
            assert not [s for s in rb.services.values() if clause.id in s.sold_by], clause.id
        if clause.id in PAID_NAMING_SERVICES:
            named = {s.id for s in rb.services.values() if clause.id in s.sold_by}
            assert named == PAID_NAMING_SERVICES[clause.id], clause.id
        if clause.service is not None:
            assert clause.service.queue in QUEUES, clause.id
            assert all(clause.service.names.get(lang) for lang in LANGS), clause.id
    assert not rb.clauses["rules:4.2.3"].service


# ---------------------------------------------------------------- topics and NLU


def test_every_clause_is_reachable_through_a_topic(rb):
    assert [cid for cid, clause in rb.clauses.items() if not clause.topics] == []
    for topic in rb.topics.values():
        for cid in topic.clauses:
            assert topic.id in rb.clauses[cid].topics


def test_topics_are_stored_in_file_order_with_their_intents(rb):
    assert list(rb.topics) == TOPIC_IDS
    for topic in rb.topics.values():
        assert topic.intent == f"scope_{topic.id}"
        assert rb.topic_for_intent(topic.intent) is topic
        assert all(topic.leads.get(lang) and topic.titles.get(lang) for lang in LANGS)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("topic", TOPICS, ids=TOPIC_IDS)
def test_every_topic_has_nlu_examples(topic, lang):
    assert topic["intent"] == f"scope_{topic['id']}"
    path = NLU_DIR / lang / f"{topic['id']}.yml"
    assert path.is_file(), f"{path} is missing"
    nlu = yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]
    blocks = [block for block in nlu if block.get("intent") == topic["intent"]]
    assert len(blocks) == 1, f"{path} should hold intent {topic['intent']} once"
    examples = [
        line.strip()[2:].strip()
        for line in blocks[0]["examples"].splitlines()
        if line.strip().startswith("- ")
    ]
    examples = [e for e in examples if e]
    assert len(examples) >= MIN_EXAMPLES, f"{path}: {len(examples)} examples"
    assert len(set(examples)) == len(examples), f"{path} repeats an example"


# ---------------------------------------------------------------- search


def test_search_finds_the_norwegian_original(rb):
    hits = [c.id for c in rb.search("desinfisering")]
    assert "rules:4.2.3" in hits
    assert "rules:4.1.2c" in hits
    assert all(cid in rb.clauses for cid in hits)
    assert "rules:4.2.5" not in hits


def test_search_is_case_insensitive(rb):
    lower = [c.id for c in rb.search("desinfisering")]
    assert [c.id for c in rb.search("DESINFISERING")] == lower
    assert [c.id for c in rb.search("Desinfisering")] == lower
    assert "rules:4.2.3" in [c.id for c in rb.search("Disinfection SPECIALISTS")]


def test_search_needs_every_word(rb):
    assert rb.search("desinfisering xyzzy") == []
    assert rb.search("   ") == []
    both = [c.id for c in rb.search("disinfection specialists")]
    assert "rules:4.2.3" in both and "rules:4.1.2c" not in both
