"""Rasa test stories (tests/stories/<lang>.yml), checked in two halves:

- `rasa test core` replays each story against the trained model and fails on
  a wrong action (it takes the story's intent labels as given);
- every user line is parsed by the running server, and must be classified as
  the intent the story names (what `rasa test core` does not check).
"""

from __future__ import annotations

import subprocess

import pytest
import yaml

from bot.contract import LANGS
from bot.runtime import processes
from bot.settings import PROJECT_DIR


def user_steps(lang: str) -> list[tuple[str, str]]:
    stories = yaml.safe_load((PROJECT_DIR / "tests" / "stories" / f"{lang}.yml").read_text())
    return [
        (step["user"].strip(), step["intent"])
        for story in stories["stories"]
        for step in story["steps"]
        if "user" in step
    ]


@pytest.mark.parametrize("lang", LANGS)
def test_story_actions(running_bot, model, tmp_path, lang):
    cfg = running_bot.cfg
    cmd = [
        *processes.RASA,
        "test",
        "core",
        "--model",
        str(model),
        "--stories",
        f"tests/stories/{lang}.yml",
        "--endpoints",
        str(processes.endpoints_file(cfg)),
        "--out",
        str(tmp_path),
        "--fail-on-prediction-errors",
        "--no-plot",
    ]
    result = subprocess.run(
        cmd, cwd=PROJECT_DIR, env=processes.rasa_env(cfg), capture_output=True, text=True
    )
    failed = tmp_path / "failed_test_stories.yml"
    details = failed.read_text() if failed.exists() else result.stdout[-3000:]
    assert result.returncode == 0, f"stories failed:\n{details}\n{result.stderr[-2000:]}"


@pytest.mark.parametrize("lang", LANGS)
def test_story_intents(running_bot, lang):
    wrong = []
    for text, intent in user_steps(lang):
        parsed = running_bot.post("/model/parse", {"text": text})
        if parsed["intent"]["name"] != intent:
            wrong.append(f"{text!r}: expected {intent}, got {parsed['intent']}")
    assert not wrong, "\n".join(wrong)
