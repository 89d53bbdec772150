"""`bot eval`: how well the live model understands the held-out questions, and
(with cross-validation) how well the training data separates its own intents;
and the newest evaluation in brief for the trainer page (`latest`).

Reports are kept under var/eval/ (one JSON per run, `latest.json` the newest),
so each run prints the change since the previous one; each run also writes a
confusion-matrix PNG and a self-contained HTML page beside it.
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.contract import LANGS
from bot.runtime import retrain
from bot.settings import Settings
from bot.training import scoring

SUMMARY_KEYS = ("accuracy", "macro_f1", "oos_fallback")


def eval_dir(cfg: Settings) -> Path:
    return cfg.var_dir / "eval"


def previous(cfg: Settings, kind: str) -> dict[str, Any] | None:
    try:
        return dict(json.loads((eval_dir(cfg) / f"latest-{kind}.json").read_text("utf-8")))
    except (OSError, ValueError):
        return None


def heldout_report(cfg: Settings, model: Path | None = None) -> dict[str, Any]:
    """Evaluate `model` (default: the live one) on the held-out sets."""
    model = model or retrain.serving_model(cfg)
    if model is None:
        raise retrain.RetrainFailed("no model to evaluate: train one with `make run` first")
    reports, _ = retrain.evaluate_models(cfg, (model,))
    report = reports[model]
    report["kind"] = "heldout"
    return report


def cross_validation_report(cfg: Settings, folds: int) -> dict[str, Any]:
    """K-fold cross-validation on data/nlu: thin or overlapping intents, per language."""
    if folds < 2:
        raise ValueError("--cross-validate needs at least 2 folds")
    job = retrain.nlu_job(cfg, cross_validate=folds)["cross_validation"]
    rows = [
        {"lang": r["lang"], "intent": r["intent"], "intents": [r["intent"]], "text": r["text"]}
        for r in job
    ]
    report = scoring.score(rows, [r["parse"] for r in job])
    report["per_intent"] = scoring.per_intent(report["predictions"])
    report["confusions"] = scoring.confused_pairs(report["predictions"])
    report.update(kind=f"cv{folds}", model=f"{folds}-fold cross-validation of data/nlu")
    report["created"] = time.time()
    return report


def save(cfg: Settings, report: dict[str, Any]) -> Path:
    """Store the report (and make it the one the next run compares with); its stem."""
    directory = eval_dir(cfg)
    directory.mkdir(parents=True, exist_ok=True)
    stem = directory / f"{report['kind']}-{time.strftime('%Y%m%d-%H%M%S')}"
    text = json.dumps(report, ensure_ascii=False)
    stem.with_suffix(".json").write_text(text, encoding="utf-8")
    (directory / f"latest-{report['kind']}.json").write_text(text, encoding="utf-8")
    return stem


# ---------------------------------------------------------------- text


def _delta(now: float, before: dict | None, *keys: str) -> str:
    old: Any = before
    for key in keys:
        old = old.get(key) if isinstance(old, dict) else None
    return f" ({(now - old) * 100:+.1f})" if isinstance(old, (int, float)) else ""


def format_text(report: dict[str, Any], before: dict[str, Any] | None) -> str:
    lines = [f"Model: {report.get('model')}"]
    if before:
        lines.append(
            f"Change since {time.strftime('%Y-%m-%d %H:%M', time.localtime(before['created']))}"
            f" ({before.get('model')}) in points, in brackets"
        )
    lines.append(f"{'lang':<6}{'n':>6}{'accuracy':>16}{'macro-F1':>16}{'OOS fallback':>18}")
    for lang in LANGS:
        r = report[lang]
        cells = "".join(
            f"{r[key]:>9.3f}{_delta(r[key], before, lang, key):<9}"
            for key in ("accuracy", "macro_f1", "oos_fallback")
        )
        lines.append(f"{lang:<6}{r['n']:>6}  {cells}")
    lines.append(
        f"out-of-scope questions that fall back: {report['oos_fallback']:.3f}"
        f"{_delta(report['oos_fallback'], before, 'oos_fallback')}; in-scope answered from a "
        f"wrong topic: {report['inscope_wrong_answer']:.3f}; in-scope falling back: "
        f"{report['inscope_fallback']:.3f}"
    )
    for lang in LANGS:
        weakest = sorted(report["per_intent"][lang].items(), key=lambda kv: kv[1]["f1"])[:8]
        lines.append(f"\n[{lang}] weakest intents (precision / recall / F1, support)")
        for intent, m in weakest:
            lines.append(
                f"  {intent:<40}{m['precision']:>6.2f}{m['recall']:>7.2f}{m['f1']:>7.2f}"
                f"{int(m['support']):>6}"
            )
    lines.append("\nMost confused (gold -> predicted: count)")
    for pair in report["confusions"][:10]:
        lines.append(f"  {pair['gold']} -> {pair['predicted']}: {pair['count']}")
        lines += [f"      {example}" for example in pair["examples"]]
    return "\n".join(lines)


# ---------------------------------------------------------------- files


def write_png(report: dict[str, Any], path: Path) -> None:
    """The confusion matrix, all languages together (rows: gold, columns: predicted)."""
    import matplotlib

    matplotlib.use("Agg")  # no display
    import matplotlib.pyplot as plt
    import numpy as np

    predictions = report["predictions"]
    labels = sorted({p["gold"] for p in predictions} | {p["scored"] for p in predictions})
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)))
    for p in predictions:
        matrix[index[p["gold"]], index[p["scored"]]] += 1
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    size = max(6.0, len(labels) * 0.22)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=6)
    ax.set_yticks(range(len(labels)), labels, fontsize=6)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(f"Confusion (share of each gold intent): {report.get('model')}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_html(report: dict[str, Any], before: dict[str, Any] | None, path: Path) -> None:
    esc = html.escape
    parts = [
        "<!doctype html><meta charset='utf-8'><title>NLU evaluation</title>",
        "<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}"
        "td:first-child,th:first-child{text-align:left}</style>",
        f"<h1>NLU evaluation</h1><p>{esc(str(report.get('model')))}</p>",
        "<pre>" + esc(format_text(report, before)) + "</pre>",
        f"<img src='{esc(path.with_suffix('.png').name)}' alt='confusion matrix' width='900'>",
    ]
    for lang in LANGS:
        parts.append(
            f"<h2>{lang}</h2><table><tr><th>intent</th><th>precision</th><th>recall</th>"
            "<th>F1</th><th>support</th></tr>"
        )
        for intent, m in sorted(report["per_intent"][lang].items()):
            parts.append(
                f"<tr><td>{esc(intent)}</td><td>{m['precision']:.2f}</td>"
                f"<td>{m['recall']:.2f}</td><td>{m['f1']:.2f}</td><td>{int(m['support'])}</td></tr>"
            )
        parts.append("</table>")
    path.write_text("\n".join(parts), encoding="utf-8")


# The trainer page: the newest held-out report in brief, the change since the one
# before, and the confusion-matrix PNG written beside it.
LATEST_KIND = "heldout"  # what the trainer page shows
CONFUSIONS = 10  # most confused pairs shown
WEAKEST = 6  # weakest intents shown per language


@dataclass(frozen=True)
class Latest:
    summary: dict[str, Any]
    plot: Path | None  # the confusion matrix, if it was written


def _reports(cfg: Settings) -> list[Path]:
    # save names them <kind>-YYYYmmdd-HHMMSS.json: name order is time order
    return sorted(eval_dir(cfg).glob(f"{LATEST_KIND}-*.json"))


def _read_report(path: Path) -> dict[str, Any] | None:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def brief(report: dict[str, Any], before: dict[str, Any] | None) -> dict[str, Any]:
    """What the page shows of a report (never the whole list of predictions)."""

    def figures(r: dict[str, Any]) -> dict[str, Any]:
        return {
            lang: {k: r[lang][k] for k in ("n", "accuracy", "macro_f1", "oos_fallback")}
            for lang in LANGS
            if isinstance(r.get(lang), dict)
        }

    weakest = {
        lang: [
            {"intent": intent, **metrics}
            for intent, metrics in sorted(
                report.get("per_intent", {}).get(lang, {}).items(), key=lambda kv: kv[1]["f1"]
            )[:WEAKEST]
        ]
        for lang in LANGS
    }
    return {
        "model": report.get("model"),
        "created": report.get("created"),
        "languages": figures(report),
        "oos_fallback": report.get("oos_fallback"),
        "inscope_wrong_answer": report.get("inscope_wrong_answer"),
        "inscope_fallback": report.get("inscope_fallback"),
        "confusions": list(report.get("confusions", []))[:CONFUSIONS],
        "weakest": weakest,
        "before": None
        if before is None
        else {
            "model": before.get("model"),
            "created": before.get("created"),
            "languages": figures(before),
            "oos_fallback": before.get("oos_fallback"),
        },
    }


def latest(cfg: Settings) -> Latest | None:
    """The newest readable held-out report; None when `bot eval` has not run yet."""
    paths = _reports(cfg)
    for n in range(len(paths) - 1, -1, -1):
        report = _read_report(paths[n])
        if report is None:
            continue
        before = next((r for p in reversed(paths[:n]) if (r := _read_report(p)) is not None), None)
        plot = paths[n].with_suffix(".png")
        return Latest(brief(report, before), plot if plot.is_file() else None)
    return None
