"""Derive Rasa's view of the topics from data/rulebase/topics.yml.

A topic's intent is declared once, in topics.yml; the domain's intent list and
the rule that answers each intent are written from it here, into files that
are not committed (domain/generated_topics.yml, data/rules/generated_topics.yml).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.settings import PROJECT_DIR

TOPICS = PROJECT_DIR / "data" / "rulebase" / "topics.yml"
DOMAIN_OUT = PROJECT_DIR / "domain" / "generated_topics.yml"
RULES_OUT = PROJECT_DIR / "data" / "rules" / "generated_topics.yml"
HEADER = "# Generated from data/rulebase/topics.yml by `bot generate`; do not edit.\n"


def topic_intents(path: Path = TOPICS) -> list[str]:
    topics = yaml.safe_load(path.read_text(encoding="utf-8"))["topics"]
    return [t["intent"] for t in topics]


def _write_if_changed(path: Path, text: str) -> bool:
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def generate() -> list[Path]:
    """Write both files; return those whose content changed."""
    intents = topic_intents()
    domain = {"version": "3.1", "intents": intents}
    rules = {
        "version": "3.1",
        "rules": [
            {"rule": f"answer {i}", "steps": [{"intent": i}, {"action": "action_answer_scope"}]}
            for i in intents
        ],
    }
    changed = []
    for path, data in ((DOMAIN_OUT, domain), (RULES_OUT, rules)):
        body = HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        if _write_if_changed(path, body):
            changed.append(path)
    return changed
