"""NLU component: which language a message is in, and any language the client set.

Adds the output property `language` to the parse data:
{"detected": "nb", "confidence": 0.82, "scores": {...}, "decisive": true,
 "explicit": "sv" or null}. The action decides the reply language from it and
the conversation's language so far (bot.language.choose).
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot import language

OUTPUT = "language"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class LanguageDetector(GraphComponent):
    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetector:
        language.warm_up()
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            metadata = message.get("metadata") or {}
            explicit = metadata.get("lang") if isinstance(metadata, dict) else None
            detection = language.detect(text)
            message.set(
                OUTPUT,
                {
                    "detected": detection.lang,
                    "confidence": detection.confidence,
                    "scores": detection.scores,
                    "decisive": detection.decisive,
                    "explicit": language.normalise(explicit),
                },
                add_to_output=True,
            )
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
