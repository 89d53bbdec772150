"""The intent classifier's fit (bot/nlu/softmax_fit.py) reaches scikit-learn's
optimum (the same objective), and from that optimum it stops almost at once."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from bot.nlu import softmax_fit


def _problem(seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, d, k = 300, 40, 4
    centres = rng.normal(size=(k, d))
    y = rng.integers(0, k, size=n)
    X = centres[y] + rng.normal(scale=1.5, size=(n, d))
    X[np.abs(X) < 0.8] = 0.0  # sparse, as the n-gram counts are
    return sp.csr_matrix(X), y


def _probabilities(X: sp.csr_matrix, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    scores = np.asarray(X @ coef.T) + intercept
    scores -= scores.max(axis=1, keepdims=True)
    p = np.exp(scores)
    return p / p.sum(axis=1, keepdims=True)


def test_the_same_optimum_as_scikit_learn():
    X, y = _problem()
    reference = LogisticRegression(C=30.0, max_iter=5000, tol=1e-8).fit(X, y)
    coef, intercept, iterations = softmax_fit.fit(X, y, 4, C=30.0, ftol=1e-12)
    assert iterations > 10
    ours, theirs = _probabilities(X, coef, intercept), reference.predict_proba(X)
    assert np.abs(ours - theirs).max() < 1e-3
    assert (ours.argmax(axis=1) == reference.predict(X)).all()


def test_from_the_last_optimum_it_stops_at_once_and_stays_there():
    X, y = _problem(1)
    coef, intercept, cold = softmax_fit.fit(X, y, 4, C=30.0)
    again, again_intercept, warm = softmax_fit.fit(X, y, 4, C=30.0, start=(coef, intercept))
    assert warm < cold / 3
    assert (
        np.abs(_probabilities(X, again, again_intercept) - _probabilities(X, coef, intercept)).max()
        < 1e-3
    )


def test_two_intents_get_two_rows():
    X, y = _problem(2)
    y = y % 2
    coef, intercept, _ = softmax_fit.fit(X, y, 2, C=30.0)
    assert coef.shape == (2, X.shape[1]) and intercept.shape == (2,)
    assert (_probabilities(X, coef, intercept).argmax(axis=1) == y).mean() > 0.8


def test_a_dense_block_kept_apart_is_the_same_problem():
    """The e5 block is passed as an array (BLAS products), not inside the sparse matrix."""
    X, y = _problem(3)
    dense = np.random.default_rng(3).normal(size=(X.shape[0], 6))
    together = sp.hstack([X, sp.csr_matrix(dense)]).tocsr()
    coef, intercept, _ = softmax_fit.fit(together, y, 4, C=30.0, ftol=1e-12)
    apart, apart_intercept, _ = softmax_fit.fit(X, y, 4, C=30.0, ftol=1e-12, dense=dense)
    assert apart.shape == coef.shape
    assert (
        np.abs(
            _probabilities(together, apart, apart_intercept)
            - _probabilities(together, coef, intercept)
        ).max()
        < 1e-4
    )


def test_a_warm_fit_after_new_examples_reaches_scikit_learns_optimum():
    """A retrain's fit: started from the last one (fewer examples), preconditioned by
    the Hessian's diagonal there, with the dense block apart and columns of very
    different frequencies, as the n-gram counts are."""
    X, y = _problem(4)
    X = sp.csr_matrix(X.multiply(np.logspace(-1, 1, X.shape[1])))  # badly scaled columns
    dense = np.random.default_rng(4).normal(size=(X.shape[0], 6))
    last = np.ones(X.shape[0], dtype=bool)
    last[[5, 50, 150]] = False  # the new examples
    coef, intercept, _ = softmax_fit.fit(X[last], y[last], 4, C=30.0, dense=dense[last])
    warm, warm_intercept, _ = softmax_fit.fit(
        X, y, 4, C=30.0, start=(coef, intercept), ftol=1e-12, dense=dense
    )
    together = sp.hstack([X, sp.csr_matrix(dense)]).tocsr()
    reference = LogisticRegression(C=30.0, max_iter=10000, tol=1e-10).fit(together, y)
    ours = _probabilities(together, warm, warm_intercept)
    assert np.abs(ours - reference.predict_proba(together)).max() < 1e-3


def test_the_hessian_diagonal_is_the_objectives_second_derivative():
    """softmax_fit.hessian_diagonal against central differences of the objective,
    for weights of both blocks and for intercepts (whose +1/C is a floor, not the
    objective's)."""
    X, y = _problem(5)
    dense = np.random.default_rng(5).normal(size=(X.shape[0], 3))
    k, C = 4, 30.0
    d = X.shape[1] + dense.shape[1]
    rng = np.random.default_rng(6)
    w = rng.normal(scale=0.3, size=k * d + k)
    together = sp.hstack([X, sp.csr_matrix(dense)]).tocsr()

    def objective(v: np.ndarray) -> float:
        W, b = v[: k * d].reshape(k, d), v[k * d :]
        Z = np.asarray(together @ W.T) + b
        top = Z.max(axis=1, keepdims=True)
        loss = np.log(np.exp(Z - top).sum(axis=1)) + top[:, 0] - Z[np.arange(len(y)), y]
        return float(loss.sum() + (W**2).sum() / (2 * C))

    diagonal = softmax_fit.hessian_diagonal(X, dense, w, k, C)
    h = 1e-4
    for i in [0, 7, X.shape[1] + 1, d + 3, k * d - 1, k * d, k * d + 3]:
        e = np.zeros_like(w)
        e[i] = h
        numeric = (objective(w + e) - 2 * objective(w) + objective(w - e)) / h**2
        expected = diagonal[i] - (1.0 / C if i >= k * d else 0.0)
        assert abs(numeric - expected) < 1e-3 * max(1.0, abs(expected)), i


def test_a_warm_fit_returns_intercepts_that_sum_to_zero():
    """One constant added to every intercept changes no probability; fit returns the
    member of that family whose intercepts sum to zero, warm or cold."""
    X, y = _problem(6)
    coef, intercept, _ = softmax_fit.fit(X, y, 4, C=30.0)
    shifted = (coef, intercept + 5.0)  # a start from the same family
    again, again_intercept, _ = softmax_fit.fit(X, y, 4, C=30.0, start=shifted)
    assert abs(intercept.sum()) < 1e-8 and abs(again_intercept.sum()) < 1e-8
    assert (
        np.abs(_probabilities(X, again, again_intercept) - _probabilities(X, coef, intercept)).max()
        < 1e-3
    )
