"""Which model is live, and what the model server route answers.

Rasa's `models:` endpoint (endpoints.yml: url, wait_time_between_pulls) makes every
Rasa server ask `GET <url>` with `If-None-Match: <the ETag it loaded>` every few
seconds: 304 keeps its model, 200 brings a new one, which Rasa loads into the same
agent (rasa/core/agent.py `_update_model_from_server` -> `Agent.load_model`): a new
MessageProcessor over the SAME tracker and lock stores, so conversations go on; a
message already being handled finishes with the processor it started with. A pull
that fails leaves the loaded model serving.

The live model is named in var/active-model.json (written atomically); the route
(on the action server, behind its token: bot/rasa_addons/entry/action_server.py) serves
that file. The ETag is the file's SHA-256, so an
identical model never causes a reload.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from bot.settings import Settings

POINTER = "active-model.json"
_etags: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> ETag


def pointer_path(cfg: Settings) -> Path:
    return cfg.var_dir / POINTER


def activate(cfg: Settings, model: Path, forced: bool = False) -> None:
    """Make `model` the one every server pulls (benchmarks serve models kept elsewhere)."""
    model = model.resolve()
    if not model.is_file() or not model.name.endswith(".tar.gz"):
        raise ValueError(f"{model} is not a model file")
    path = pointer_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"model": str(model), "activated": time.time(), "forced": forced}
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(record), encoding="utf-8")
    os.replace(tmp, path)  # readers see the old pointer or the new, never half of one


def active(cfg: Settings) -> Path | None:
    """The live model's file, or None (no pointer, or it names a missing file).

    The pointer lives in var/ (owner-only), written by the launcher and `bot retrain`."""
    try:
        record = json.loads(pointer_path(cfg).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = record.get("model") if isinstance(record, dict) else None
    if not isinstance(name, str) or not name.endswith(".tar.gz"):
        return None
    model = Path(name)
    return model if model.is_absolute() and model.is_file() else None


def etag(model: Path) -> str:
    stat = model.stat()
    key = (str(model), stat.st_size, stat.st_mtime_ns)
    if key not in _etags:
        digest = hashlib.sha256()
        with model.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _etags[key] = f'"{digest.hexdigest()[:32]}"'
    return _etags[key]


def _matches(if_none_match: str | None, tag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    # Rasa sends back the ETag it got, quotes and all; others may send W/ or a list.
    wanted = {t.strip().removeprefix("W/").strip('"') for t in if_none_match.split(",")}
    return tag.strip('"') in wanted


@dataclass
class Answer:
    status: int  # 200, 304 or 404
    headers: dict[str, str]
    model: Path | None  # the file to send with a 200


def answer(cfg: Settings, if_none_match: str | None) -> Answer:
    """What `GET /model` answers a server that holds the model `if_none_match`."""
    model = active(cfg)
    if model is None:  # Rasa keeps its model and asks again later
        return Answer(404, {}, None)
    tag = etag(model)
    headers = {"ETag": tag, "Cache-Control": "no-cache"}
    if _matches(if_none_match, tag):
        return Answer(304, headers, None)
    # Rasa saves the download under this name: /status then shows the real one.
    return Answer(200, {**headers, "filename": model.name}, model)
