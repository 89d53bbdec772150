"""Rasa's view of the topics, generated from content/rulebase/topics.yml."""

from __future__ import annotations

import pytest
import yaml

from bot import intent_files
from bot.settings import PROJECT_DIR

TOPICS = yaml.safe_load(
    (PROJECT_DIR / "content" / "rulebase" / "topics.yml").read_text(encoding="utf-8")
)["topics"]
INTENTS = [t["intent"] for t in TOPICS]


def test_outputs_are_the_documented_files():
    assert intent_files.DOMAIN_OUT == PROJECT_DIR / "domain" / "generated_topics.yml"
    assert intent_files.RULES_OUT == PROJECT_DIR / "data" / "rules" / "generated_topics.yml"


@pytest.fixture
def outputs(tmp_path, monkeypatch):
    """Write into tmp_path rather than over the checkout others are working in."""
    domain_out = tmp_path / "domain" / "generated_topics.yml"
    rules_out = tmp_path / "data" / "rules" / "generated_topics.yml"
    domain_out.parent.mkdir(parents=True)
    rules_out.parent.mkdir(parents=True)
    monkeypatch.setattr(intent_files, "DOMAIN_OUT", domain_out)
    monkeypatch.setattr(intent_files, "RULES_OUT", rules_out)
    return domain_out, rules_out


def test_generate_writes_the_topic_intents_and_one_rule_each(outputs):
    domain_out, rules_out = outputs
    assert intent_files.generate() == [domain_out, rules_out]

    domain = yaml.safe_load(domain_out.read_text(encoding="utf-8"))
    assert domain["intents"] == INTENTS
    assert len(INTENTS) == len(set(INTENTS)) > 0

    rules = yaml.safe_load(rules_out.read_text(encoding="utf-8"))["rules"]
    assert len(rules) == len(INTENTS)
    topics = yaml.safe_load(
        (PROJECT_DIR / "content" / "rulebase" / "topics.yml").read_text(encoding="utf-8")
    )["topics"]
    own = {t["intent"]: t["action"] for t in topics if t.get("action")}
    # the rule first; the lookup only when the message gives the facts (issue 12)
    assert own == {
        "scope_licence": "action_rule_then_lookup",
        "scope_version_support": "action_rule_then_lookup",
    }
    for rule, intent in zip(rules, INTENTS, strict=True):
        expected = [{"intent": intent}, {"action": own.get(intent, "action_answer_scope")}]
        assert rule["steps"] == expected
    form = {"intent": "scope_x", "action": "some_form"}
    assert intent_files.rule_steps(form)[-1] == {"active_loop": "some_form"}  # a form stays active
    for path in outputs:
        assert path.read_text(encoding="utf-8").startswith("# Generated from")


def test_generate_twice_changes_nothing(outputs):
    intent_files.generate()
    before = [p.read_text(encoding="utf-8") for p in outputs]
    assert intent_files.generate() == []
    assert [p.read_text(encoding="utf-8") for p in outputs] == before


def test_every_generated_intent_is_a_scope_topic():
    assert all(intent.startswith("scope_") for intent in intent_files.topic_intents())
    assert intent_files.topic_intents() == INTENTS
