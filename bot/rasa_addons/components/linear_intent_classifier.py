"""NLU component: a regularised logistic-regression intent classifier.

Rasa's own LogisticRegressionClassifier fixes C=1 and feeds raw counts, which
under-fits here (measured: macro-F1 0.06-0.19 with e5 features alone at C=1,
0.97+ at C=30). This one L2-normalises the sparse block (so long messages don't
dominate), weighs the dense block, and takes C from config.yml. It is fitted by
softmax_fit (scikit-learn's objective, a stopping tolerance of our own) from the
last fit's weights (warm_start). The weights are stored as plain arrays (no
pickle) and prediction is one matrix product.

The cascade (`cascade_threshold` > 0): a second model on the n-gram block
alone is trained beside the full one. At answer time it goes first, and when
its top intent has at least that probability, that is the answer and the e5
embedding is never computed (the e5 featurizer with `defer: true` leaves it to
be asked for); otherwise the full model decides. Measured on both held-out
sets: docs/decisions/pipeline.md, "The cascade". A part of a message
(OPTIONAL, set by the segmenter) keeps the n-gram reading even then, with a
function to read it again with everything (REFINE): the segment merger calls it
only where that part can change the answer.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from bot.nlu import last_fit, softmax_fit
from bot.rasa_addons.components.e5_featurizer import DEFERRED

_FILE = "linear_intent_classifier.npz"
# A message marked OPTIONAL (a part of a message: components.segments) that the
# n-gram model is not sure of keeps that model's reading, and REFINE holds a
# function that reads it again with everything (the e5 embedding): the segment
# merger calls it only where the part can change the answer.
OPTIONAL = "full_reading_optional"
REFINE = "full_reading"


def sentence_features(message: Message, sparse: bool) -> Any:
    """The message's sentence features of one kind (sparse or dense), side by side in
    the featurizers' order as Message.get_sparse_features / get_dense_features
    combine them, without the deep copy they make of each (a third of a training's
    feature assembly); None if it has none."""
    found = [
        f.features
        for f in message.features
        if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE and f.is_sparse() == sparse
    ]
    if len(found) <= 1:
        return found[0] if found else None
    return sp.hstack(found) if sparse else np.concatenate(found, axis=-1)


def _stack_sparse(rows: list[Any]) -> sp.csr_matrix:
    """One CSR matrix of 1-row sparse matrices (None: an empty row), built from their
    entries at once: scipy's vstack of 5,000 rows took a second."""
    width = next((r.shape[1] for r in rows if r is not None), 0)
    coos = [sp.coo_matrix((1, width)) if r is None else sp.coo_matrix(r) for r in rows]
    indptr = np.concatenate(([0], np.cumsum([c.nnz for c in coos])))
    indices = np.concatenate([c.col for c in coos]) if coos else np.zeros(0, dtype=np.int32)
    data = np.concatenate([c.data for c in coos]) if coos else np.zeros(0)
    matrix = sp.csr_matrix((data, indices, indptr), shape=(len(rows), width))
    matrix.sum_duplicates()
    return matrix


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(IntentClassifier, GraphComponent):
    @classmethod
    def required_components(cls) -> list[type]:
        return [Featurizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "C": 30.0,
            "dense_weight": 1.0,
            "max_iter": 3000,
            "ranking_length": 10,
            "cascade_threshold": 0.0,  # 0: no cascade (no n-gram-only model)
            "ftol": softmax_fit.FTOL,  # when L-BFGS stops (softmax_fit: why this value)
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        weights: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self._weights = weights
        self._transposed: dict[tuple[str, int], np.ndarray] = {}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LinearIntentClassifier:
        return cls(config, model_storage, resource)

    # ------------------------------------------------------------ features

    def _blocks(
        self, messages: list[Message], dense_too: bool = True
    ) -> tuple[sp.csr_matrix, np.ndarray | None]:
        """The messages' features: the n-gram block, L2-normalised, and the weighted e5
        block (None when not asked for or not computed). Kept apart: see softmax_fit."""
        block = _stack_sparse([sentence_features(m, sparse=True) for m in messages])
        if block.shape[1]:
            block = normalize(block)
        if not dense_too:
            return block, None
        dense_rows = [sentence_features(m, sparse=False) for m in messages]
        if all(r is None for r in dense_rows):
            return block, None
        width = next(r.shape[-1] for r in dense_rows if r is not None)
        dense = np.vstack([np.zeros(width) if r is None else np.ravel(r) for r in dense_rows])
        return block, dense * float(self.config["dense_weight"])

    # ------------------------------------------------------------ training

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if len({e.get(INTENT) for e in examples}) < 2:
            return self._resource
        sparse, dense = self._blocks(examples)
        classes = sorted({e.get(INTENT) for e in examples})
        index = {name: i for i, name in enumerate(classes)}
        y = np.array([index[e.get(INTENT)] for e in examples])
        n_dense = 0 if dense is None else dense.shape[1]
        texts = [e.get(TEXT) for e in examples]
        setting = f"C={self.config['C']};dense_weight={self.config['dense_weight']}"
        # The full model; and the cascade's n-gram model (the sparse block alone),
        # each started from the last fit of its own (var/cache/).
        fits: list[tuple[str, np.ndarray | None, Path | None]] = [("", dense, None)]
        if float(self.config["cascade_threshold"]) > 0:
            fits.append(("ngram_", None, last_fit.ngram_path()))

        def fit(prefix: str, block: np.ndarray | None, path: Path | None) -> None:
            columns = 0 if block is None else n_dense
            start = last_fit.initial(sparse, columns, texts, classes, setting, path)
            coef, intercept, _ = softmax_fit.fit(
                sparse,
                y,
                len(classes),
                C=float(self.config["C"]),
                start=start,
                ftol=float(self.config["ftol"]),
                max_iter=int(self.config["max_iter"]),
                dense=block,
            )
            last_fit.save(sparse, columns, texts, classes, coef, intercept, setting, path)
            weights[prefix + "coef"] = coef.astype(np.float32)
            weights[prefix + "intercept"] = intercept.astype(np.float32)

        weights: dict[str, np.ndarray] = {"classes": np.asarray(classes, dtype=str)}
        # One fit per thread: BLAS, scipy's sparse products and numpy's loops let go
        # of the GIL for part of a fit (1.26x over one after the other: bench.fit).
        # BLAS itself on one thread each: two fits already fill both cores, and
        # OpenBLAS's own threads on top made them 1.2x slower (measured 1 December, 3 rounds).
        with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(len(fits)) as pool:
            for done in [pool.submit(fit, *job) for job in fits]:
                done.result()
        self._weights = weights
        self._transposed = {}
        with self._storage.write_to(self._resource) as directory:
            np.savez(directory / _FILE, **self._weights)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearIntentClassifier:
        try:
            with model_storage.read_from(resource) as directory:
                with np.load(directory / _FILE, allow_pickle=False) as stored:
                    weights = {key: stored[key] for key in stored.files}
        except (ValueError, FileNotFoundError):  # trained on no data
            weights = None
        return cls(config, model_storage, resource, weights)

    # ------------------------------------------------------------ prediction

    def _probabilities(
        self, blocks: tuple[sp.csr_matrix, np.ndarray | None], prefix: str = ""
    ) -> np.ndarray:
        assert self._weights is not None
        sparse, dense = blocks
        coef = self._weights[prefix + "coef"]
        scores = np.asarray(sparse @ self._sparse_weights(prefix, sparse.shape[1]))
        if dense is not None:
            scores = scores + dense @ coef[:, sparse.shape[1] :].T
        scores = scores + self._weights[prefix + "intercept"]
        scores -= scores.max(axis=1, keepdims=True)
        probabilities = np.exp(scores)
        return probabilities / probabilities.sum(axis=1, keepdims=True)

    def _sparse_weights(self, prefix: str, width: int) -> np.ndarray:
        """The n-gram block's weights transposed, contiguous, made once per fit: scipy
        copies a transposed view at every product (a fifth of a parse, profiled)."""
        key = (prefix, width)
        found = self._transposed.get(key)
        if found is None:
            assert self._weights is not None
            found = np.ascontiguousarray(self._weights[prefix + "coef"][:, :width].T)
            self._transposed[key] = found  # equal arrays, whichever thread wins
        return found

    def process(self, messages: list[Message]) -> list[Message]:
        if self._weights is None or not messages:
            return messages
        rows: list[np.ndarray | None] = [None] * len(messages)
        threshold = float(self.config["cascade_threshold"])
        if threshold > 0 and "ngram_coef" in self._weights:
            first = self._probabilities(self._blocks(messages, dense_too=False), "ngram_")
            for i, row in enumerate(first):
                if row.max() >= threshold:
                    rows[i] = row
            for i, message in enumerate(messages):
                if rows[i] is None and message.get(OPTIONAL):
                    rows[i] = first[i]
                    message.set(REFINE, lambda m=message: self._refine(m))
        rest = [i for i, row in enumerate(rows) if row is None]
        if rest:
            full = self._full([messages[i] for i in rest])
            for i, row in zip(rest, full, strict=True):
                rows[i] = row
        for message, row in zip(messages, rows, strict=True):
            assert row is not None
            self._set_reading(message, row)
        return messages

    def _full(self, messages: list[Message]) -> np.ndarray:
        """The full model's probabilities; it needs the e5 features: computed here if
        deferred."""
        for message in messages:
            deferred = message.get(DEFERRED)
            if deferred is not None:
                deferred()
        return self._probabilities(self._blocks(messages))

    def _refine(self, message: Message) -> None:
        message.set(REFINE, None)
        self._set_reading(message, self._full([message])[0])

    def _set_reading(self, message: Message, row: np.ndarray) -> None:
        assert self._weights is not None
        classes = self._weights["classes"]
        order = np.argsort(-row)[: int(self.config["ranking_length"])]
        ranking = [{"name": str(classes[i]), "confidence": float(row[i])} for i in order]
        message.set(INTENT, ranking[0], add_to_output=True)
        message.set("intent_ranking", ranking, add_to_output=True)
