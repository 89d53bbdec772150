"""The regression gate and the scoring it rests on (bot.training.gate, .evaluation)."""

from __future__ import annotations

import copy

import pytest

from bot.training import gate, scoring


def _parse(intent: str, confidence: float = 0.9) -> dict:
    return {"intent": {"name": intent, "confidence": confidence}}


ROWS = [
    {"lang": "en", "intent": "ask_disinfection", "intents": ["ask_disinfection"], "text": "virus"},
    {"lang": "en", "intent": "ask_onsite", "intents": ["ask_onsite"], "text": "come over"},
    {"lang": "en", "intent": "out_of_scope", "intents": ["out_of_scope"], "text": "pizza?"},
    {"lang": "nb", "intent": "ask_onsite", "intents": ["ask_onsite"], "text": "komme hit"},
    {"lang": "nb", "intent": "out_of_scope", "intents": ["out_of_scope"], "text": "vær?"},
    {
        "lang": "sv",
        "intent": "ask_disinfection",
        "intents": ["ask_disinfection"],
        "text": "virus sv",
    },
    {
        "lang": "sv",
        "intent": "ask_onsite",
        "intents": ["ask_onsite", "ask_disinfection"],
        "text": "both",
    },
]
ALL_RIGHT = [
    _parse("ask_disinfection"),
    _parse("ask_onsite"),
    _parse("nlu_fallback", 0.2),  # a fallback is the right answer to out-of-scope
    _parse("ask_onsite"),
    _parse("out_of_scope"),
    _parse("ask_disinfection"),
    _parse("ask_disinfection"),  # the second of two labels counts
]


def report(parses: list[dict]) -> dict:
    return scoring.evaluate({"set.csv": ROWS}, parses)


def test_scoring_counts_fallbacks_and_two_topic_questions_as_right():
    good = report(ALL_RIGHT)
    for lang in ("en", "nb", "sv"):
        assert good[lang]["accuracy"] == 1.0
        assert good[lang]["macro_f1"] == 1.0
    assert good["oos_fallback"] == 1.0
    assert good["errors"] == []
    assert good["sets"]["set.csv"]["n"] == len(ROWS)


def test_per_intent_and_confusions():
    parses = copy.deepcopy(ALL_RIGHT)
    parses[1] = _parse("ask_disinfection", 0.55)  # en onsite -> disinfection
    r = report(parses)
    en = r["per_intent"]["en"]
    assert en["ask_onsite"]["recall"] == 0.0
    assert en["ask_disinfection"]["precision"] == 0.5
    assert r["confusions"][0] == {
        "gold": "ask_onsite",
        "predicted": "ask_disinfection",
        "count": 1,
        "examples": ["[en] come over"],
    }


def test_the_same_model_passes():
    good = report(ALL_RIGHT)
    verdict = gate.check(good, copy.deepcopy(good))
    assert verdict.passed and verdict.problems == []


def test_no_live_model_passes():
    assert gate.check(None, report(ALL_RIGHT)).passed


def test_an_f1_drop_in_one_language_is_refused_with_the_newly_wrong_question():
    parses = copy.deepcopy(ALL_RIGHT)
    parses[3] = _parse("ask_disinfection", 0.61)  # nb onsite now wrong
    verdict = gate.check(report(ALL_RIGHT), report(parses))
    assert not verdict.passed
    [problem] = verdict.problems
    assert problem.what.startswith("nb macro-F1 1.000 -> ")
    assert problem.examples == ["[nb] 'komme hit': ask_onsite -> ask_disinfection (0.61)"]
    assert "worse: nb macro-F1" in verdict.describe()


def test_a_drop_within_half_a_point_passes():
    before = report(ALL_RIGHT)
    after = copy.deepcopy(before)
    after["sv"]["macro_f1"] -= 0.004
    assert gate.check(before, after).passed
    after["sv"]["macro_f1"] -= 0.002  # 0.6 points in all
    assert not gate.check(before, after).passed


def test_fewer_out_of_scope_fallbacks_are_refused():
    parses = copy.deepcopy(ALL_RIGHT)
    parses[2] = _parse("ask_onsite", 0.7)  # "pizza?" now answered from a topic
    verdict = gate.check(report(ALL_RIGHT), report(parses))
    assert not verdict.passed
    oos = [p for p in verdict.problems if p.what.startswith("out-of-scope fallback")]
    assert oos and oos[0].examples == ["[en] 'pizza?': out_of_scope -> ask_onsite (0.70)"]


def test_better_is_never_refused():
    parses = copy.deepcopy(ALL_RIGHT)
    parses[3] = _parse("ask_disinfection")
    assert gate.check(report(parses), report(ALL_RIGHT)).passed


def test_parses_must_match_the_questions():
    with pytest.raises(ValueError):
        scoring.evaluate({"set.csv": ROWS}, ALL_RIGHT[:-1])
