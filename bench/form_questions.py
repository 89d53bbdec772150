"""The threshold above which a message typed at a form step is answered as a
question (bot.form_input.QUESTION_THRESHOLD), measured.

Parses, with the newest trained model, (a) every held-out question whose label
is a scope topic or a lookup (eval/heldout*.csv) and (b) typical answers to the
forms' steps (products, versions, keys, names, addresses, companies, countries,
services, the summary's yes), as if each were typed at a step. For each
threshold it prints the share of questions that would be answered (wanted: high)
and the share of answers that would be taken for a question (wanted: none), the
latter for every answer and for those no shape check protects (names and
companies, where only the threshold decides; bot.form_input.value_shaped).

    .venv/bin/python -m bench.form_questions [--model models/x.tar.gz] [--list]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bench.accuracy import _predict
from bot import form_input, settings
from bot.runtime import build
from bot.training.examples import EVAL_SETS, eval_questions

# Typical answers to each step, in en/nb/sv (not questions: never in data/nlu/).
ANSWERS: dict[str, list[str]] = {
    "product": [
        "Kaspersky Endpoint Security",
        "Kaspersky Endpoint Security for Windows",
        "KES",
        "Kaspersky Plus",
        "Kaspersky Internet Security 19",
        "Kaspersky Security Center",
        "vi bruker KES",
        "vi använder Kaspersky Plus",
        "Kaspersky Small Office Security",
        "Kaspersky Total Security",
    ],
    "version": ["21.3", "12.8", "11", "version 12", "versjon 21.19", "12.2", "13.2", "v11.1"],
    "licence_key": [
        "ZRM6N-TL7VJ-Q26X8-ZEB76",
        "DE6NB-WPM5K-T7JEE-U3UKS",
        "ABC-123",
        "12345",
        "AAAA-BBBB",
    ],
    "sr_name": [
        "Kari Nordmann",
        "Ola Nordmann",
        "Sven Svensson",
        "Anna Andersson",
        "John Smith",
        "Jon Jónsson",
        "Per Olav Hansen",
        "Maria Lindqvist",
        "Dr. Emily Brown",
        "Lars-Erik Berg",
    ],
    "sr_email": ["ola@example.com", "kari@example.no", "anna.andersson@foretag.se"],
    "sr_company": [
        "Acme AS",
        "Fjordvik Regnskap AS",
        "Nordic Security AB",
        "Acme Support Ltd",
        "IT-Hjelp Oslo AS",
        "Datakonsult Sverige AB",
        "Bergen Kommune",
        "Region Skåne",
        "Norsk Helsenett",
        "Virus Free Computers Ltd",
        "Remote Support Partners AB",
        "Secure Networks Inc",
    ],
    "sr_country": ["Norge", "Sverige", "Norway", "Sweden", "Danmark", "Finland", "UK"],
    "sr_service": ["incident response", "hendelsesrespons", "premiumsupport", "Premium Support"],
    "sr_licence_key": ["no key", "ingen nøkkel", "ingen nyckel", "hopp over", "hoppa över"],
    "sr_confirmed": ["Send it", "send den", "Skicka", "ja", "yes", "Endre noe", "Ändra något"],
}
UNSHAPED = ("sr_name", "sr_company")  # only the threshold protects these
THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def _top(parse: dict) -> tuple[str | None, float]:
    """The top intent and its confidence (under nlu_fallback: the best topic's)."""
    intent = parse.get("intent") or {}
    if intent.get("name") == "nlu_fallback" and parse.get("intent_ranking"):
        ranked = [r for r in parse["intent_ranking"] if r.get("name") != "nlu_fallback"]
        intent = ranked[0] if ranked else intent
    return intent.get("name"), float(intent.get("confidence") or 0.0)


def _interrupts(parse: dict, threshold: float) -> bool:
    name, confidence = _top(parse)
    if not name or confidence < threshold:
        return False
    return name.startswith("scope_") or name in form_input.QUESTION_INTENTS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument(
        "--list", action="store_true", help="list every answer taken for a question"
    )
    args = parser.parse_args()
    model = args.model or build.model_path(settings.load())
    questions = [
        q
        for path in EVAL_SETS
        for q in eval_questions(path)
        if any(i.startswith("scope_") or i in form_input.QUESTION_INTENTS for i in q.intents)
    ]
    answers = [(step, text) for step, texts in ANSWERS.items() for text in texts]
    parses = asyncio.run(_predict(model, [q.text for q in questions] + [t for _s, t in answers]))
    q_parses, a_parses = parses[: len(questions)], parses[len(questions) :]
    unshaped = [p for (step, _t), p in zip(answers, a_parses, strict=True) if step in UNSHAPED]
    print(f"model {model.name}: {len(questions)} held-out questions, {len(answers)} answers")
    print("threshold  questions answered  answers taken for questions (all / names+companies)")
    for t in THRESHOLDS:
        answered = sum(_interrupts(p, t) for p in q_parses) / len(q_parses)
        wrong = sum(_interrupts(p, t) for p in a_parses)
        wrong_unshaped = sum(_interrupts(p, t) for p in unshaped)
        mark = "  <- QUESTION_THRESHOLD" if t == form_input.QUESTION_THRESHOLD else ""
        print(
            f"  {t:.2f}     {answered:6.1%}             "
            f"{wrong:2d}/{len(a_parses)} / {wrong_unshaped:2d}/{len(unshaped)}{mark}"
        )
    if args.list:
        for (step, text), p in zip(answers, a_parses, strict=True):
            name, confidence = _top(p)
            print(f"  {step:15} {text!r:45} {name} {confidence:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
