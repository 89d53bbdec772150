"""How close (e5 cosine) training examples of different intents are, to choose
the conflict check's near-duplicate threshold (bot/training/conflicts.py
NEAR_DUPLICATE).

    .venv/bin/python -m bench.near_duplicates

Prints, for every training example, the distribution of the cosine to its
nearest example of the same intent and of another intent; for the held-out
questions (paraphrases written apart from the data: phrases a trainer might
legitimately add), how many would be refused at each threshold because an
example of another intent is that close; and the closest cross-intent pairs of
the training data. Embeddings are cached in var/cache (bot/training/similarity.py).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from bot.training import examples as training
from bot.training import similarity

THRESHOLDS = (0.90, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97, 0.98)
VARIANTS = 300  # training examples given small edits, to see where near duplicates lie


def variants(text: str, i: int) -> str:
    """A near duplicate of `text`: one small edit (a polite word, a dropped last word,
    a typo), chosen by position so every run makes the same ones."""
    words = text.split()
    kind = i % 3
    if kind == 0 or len(words) < 3:
        return f"{text} please"
    if kind == 1:
        return " ".join(words[:-1])
    longest = max(range(len(words)), key=lambda k: len(words[k]))
    word = words[longest]
    words[longest] = word[:1] + word[2] + word[1] + word[3:] if len(word) > 3 else word + word[-1]
    return " ".join(words)


PERCENTILES = (50, 90, 95, 99, 99.5, 99.9, 100)


def _nearest(sims: np.ndarray, labels: np.ndarray, label: str, skip: int | None = None):
    same = labels == label
    if skip is not None:
        sims = sims.copy()
        sims[skip] = -1.0
    other_best = float(np.max(np.where(~same, sims, -1.0)))
    same_best = float(np.max(np.where(same, sims, -1.0)))
    return same_best, other_best, int(np.argmax(np.where(~same, sims, -1.0)))


def main() -> int:
    started = time.monotonic()
    examples = training.training_examples()
    index = similarity.Index.build(
        examples, progress=lambda n: print(f"embedding {n} training examples...", flush=True)
    )
    labels = np.array([e.intent for e in examples])
    vectors = index.vectors
    same_best, other_best, pairs = [], [], []
    for i, example in enumerate(examples):
        s, o, j = _nearest(vectors @ vectors[i], labels, example.intent, skip=i)
        same_best.append(s)
        other_best.append(o)
        pairs.append((o, i, j))
    questions = [
        q
        for path in training.EVAL_SETS
        if path.exists()
        for q in training.eval_questions(path)
        if q.intents
    ]
    q_vectors = similarity.embed_cached([q.text for q in questions])
    q_other, q_same = [], []
    for q, vec in zip(questions, q_vectors, strict=True):
        sims = vectors @ vec
        right = np.isin(labels, list(q.intents))
        q_other.append(float(np.max(np.where(~right, sims, -1.0))))
        q_same.append(float(np.max(np.where(right, sims, -1.0))) if right.any() else -1.0)

    step = max(1, len(examples) // VARIANTS)
    picked = list(range(0, len(examples), step))[:VARIANTS]
    edited = [variants(examples[i].text, k) for k, i in enumerate(picked)]
    e_vectors = similarity.embed_cached(edited)
    near = [float(vectors[i] @ v) for i, v in zip(picked, e_vectors, strict=True)]

    def pct(values: list[float]) -> str:
        return "  ".join(f"p{p:g} {np.percentile(values, p):.3f}" for p in PERCENTILES)

    print(f"\n{len(examples)} training examples, {len(set(labels))} intents")
    print("nearest example of the SAME intent:   ", pct(same_best))
    print("nearest example of ANOTHER intent:    ", pct(other_best))
    print(f"\n{len(questions)} held-out questions (labelled)")
    print("nearest training example, right intent:", pct(q_same))
    print("nearest training example, other intent:", pct(q_other))
    print(f"\n{len(near)} near duplicates (a training example with one small edit)")
    print("cosine to the example they were made from:", pct(near))
    print(
        "\nthreshold | training examples with another intent's example at/above | "
        "held-out questions that would be refused | near duplicates caught"
    )
    rows = []
    for t in THRESHOLDS:
        n_train = sum(o >= t for o in other_best)
        n_q = sum(o >= t for o in q_other)
        n_near = sum(c >= t for c in near)
        rows.append(
            {"threshold": t, "training": n_train, "heldout_refused": n_q, "near_caught": n_near}
        )
        print(
            f"  {t:.2f}    | {n_train:5d} ({n_train / len(examples):6.2%})"
            f"                            | {n_q:4d} ({n_q / len(questions):6.2%})"
            f"                  | {n_near:4d} ({n_near / len(near):6.2%})"
        )
    print("\nclosest cross-intent pairs in the training data:")
    seen = set()
    for o, i, j in sorted(pairs, reverse=True):
        key = tuple(sorted((i, j)))
        if key in seen:
            continue
        seen.add(key)
        a, b = examples[i], examples[j]
        print(f"  {o:.3f}  {a.intent}: {a.text!r}  <->  {b.intent}: {b.text!r}")
        if len(seen) == 15:
            break
    for level in (0.97, 0.95, 0.93, 0.91):
        band = [(o, i, j) for o, i, j in pairs if level <= o < level + 0.01]
        print(f"\nsample pairs with cosine in [{level:.2f}, {level + 0.01:.2f}): {len(band)}")
        for o, i, j in band[:4]:
            a, b = examples[i], examples[j]
            print(f"  {o:.3f}  {a.intent}: {a.text!r}  <->  {b.intent}: {b.text!r}")
    print(f"\n({time.monotonic() - started:.0f} s)")
    json.dump(
        {
            "examples": len(examples),
            "same_intent": {f"p{p:g}": float(np.percentile(same_best, p)) for p in PERCENTILES},
            "other_intent": {f"p{p:g}": float(np.percentile(other_best, p)) for p in PERCENTILES},
            "heldout_other": {f"p{p:g}": float(np.percentile(q_other, p)) for p in PERCENTILES},
            "near_duplicates": {f"p{p:g}": float(np.percentile(near, p)) for p in PERCENTILES},
            "thresholds": rows,
        },
        sys.stderr,
    )
    print(file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
