"""Held-out accuracy: our pipeline against Rasa's default, trained on the same data.

    .venv/bin/python -m bench.accuracy [--pipelines chosen,rasa-default] [--sets a.csv,b.csv]
        [--fold]

Trains a model per pipeline (bench.models: reused while its inputs are
unchanged, the same models bench.speed runs; `label=model.tar.gz` names one
trained elsewhere), parses every question of each held-out set through a
loaded Rasa agent, and prints intent accuracy and macro-F1 per language, the share of out-of-scope
questions that fall back, and the share of in-scope questions answered from a
wrong topic. The sets (bot.training.examples.EVAL_SETS) are kept apart from
data/nlu: the benchmark refuses to run while any of their questions, normalised,
is also a training example. A question labelled with two topics (a|b) counts as
right when either is predicted. The scoring is bot.training.scoring's, the same
as the regression gate's and `bot eval`'s.

`--fold` parses every question as a customer types it without æøå/åäö
(`typed_without_letters`: "støtte på" -> "stotte pa", "nær" -> "naer"), and adds the
share of questions whose language is still detected right (lingua reads the raw
text: bot.language.detect), folded and as written.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path

from bot.training.examples import EVAL_SETS, check_apart
from bot.training.scoring import heldout, score

from .models import PIPELINES, RESULTS, resolve

# Mechanical, as typed on a keyboard without the letters (case kept): the same for
# every set, so that nobody picks which sentences to fold.
_TYPED = str.maketrans({"å": "a", "Å": "A", "ä": "a", "Ä": "A", "ø": "o", "Ø": "O",
                        "ö": "o", "Ö": "O", "æ": "ae", "Æ": "Ae"})  # fmt: skip


def typed_without_letters(text: str) -> str:
    return text.translate(_TYPED)


def language_accuracy(rows: list[dict]) -> dict[str, float]:
    """Per language, the share of questions whose detected language is their own."""
    from bot import language

    found = {}
    for lang in ("en", "nb", "sv"):
        mine = [r for r in rows if r["lang"] == lang]
        hits = sum(language.detect(r["text"]).lang == lang for r in mine)
        found[lang] = hits / len(mine) if mine else 0.0
    return found


async def _predict(model: Path, texts: list[str]) -> list[dict]:
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # not a debug line per parsed message
    agent = Agent.load(str(model))
    return [await agent.parse_message(text) for text in texts]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pipelines", default=",".join(PIPELINES))
    parser.add_argument("--errors", action="store_true", help="list every miss")
    parser.add_argument("--sets", help="comma-separated file names of EVAL_SETS (default: all)")
    parser.add_argument(
        "--fold", action="store_true", help="questions typed without æøå/åäö (and language)"
    )
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.disable(logging.WARNING)
    problems = check_apart()
    if problems:
        print("Refusing to run: evaluation questions also in the training data", file=sys.stderr)
        print("\n".join(problems), file=sys.stderr)
        return 1
    wanted = set(args.sets.split(",")) if args.sets else None
    sets = {
        path.name: heldout(path)
        for path in EVAL_SETS
        if path.exists() and (wanted is None or path.name in wanted)
    }
    languages: dict[str, dict] = {}
    if args.fold:
        for set_name, rows in sets.items():
            folded = [{**r, "text": typed_without_letters(r["text"])} for r in rows]
            languages[set_name] = {
                "as written": language_accuracy(rows),
                "folded": language_accuracy(folded),
            }
            sets[set_name] = folded
    reports: dict = {}
    for spec in args.pipelines.split(","):
        name, model, seconds = resolve(spec)
        for set_name, rows in sets.items():
            parses = asyncio.run(_predict(model, [r["text"] for r in rows]))
            reports.setdefault(set_name, {})[name] = score(rows, parses)
            reports[set_name][name]["train_seconds"] = seconds
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("accuracy-folded.json" if args.fold else "accuracy.json")
    out.write_text(json.dumps({**reports, "languages": languages}, indent=2, ensure_ascii=False))
    for set_name, by_pipeline in reports.items():
        note = " typed without æøå/åäö" if args.fold else ""
        print(f"\nHeld-out set: {len(sets[set_name])} questions (eval/{set_name}){note}")
        print(
            f"{'pipeline':<14}"
            + "".join(f"{lang + ' acc':>9}{lang + ' F1':>8}" for lang in ("en", "nb", "sv"))
            + f"{'OOS fb':>8}{'wrong':>7}{'in fb':>7}"
        )
        for name, r in by_pipeline.items():
            cells = "".join(
                f"{r[lang]['accuracy']:>9.3f}{r[lang]['macro_f1']:>8.3f}"
                for lang in ("en", "nb", "sv")
            )
            print(
                f"{name:<14}{cells}{r['oos_fallback']:>8.2f}{r['inscope_wrong_answer']:>7.3f}"
                f"{r['inscope_fallback']:>7.3f}"
            )
    for set_name, by_kind in languages.items():
        for kind, shares in by_kind.items():
            cells = " ".join(f"{lang} {share:.3f}" for lang, share in shares.items())
            print(f"language detected right, {set_name}, {kind}: {cells}")
    print(
        "\nOOS fb: out-of-scope questions that fall back; wrong: in-scope questions answered "
        "from a wrong topic; in fb: in-scope questions that fall back."
    )
    if args.errors:
        for name, r in ((f"{s} {p}", r) for s, rs in reports.items() for p, r in rs.items()):
            print(f"\n{name} misses:")
            for e in r["errors"]:
                print(
                    f"  [{e['lang']}] {e['text']!r}: {e['gold']} -> {e['predicted']} "
                    f"({e['confidence']})"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
