"""The classifier's warm start (bot/nlu/last_fit.py): columns renumbered by
a changed vocabulary still get their last weights; new ones start from zero."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from bot.nlu import last_fit


def test_columns_are_matched_by_the_texts_they_occur_in(tmp_path):
    path = tmp_path / "w.npz"
    texts = ["a", "b", "c"]
    # columns: x occurs in a, y in b and c, z in c
    first = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0], [0, 1, 1]], dtype=float))
    coef = np.array([[1.0, 2.0, 3.0, 9.0], [4.0, 5.0, 6.0, 8.0], [7.0, 8.0, 9.0, 7.0]])
    classes = ["k1", "k2", "k3"]
    last_fit.save(first, 1, texts, classes, coef, np.array([0.1, 0.2, 0.3]), "C=1", path)
    # a new text "d" with a new column n; the vocabulary order is now n, z, x, y
    texts2 = ["a", "b", "c", "d"]
    second = sp.csr_matrix(
        np.array([[0, 0, 1, 0], [0, 0, 0, 1], [0, 1, 0, 1], [1, 0, 0, 1]], dtype=float)
    )
    start = last_fit.initial(second, 1, texts2, ["k1", "k2", "k3", "k4"], "C=1", path)
    assert start is not None
    init, intercept = start
    assert init[0].tolist() == [0.0, 3.0, 1.0, 2.0, 9.0]  # n new; z, x, y moved; dense kept
    assert init[3].tolist() == [0.0] * 5  # a new intent starts from zero
    assert intercept.tolist() == [0.1, 0.2, 0.3, 0.0]


def test_another_setting_starts_cold(tmp_path):
    path = tmp_path / "w.npz"
    m = sp.csr_matrix(np.eye(3))
    last_fit.save(m, 0, ["a", "b", "c"], ["x", "y", "z"], np.eye(3), np.zeros(3), "C=1", path)
    assert last_fit.initial(m, 0, ["a", "b", "c"], ["x", "y", "z"], "C=30", path) is None
    missing = tmp_path / "none.npz"
    assert last_fit.initial(m, 0, ["a", "b", "c"], ["x", "y", "z"], "C=1", missing) is None


def test_fits_made_inside_kept_are_forgotten(tmp_path, monkeypatch):
    """A cross-validation's folds fit and save; the next retrain starts from the last
    real fit all the same."""
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    m = sp.csr_matrix(np.eye(3))
    args = (["a", "b", "c"], ["x", "y", "z"])
    last_fit.save(m, 0, *args, np.eye(3), np.zeros(3), "C=1")
    before = last_fit.default_path().read_bytes()
    assert not last_fit.ngram_path().exists()
    with last_fit.kept():
        last_fit.save(m, 0, *args, 2 * np.eye(3), np.ones(3), "C=1")
        last_fit.save(m, 0, *args, np.eye(3), np.zeros(3), "C=1", last_fit.ngram_path())
    assert last_fit.default_path().read_bytes() == before
    assert not last_fit.ngram_path().exists()
