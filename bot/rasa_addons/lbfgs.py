"""Unconstrained L-BFGS for the intent classifier's fit (softmax_fit).

scipy's L-BFGS-B does the job but is built for bounds: with 2 million weights it
turned `bounds=None` into 2 million (None, None) pairs and back on every call
(about 4 s a fit) and spent about 0.2 s an iteration in its Fortran subspace
step, as long as the gradient itself (profiled in a retrain after one phrase:
README, "Retraining while it runs"). Our objective has no bounds, so this is
the textbook method (Nocedal & Wright, algorithm 7.4 and 7.5): the two-loop
recursion over the last `history` steps and a backtracking line search that
takes the unit step when it lowers the objective enough (Armijo), which it
nearly always does near the optimum. The objective is strictly convex, so every
step's curvature s'y is positive and the optimum is the one scipy finds; it
stops by scipy's rules: the relative decrease below `ftol`, or every gradient
component below `gtol`. No Rasa here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.linalg import blas

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]

_ARMIJO = 1e-4  # sufficient decrease: f(w + t d) <= f(w) + 1e-4 t g'd
_MAX_BACKTRACKS = 40


def minimize(
    objective: Objective,
    start: np.ndarray,
    ftol: float,
    gtol: float = 1e-4,
    max_iter: int = 3000,
    history: int = 10,
) -> tuple[np.ndarray, int]:
    """(the minimiser, iterations) of `objective` (value and gradient) from `start`."""
    w = np.array(start, dtype=np.float64)
    f, g = objective(w)
    steps = np.empty((history, w.size))  # s_i = w_{i+1} - w_i, a ring buffer
    changes = np.empty((history, w.size))  # y_i = g_{i+1} - g_i
    rho = np.zeros(history)
    used = head = 0  # pairs kept; where the next one goes
    iteration = 0
    while iteration < max_iter and np.abs(g).max() > gtol:
        iteration += 1
        order = [(head - 1 - i) % history for i in range(used)]  # newest first
        q = g.copy()
        alpha = np.zeros(history)
        # in place through BLAS: one pass over each vector, not numpy's three (half the time)
        for i in order:
            alpha[i] = rho[i] * blas.ddot(steps[i], q)
            blas.daxpy(changes[i], q, a=-alpha[i])
        if used:  # the usual initial scaling s'y / y'y
            q *= 1.0 / (rho[order[0]] * (changes[order[0]] @ changes[order[0]]))
        else:  # a first step of at most unit length in every weight
            q *= min(1.0, 1.0 / np.abs(g).max())
        for i in reversed(order):
            blas.daxpy(steps[i], q, a=alpha[i] - rho[i] * blas.ddot(changes[i], q))
        direction = -q
        slope = float(g @ direction)
        if slope >= 0:  # not a descent direction (rounding): restart from the gradient
            used, direction, slope = 0, -g, -float(g @ g)
        t = 1.0
        for _ in range(_MAX_BACKTRACKS):
            w_new = w + t * direction
            f_new, g_new = objective(w_new)
            if f_new <= f + _ARMIJO * t * slope:
                break
            # the minimum of the quadratic through f, the slope and f_new, kept in [0.1t, 0.5t]
            t = min(0.5 * t, max(0.1 * t, -slope * t * t / (2.0 * (f_new - f - slope * t))))
        else:
            return w, iteration  # no step lowers it: at the optimum within rounding
        s, y = w_new - w, g_new - g
        curvature = float(s @ y)
        if curvature > 0:
            steps[head], changes[head], rho[head] = s, y, 1.0 / curvature
            head, used = (head + 1) % history, min(used + 1, history)
        decrease = (f - f_new) / max(abs(f), abs(f_new), 1.0)
        w, f, g = w_new, f_new, g_new
        if decrease <= ftol:
            break
    return w, iteration
