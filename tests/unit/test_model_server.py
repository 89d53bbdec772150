"""Which model is live and what `GET /model` answers (bot.runtime.model_server),
and one retrain at a time (bot.runtime.retrain.exclusive)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot import settings
from bot.runtime import model_server, retrain


@pytest.fixture
def cfg(tmp_path) -> settings.Settings:
    base = settings.load()
    (tmp_path / "models").mkdir()
    return dataclasses.replace(base, var_dir=tmp_path / "var", models_dir=tmp_path / "models")


def _model(cfg: settings.Settings, name: str, content: bytes) -> Path:
    path = cfg.models_dir / name
    path.write_bytes(content)
    return path


def test_nothing_active_is_404(cfg):
    assert model_server.active(cfg) is None
    assert model_server.answer(cfg, None).status == 404


def test_the_active_model_with_its_etag_then_304(cfg):
    first = _model(cfg, "model-a.tar.gz", b"first model")
    model_server.activate(cfg, first)
    got = model_server.answer(cfg, None)
    assert (got.status, got.model) == (200, first.resolve())
    assert got.headers["filename"] == "model-a.tar.gz"
    tag = got.headers["ETag"]
    assert tag.startswith('"') and tag.endswith('"')
    # Rasa sends back exactly what it got
    unchanged = model_server.answer(cfg, tag)
    assert (unchanged.status, unchanged.model, unchanged.headers["ETag"]) == (304, None, tag)
    assert model_server.answer(cfg, f'W/{tag}, "other"').status == 304
    assert model_server.answer(cfg, '"something-else"').status == 200


def test_a_new_model_changes_the_etag(cfg):
    first = _model(cfg, "model-a.tar.gz", b"first model")
    model_server.activate(cfg, first)
    tag = model_server.answer(cfg, None).headers["ETag"]
    second = _model(cfg, "model-b.tar.gz", b"second model")
    model_server.activate(cfg, second)
    got = model_server.answer(cfg, tag)
    assert (got.status, got.model) == (200, second.resolve())
    assert got.headers["ETag"] != tag


def test_a_pointer_to_a_missing_or_odd_file_serves_nothing(cfg):
    gone = _model(cfg, "model-a.tar.gz", b"x")
    model_server.activate(cfg, gone)
    gone.unlink()
    assert model_server.answer(cfg, None).status == 404
    model_server.pointer_path(cfg).write_text('{"model": "../../etc/passwd"}')
    assert model_server.active(cfg) is None
    model_server.pointer_path(cfg).write_text("not json")
    assert model_server.active(cfg) is None
    with pytest.raises(ValueError):
        model_server.activate(cfg, cfg.models_dir / "missing.tar.gz")


def test_a_retrain_while_one_runs_is_told_not_queued(cfg):
    assert retrain.running(cfg) is None
    with retrain.exclusive(cfg):
        assert "pid" in (retrain.running(cfg) or "")
        with pytest.raises(retrain.RetrainBusy, match="already running"):
            retrain.retrain(cfg)
    assert retrain.running(cfg) is None
