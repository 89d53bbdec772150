"""Composing replies from the rule base and the phrase catalogue.

Plain data in, plain data out: the action server sends `Reply.text` and
`Reply.payload()` (answer-contract.md §2); `bot ask` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot import messages
from bot.rulebase import Clause, RuleBase, Service, Topic


@dataclass(frozen=True)
class Reply:
    text: str
    lang: str
    verdict: str
    rule_ids: tuple[str, ...] = ()
    buttons: tuple[dict[str, str], ...] = ()
    extra: dict = field(default_factory=dict)  # further contract keys, e.g. "lookup"

    def payload(self) -> dict:
        answer = {"rule_ids": list(self.rule_ids), "verdict": self.verdict, "lang": self.lang}
        return {"answer": {**answer, **self.extra}}


def citation(clause: Clause, lang: str) -> str:
    doc = clause.document
    values = {
        "title": doc.titles.get(lang) or doc.title,
        "section": clause.section,
        "date": messages.date(doc.date, lang),
        "article_id": doc.article_id,
    }
    return messages.say("citation_article" if doc.article_id else "citation_rules", lang, **values)


def verdict_label(verdict: str, lang: str, service: Service | None = None) -> str:
    label = messages.say(f"verdict_{verdict}", lang)
    return f"{label} ({service.names[lang]})" if verdict == "paid" and service else label


def clause_line(clause: Clause, lang: str) -> str:
    return messages.say(
        "clause_line",
        lang,
        label=verdict_label(clause.verdict, lang, clause.service),
        text=clause.text(lang).rstrip(" ;"),
        citation=citation(clause, lang),
    )


def paid_services(rulebase: RuleBase, clause_ids: tuple[str, ...]) -> list[Service]:
    found: list[Service] = []
    for cid in clause_ids:
        service = rulebase.clauses[cid].service
        if service is not None and service not in found:
            found.append(service)
    return found


def topic_answer(rulebase: RuleBase, topic: Topic, lang: str) -> Reply:
    """The lead (the verdict, plainly), each clause with its own verdict and
    citation, then how to get what can be bought."""
    lines = [f"• {clause_line(rulebase.clauses[cid], lang)}" for cid in topic.clauses]
    parts = [topic.leads[lang], "\n".join(lines)]
    services = paid_services(rulebase, topic.clauses)
    if services:
        names = " / ".join(s.names[lang] for s in services)
        parts.append(messages.say("paid_offer", lang, service=names))
    return Reply(
        text="\n\n".join(parts),
        lang=lang,
        verdict=topic.verdict,
        rule_ids=topic.clauses,
    )


def small_talk(intent: str, lang: str) -> Reply:
    verdict = "fallback" if intent == "out_of_scope" else "info"
    return Reply(text=messages.say(intent, lang), lang=lang, verdict=verdict)


def fallback(rulebase: RuleBase, ranking: list[tuple[str, float]], lang: str) -> Reply:
    """Ask to rephrase, offering up to three likely topics as buttons."""
    buttons = []
    for intent, _confidence in ranking:
        topic = rulebase.topic_for_intent(intent)
        if topic is not None:
            buttons.append({"title": topic.titles[lang], "payload": f"/{topic.intent}"})
        if len(buttons) == 3:
            break
    key = "fallback" if buttons else "fallback_no_options"
    return Reply(
        text=messages.say(key, lang), lang=lang, verdict="fallback", buttons=tuple(buttons)
    )
