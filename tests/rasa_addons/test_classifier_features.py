"""The intent classifier reads the messages' sentence features itself, without
Rasa's get_sparse_features / get_dense_features (they deep-copy every feature):
the matrices it builds are the ones those give, with one featurizer of each kind
or several side by side, and with a message that has none."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.preprocessing import normalize

from bot.rasa_addons.components.linear_intent_classifier import LinearIntentClassifier

TEXTS = ["When is support open?", "Refund my licence, please", "Hei hei", "Is it 24/7?"]


def _messages(tmp_path, featurizers: list[dict], dense: int) -> list[Message]:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    data = TrainingData([Message(data={TEXT: t, INTENT: "x"}) for t in TEXTS])
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process_training_data(data)
    for i, config in enumerate(featurizers):
        full = {**CountVectorsFeaturizer.get_default_config(), **config}
        featurizer = CountVectorsFeaturizer.create(full, storage, Resource(f"cvf{i}"), context)
        featurizer.train(data)
        featurizer.process_training_data(data)
    rng = np.random.default_rng(0)
    for d in range(dense):
        for message in data.training_examples:
            vector = rng.normal(size=(1, 3 + d))
            message.add_features(Features(vector, FEATURE_TYPE_SENTENCE, TEXT, f"dense{d}"))
    return data.training_examples


def _rasa_way(messages: list[Message], weight: float) -> tuple[np.ndarray, np.ndarray | None]:
    """What the classifier built before: Rasa's accessors, scipy's vstack."""
    sparse = sp.vstack([sp.csr_matrix(m.get_sparse_features(TEXT)[1].features) for m in messages])
    dense = [m.get_dense_features(TEXT)[1] for m in messages]
    stacked = None if dense[0] is None else np.vstack([np.ravel(f.features) for f in dense])
    return normalize(sparse.tocsr()).toarray(), None if stacked is None else stacked * weight


@pytest.mark.parametrize(
    "featurizers,dense",
    [
        ([{"analyzer": "char_wb", "min_ngram": 2, "max_ngram": 5}], 1),  # config.yml's
        ([{"analyzer": "char_wb", "min_ngram": 2, "max_ngram": 4}, {"analyzer": "word"}], 2),
        ([{"analyzer": "word"}], 0),
    ],
)
def test_the_blocks_are_what_rasas_accessors_give(tmp_path, featurizers, dense):
    messages = _messages(tmp_path, featurizers, dense)
    classifier = LinearIntentClassifier(
        {"dense_weight": 0.5}, LocalModelStorage(tmp_path), Resource("clf")
    )
    sparse, stacked = classifier._blocks(messages)
    expected_sparse, expected_dense = _rasa_way(messages, 0.5)
    assert sparse.shape == expected_sparse.shape
    np.testing.assert_allclose(sparse.toarray(), expected_sparse)
    if expected_dense is None:
        assert stacked is None
    else:
        assert stacked is not None
        np.testing.assert_allclose(stacked, expected_dense)
    assert classifier._blocks(messages, dense_too=False)[1] is None


def test_a_message_without_features_is_an_empty_row(tmp_path):
    messages = _messages(tmp_path, [{"analyzer": "word"}], 1)
    bare = Message(data={TEXT: "no features"})
    classifier = LinearIntentClassifier({}, LocalModelStorage(tmp_path), Resource("clf"))
    sparse, dense = classifier._blocks([messages[0], bare, messages[1]])
    assert sparse.shape[0] == 3 and sparse[1].nnz == 0 and sparse[0].nnz > 0
    assert dense is not None and not dense[1].any() and dense[0].any()
