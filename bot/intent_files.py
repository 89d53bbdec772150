"""Derive Rasa's view of the topics from content/rulebase/topics.yml.

A topic's intent is declared once, in topics.yml; the domain's intent list and
the rule that answers each intent are written from it here, into files that
are not committed (domain/generated_topics.yml, data/rules/generated_topics.yml).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.settings import CONTENT_DIR, PROJECT_DIR

TOPICS = CONTENT_DIR / "rulebase" / "topics.yml"
DOMAIN_OUT = PROJECT_DIR / "domain" / "generated_topics.yml"
RULES_OUT = PROJECT_DIR / "data" / "rules" / "generated_topics.yml"
HEADER = "# Generated from content/rulebase/topics.yml by `bot generate`; do not edit.\n"


DEFAULT_ACTION = "action_answer_scope"


def _topics(path: Path = TOPICS) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["topics"]


def topic_intents(path: Path = TOPICS) -> list[str]:
    return [t["intent"] for t in _topics(path)]


def rule_steps(topic: dict) -> list[dict]:
    """intent -> its action; a topic answered by a form (`action: version_form`)
    starts the form instead, which asks for what the message did not give."""
    action = topic.get("action") or DEFAULT_ACTION
    steps = [{"intent": topic["intent"]}, {"action": action}]
    if action.endswith("_form"):
        steps.append({"active_loop": action})
    return steps


def _write_if_changed(path: Path, text: str) -> bool:
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def generate() -> list[Path]:
    """Write both files; return those whose content changed."""
    topics = _topics()
    domain = {"version": "3.1", "intents": [t["intent"] for t in topics]}
    rules = {
        "version": "3.1",
        "rules": [{"rule": f"answer {t['intent']}", "steps": rule_steps(t)} for t in topics],
    }
    changed = []
    for path, data in ((DOMAIN_OUT, domain), (RULES_OUT, rules)):
        body = HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        if _write_if_changed(path, body):
            changed.append(path)
    return changed
