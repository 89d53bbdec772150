"""The e5 featurizer's answer-time cache: a repeated message gets the very
embedding the model gives it, without running the model again, and the cache
stays within its size (least recently used out first)."""

from __future__ import annotations

import numpy as np
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.rasa_addons.components.e5_featurizer import E5Featurizer


def featurizer(size: int) -> E5Featurizer:
    return E5Featurizer({**E5Featurizer.get_default_config(), "cache_size": size}, "e5")


def dense(component: E5Featurizer, text: str) -> np.ndarray:
    message = Message(data={TEXT: text})
    component.process([message])
    return np.asarray(message.get_dense_features(TEXT)[1].features).ravel()


class Counting:
    """The real model, counting the texts it is asked to embed."""

    def __init__(self, model):
        self.model, self.texts = model, []

    def query(self, texts):
        self.texts += list(texts)
        return self.model.query(texts)


def test_a_repeated_message_is_embedded_once_and_gets_the_same_vector():
    component = featurizer(8)
    counting = Counting(component._model)
    component._model = counting
    first = dense(component, "Is  Kaspersky Total Security 21 still supported?")
    again = dense(component, "Is Kaspersky Total Security 21 still supported? ")
    assert counting.texts == ["Is Kaspersky Total Security 21 still supported?"]
    assert np.array_equal(first, again)
    fresh = np.asarray(counting.model.query(["Is Kaspersky Total Security 21 still supported?"]))
    assert np.allclose(first, fresh.ravel(), atol=1e-6)


def test_the_cache_keeps_the_most_recently_used_within_its_size():
    component = featurizer(2)
    counting = Counting(component._model)
    component._model = counting
    for text in ("one", "two", "one", "three", "one", "two"):
        dense(component, text)
    # "two" was the least recently used when "three" came, so it is embedded again
    assert counting.texts == ["one", "two", "three", "two"]
    assert len(component._cache) == 2


def test_a_cache_of_size_zero_embeds_every_time():
    component = featurizer(0)
    counting = Counting(component._model)
    component._model = counting
    dense(component, "hei")
    dense(component, "hei")
    assert counting.texts == ["hei", "hei"]


def test_preloaded_questions_are_embedded_once_and_kept_in_var_cache(tmp_path):
    """An evaluation parses the same held-out questions after every retrain: preload
    embeds those var/cache/ lacks (a batch at a time) and keeps them there, and the
    featurizer then takes their vectors from memory, the same as it would compute."""
    from bot import settings
    from bot.rasa_addons.components import e5_featurizer

    questions = ["Can you remove a virus from my PC?", "Hvor  lenge er versjon 21 støttet?"]
    with settings.environment({"BOT_VAR_DIR": str(tmp_path)}):
        try:
            assert e5_featurizer.preload(questions) == 2  # none in var/cache/ yet
            component = featurizer(8)
            counting = Counting(component._model)
            component._model = counting
            vectors = [dense(component, q) for q in questions]
            assert counting.texts == []  # known before they came
            fresh = counting.model.query(["Hvor lenge er versjon 21 støttet?"])
            assert np.allclose(vectors[1], np.asarray(fresh).ravel(), atol=1e-6)
            e5_featurizer.forget_preloaded()
            assert e5_featurizer.preload(questions) == 0  # the next job: from var/cache/
            e5_featurizer.forget_preloaded()
            other = featurizer(8)
            other._model = counting
            dense(other, questions[0])
            assert counting.texts == [questions[0]]  # forgotten: computed again
        finally:
            e5_featurizer.forget_preloaded()
