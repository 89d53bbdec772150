"""The check before a phrase is written to the training data.

Refused outright:
- a held-out evaluation question (normalised; eval/heldout*.csv): evaluation
  sets never share a sentence with training data;
- the same normalised text already a training example (of this intent: a
  duplicate; of another: a conflict), naming the example and its file;
- a near duplicate of another intent's example: e5 cosine at or above
  NEAR_DUPLICATE, naming the example and its file.

Shown, not refusing: the current model's prediction (top three) from the running
server's /model/parse, and the nearest examples of the likeliest two intents
(and of the intent the phrase is meant for). A
phrase the model already puts under the right intent with HIGH_CONFIDENCE or
more is allowed but marked "already understood" (adding it teaches little).

Why the running server and not a model loaded here: it is the model customers
talk to; bot/ must not import Rasa; and loading one costs about 10 s and
700 MB per command. With no server running the prediction is left out and said
so: the refusals above never need it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot import secrets, settings
from bot.text import normalise, sentence_key
from bot.training import examples as training
from bot.training.examples import EVAL_SETS, EvalQuestion, Example, shown_path
from bot.training.similarity import Index, Neighbour

# Measured (bench/near_duplicates.py; docs/trainers.md, "The near-duplicate threshold"):
# at 0.96, 76 % of
# training examples given one small edit are caught, 0.27 % of the held-out
# questions (new phrases a trainer might rightly add) would be refused, and
# 0.44 % of today's examples have another intent's example this close. 0.95
# catches 83 % but refuses 0.66 %; 0.97 refuses 0.11 % but catches only 66 %.
NEAR_DUPLICATE = 0.96
HIGH_CONFIDENCE = 0.9  # the model's confidence above which a phrase is "already understood"
NEIGHBOURS = 3
PARSE_TIMEOUT = 10.0


@dataclass(frozen=True)
class Prediction:
    intent: str | None
    confidence: float | None
    top3: tuple[tuple[str, float], ...]


@dataclass
class Verdict:
    text: str
    intent: str
    lang: str
    refusals: list[str] = field(default_factory=list)
    prediction: Prediction | None = None
    prediction_note: str | None = None  # why there is none
    neighbours: dict[str, list[Neighbour]] = field(default_factory=dict)
    closest_same: Neighbour | None = None  # the nearest example of the target intent

    @property
    def allowed(self) -> bool:
        return not self.refusals

    @property
    def already_understood(self) -> bool:
        p = self.prediction
        return bool(
            p is not None
            and p.intent == self.intent
            and p.confidence is not None
            and p.confidence >= HIGH_CONFIDENCE
        )

    def to_json(self) -> dict:
        p = self.prediction
        return {
            "text": self.text,
            "intent": self.intent,
            "lang": self.lang,
            "allowed": self.allowed,
            "refusals": self.refusals,
            "already_understood": self.already_understood,
            "prediction": None
            if p is None
            else {
                "intent": p.intent,
                "confidence": p.confidence,
                "top3": [{"intent": i, "confidence": c} for i, c in p.top3],
            },
            "prediction_note": self.prediction_note,
            "neighbours": {
                intent: [
                    {"text": n.example.text, "file": shown_path(n.example.file), "cosine": n.cosine}
                    for n in found
                ]
                for intent, found in self.neighbours.items()
            },
        }


# ---------------------------------------------------------------- the model's view

Predictor = Callable[[str], "Prediction | str"]


def server_prediction(text: str, cfg: settings.Settings | None = None) -> Prediction | str:
    """The running server's parse of `text`, or a sentence saying why there is none.
    Through the agents' route with BOT_AGENT_TOKEN, as `bot ask` reads it: a
    trainer's shell needs no BOT_API_TOKEN either."""
    cfg = cfg or settings.load()
    token = secrets.agent_token(cfg)
    request = urllib.request.Request(
        cfg.rasa_url + "/webhooks/agent/parse",
        data=json.dumps({"text": text}).encode(),
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=PARSE_TIMEOUT) as response:
            parsed = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return f"the assistant at {cfg.rasa_url} refused /webhooks/agent/parse (HTTP {exc.code})"
    except (urllib.error.URLError, OSError, ValueError):
        return (
            f"the assistant is not running at {cfg.rasa_url}, so the current model's "
            "prediction is not shown (start it with `make run`)"
        )
    ranking = [
        (str(r.get("name")), round(float(r.get("confidence") or 0.0), 4))
        for r in parsed.get("intent_ranking") or []
        if isinstance(r, dict) and r.get("name") and r.get("name") != "nlu_fallback"
    ]
    intent = parsed.get("intent") or {}
    name = intent.get("name")
    confidence = ranking[0][1] if ranking else None
    if name == "nlu_fallback":  # what the model would have said, had it not fallen back
        name = ranking[0][0] if ranking else None
    return Prediction(name, confidence, tuple(ranking[:3]))


