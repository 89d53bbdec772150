"""The trainers' inbox through the real servers: a message that falls back in
the running bot shows up in `bot inbox list --json` with its reason after
`bot inbox sync`, a click on "did you mean" names the suggestion, and the
conflict check shows the running model's prediction (its /model/parse, with
the API token). Phrases go to a small training data copy in tmp_path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from actions.clarify import LEAD_CONFIDENCE, LEAD_MARGIN
from bot.training import conflicts, phrases
from bot.training.inbox.turns import AMBIGUITY
from tests.servers import Bot
from tests.unit.inbox_data import make_nlu

# Vague messages; the test uses the first the current model falls back on.
VAGUE = (
    "my thing is broken",
    "is it possible",
    "help with the stuff please",
    "what about the other thing then",
)


def bot_command(*args: str) -> subprocess.CompletedProcess:
    """The `bot` command in the servers' environment (their database and tracker store)."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )


def falls_back(bot: Bot) -> str:
    """A message the bot asks to rephrase: it falls back, and no topic leads enough
    for the last resort's guess (actions/clarify.py). With no clear lead its top two
    are often close too, which the inbox also notes ("ambiguous")."""
    for text in VAGUE:
        parsed = bot.post("/model/parse", {"text": text})
        assert isinstance(parsed, dict)
        if (parsed.get("intent") or {}).get("name") != "nlu_fallback":
            continue
        ranking = [r["confidence"] for r in parsed["intent_ranking"] if r["name"] != "nlu_fallback"]
        top, second = (ranking + [0.0, 0.0])[:2]
        if top < LEAD_CONFIDENCE or top - second < LEAD_MARGIN:
            return text
    pytest.fail(f"none of {VAGUE} falls back with this model; add a vaguer one")


def test_a_message_that_falls_back_is_in_the_inbox_with_its_reason(running_bot: Bot) -> None:
    text = falls_back(running_bot)
    sender = f"inbox-{uuid.uuid4().hex}"
    reply = running_bot.ask(text, sender=sender, lang="en")
    assert reply.answer["verdict"] == "fallback" and reply.buttons

    synced = bot_command("inbox", "sync")
    assert synced.returncode == 0, synced.stderr
    listed = bot_command("inbox", "list", "--json", "--reason", "fallback")
    assert listed.returncode == 0, listed.stderr
    (entry,) = [e for e in json.loads(listed.stdout) if e["conversation_id"] == sender]
    assert entry["text"] == text and entry["lang"] == "en" and entry["status"] == "new"
    parsed = running_bot.post("/model/parse", {"text": text})
    ranking = [r["confidence"] for r in parsed["intent_ranking"] if r["name"] != "nlu_fallback"]
    close = ranking[0] - ranking[1] < AMBIGUITY  # the inbox's own rule
    assert entry["reasons"] == (["fallback", "ambiguous"] if close else ["fallback"])
    assert entry["suggestion"] is None
    assert entry["intent"] and entry["intent"] != "nlu_fallback"
    assert entry["top3"] and entry["rule_ids"] == []

    # the user clicks "did you mean": the clicked topic becomes the suggestion
    clicked = reply.buttons[0]["payload"]
    running_bot.ask(clicked, sender=sender, lang="en")
    assert bot_command("inbox", "sync").returncode == 0
    shown = bot_command("inbox", "show", str(entry["id"]), "--json")
    assert shown.returncode == 0, shown.stderr
    again = json.loads(shown.stdout)
    assert again["reasons"] == ["fallback", *(["ambiguous"] if close else []), "did_you_mean"]
    assert again["suggestion"] == clicked.lstrip("/")
    assert [line["who"] for line in again["conversation"]][:2] == ["user", "bot"]
    assert again["conversation"][0]["this"] and again["conversation"][0]["text"] == text

    # forgetting the person takes their inbox occurrence (and the entry, theirs alone)
    forgotten = bot_command("privacy", "forget", sender)
    assert forgotten.returncode == 0 and "1 inbox occurrence(s) deleted" in forgotten.stdout
    left = json.loads(bot_command("inbox", "list", "--status", "all", "--json").stdout)
    assert entry["id"] not in [e["id"] for e in left]


def test_the_conflict_check_shows_the_running_models_prediction(running_bot: Bot, tmp_path) -> None:
    nlu, heldout = make_nlu(tmp_path / "project")

    def predict(text: str) -> conflicts.Prediction | str:
        return conflicts.server_prediction(text, running_bot.cfg)

    added = phrases.add(
        "scope_disinfection",
        "could you please disinfect my computer for me",
        "en",
        nlu_dir=nlu,
        eval_sets=[heldout],
        predictor=predict,
        cache=tmp_path / "e5.npz",
    )
    verdict = added.plan.verdict
    assert verdict.prediction is not None
    assert verdict.prediction.intent == "scope_disinfection"
    # allowed, and marked "already understood" exactly when the live model is
    # that sure (the cascade's n-gram model answers confident phrases at 0.8+)
    assert verdict.prediction.confidence >= 0.8
    assert verdict.already_understood == (
        verdict.prediction.confidence >= conflicts.HIGH_CONFIDENCE
    )
    assert list(verdict.neighbours)[0] == "scope_disinfection"
    assert len(verdict.prediction.top3) == 3
    assert (
        (nlu / "en" / "disinfection.yml")
        .read_text(encoding="utf-8")
        .endswith("    - could you please disinfect my computer for me\n")
    )

    vague = phrases.prepare(
        "scope_hardware_faults",
        falls_back(running_bot),
        "en",
        nlu_dir=nlu,
        eval_sets=[heldout],
        predictor=predict,
        cache=tmp_path / "e5.npz",
    )
    assert vague.verdict.prediction is not None and not vague.verdict.already_understood
