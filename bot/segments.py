"""The parts of a customer's message, and which of them to answer.

A chat widget receives context before the question ("We run KES 11 on forty
PCs and one of them got ransomware last night. Can you clean it?") and two
questions at once ("Can you remove a virus from my PC, and are you open on
Saturdays?"). Classified whole, the context dilutes the question and the second
question is lost. So the message is split by rules per language (sentence
punctuation, line breaks, then clause cues such as ", and" / ", og" / ", och"
and "also" / "også" / "också"), each part is classified beside the whole, and
`decide` keeps a split only where it says more than the whole does:

- the whole falls back, and a part is sure of a topic: that topic is answered;
- the whole is sure of a topic, and another part is sure of another one: both
  are answered, in the order they were asked;
- otherwise the whole's reading stands.

No Rasa here: bot.rasa_addons.components.segments adds the parts to the NLU
batch and writes the decision onto the message; the actions answer from it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

MAX_PARTS = 4  # a longer message keeps its first parts (each part costs a parse)
MAX_CHARS = 2_000  # past this the message is parsed whole only
MIN_WORDS = 2  # a part of one word ("Thanks.", "Hi!") is not a question of its own

# Sentence ends: ? ! ; or a line break; a full stop after two letters or digits
# ("KSC 10. Is it", not "v. 11" or "e.g. the"), followed by space.
_SENTENCE = re.compile(r"(?<=[?!;])\s+|(?<=[^\W_]{2}[.])\s+(?=\S)|\s*\n+\s*")
# Clause cues that start a second question inside a sentence, per language: a
# comma and "and"/"but", "and also", or "also" before a question word or verb.
_QUESTION_START = {
    "en": r"can|do|does|is|are|will|what|how|when|could|would|which",
    "nb": r"kan|har|er|gir|hva|hvordan|når|nar|naar|vil|tilbyr|hvilke",
    "sv": r"kan|har|är|ar|ger|vad|hur|när|nar|vill|erbjuder|vilka",
}
_AND = {"en": r"and|but", "nb": r"og|men", "sv": r"och|men"}
_ALSO = {
    "en": r"also|plus",
    "nb": r"også|ogsa|ogsaa|dessuten",
    "sv": r"också|ocksa|dessutom",
}
# "and" with no comma starts a second question only before a question word
# ("... installer and where is the manual?"), not before a verb it joins
_ASKS = {
    "en": r"what|how|when|where|which|who|why|is\s+there|are\s+there",
    "nb": r"hva|hvordan|når|nar|naar|hvor|hvilke|hvilken|hvem|hvorfor|finnes",
    "sv": r"vad|hur|när|nar|var|vilka|vilken|vem|varför|varfor|finns",
}
_CLAUSE_CUES = {
    lang: (
        rf",\s+(?:{_AND[lang]})\s+"
        rf"|\s+(?:{_AND[lang]})\s+(?:{_ALSO[lang]})\s+"
        rf"|,?\s+(?:{_ALSO[lang]}),?\s+(?=(?:{_QUESTION_START[lang]})\b)"
        rf"|\s+(?:{_AND[lang]})\s+(?=(?:{_ASKS[lang]})\b)"
    )
    for lang in _AND
}
_CUES = {lang: re.compile(cue, re.IGNORECASE) for lang, cue in _CLAUSE_CUES.items()}
# A part's leading "And", "Also:" says it follows another; the classifier needs
# only the question after it.
_LEADS = {
    lang: re.compile(rf"^(?:(?:{_AND[lang]}|{_ALSO[lang]})[,:]?\s+)+", re.IGNORECASE)
    for lang in _AND
}


def split(text: str, lang: str | None = None) -> list[str]:
    """The parts of `text` worth classifying on their own; [] when it is one part.

    Sentences first, then clause cues of `lang` (all three languages' when it is
    not known): a part is kept when it has at least MIN_WORDS words."""
    if len(text) > MAX_CHARS or text.lstrip().startswith("/"):
        return []
    cues = [_CUES[lang]] if lang in _CUES else list(_CUES.values())
    leads = [_LEADS[lang]] if lang in _LEADS else list(_LEADS.values())
    parts: list[str] = []
    for sentence in _SENTENCE.split(text.strip()):
        pieces = [sentence]
        for cue in cues:
            pieces = [p for piece in pieces for p in cue.split(piece)]
        for piece in pieces:
            for lead in leads:
                piece = lead.sub("", piece.strip(" ,;"))
            if piece.strip(" ,;"):
                parts.append(piece.strip(" ,;"))
    parts = [p for p in parts if len(p.split()) >= MIN_WORDS]
    return parts[:MAX_PARTS] if len(parts) > 1 else []


@dataclass(frozen=True)
class Reading:
    """One parse: its text and its top answerable intent with the confidence."""

    text: str
    intent: str | None
    confidence: float


@dataclass
class Decision:
    """What to answer: `intents` in the order they are answered (the first is the
    message's intent; a form-starting one last), `parts` the readings of the parts,
    `changed` whether the parts changed the whole's reading."""

    intents: list[str]
    parts: list[Reading] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # intent -> the part it came from
    changed: bool = False

    def as_output(self) -> dict[str, object]:
        """Plain JSON for the parse data (`segments`), which the actions read."""
        return {
            "parts": [
                {"text": p.text, "intent": p.intent, "confidence": round(p.confidence, 4)}
                for p in self.parts
            ],
            "answer": list(self.intents),
            "texts": dict(self.texts),
            "changed": self.changed,
        }


def decide(
    whole: Reading,
    parts: Sequence[Reading],
    *,
    whole_confident: bool,
    threshold: float,
    answerable: frozenset[str] | set[str],
    last: frozenset[str] | set[str] = frozenset(),
    most: int = 2,
    second: float | None = None,
) -> Decision:
    """Which intents to answer, from the whole's reading and the parts'.

    whole_confident: the whole was not a fallback (a sure reading of anything not
    answerable, such as "stop" or "yes", always stands). threshold: the confidence
    every answered part needs where the whole falls back; second: the confidence a
    part needs to be answered beside the whole's answer (default: threshold); both
    measured (docs/decisions/pipeline.md, "Segments"). answerable: intents that
    answer from the rule base or start a lookup or a form (not greetings, not out
    of scope). last: intents that start a form, answered after the others (a turn
    starts at most one form). most: at most this many intents are answered."""
    beside = threshold if second is None else second
    usable = [p for p in parts if p.intent in answerable and p.confidence >= beside]
    if whole_confident and whole.intent not in answerable:
        # a sure "stop", "yes", greeting or out-of-scope reading is never overridden:
        # inside a form it decides what happens next
        return Decision([whole.intent] if whole.intent else [], list(parts))
    if not whole_confident:  # where the whole fell back, every answered part clears threshold
        usable = [p for p in usable if p.confidence >= threshold]
        if not usable:  # nothing sure enough: the fallback stands
            return Decision([], list(parts))
    order: list[str] = []
    texts: dict[str, str] = {}
    for part in usable:
        if part.intent not in order:
            order.append(part.intent)  # type: ignore[arg-type]
            texts[part.intent] = part.text  # type: ignore[index]
    if whole_confident and whole.intent not in order:  # no single part's topic: it leads
        order.insert(0, whole.intent)  # type: ignore[arg-type]
    if whole_confident and len(order) < 2:
        return Decision([whole.intent], list(parts))  # type: ignore[list-item]
    chosen = [i for i in order if i not in last] + [i for i in order if i in last][:1]
    chosen = chosen[:most]
    changed = not whole_confident or chosen != [whole.intent]
    return Decision(chosen, list(parts), {i: texts[i] for i in chosen if i in texts}, changed)


def needs_full_reading(
    whole: Reading, whole_confident: bool, part: Reading, *, floor: float, answerable: Iterable[str]
) -> bool:
    """Whether a part's first, cheap reading (the classifier's n-gram model, not sure
    of it) must be made again with everything (the e5 embedding) before `decide`:
    not where nothing a part says can change the answer (a sure reading of the
    whole that no part overrides), not where the cheap reading is below `floor`
    (measured: no such part of the tuning sets reached the bar to be answered with
    everything; docs/decisions/pipeline.md, "Segments"), and not where it names
    the sure whole's own topic (that topic is answered anyway)."""
    if whole_confident and whole.intent not in set(answerable):
        return False
    if part.confidence < floor:
        return False
    return not (whole_confident and part.intent == whole.intent)


# Intents answered outside the rule base's topics: a licence lookup, a paid-service form.
FORM_INTENTS = ("check_licence", "request_service")


@dataclass(frozen=True)
class Plan:
    """Which intents a part may be answered with, and which of them start a form."""

    answerable: frozenset[str]
    last: frozenset[str]


def plan() -> Plan:
    """From content/rulebase/topics.yml (bot.intent_files writes the same rules):
    every topic intent answers; a topic with an action of its own (the rule, then
    a lookup) and the form intents start a form, so they are answered last."""
    from bot import intent_files
    from bot.rulebase import source

    topics = source.read().topics
    answerable = {t["intent"] for t in topics} | set(FORM_INTENTS)
    last = {
        t["intent"]
        for t in topics
        if (t.get("action") or intent_files.DEFAULT_ACTION) != intent_files.DEFAULT_ACTION
    } | set(FORM_INTENTS)
    return Plan(frozenset(answerable), frozenset(last))
