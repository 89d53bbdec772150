"""Train a model and parse texts with models, in one process (Rasa imported once).

    python -m bot.rasa_addons.entry.nlu_job [--train TARGET.tar.gz] [--config config.yml]
        [--parse MODEL ...] [--texts TEXTS.json] --out RESULT.json

Used by bot.runtime.retrain (train the candidate, then parse the held-out
questions with it, and with the serving model if its report is not stored) and by
`bot eval`. Importing Rasa and TensorFlow costs about 8 s; doing both jobs here
pays it once; the training is `rasa train`'s without Rasa's training cache
(graph_training). RESULT.json: {"train_seconds", "parse_seconds", "parses": {model: [...]}}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from bot.nlu import last_fit
from bot.privacy import log_filter
from bot.rasa_addons import patches
from bot.rasa_addons.components import e5_featurizer


def _train(target: Path, config: str) -> None:
    from bot.rasa_addons import graph_training

    graph_training.train(target, config, "domain", ["data"])  # whole, or raises


_PARSE_BATCH = 256


async def _parse(model: str, texts: list[str]) -> list[dict[str, Any]]:
    """Each text through the model's NLU graph, many messages per run: the same
    components as `Agent.parse_message`, with e5 embedding a batch at a time."""
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage
    from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
    from rasa.shared.core.trackers import DialogueStateTracker

    processor = Agent.load(model).processor
    assert processor is not None
    target = processor.model_metadata.nlu_target
    parses = []
    for start in range(0, len(texts), _PARSE_BATCH):
        batch = [UserMessage(text) for text in texts[start : start + _PARSE_BATCH]]
        tracker = DialogueStateTracker.from_events("evaluation", [])
        results = processor.graph_runner.run(
            inputs={PLACEHOLDER_MESSAGE: batch, PLACEHOLDER_TRACKER: tracker}, targets=[target]
        )
        for message in results[target]:
            parsed = message.as_dict(only_output_properties=True)
            parses.append(
                {
                    "intent": parsed.get("intent") or {"name": None, "confidence": 0.0},
                    "intent_ranking": (parsed.get("intent_ranking") or [])[:3],
                }
            )
    return parses


def _cross_validate(folds: int, config: str) -> list[dict[str, Any]]:
    """Each training example parsed by an NLU model trained without its fold."""
    import tempfile

    import yaml
    from rasa.model_training import train_nlu
    from sklearn.model_selection import StratifiedKFold

    from bot.training.examples import training_examples

    examples = training_examples()
    e5_featurizer.preload([e.text for e in examples])  # var/cache/ has them: a training's
    labels = [e.intent for e in examples]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=42)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="cv-") as tmp:
        for fold, (train_idx, test_idx) in enumerate(splitter.split(examples, labels)):
            by_intent: dict[str, list[str]] = {}
            for i in train_idx:
                by_intent.setdefault(examples[i].intent, []).append(examples[i].text)
            data = Path(tmp) / f"fold{fold}.yml"
            blocks = [
                {"intent": intent, "examples": "".join(f"- {t}\n" for t in texts)}
                for intent, texts in by_intent.items()
            ]
            data.write_text(
                yaml.safe_dump({"version": "3.1", "nlu": blocks}, allow_unicode=True),
                encoding="utf-8",
            )
            model = train_nlu(config, str(data), tmp, fixed_model_name=f"fold{fold}")
            if not model:
                raise SystemExit(f"training fold {fold + 1} failed")
            texts = [examples[i].text for i in test_idx]
            parses = asyncio.run(_parse(model, texts))
            for i, parsed in zip(test_idx, parses, strict=True):
                e = examples[i]
                rows.append({"lang": e.lang, "intent": e.intent, "text": e.text, "parse": parsed})
            print(f"fold {fold + 1}/{folds} done", flush=True)
    return rows


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=Path)
    parser.add_argument("--config", default="config.yml")
    parser.add_argument("--parse", action="append", default=[])
    parser.add_argument("--texts", type=Path)
    parser.add_argument("--cross-validate", type=int, metavar="K")
    parser.add_argument("--out", type=Path, required=True)
    return parser


def prepare_process() -> None:
    """What a process running jobs needs once: the patches, masked logs, quiet Rasa."""
    patches.apply()
    patches.remember_validated_yaml()
    log_filter.install()
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # not a debug line per parsed message
    # "Starting/Finished training component X": progress, and where the time goes
    logging.basicConfig(format="%(asctime)s %(message)s", level=logging.WARNING)
    logging.getLogger("rasa.engine.training.hooks").setLevel(logging.INFO)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """One job (train, parse, cross-validate), in this process; writes args.out."""
    result: dict[str, Any] = {"train_seconds": None, "parse_seconds": None, "parses": {}}
    started = time.monotonic()
    if args.train:
        _train(args.train, args.config)
        result["train_seconds"] = time.monotonic() - started  # Rasa imported already
        result["trained_at"] = time.time()  # the caller's clock: import included
    try:
        if args.parse:
            texts = json.loads(args.texts.read_text(encoding="utf-8")) if args.texts else []
            started = time.monotonic()
            e5_featurizer.preload(texts)  # the same questions each time: embedded once
            for model in args.parse:
                result["parses"][model] = asyncio.run(_parse(model, texts))
            result["parse_seconds"] = time.monotonic() - started
        if args.cross_validate:
            with last_fit.kept():  # the folds' fits are no start for the next retrain
                result["cross_validation"] = _cross_validate(args.cross_validate, args.config)
    finally:
        e5_featurizer.forget_preloaded()
    args.out.write_text(json.dumps(result), encoding="utf-8")
    return result


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    prepare_process()
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
