"""The intents a phrase can be assigned to, with what each one is for.

The trainer page's type-ahead shows, per intent, its topic's title and
description (content/rulebase/topics.yml, read through the stored rule base)
and how many examples it has per language; intents that are not topics
(greetings, lookups, out of scope, ...) are listed by name. The intents come
from the training data itself (bot.training.phrases.known_intents), so the list
is exactly what `bot inbox assign` accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import rulebase
from bot.contract import LANGS
from bot.training import phrases
from bot.training.examples import NLU_DIR, training_examples

OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True)
class IntentInfo:
    intent: str
    topic: str | None  # the topic id, None for an intent that is not a topic
    titles: dict[str, str]  # per language; empty for an intent that is not a topic
    description: str  # what belongs here (topics.yml), "" when not a topic
    examples: dict[str, int]  # training examples per language

    def to_json(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "topic": self.topic,
            "titles": self.titles,
            "description": self.description,
            "examples": self.examples,
        }


def intents(nlu_dir: Path = NLU_DIR, url: str | None = None) -> list[IntentInfo]:
    """Every assignable intent: topics first (in topics.yml order), then the rest by name."""
    counts: dict[str, dict[str, int]] = {}
    for example in training_examples(nlu_dir):
        per_lang = counts.setdefault(example.intent, dict.fromkeys(LANGS, 0))
        per_lang[example.lang] = per_lang.get(example.lang, 0) + 1
    assignable = [i for i in sorted(counts) if i not in phrases.NOT_ASSIGNABLE]
    try:
        topics = rulebase.current(url).by_intent
    except rulebase.RulebaseMissing:  # the list still works, without titles
        topics = {}
    order = {intent: n for n, intent in enumerate(topics)}
    found = []
    for intent in assignable:
        topic = topics.get(intent)
        found.append(
            IntentInfo(
                intent=intent,
                topic=topic.id if topic else None,
                titles=dict(topic.titles) if topic else {},
                description=topic.description if topic else "",
                examples=counts[intent],
            )
        )
    found.sort(key=lambda i: (i.topic is None, order.get(i.intent, 0), i.intent))
    return found
