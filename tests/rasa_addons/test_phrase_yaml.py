"""A phrase written by bot.training.phrases is read back by Rasa's own reader,
as the trainer typed it (on a copy of the training data)."""

from __future__ import annotations

from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

from bot.settings import PROJECT_DIR
from bot.training import phrases
from tests.unit.inbox_data import copy_nlu

TEXTS = (
    "can support clean my PC: it's full of #malware & adware?",
    "kan dere fjerne «viruset» på PC-en, takk",
    "min dator är [name] och den är långsam",  # a masked name from the inbox
)


def test_rasa_reads_the_appended_examples(tmp_path) -> None:
    nlu = copy_nlu(PROJECT_DIR / "data" / "nlu", tmp_path)
    path = nlu / "en" / "disinfection.yml"
    before = RasaYAMLReader().read(path)
    for text in TEXTS:
        phrases.write(path, "scope_disinfection", text)

    after = RasaYAMLReader().read(path)

    texts = [m.get("text") for m in after.intent_examples]
    assert texts[: len(before.intent_examples)] == [m.get("text") for m in before.intent_examples]
    assert texts[len(before.intent_examples) :] == list(TEXTS)
    assert all(m.get("intent") == "scope_disinfection" for m in after.intent_examples)
    assert not after.entity_examples  # "[name]" is not read as an entity
