"""What the trainer page needs from the core, without a server: the token read
afresh and compared in constant time, the intent catalogue with topic titles
and descriptions, and the background retrain that is told, never queued, when
another runs. (The page and its routes: tests/browser/test_trainer_page.py.)"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bot import rulebase, secrets, settings
from bot.runtime import background_retrain, retrain
from bot.training import intent_choices


def test_trainer_token_is_read_at_each_call(tmp_path, monkeypatch):
    monkeypatch.delenv("BOT_TRAINER_TOKEN", raising=False)
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    cfg = settings.load()
    assert secrets.trainer_token(cfg) is None
    path = settings.secret_file(tmp_path, "BOT_TRAINER_TOKEN")
    path.parent.mkdir()
    path.write_text("first\n")
    assert secrets.trainer_token(cfg) == "first"  # same cfg: no restart needed
    path.write_text("second\n")
    assert secrets.trainer_token(cfg) == "second"
    monkeypatch.setenv("BOT_TRAINER_TOKEN", "from-env")
    assert secrets.trainer_token(cfg) == "from-env"


def test_same_token():
    assert secrets.same_token("abc", "abc")
    assert not secrets.same_token("abd", "abc")
    assert not secrets.same_token("ab", "abc")
    assert not secrets.same_token("", "abc")
    assert not secrets.same_token("å", "a")  # any text, no exception


def test_catalogue_lists_topics_with_title_and_description(database_url):
    rulebase.load(database_url)
    found = {i.intent: i for i in intent_choices.intents(url=database_url)}
    topics = rulebase.current(database_url).topics
    assert "nlu_fallback" not in found
    assert "out_of_scope" in found and found["out_of_scope"].topic is None
    for topic in topics.values():
        info = found[topic.intent]
        assert info.topic == topic.id
        assert set(info.titles) == {"en", "nb", "sv"} and info.description == topic.description
        assert all(info.examples[lang] >= 1 for lang in ("en", "nb", "sv")), info
    listed = list(found)
    assert listed[: len(topics)] == [t.intent for t in topics.values()]  # topics first


def test_catalogue_without_a_rule_base_still_lists_intents(tmp_path):
    found = intent_choices.intents(url=f"sqlite:///{tmp_path / 'empty.db'}")
    assert found and all(i.titles == {} for i in found)


@pytest.fixture
def cfg(tmp_path, monkeypatch) -> settings.Settings:
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    return settings.load()


def _outcome(model: Path) -> retrain.Outcome:
    return retrain.Outcome("refused", model, 3.5, 20.0, None, None)


def test_a_second_retrain_is_told_while_one_runs(cfg):
    release = threading.Event()
    calls = []

    def slow(cfg, force, progress):
        calls.append(force)
        progress("training")
        with retrain.exclusive(cfg):
            release.wait(10)
        return _outcome(cfg.var_dir / "m.tar.gz")

    jobs = background_retrain.RetrainJobs(run=slow)
    assert jobs.status(cfg)["state"] == "idle"
    first = jobs.start(cfg, force=False)
    assert first["state"] == "running"
    with pytest.raises(background_retrain.Busy, match="still running"):
        jobs.start(cfg, force=True)
    release.set()
    for _ in range(200):
        if jobs.status(cfg)["state"] != "running":
            break
        threading.Event().wait(0.05)
    done = jobs.status(cfg)
    assert done["state"] == "done" and calls == [False], (done, calls)
    assert done["outcome"]["status"] == "refused" and not done["outcome"]["live"]
    assert [s["text"] for s in done["steps"]] == ["started", "training"]


def test_a_retrain_elsewhere_is_seen_and_refuses_a_start(cfg):
    jobs = background_retrain.RetrainJobs(run=lambda cfg, force, progress: _outcome(Path("x")))
    with retrain.exclusive(cfg):  # `bot retrain` in a shell
        status = jobs.status(cfg)
        assert status["state"] == "running_elsewhere" and "pid" in status["elsewhere"]
        with pytest.raises(background_retrain.Busy, match="already running"):
            jobs.start(cfg)
    assert jobs.status(cfg)["state"] == "idle"


def test_a_failing_retrain_is_reported(cfg):
    def failing(cfg, force, progress):
        raise retrain.RetrainFailed("training failed; the live model keeps serving")

    jobs = background_retrain.RetrainJobs(run=failing)
    jobs.start(cfg)
    for _ in range(200):
        if jobs.status(cfg)["state"] != "running":
            break
        threading.Event().wait(0.05)
    status = jobs.status(cfg)
    assert status["state"] == "failed" and "keeps serving" in status["error"]
