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
