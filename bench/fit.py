"""The intent classifier's fit after one new phrase: before and after this round's
changes, side by side.

    .venv/bin/python -m bench.fit [--rounds 2]

The features are the real ones of data/nlu (Rasa's tokenizer and count-vectors
featurizer as config.yml sets them, the e5 vectors from var/cache/, computed
there if missing). A fit of all examples but three is the "last fit"; then, for
each way, the fit of all examples is timed from it (the warm start a retrain
makes), for both models a retrain fits (the full one, and the cascade's n-gram
one):

- before: scipy's L-BFGS-B on one sparse matrix holding the e5 block too, the
  two models one after the other (softmax_fit as it was until 1 December);
- after: the dense block kept apart, our L-BFGS (lbfgs.py) preconditioned by the
  Hessian's diagonal at the start, the two models in two threads with BLAS on one
  thread each (as LinearIntentClassifier.train now does);
- and the latter one model after the other, to show what the threads add.

Ways alternate their order each round. Prints seconds, iterations, the
objective's difference and the share of examples whose predicted intent
differs from "before", and the ratios.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

Fit = tuple[np.ndarray, np.ndarray, int]
C = 30.0
FTOL = 1e-7


def features() -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, int]:
    """(n-gram block, e5 block, labels, classes) of data/nlu, as the classifier sees them."""
    import tempfile

    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
        CountVectorsFeaturizer,
    )
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.constants import INTENT, TEXT
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.rasa_addons.components.e5_featurizer import E5Featurizer
    from bot.rasa_addons.components.linear_intent_classifier import LinearIntentClassifier
    from bot.training.examples import training_examples

    storage = LocalModelStorage(Path(tempfile.mkdtemp(prefix="bench-fit-")))
    context = ExecutionContext(GraphSchema({}), "bench")
    config = {**CountVectorsFeaturizer.get_default_config(), "analyzer": "char_wb"}
    config.update(min_ngram=2, max_ngram=5)
    ngrams = CountVectorsFeaturizer.create(config, storage, Resource("cvf"), context)
    e5 = E5Featurizer(E5Featurizer.get_default_config(), "e5")
    data = TrainingData(
        [Message(data={TEXT: e.text, INTENT: e.intent}) for e in training_examples()]
    )
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process_training_data(data)
    ngrams.train(data)
    ngrams.process_training_data(data)
    e5.process_training_data(data)
    classifier = LinearIntentClassifier.create({}, storage, Resource("clf"), context)
    examples = data.intent_examples
    sparse, dense = classifier._blocks(examples)
    assert dense is not None
    classes = sorted({e.get(INTENT) for e in examples})
    y = np.array([classes.index(e.get(INTENT)) for e in examples])
    return sparse, dense, y, len(classes)


def before(X: sp.csr_matrix, y: np.ndarray, k: int, start: Fit | None) -> Fit:
    """softmax_fit until 1 December: one sparse matrix, scipy's L-BFGS-B."""
    XT = X.T.tocsr()
    n, d = X.shape
    rows, size = np.arange(n), k * d

    def loss_and_gradient(w: np.ndarray) -> tuple[float, np.ndarray]:
        W, b = w[:size].reshape(k, d), w[size:]
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

    w0 = np.zeros(size + k)
    if start is not None:
        w0[:size], w0[size:] = start[0].ravel(), start[1]
    options = {"maxiter": 3000, "ftol": FTOL, "gtol": 1e-4}
    result = minimize(loss_and_gradient, w0, jac=True, method="L-BFGS-B", options=options)
    return result.x[:size].reshape(k, d), result.x[size:], int(result.nit)


def after(S: sp.csr_matrix, D: np.ndarray | None, y: np.ndarray, k: int, start: Fit | None) -> Fit:
    from bot.nlu import softmax_fit

    begin = None if start is None else (start[0], start[1])
    return softmax_fit.fit(S, y, k, C=C, start=begin, ftol=FTOL, dense=D)


