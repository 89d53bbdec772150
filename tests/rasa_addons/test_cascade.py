"""The cascade: the n-gram-only model answers alone when it is sure, and then
the e5 embedding is never computed; otherwise the e5 features are computed and
the full model decides, except for a part of a message, whose full reading
waits until the segment merger asks for it. Trained here through Rasa's own tokenizer and
count-vectors featurizer and the real e5 model, on a few examples."""

from __future__ import annotations

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot import segments
from bot.rasa_addons.components.e5_featurizer import DEFERRED, E5Featurizer
from bot.rasa_addons.components.linear_intent_classifier import (
    OPTIONAL,
    REFINE,
    LinearIntentClassifier,
)
from bot.rasa_addons.components.segments import PART_OF, SegmentMerger

EXAMPLES = {
    "support_hours": [
        "When is support open?",
        "What are your opening hours?",
        "Are you open on Sundays?",
        "Can I call you at night?",
        "Is support available 24/7?",
    ],
    "refund": [
        "I want my money back",
        "How do I get a refund?",
        "Please refund my licence",
        "Can I return the product and be paid back?",
        "Refund request for my order",
    ],
    # three intents: with two, logistic regression is one binary model
    "greet": ["Hello", "Hi there", "Good morning", "Hey, anyone there?", "Hei hei"],
}


class Counting:
    def __init__(self, model):
        self.model, self.texts = model, []

    def query(self, texts):
        self.texts += list(texts)
        return self.model.query(texts)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    storage = LocalModelStorage(tmp_path_factory.mktemp("cascade"))
    context = ExecutionContext(GraphSchema({}), "test")
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    config = {
        **CountVectorsFeaturizer.get_default_config(),
        "analyzer": "char_wb",
        "min_ngram": 2,
        "max_ngram": 5,
    }
    ngrams = CountVectorsFeaturizer.create(config, storage, Resource("cvf"), context)
    e5 = E5Featurizer({**E5Featurizer.get_default_config(), "defer": True}, "e5")
    config = {**LinearIntentClassifier.get_default_config(), "cascade_threshold": 0.8}
    classifier = LinearIntentClassifier.create(config, storage, Resource("clf"), context)
    data = TrainingData(
        [Message(data={TEXT: t, INTENT: i}) for i, texts in EXAMPLES.items() for t in texts]
    )
    with pytest.MonkeyPatch.context() as patch:
        # the embedding store and the last fit (var/cache/) of a throwaway project, not
        # the work tree's: this fit would be the next `bot retrain`'s starting point
        patch.setenv("BOT_VAR_DIR", str(tmp_path_factory.mktemp("var")))
        tokenizer.process_training_data(data)
        ngrams.train(data)
        ngrams.process_training_data(data)
        e5.process_training_data(data)  # training embeds every example, deferred or not
        classifier.train(data)
    counting = Counting(e5._model)
    e5._model = counting
    return tokenizer, ngrams, e5, classifier, counting


def parse(pipeline, text: str) -> Message:
    message = Message(data={TEXT: text})
    for component in pipeline[:4]:
        component.process([message])
    return message


def test_a_sure_n_gram_answer_skips_the_embedding(pipeline):
    counting = pipeline[4]
    counting.texts.clear()
    message = parse(pipeline, "What are your opening hours?")
    assert message.get(INTENT)["name"] == "support_hours"
    assert message.get(INTENT)["confidence"] >= 0.8
    assert counting.texts == []
    assert message.get_dense_features(TEXT)[1] is None


def test_an_unsure_one_gets_the_embedding_and_the_full_model(pipeline):
    counting = pipeline[4]
    counting.texts.clear()
    message = parse(pipeline, "zzz qqq")
    assert counting.texts == ["zzz qqq"]
    dense = message.get_dense_features(TEXT)[1]
    assert dense is not None and np.asarray(dense.features).shape == (1, 384)
    assert message.get(DEFERRED) is None
    assert message.get(INTENT)["name"] in EXAMPLES


def optional_part(pipeline, text: str, whole_index: int = 0) -> Message:
    part = Message(data={TEXT: text, PART_OF: whole_index, OPTIONAL: True})
    for component in pipeline[:4]:
        component.process([part])
    return part


def test_an_unsure_part_keeps_the_n_gram_reading_until_it_is_asked_for(pipeline):
    counting = pipeline[4]
    counting.texts.clear()
    part = optional_part(pipeline, "xxq vvw")  # texts of their own: e5's cache is shared
    assert counting.texts == []  # not sure, yet no embedding: a part may not need one
    cheap = part.get(INTENT)
    assert cheap["name"] in EXAMPLES and cheap["confidence"] < 0.8
    part.get(REFINE)()
    assert counting.texts == ["xxq vvw"]
    assert part.get_dense_features(TEXT)[1] is not None and part.get(REFINE) is None
    assert part.get(INTENT)["confidence"] != cheap["confidence"]  # the full model's


@pytest.mark.parametrize(("floor", "embedded"), [(1.01, []), (0.0, ["xxq vvw 1"])])
def test_the_merger_asks_for_a_parts_full_reading_only_where_it_can_matter(
    pipeline, floor, embedded
):
    counting = pipeline[4]
    text = embedded[0] if embedded else "xxq vvw 0"
    whole = parse(pipeline, f"What are your opening hours? {text}")
    part = optional_part(pipeline, text)
    whole.set(INTENT, {"name": "nlu_fallback", "confidence": 0.3})  # as if it fell back
    counting.texts.clear()
    plan = segments.Plan(answerable=frozenset(EXAMPLES), last=frozenset())
    merger = SegmentMerger({**SegmentMerger.get_default_config(), "floor": floor}, plan)
    assert merger.process([whole, part]) == [whole]
    assert counting.texts == embedded
    assert whole.get("segments")["parts"][0]["text"] == text