# ---------------------------------------------------------------- the check


def heldout_questions(sets: Iterable[Path] = EVAL_SETS) -> dict[str, EvalQuestion]:
    found: dict[str, EvalQuestion] = {}
    for path in sets:
        if path.exists():
            for question in training.eval_questions(path):
                found.setdefault(sentence_key(question.text), question)
    return found


def _where(example: Example) -> str:
    return f"{example.intent} in {shown_path(example.file)}: {example.text!r}"


def check(
    text: str,
    intent: str,
    lang: str,
    *,
    examples: Sequence[Example],
    eval_sets: Iterable[Path] = EVAL_SETS,
    index: Callable[[], Index] | None = None,
    predictor: Predictor | None = None,
    embed: Callable[[str], np.ndarray] | None = None,
) -> Verdict:
    """Whether `text` may become an example of `intent`, and what the model says."""
    verdict = Verdict(text=text, intent=intent, lang=lang)
    key = normalise(text)
    held_out = heldout_questions(eval_sets).get(sentence_key(text))
    if held_out is not None:
        verdict.refusals.append(
            f"it is a held-out evaluation question ({held_out.file.name}:{held_out.line}); "
            "evaluation sets never share a sentence with the training data"
        )
        return verdict
    for example in examples:
        if normalise(example.text) == key:
            if example.intent == intent:
                verdict.refusals.append(f"already a training example of {_where(example)}")
            else:
                verdict.refusals.append(f"the same text is already an example of {_where(example)}")
    if verdict.refusals:
        return verdict

    if predictor is not None:
        found = predictor(text)
        if isinstance(found, Prediction):
            verdict.prediction = found
        else:
            verdict.prediction_note = found
    if index is None or embed is None:
        return verdict
    searchable = index()
    vector = embed(text)
    closest_other = next(
        (n for n in searchable.nearest(vector, k=50) if n.example.intent != intent), None
    )
    if closest_other is not None and closest_other.cosine >= NEAR_DUPLICATE:
        verdict.refusals.append(
            f"a near duplicate (e5 cosine {closest_other.cosine:.3f} >= {NEAR_DUPLICATE}) of "
            f"an example of {_where(closest_other.example)}"
        )
    same = searchable.nearest(vector, k=1, intent=intent)
    verdict.closest_same = same[0] if same else None
    for shown in _top_two(verdict, searchable, vector):
        verdict.neighbours[shown] = searchable.nearest(vector, k=NEIGHBOURS, intent=shown)
    return verdict


def _top_two(verdict: Verdict, searchable: Index, vector: np.ndarray) -> list[str]:
    """The model's top two intents (without a model, the two nearest), and the
    intent the phrase is meant for if it is not one of them."""
    seen: list[str] = []
    if verdict.prediction is not None and verdict.prediction.top3:
        seen = [name for name, _ in verdict.prediction.top3[:2]]
    else:
        for neighbour in searchable.nearest(vector, k=50):
            if neighbour.example.intent not in seen:
                seen.append(neighbour.example.intent)
            if len(seen) == 2:
                break
    return seen if verdict.intent in seen else [*seen, verdict.intent]
