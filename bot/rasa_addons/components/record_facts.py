"""NLU component: product, version, licence key and paid service in a message, as entities.

Products are matched against the products table as it is now (bot.records.facts
rebuilds its spaCy matcher when an import changes the records), so a product
imported after training is recognised without retraining. "Now" is within
FRESH_SECONDS: the matcher and the rule base's services are checked against the
database at most that often, not for every message: the two checks took about
a fifth of the Rasa server's time holding the GIL under load (bench/RESULTS.md,
7 December (late)), which is what bounds its messages per second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot import rulebase
from bot.rasa_addons.components.segments import PART_OF
from bot.records import facts
from bot.service_requests import services as service_names

logger = logging.getLogger(__name__)

FRESH_SECONDS = 1.0  # products and services are re-checked at most this often
T = TypeVar("T")


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

    def __init__(self) -> None:
        # name -> (when checked, value); shared by the parse threads, replaced whole
        self._recent: dict[str, tuple[float, Any]] = {}

    def _fresh(self, name: str, load: Callable[[], T]) -> T:
        """load(), or its value from less than FRESH_SECONDS ago; a failure is not kept."""
        now = time.monotonic()
        hit = self._recent.get(name)
        if hit is not None and now - hit[0] < FRESH_SECONDS:
            return hit[1]
        value = load()
        self._recent[name] = (now, value)
        return value

    def _entities(self, text: str) -> list[dict[str, Any]]:
        try:
            found = self._fresh("matcher", facts.current_matcher).extract(text)
        except Exception as exc:  # no database yet, or it is down: answer without entities
            logger.warning("product matching unavailable: %s", exc)
            return []
        try:
            service = service_names.find_service(text, self._fresh("rules", rulebase.current))
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
