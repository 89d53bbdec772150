"""NLU component: product, version, licence key and paid service in a message, as entities.

Products are matched against the products table as it is now (bot.records.facts
rebuilds its spaCy matcher when an import changes the records), so a product
imported after training is recognised without retraining.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.rasa_addons.components.segments import PART_OF
from bot.records import facts
from bot.service_requests import services as service_names

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class RecordFactsExtractor(EntityExtractorMixin, GraphComponent):
    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RecordFactsExtractor:
        return cls()

    def _entities(self, text: str) -> list[dict[str, Any]]:
        try:
            found = facts.extract(text)
        except Exception as exc:  # no database yet, or it is down: answer without entities
            logger.warning("product matching unavailable: %s", exc)
            return []
        try:
            service = service_names.find_service(text)
        except Exception:  # no rule base loaded: no service entity
            service = None
        entities = []
        for name, value in (
            ("product", found.product),
            ("version", found.version),
            ("licence_key", found.licence_key),
            ("sr_service", service),
        ):
            if value:
                entities.append(
                    {
                        "entity": name,
                        "value": value,
                        "start": 0,
                        "end": len(text),
                        "confidence_entity": 1.0,
                        "extractor": self.__class__.__name__,
                    }
                )
        return entities

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if message.get(PART_OF) is not None:
                continue  # a part's entities are not read: the whole's are
            text = message.get(TEXT) or ""
            found = self._entities(text)
            if found:
                message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
