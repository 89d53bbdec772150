"""NLU components: classify a message's parts beside the whole (bot.segments).

Rasa's processor reads only the first message the NLU graph returns, and every
component processes the whole batch, so:

- `MessageSegmenter` (after the language detector, before the tokenizer) appends
  one message per part to the batch, each marked with the index of its whole;
- `SegmentMerger` (after the FallbackClassifier) reads each part's reading,
  decides (bot.segments.decide), writes the decision onto the whole under
  `segments` (an output property: it reaches UserUttered.parse_data and the
  action server's latest_message) and returns the wholes only.

The merger may replace the whole's `nlu_fallback` by a part's intent only when
that part clears `threshold`; it never touches the whole's `intent_ranking`, so
what the classifier said of the whole stays visible. Training data is left as it is.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot import segments
from bot.rasa_addons.components.linear_intent_classifier import OPTIONAL, REFINE

PART_OF = "segment_of"  # on a part: the index of its whole in the batch (not output)
OUTPUT = "segments"
FALLBACK = "nlu_fallback"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class MessageSegmenter(GraphComponent):
    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MessageSegmenter:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        batch = list(messages)
        for index, message in enumerate(messages):
            detected = message.get("language") or {}
            lang = detected.get("explicit") or detected.get("detected")
            for part in segments.split(message.get(TEXT) or "", lang):
                # the classifier's n-gram reading may do for a part (OPTIONAL)
                batch.append(Message(data={TEXT: part, PART_OF: index, OPTIONAL: True}))
        return batch

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


def _reading(message: Message) -> segments.Reading:
    """The message's top intent other than the fallback, with its confidence."""
    ranking = [r for r in message.get("intent_ranking") or [] if r.get("name") != FALLBACK]
    top = ranking[0] if ranking else {}
    return segments.Reading(
        message.get(TEXT) or "", top.get("name"), float(top.get("confidence") or 0.0)
    )


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class SegmentMerger(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # threshold: the confidence a part needs to answer where the whole falls back;
        # second: to be answered beside another answer (docs/decisions/pipeline.md,
        # "Segments"); most: how many questions of one message are answered;
        # floor: a part's n-gram reading below it is not read again with e5
        return {"threshold": 0.8, "second": 0.7, "most": 2, "floor": 0.3}

    def __init__(self, config: dict[str, Any], plan: segments.Plan) -> None:
        self.config = config
        self.plan = plan

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SegmentMerger:
        return cls({**cls.get_default_config(), **config}, segments.plan())

    def process(self, messages: list[Message]) -> list[Message]:
        wholes = [m for m in messages if m.get(PART_OF) is None]
        parts: dict[int, list[Message]] = {}
        for message in messages:
            if message.get(PART_OF) is not None:
                parts.setdefault(int(message.get(PART_OF)), []).append(message)
        for index, whole in enumerate(wholes):
            if index in parts:
                self._merge(whole, parts[index])
        return wholes

    def _merge(self, whole: Message, parts: list[Message]) -> None:
        intent = whole.get(INTENT) or {}
        confident = intent.get(INTENT_NAME_KEY) != FALLBACK
        reading = _reading(whole)
        for part in parts:  # the full reading, only where the part can change the answer
            refine = part.get(REFINE)
            if refine is not None and segments.needs_full_reading(
                reading,
                confident,
                _reading(part),
                floor=float(self.config["floor"]),
                answerable=self.plan.answerable,
            ):
                refine()
        readings = [_reading(p) for p in parts]
        decision = segments.decide(
            reading,
            readings,
            whole_confident=confident,
            threshold=float(self.config["threshold"]),
            answerable=self.plan.answerable,
            last=self.plan.last,
            most=int(self.config["most"]),
            second=float(self.config["second"]),
        )
        whole.set(OUTPUT, decision.as_output(), add_to_output=True)
        if decision.changed and decision.intents:
            first = decision.intents[0]
            from_parts = [r.confidence for r in readings if r.intent == first]
            confidence = max(from_parts, default=float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0))
            whole.set(
                INTENT,
                {INTENT_NAME_KEY: first, PREDICTED_CONFIDENCE_KEY: confidence},
                add_to_output=True,
            )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
