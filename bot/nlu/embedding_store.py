"""A persistent cache of sentence embeddings for training: (model id, text hash) -> vector.

Most of a training is the e5 embedding of every example (about 9 ms each); after a
trainer adds one phrase, every other example's vector is the one computed last time.
The cache is one SQLite file under var/ (BOT_VAR_DIR), so it outlives processes and
several trainings (a test run, `bot retrain`) may share it; a vector is only reused
for exactly the same text and the same embedding model. No Rasa here: the featurizer
calls it, and so may anything else that embeds training texts.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path

import numpy as np

from bot import settings

FILE_NAME = "e5-embeddings.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL,
    digest BLOB NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, digest)
) WITHOUT ROWID
"""
_CHUNK = 500  # SQLite's host-parameter limit is 999 on older builds
_SAVE_EVERY = 512  # texts embedded between two writes


def default_path() -> Path:
    return settings.load().var_dir / "cache" / FILE_NAME


def digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingStore:
    """Vectors of one embedding model, float32, looked up by the text's SHA-256."""

    def __init__(self, model_id: str, path: Path | None = None) -> None:
        self.model_id = model_id
        self.path = path or default_path()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
        conn.execute(_SCHEMA)
        return conn

    def get_many(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vector of each text that has one."""
        wanted = {digest(t): t for t in texts}
        found: dict[str, np.ndarray] = {}
        keys = list(wanted)
        with closing(self._connect()) as conn:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                rows = conn.execute(
                    f"SELECT digest, vector FROM vectors WHERE model = ? "
                    f"AND digest IN ({','.join('?' * len(chunk))})",
                    [self.model_id, *chunk],
                )
                for key, blob in rows:
                    found[wanted[bytes(key)]] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, vectors: dict[str, np.ndarray]) -> None:
        rows = [
            (self.model_id, digest(text), np.asarray(v, dtype=np.float32).tobytes())
            for text, v in vectors.items()
        ]
        with closing(self._connect()) as conn, conn:
            conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

    def embed(
        self, texts: Sequence[str], compute: Callable[[list[str]], np.ndarray]
    ) -> tuple[np.ndarray, int]:
        """A (len(texts), dim) matrix, computing only the texts not cached yet;
        also how many were computed."""
        cached = self.get_many(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in cached))
        for start in range(0, len(missing), _SAVE_EVERY):  # an interrupted run keeps most
            chunk = missing[start : start + _SAVE_EVERY]
            fresh = np.asarray(compute(chunk), dtype=np.float32).reshape(len(chunk), -1)
            new = dict(zip(chunk, fresh, strict=True))
            self.put_many(new)
            cached.update(new)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32), 0
        return np.vstack([cached[t] for t in texts]), len(missing)
