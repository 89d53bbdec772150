"""The regression gate: a retrained model goes live only if it is not worse.

Compared with the model serving now, on every held-out question together
(bot.training.scoring.evaluate): refused when macro-F1 drops by more than
MAX_F1_DROP (0.5 points) in any language, or when the share of out-of-scope
questions that fall back drops at all. `bot retrain --force` activates anyway.
What got worse is listed with the questions that were right before and are not now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.contract import LANGS

MAX_F1_DROP = 0.005  # 0.5 points of macro-F1
EXAMPLES = 5  # newly wrong questions shown per problem


@dataclass
class Problem:
    what: str  # one line: "nb macro-F1 0.931 -> 0.920 (-1.1 points)"
    examples: list[str] = field(default_factory=list)  # newly wrong questions


@dataclass
class Verdict:
    passed: bool
    problems: list[Problem]
    summary: list[str]  # one line per language and the fallback rate, before -> after

    def describe(self) -> str:
        lines = list(self.summary)
        for problem in self.problems:
            lines.append(f"worse: {problem.what}")
            lines += [f"    {example}" for example in problem.examples]
        return "\n".join(lines)


def _key(p: dict[str, Any]) -> tuple[str, str]:
    return p["lang"], p["text"]


def newly_wrong(before: dict, after: dict, lang: str | None = None, oos: bool = False) -> list[str]:
    """Questions right under `before` and wrong under `after` (one line each)."""
    right_before = {_key(p) for p in before.get("predictions", []) if p["scored"] == p["gold"]}
    lines = []
    for p in after.get("predictions", []):
        if lang is not None and p["lang"] != lang:
            continue
        if oos and p["gold"] != "out_of_scope":
            continue
        if p["scored"] != p["gold"] and _key(p) in right_before:
            lines.append(
                f"[{p['lang']}] {p['text']!r}: {p['gold']} -> {p['predicted']} "
                f"({p['confidence']:.2f})"
            )
    return lines


def check(before: dict | None, after: dict, max_f1_drop: float = MAX_F1_DROP) -> Verdict:
    """Compare the candidate's report `after` with the serving model's `before`."""
    if before is None:  # nothing serves yet: nothing to regress from
        return Verdict(True, [], ["no model to compare with: the first one passes"])
    problems: list[Problem] = []
    summary: list[str] = []
    for lang in LANGS:
        old, new = before[lang]["macro_f1"], after[lang]["macro_f1"]
        line = f"{lang} macro-F1 {old:.3f} -> {new:.3f} ({(new - old) * 100:+.1f} points)"
        summary.append(line)
        if old - new > max_f1_drop + 1e-9:
            problems.append(Problem(line, newly_wrong(before, after, lang)[:EXAMPLES]))
    old, new = before["oos_fallback"], after["oos_fallback"]
    line = f"out-of-scope fallback {old:.3f} -> {new:.3f}"
    summary.append(line)
    if new < old - 1e-9:
        problems.append(Problem(line, newly_wrong(before, after, oos=True)[:EXAMPLES]))
    return Verdict(not problems, problems, summary)
