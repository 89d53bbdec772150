"""Multinomial logistic regression, fitted with L-BFGS-B, with the stopping
tolerance in our hands.

The objective is scikit-learn's LogisticRegression (multinomial, L2, its `C`):
the examples' summed log-loss plus ||W||² / (2C), the intercept not penalised;
strictly convex, so one optimum. scikit-learn 1.1 stops when an iteration lowers
the objective by less than 2.2e-9 of it (scipy's default `ftol`, which
LogisticRegression does not pass on): started from the last fit after one new
phrase, that took 59 iterations of about 0.3 s each (54 intents x 37,000
features). At `ftol` 1e-7 it took 29, and on both held-out sets (1,832
questions) every predicted intent was the same, no probability moved by more
than 0.003 and no question crossed the fallback threshold (README, "Retraining
while it runs"). No Rasa here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize

FTOL = 1e-7


def fit(
    X: sp.csr_matrix,
    y: np.ndarray,
    n_classes: int,
    C: float,
    start: tuple[np.ndarray, np.ndarray] | None = None,
    ftol: float = FTOL,
    max_iter: int = 3000,
) -> tuple[np.ndarray, np.ndarray, int]:
    """(coef (n_classes, n_features), intercept (n_classes,), iterations) for rows X
    labelled y (class indices 0..n_classes-1), from `start` (coef, intercept) if given."""
    X = sp.csr_matrix(X, dtype=np.float64)
    XT = X.T.tocsr()  # the gradient's product, row-major: several times faster
    n, d = X.shape
    rows = np.arange(n)
    size = n_classes * d

    def loss_and_gradient(w: np.ndarray) -> tuple[float, np.ndarray]:
        W, b = w[:size].reshape(n_classes, d), w[size:]
        Z = np.asarray(X @ W.T) + b
        Z -= Z.max(axis=1, keepdims=True)
        E = np.exp(Z)
        sums = E.sum(axis=1)
        loss = float(np.log(sums).sum() - Z[rows, y].sum()) + float(w[:size] @ w[:size]) / (2 * C)
        G = E / sums[:, None]
        G[rows, y] -= 1.0
        gradient = np.empty_like(w)
        gradient[:size] = (np.asarray(XT @ G).T + W / C).ravel()
        gradient[size:] = G.sum(axis=0)
        return loss, gradient

    w0 = np.zeros(size + n_classes)
    if start is not None:
        w0[:size], w0[size:] = np.ravel(start[0]), np.ravel(start[1])
    options: dict[str, Any] = {"maxiter": max_iter, "ftol": ftol, "gtol": 1e-4}
    result = minimize(loss_and_gradient, w0, jac=True, method="L-BFGS-B", options=options)
    coef = result.x[:size].reshape(n_classes, d)
    return coef, result.x[size:].copy(), int(result.nit)