def objective(S: sp.csr_matrix, D: np.ndarray | None, y: np.ndarray, fit: Fit) -> float:
    coef, intercept, _ = fit
    Z = np.asarray(S @ coef[:, : S.shape[1]].T) + intercept
    if D is not None:
        Z = Z + D @ coef[:, S.shape[1] :].T
    top = Z.max(axis=1, keepdims=True)
    loss = (np.log(np.exp(Z - top).sum(axis=1)) + top[:, 0] - Z[np.arange(len(y)), y]).sum()
    return float(loss + (coef**2).sum() / (2 * C))


def predictions(S: sp.csr_matrix, D: np.ndarray | None, fit: Fit) -> np.ndarray:
    coef, intercept, _ = fit
    Z = np.asarray(S @ coef[:, : S.shape[1]].T) + intercept
    if D is not None:
        Z = Z + D @ coef[:, S.shape[1] :].T
    return np.asarray(Z.argmax(axis=1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print("features of data/nlu ...", flush=True)
    S, D, y, k = features()
    X = sp.hstack([S, sp.csr_matrix(D)]).tocsr()
    n = S.shape[0]
    rest = np.ones(n, dtype=bool)
    rest[[n // 5, n // 2, 4 * n // 5]] = False  # the "new phrases"
    print(f"{n} examples, {k} intents, {S.shape[1]} n-gram columns + {D.shape[1]} e5", flush=True)
    print("the last fit (all but three examples; cold, once) ...", flush=True)
    last_full = after(S[rest], D[rest], y[rest], k, None)
    last_ngram = after(S[rest], None, y[rest], k, None)

    def run_before() -> tuple[Fit, Fit]:
        return before(X, y, k, last_full), before(S, y, k, last_ngram)

    def run_after_sequential() -> tuple[Fit, Fit]:
        return after(S, D, y, k, last_full), after(S, None, y, k, last_ngram)

    def run_after_threads() -> tuple[Fit, Fit]:
        with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(2) as pool:
            full = pool.submit(after, S, D, y, k, last_full)
            ngram = pool.submit(after, S, None, y, k, last_ngram)
            return full.result(), ngram.result()

    ways: dict[str, Callable[[], tuple[Fit, Fit]]] = {
        "before (scipy, one matrix, in turn)": run_before,
        "after, in turn": run_after_sequential,
        "after (two threads)": run_after_threads,
    }
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    results: dict[str, tuple[Fit, Fit]] = {}
    for r in range(args.rounds):
        order = list(ways) if r % 2 == 0 else list(reversed(ways))
        for name in order:
            started = time.perf_counter()
            results[name] = ways[name]()
            seconds[name].append(time.perf_counter() - started)
            print(f"  round {r + 1}: {name}: {seconds[name][-1]:.1f} s", flush=True)
    base_name = next(iter(ways))
    base = results[base_name]
    print(f"\nwarm refit of both models after 3 new examples; load {os.getloadavg()[0]:.1f}")
    print(
        f"{'way':<38}{'seconds':>16}{'ratio':>8}{'iterations':>14}"
        f"{'Δ objective':>14}{'Δ intent':>10}"
    )
    for name in ways:
        full, ngram = results[name]
        delta = max(
            abs(objective(S, D, y, full) - objective(S, D, y, base[0])),
            abs(objective(S, None, y, ngram) - objective(S, None, y, base[1])),
        )
        changed = max(
            (predictions(S, D, full) != predictions(S, D, base[0])).mean(),
            (predictions(S, None, ngram) != predictions(S, None, base[1])).mean(),
        )
        low, high = min(seconds[name]), max(seconds[name])
        ratio = np.median(seconds[name]) / np.median(seconds[base_name])
        print(
            f"{name:<38}{f'{low:.1f}-{high:.1f}':>16}{ratio:>8.2f}"
            f"{f'{full[2]} / {ngram[2]}':>14}{delta:>14.4f}{changed:>10.2%}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
