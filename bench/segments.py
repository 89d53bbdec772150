"""The segment merger's threshold, measured on the tuning sets (never the blind
or the realistic set): how often a message is answered right, from a wrong topic,
or falls back, for each confidence a part must reach (bot.segments.decide).

    .venv/bin/python -m bench.segments [--model models/model-X.tar.gz]
        [--sets heldout.csv,heldout_independent.csv]

Each question is parsed once by a model whose pipeline has the segment
components (their `parts` readings are in the parse data); the decision is then
replayed for every threshold, so one parse serves the whole grid. "whole" is the
pipeline without segments: the classifier and the FallbackClassifier alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from bot import segments, settings
from bot.runtime import build
from bot.settings import PROJECT_DIR
from bot.training.examples import EVAL_SETS, check_apart
from bot.training.scoring import OUT_OF_SCOPE, heldout

from .models import RESULTS

# spent sets and one written for tuning: tuning is honest here
TUNING_SETS = ("heldout.csv", "heldout_independent.csv", "heldout_two_questions.csv")
GRID = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)  # 1.01: parts never count (whole only)


def _fallback_config() -> tuple[float, float]:
    """config.yml's FallbackClassifier: its threshold and ambiguity threshold."""
    pipeline = yaml.safe_load((PROJECT_DIR / "config.yml").read_text(encoding="utf-8"))["pipeline"]
    found = next(c for c in pipeline if c["name"] == "FallbackClassifier")
    return float(found["threshold"]), float(found["ambiguity_threshold"])


FALLBACK_THRESHOLD, AMBIGUITY = _fallback_config()
LEAD_CONFIDENCE = (0.15, 0.2, 0.25)
LEAD_MARGIN = (0.05, 0.1, 0.15)


async def _parse(model: Path, texts: list[str]) -> list[dict[str, Any]]:
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    agent = Agent.load(str(model))
    return [await agent.parse_message(text) for text in texts]


def _whole(parse: dict[str, Any]) -> tuple[segments.Reading, bool]:
    """The whole's reading and whether the FallbackClassifier let it through."""
    ranking = [r for r in parse.get("intent_ranking") or [] if r["name"] != "nlu_fallback"]
    top = ranking[0] if ranking else {"name": None, "confidence": 0.0}
    second = ranking[1]["confidence"] if len(ranking) > 1 else 0.0
    confident = top["confidence"] >= FALLBACK_THRESHOLD and (
        top["confidence"] - second >= AMBIGUITY
    )
    return segments.Reading(parse["text"], top["name"], float(top["confidence"])), confident


def _leads(parse: dict[str, Any], lead: tuple[float, float], answerable: frozenset[str]) -> bool:
    ranking = [r for r in parse.get("intent_ranking") or [] if r["name"] != "nlu_fallback"]
    if not ranking or ranking[0]["name"] not in answerable:
        return False
    second = ranking[1]["confidence"] if len(ranking) > 1 else 0.0
    return ranking[0]["confidence"] >= lead[0] and ranking[0]["confidence"] - second >= lead[1]


