"""Evaluation sets stay apart from the training data (case and punctuation ignored)."""

from __future__ import annotations

from pathlib import Path

from bot.training import examples


def test_no_evaluation_question_is_a_training_example():
    assert examples.check_apart() == []


def test_an_overlap_is_found_after_normalising(tmp_path: Path):
    nlu = tmp_path / "data" / "nlu" / "en"
    nlu.mkdir(parents=True)
    (nlu / "after_hours.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: scope_after_hours\n  examples: |\n'
        "    - Is support available 24/7?\n    - can I call at night\n",
        encoding="utf-8",
    )
    heldout = tmp_path / "heldout.csv"
    heldout.write_text(
        "lang,intent,text\nen,scope_after_hours,is support available 247\n"
        "en,scope_after_hours,Can I ring you on Sunday\n",
        encoding="utf-8",
    )
    problems = examples.check_apart([heldout], tmp_path / "data" / "nlu")
    assert problems == [
        "heldout.csv:2: 'is support available 247' is also a training example "
        "in data/nlu/en/after_hours.yml"
    ]


def test_two_topic_labels_are_read():
    path = examples.EVAL_SETS[0]
    questions = examples.eval_questions(path)
    assert questions and all(q.intents and q.lang in ("en", "nb", "sv") for q in questions)


def test_an_overlap_is_found_with_the_letters_left_out(tmp_path: Path):
    """A question typed without æøå is the same sentence as its spelled-out twin."""
    nlu = tmp_path / "data" / "nlu" / "nb"
    nlu.mkdir(parents=True)
    (nlu / "support_hours.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: scope_support_hours\n  examples: |\n'
        "    - Når åpner støtten på lørdag?\n",
        encoding="utf-8",
    )
    heldout = tmp_path / "heldout.csv"
    heldout.write_text(
        "lang,intent,text\nnb,scope_support_hours,naar aapner stotten paa lordag\n",
        encoding="utf-8",
    )
    assert len(examples.check_apart([heldout], tmp_path / "data" / "nlu")) == 1


def test_two_question_labels_are_read_apart_from_either_labels(tmp_path: Path):
    path = tmp_path / "set.csv"
    path.write_text(
        "lang,intents,text\nen,scope_disinfection+scope_after_hours,Virus? And weekends?\n"
        "en,scope_deployment|scope_configuration,Set it up for us\n",
        encoding="utf-8",
    )
    both, either = examples.eval_questions(path)
    assert both.intents == ("scope_disinfection", "scope_after_hours") and both.both
    assert either.intents == ("scope_deployment", "scope_configuration") and not either.both


def test_the_realistic_set_is_frozen_as_written():
    """450 messages: per language 100 single, 30 two-question, 20 out of scope."""
    path = next(p for p in examples.EVAL_SETS if p.name == "heldout_realistic.csv")
    questions = examples.eval_questions(path)
    for lang in ("en", "nb", "sv"):
        mine = [q for q in questions if q.lang == lang]
        assert len(mine) == 150
        assert sum(q.both for q in mine) == 30
        assert sum(q.intents == ("out_of_scope",) for q in mine) == 20
