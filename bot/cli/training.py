"""`bot retrain` and `bot eval`: a new model live in seconds, and how well it understands.

Thin: the work is in bot.runtime.retrain (train, gate, activate) and
bot.runtime.model_eval (reports, PNG, HTML); the trainer page calls the same.
"""

from __future__ import annotations

import argparse
import json

from bot import settings


def _retrain(args: argparse.Namespace) -> int:
    """Train the current data; live if it passes the regression gate (or --force)."""
    from bot.runtime import retrain

    cfg = settings.load()
    try:
        outcome = retrain.retrain(cfg, force=args.force)
    except retrain.RetrainBusy as exc:
        raise SystemExit(f"not started: {exc}") from None
    except retrain.RetrainFailed as exc:
        raise SystemExit(f"error: {exc}") from None
    if outcome.status == "unchanged":
        print("nothing to do: the live model was trained on these data")
        return 0
    if outcome.train_seconds is not None:
        print(f"trained in {outcome.train_seconds:.1f} s", end="; ")
    if outcome.eval_seconds is not None:
        print(f"held-out evaluation {outcome.eval_seconds:.1f} s")
    if outcome.verdict is not None:
        print(outcome.verdict.describe())
    if outcome.status == "refused":
        print(
            "REFUSED by the regression gate: the live model keeps serving. Fix the data, "
            "or `bot retrain --force` to make it live anyway."
        )
        return 1
    assert outcome.model is not None
    print(f"{'FORCED live' if outcome.status == 'forced' else 'live'}: {outcome.model.name}")
    if not args.no_wait:
        seconds = retrain.wait_live(cfg, outcome.model, timeout=args.wait)
        if seconds is None:
            print(f"no server at {cfg.rasa_url} has switched to it yet (is `make run` running?)")
        else:
            print(f"the server at {cfg.rasa_url} answers with it ({seconds:.1f} s after)")
    return 0


def _eval(args: argparse.Namespace) -> int:
    """Per language and intent precision/recall/F1, fallbacks, confusions; PNG and HTML."""
    from pathlib import Path

    from bot.runtime import model_eval, retrain

    cfg = settings.load()
    try:
        if args.cross_validate:
            report = model_eval.cross_validation_report(cfg, args.cross_validate)
        else:
            report = model_eval.heldout_report(cfg, Path(args.model) if args.model else None)
    except (retrain.RetrainFailed, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None
    before = model_eval.previous(cfg, report["kind"])
    stem = model_eval.save(cfg, report)
    model_eval.write_png(report, stem.with_suffix(".png"))
    model_eval.write_html(report, before, stem.with_suffix(".html"))
    if args.json:
        summary = {k: v for k, v in report.items() if k not in ("predictions", "errors")}
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        print(model_eval.format_text(report, before))
    print(f"\nreport: {stem.with_suffix('.html')}\nconfusion matrix: {stem.with_suffix('.png')}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `retrain` and `eval` to the top-level parser."""
    cmd = sub.add_parser("retrain", help="train the current data and make it live (gated)")
    cmd.add_argument("--force", action="store_true", help="make it live even if it is worse")
    cmd.add_argument("--no-wait", action="store_true", help="don't wait for the server")
    cmd.add_argument("--wait", type=float, default=30.0, help="seconds to wait (default 30)")
    cmd.set_defaults(func=_retrain)
    cmd = sub.add_parser("eval", help="evaluate the live model; a report with a plot")
    cmd.add_argument("--cross-validate", type=int, metavar="K", help="K folds of data/nlu")
    cmd.add_argument("--model", help="a model file instead of the live one")
    cmd.add_argument("--json", action="store_true", help="the figures as JSON")
    cmd.set_defaults(func=_eval)
