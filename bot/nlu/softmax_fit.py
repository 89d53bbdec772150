"""Multinomial logistic regression, fitted by L-BFGS (lbfgs.py), with the stopping
tolerance in our hands.

The objective is scikit-learn's LogisticRegression (multinomial, L2, its `C`):
the examples' summed log-loss plus ||W||² / (2C), the intercept not penalised;
strictly convex in the weights, so one optimum (the intercepts are defined up to
one constant added to all, which changes no probability: fit returns the ones
that sum to zero). scikit-learn 1.1 stops when an iteration lowers
the objective by less than 2.2e-9 of it (scipy's default `ftol`, which
LogisticRegression does not pass on): started from the last fit after one new
phrase, that took 59 iterations of about 0.3 s each (54 intents x 37,000
features). At `ftol` 1e-7 it took 29, and on both held-out sets (1,832
questions) every predicted intent was the same, no probability moved by more
than 0.003 and no question crossed the fallback threshold
(docs/decisions/lbfgs.md, "The stopping tolerance").

The features come in two blocks: the sparse n-gram counts and, optionally, the
dense e5 embedding. Kept apart, the dense block's products go to BLAS; stored in
one sparse matrix they were three quarters of its non-zeros and half of each
gradient's time.

Started from the last fit (a retrain), L-BFGS is preconditioned by the Hessian's
diagonal there: the n-gram columns' curvatures differ as their frequencies do
(a common one thousands of times a rare one's), which is what made the warm fit
creep (34 and 44 iterations for the two models after one new example). With the
diagonal, 28 and 20, and nearer the optimum (bench.fit). Not from zero: there
every probability is 1/k, the diagonal is far from the one along the way, and
it took twice the iterations. No Rasa here.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from bot.nlu import lbfgs

FTOL = 1e-7


def fit(
    X: sp.spmatrix,
    y: np.ndarray,
    n_classes: int,
    C: float,
    start: tuple[np.ndarray, np.ndarray] | None = None,
    ftol: float = FTOL,
    max_iter: int = 3000,
    dense: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """(coef (n_classes, n_features), intercept (n_classes,), iterations) for rows
    [X | dense] labelled y (class indices 0..n_classes-1), from `start` (coef,
    intercept) if given. coef's columns are X's, then dense's."""
    X = sp.csr_matrix(X, dtype=np.float64)
    XT = X.T.tocsr()  # the gradient's product, row-major: several times faster
    D = np.zeros((X.shape[0], 0)) if dense is None else np.asarray(dense, dtype=np.float64)
    DT = np.ascontiguousarray(D.T)
    n, n_sparse = X.shape
    d = n_sparse + D.shape[1]
    rows = np.arange(n)
    size = n_classes * d

    def loss_and_gradient(w: np.ndarray) -> tuple[float, np.ndarray]:
        W = w[:size].reshape(n_classes, d)
        Z = _scores(X, D, w, n_classes)
        E = np.exp(Z)
        sums = E.sum(axis=1)
        loss = float(np.log(sums).sum() - Z[rows, y].sum()) + float(w[:size] @ w[:size]) / (2 * C)
        G = E / sums[:, None]
        G[rows, y] -= 1.0
        gradient = np.empty_like(w)
        by_weight = gradient[:size].reshape(n_classes, d)
        by_weight[:, :n_sparse] = np.asarray(XT @ G).T
        by_weight[:, n_sparse:] = (DT @ G).T
        by_weight += W / C
        gradient[size:] = G.sum(axis=0)
        return loss, gradient

    w0 = np.zeros(size + n_classes)
    scaling = None
    if start is not None:
        w0[:size], w0[size:] = np.ravel(start[0]), np.ravel(start[1])
        scaling = 1.0 / hessian_diagonal(X, D, w0, n_classes, C)
        # One scaling for all intercepts: the loss is the same when all move by one
        # constant (only the weights are penalised), and steps whose intercepts sum
        # to zero, as the gradient's do, never drift along it.
        scaling[size:] = scaling[size:].mean()
    w, iterations = lbfgs.minimize(
        loss_and_gradient, w0, ftol=ftol, max_iter=max_iter, scaling=scaling
    )
    intercept = w[size:] - w[size:].mean()  # the one of that family: the same answers
    return w[:size].reshape(n_classes, d), intercept, iterations


def hessian_diagonal(
    X: sp.csr_matrix, D: np.ndarray, w: np.ndarray, n_classes: int, C: float
) -> np.ndarray:
    """The diagonal of fit's objective's Hessian at w = [coef.ravel(), intercept]
    for rows [X | D], plus 1/C for every entry: for class k and feature j, the sum
    over examples of x_ij² p_ik (1 - p_ik) (+ 1/C, the penalty's); for intercept k,
    of p_ik (1 - p_ik) (+ 1/C: never a zero to divide by)."""
    n_sparse = X.shape[1]
    d = n_sparse + D.shape[1]
    size = n_classes * d
    P = np.exp(_scores(X, D, w, n_classes))
    P /= P.sum(axis=1, keepdims=True)
    V = P * (1.0 - P)
    diagonal = np.empty_like(w)
    by_weight = diagonal[:size].reshape(n_classes, d)
    by_weight[:, :n_sparse] = np.asarray(X.multiply(X).T.tocsr() @ V).T
    by_weight[:, n_sparse:] = ((D * D).T @ V).T
    diagonal[size:] = V.sum(axis=0)
    return diagonal + 1.0 / C


def _scores(X: sp.csr_matrix, D: np.ndarray, w: np.ndarray, n_classes: int) -> np.ndarray:
    """Each example's class scores under w = [coef.ravel(), intercept], less each
    row's largest (so that exp never overflows)."""
    n_sparse = X.shape[1]
    d = n_sparse + D.shape[1]
    size = n_classes * d
    W, b = w[:size].reshape(n_classes, d), w[size:]
    Z = np.asarray(X @ np.ascontiguousarray(W[:, :n_sparse].T)) + D @ W[:, n_sparse:].T + b
    Z -= Z.max(axis=1, keepdims=True)
    return Z
