"""Scoring NLU predictions against the held-out sets: one home for what the accuracy
benchmark, the regression gate and `bot eval` report.

The predictions themselves come from a Rasa process (bot/rasa_addons/entry/nlu_job.py);
this module only compares labels. A fallback counts as `out_of_scope` (both end in
"I can't help with that"), so for an out-of-scope question it is right; a question
labelled with two topics (a|b, or a+b: two questions) is right, as one parse, when either
is predicted (bench.dialogue checks that both questions of a+b are answered).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bot.contract import LANGS
from bot.training.examples import EVAL_SETS, EvalQuestion, eval_questions

NOT_ANSWERED = {"nlu_fallback", "out_of_scope"}
OUT_OF_SCOPE = "out_of_scope"
EXAMPLES_PER_PAIR = 3  # confused-pair examples kept in a report
TOP_PAIRS = 15


def heldout(path: Path) -> list[dict[str, Any]]:
    """Rows `{lang, intent, intents, text}` of one set; `intent` is the first label."""
    return [_row(q) for q in eval_questions(path)]


def heldout_sets(sets: Iterable[Path] = EVAL_SETS) -> dict[str, list[dict[str, Any]]]:
    """Every held-out set that exists, by file name."""
    return {path.name: heldout(path) for path in sets if path.exists()}


def _row(q: EvalQuestion) -> dict[str, Any]:
    return {"lang": q.lang, "intent": q.intents[0], "intents": list(q.intents), "text": q.text}


def macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(gold, predicted, average="macro", zero_division=0))


def _share(hits: int, total: int) -> float:
    return hits / total if total else 0.0


def score(rows: Sequence[dict[str, Any]], parses: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy and macro-F1 per language, out-of-scope fallback, wrong answers, misses.

    `parses` are Rasa's parse results (`intent.name`, `intent.confidence`), one per row.
    """
    predicted = [p["intent"]["name"] or "nlu_fallback" for p in parses]
    scored = [OUT_OF_SCOPE if p in NOT_ANSWERED else p for p in predicted]
    # A two-topic question is right when either topic is predicted: score it
    # against the one predicted, else against its first label.
    rows = [
        {**r, "intent": s} if s in r.get("intents", ()) else r
        for r, s in zip(rows, scored, strict=True)
    ]
    report: dict[str, Any] = {}
    for lang in LANGS:
        idx = [i for i, r in enumerate(rows) if r["lang"] == lang]
        gold = [rows[i]["intent"] for i in idx]
        pred = [scored[i] for i in idx]
        oos = [i for i in idx if rows[i]["intent"] == OUT_OF_SCOPE]
        report[lang] = {
            "n": len(idx),
            "accuracy": _share(sum(g == p for g, p in zip(gold, pred, strict=True)), len(idx)),
            "macro_f1": macro_f1(gold, pred) if idx else 0.0,
            "oos_fallback": _share(sum(scored[i] == OUT_OF_SCOPE for i in oos), len(oos)),
        }
    oos = [i for i, r in enumerate(rows) if r["intent"] == OUT_OF_SCOPE]
    inscope = [i for i, r in enumerate(rows) if r["intent"] != OUT_OF_SCOPE]
    report["oos_fallback"] = _share(sum(scored[i] == OUT_OF_SCOPE for i in oos), len(oos))
    report["inscope_wrong_answer"] = _share(
        sum(scored[i] not in (OUT_OF_SCOPE, rows[i]["intent"]) for i in inscope), len(inscope)
    )
    report["inscope_fallback"] = _share(
        sum(scored[i] == OUT_OF_SCOPE for i in inscope), len(inscope)
    )
    report["predictions"] = [
        {
            "lang": rows[i]["lang"],
            "text": rows[i]["text"],
            "gold": rows[i]["intent"],
            "predicted": predicted[i],
            "scored": scored[i],
            "confidence": round(float(parses[i]["intent"].get("confidence") or 0.0), 3),
        }
        for i in range(len(rows))
    ]
    report["errors"] = [p for p in report["predictions"] if p["scored"] != p["gold"]]
    return report


def per_intent(predictions: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Precision, recall, F1 and support of every intent, per language."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for lang in LANGS:
        rows = [p for p in predictions if p["lang"] == lang]
        labels = sorted({p["gold"] for p in rows} | {p["scored"] for p in rows})
        table[lang] = {}
        for label in labels:
            tp = sum(p["gold"] == label and p["scored"] == label for p in rows)
            gold = sum(p["gold"] == label for p in rows)
            said = sum(p["scored"] == label for p in rows)
            precision, recall = _share(tp, said), _share(tp, gold)
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            table[lang][label] = {
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "support": float(gold),
            }
    return table


def confused_pairs(
    predictions: Sequence[dict[str, Any]], top: int = TOP_PAIRS
) -> list[dict[str, Any]]:
    """The most frequent (gold, predicted) mistakes, with a few example questions."""
    counts = Counter((p["gold"], p["scored"]) for p in predictions if p["gold"] != p["scored"])
    pairs = []
    for (gold, predicted), count in counts.most_common(top):
        examples = [
            f"[{p['lang']}] {p['text']}"
            for p in predictions
            if p["gold"] == gold and p["scored"] == predicted
        ][:EXAMPLES_PER_PAIR]
        pairs.append({"gold": gold, "predicted": predicted, "count": count, "examples": examples})
    return pairs


def evaluate(sets: dict[str, list[dict[str, Any]]], parses: Sequence[dict[str, Any]]) -> dict:
    """One report over all held-out sets (the gate's view), with each set's own scores.

    `parses` follow the rows of `sets` in order (set by set)."""
    all_rows = [row for rows in sets.values() for row in rows]
    if len(parses) != len(all_rows):
        raise ValueError(f"{len(parses)} parses for {len(all_rows)} questions")
    report = score(all_rows, parses)
    report["sets"] = {}
    start = 0
    for name, rows in sets.items():
        part = score(rows, parses[start : start + len(rows)])
        report["sets"][name] = {
            k: v for k, v in part.items() if k not in ("predictions", "errors")
        } | {"n": len(rows)}
        start += len(rows)
    report["per_intent"] = per_intent(report["predictions"])
    report["confusions"] = confused_pairs(report["predictions"])
    return report


def texts(sets: dict[str, list[dict[str, Any]]]) -> list[str]:
    return [row["text"] for rows in sets.values() for row in rows]