def replay(
    rows: list[dict[str, Any]],
    parses: list[dict[str, Any]],
    threshold: float,
    lead: tuple[float, float] | None = None,
    second: float | None = None,
) -> dict[str, float]:
    """Shares of in-scope questions answered right, wrong or falling back, and of
    out-of-scope ones falling back. `lead` (confidence, margin): a fallback whose
    top topic has this confidence and leads the next by this margin is answered
    from it ("I think you are asking about ...", actions/clarify.py)."""
    plan = segments.plan()
    right = wrong = fell = oos = oos_fell = split_used = two = both = extra = 0
    for row, parse in zip(rows, parses, strict=True):
        whole, confident = _whole(parse)
        found = parse.get("segments") or {}
        parts = [
            segments.Reading(p["text"], p["intent"], float(p["confidence"]))
            for p in found.get("parts") or []
        ]
        decision = segments.decide(
            whole,
            parts,
            whole_confident=confident,
            threshold=threshold,
            answerable=plan.answerable,
            last=plan.last,
            second=second,
        )
        if len(row["intents"]) > 1:  # two topics: are both answered?
            two += 1
            both += set(row["intents"]) <= set(decision.intents)
        elif decision.changed and len(decision.intents) > 1:
            extra += decision.intents[1] not in row["intents"]
        kept = confident or decision.changed  # else the whole's fallback stands
        answered = decision.intents[0] if kept and decision.intents else None
        if answered is None and lead is not None and _leads(parse, lead, plan.answerable):
            answered = whole.intent
        split_used += decision.changed
        if row["intent"] == OUT_OF_SCOPE:
            oos += 1
            oos_fell += answered is None or answered not in plan.answerable
        elif answered in row["intents"]:
            right += 1
        elif answered is None or answered == OUT_OF_SCOPE:
            fell += 1
        else:
            wrong += 1
    inscope = right + wrong + fell
    return {
        "right": right / inscope,
        "wrong": wrong / inscope,
        "fallback": fell / inscope,
        "oos_fallback": oos_fell / oos if oos else 0.0,
        "split_used": split_used / len(rows),
        "both": both / two if two else 0.0,  # of the messages labelled with two topics
        "extra": extra / len(rows),  # a second answer, from a topic not asked about
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="a model with the segment components (default: current)")
    parser.add_argument("--sets", default=",".join(TUNING_SETS))
    parser.add_argument("--threshold", type=float, default=0.6, help="parts' for the lead grid")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.disable(logging.WARNING)
    if check_apart():
        print("Refusing to run: evaluation questions also in the training data", file=sys.stderr)
        return 1
    wanted = set(args.sets.split(","))
    if wanted & {"heldout_blind.csv", "heldout_realistic.csv"}:
        print("The blind and realistic sets are not for tuning.", file=sys.stderr)
        return 2
    model = Path(args.model) if args.model else build.model_path(settings.load())
    rows = [r for path in EVAL_SETS if path.name in wanted for r in heldout(path)]
    # one parse per model and set: kept, so that another grid costs no parsing
    cache = RESULTS / f"segments-parses-{model.name}-{'+'.join(sorted(wanted))}.json"
    if cache.exists():
        parses = json.loads(cache.read_text(encoding="utf-8"))
    else:
        parses = asyncio.run(_parse(model, [r["text"] for r in rows]))
        RESULTS.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(parses, ensure_ascii=False), encoding="utf-8")
    table: dict[str, Any] = {str(t): replay(rows, parses, t) for t in GRID}
    leads = {
        f"{c}/{m}": replay(rows, parses, args.threshold, (c, m))
        for c in LEAD_CONFIDENCE
        for m in LEAD_MARGIN
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    print(f"{len(rows)} questions ({', '.join(sorted(wanted))}), model {model.name}")
    header = ("right", "wrong", "fallback", "oos_fallback", "split_used", "both", "extra")
    print(f"{'threshold':>9} " + " ".join(f"{h[:7]:>7}" for h in header))
    for t, r in table.items():
        label = "whole" if float(t) > 1 else t
        print(f"{label:>9} " + " ".join(f"{r[h]:>7.3f}" for h in header))
    seconds = {str(s): replay(rows, parses, args.threshold, None, s) for s in GRID[:-1]}
    table["second"] = seconds
    print(f"\nA second answer beside another, at threshold {args.threshold}: its own bar")
    for s, r in seconds.items():
        print(f"{s:>9} " + " ".join(f"{r[h]:>7.3f}" for h in header))
    print(f"\nThe last resort at threshold {args.threshold}: confidence/margin of the top topic")
    for key, r in leads.items():
        print(f"{key:>9} " + " ".join(f"{r[h]:>7.3f}" for h in header))
    (RESULTS / "segments.json").write_text(json.dumps({"parts": table, "lead": leads}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
