"""The training embedding cache (bot/nlu/embedding_store.py): only texts never
embedded by this model are computed, and vectors come back in the order asked."""

from __future__ import annotations

import numpy as np

from bot.nlu.embedding_store import EmbeddingStore


def _fake_embed(calls: list[list[str]]):
    def compute(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.array([[len(t), ord(t[0])] for t in texts], dtype=np.float32)

    return compute


def test_only_new_texts_are_computed_and_order_is_kept(tmp_path):
    calls: list[list[str]] = []
    store = EmbeddingStore("model-a", tmp_path / "cache.sqlite3")
    first, computed = store.embed(["abc", "de", "abc"], _fake_embed(calls))
    assert computed == 2 and calls == [["abc", "de"]]
    assert first.tolist() == [[3, 97], [2, 100], [3, 97]]
    # another process, later: one new text
    again = EmbeddingStore("model-a", tmp_path / "cache.sqlite3")
    second, computed = again.embed(["de", "xyz", "abc"], _fake_embed(calls))
    assert computed == 1 and calls[-1] == ["xyz"]
    assert second.tolist() == [[2, 100], [3, 120], [3, 97]]


def test_another_embedding_model_never_reuses_vectors(tmp_path):
    calls: list[list[str]] = []
    EmbeddingStore("model-a", tmp_path / "c.sqlite3").embed(["abc"], _fake_embed(calls))
    _, computed = EmbeddingStore("model-b", tmp_path / "c.sqlite3").embed(
        ["abc"], _fake_embed(calls)
    )
    assert computed == 1 and len(calls) == 2
