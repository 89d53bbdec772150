"""The classifier's optimiser (bot/nlu/lbfgs.py) finds the minimum of a
strictly convex function, and started there it stops at once."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from bot.nlu import lbfgs


def _quadratic(seed: int = 0, n: int = 50) -> tuple[lbfgs.Objective, np.ndarray]:
    """f(w) = ½ w'Aw - b'w with A positive definite and badly scaled; minimum A⁻¹b."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    A = q @ np.diag(np.logspace(0, 3, n)) @ q.T
    b = rng.normal(size=n)

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        return float(0.5 * w @ A @ w - b @ w), A @ w - b

    return objective, np.linalg.solve(A, b)


def test_it_reaches_the_minimum():
    objective, optimum = _quadratic()
    w, iterations = lbfgs.minimize(objective, np.zeros(optimum.size), ftol=1e-15, gtol=1e-9)
    assert 5 < iterations < 1000
    assert np.abs(w - optimum).max() < 1e-6


def test_from_the_minimum_it_stops_at_once():
    objective, optimum = _quadratic(1)
    w, iterations = lbfgs.minimize(objective, optimum, ftol=1e-9, gtol=1e-6)
    assert iterations <= 1 and np.abs(w - optimum).max() < 1e-6


def test_a_logistic_loss_far_from_its_minimum():
    """Steep at the start (the line search must cut the first steps), flat at the end."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 5)) * 10
    y = (X @ rng.normal(size=5) + rng.normal(size=200) > 0).astype(float)

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = X @ w
        p = expit(z)
        loss = np.logaddexp(0, z).sum() - y @ z + 0.5 * w @ w
        return float(loss), X.T @ (p - y) + w

    w, _ = lbfgs.minimize(objective, np.full(5, 50.0), ftol=0.0, gtol=1e-7)
    reference = minimize(objective, np.full(5, 50.0), jac=True, method="L-BFGS-B", tol=1e-12)
    assert np.abs(objective(w)[1]).max() < 1e-5  # the loss is flat within rounding there
    assert np.abs(w - reference.x).max() < 1e-5


def test_a_diagonal_preconditioner_takes_fewer_steps_to_the_same_minimum():
    """`scaling` = the inverse Hessian diagonal (softmax_fit's warm fits): on a
    function whose curvatures differ a thousandfold by coordinate, as the n-gram
    columns' do by frequency."""
    rng = np.random.default_rng(3)
    n = 200
    curvature = np.logspace(0, 3, n)
    A = np.diag(curvature) + 0.1 * np.ones((n, n))  # coupled, still positive definite
    b = rng.normal(size=n)

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        return float(0.5 * w @ A @ w - b @ w), A @ w - b

    optimum = np.linalg.solve(A, b)
    plain, plain_steps = lbfgs.minimize(objective, np.zeros(n), ftol=1e-14, gtol=1e-8)
    scaled, scaled_steps = lbfgs.minimize(
        objective, np.zeros(n), ftol=1e-14, gtol=1e-8, scaling=1.0 / np.diag(A)
    )
    # ftol stops the scaled run within about 1e-6 of the optimum; how close depends
    # on the BLAS kernel's rounding (1.2e-6 on one machine here): 1e-5 of a solution
    # whose entries are about 1 is still the same minimum.
    assert np.abs(scaled - optimum).max() < 1e-5 and np.abs(plain - optimum).max() < 1e-5
    assert scaled_steps < plain_steps / 2
