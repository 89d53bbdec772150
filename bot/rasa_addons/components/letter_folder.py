"""NLU component: each token's lemma with æøå/åäö and their typed stand-ins folded
(bot.text.fold_letters), so the character n-grams of "stotte pa lordag" are
those of "støtte på lørdag".

It sits between the tokenizer and the CountVectorsFeaturizer, which counts
token lemmas (`use_lemma`, Rasa's default); the text itself is untouched, so
e5, the language detector and the record facts still read what was typed.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.text import fold_letters


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class LetterFolder(GraphComponent):
    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LetterFolder:
        return cls()

    @staticmethod
    def _fold(message: Message) -> None:
        for token in message.get(TOKENS_NAMES[TEXT]) or []:
            token.lemma = fold_letters(token.text)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._fold(message)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._fold(example)
        return training_data
