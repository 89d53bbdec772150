"""The newest held-out evaluation (`bot eval`, bot.training.eval_report) for the
trainer page: its figures in brief, the change since the one before, and the
confusion-matrix PNG written beside it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.contract import LANGS
from bot.settings import Settings
from bot.training import eval_report

KIND = "heldout"
CONFUSIONS = 10  # most confused pairs shown
WEAKEST = 6  # weakest intents shown per language


@dataclass(frozen=True)
class Latest:
    summary: dict[str, Any]
    plot: Path | None  # the confusion matrix, if it was written


def _reports(cfg: Settings) -> list[Path]:
    # eval_report.save names them <kind>-YYYYmmdd-HHMMSS.json: name order is time order
    return sorted(eval_report.eval_dir(cfg).glob(f"{KIND}-*.json"))


def _read(path: Path) -> dict[str, Any] | None:
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
        report = _read(paths[n])
        if report is None:
            continue
        before = next((r for p in reversed(paths[:n]) if (r := _read(p)) is not None), None)
        plot = paths[n].with_suffix(".png")
        return Latest(brief(report, before), plot if plot.is_file() else None)
    return None
