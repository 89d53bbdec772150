"""Composing replies from the rule base and the phrase catalogue.

Plain data in, plain data out: the action server sends `Reply.text` and
`Reply.payload()` (answer-contract.md §2); `bot ask` prints them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot import messages
from bot.rulebase import Clause, RuleBase, Service, Topic

if TYPE_CHECKING:
    from bot.records import Entitlement


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


def clause_line(clause: Clause, lang: str, full: bool = False) -> str:
    """One line per cited clause. Short (the default, for a phone screen): its
    verdict and a short citation; the wording is one tap away (the widget's chip,
    `bot ask --full`). Full: the verdict, the wording and the whole citation."""
    if not full:
        label = verdict_label(clause.verdict, lang, clause.service)
        return messages.say(
            "clause_line_short", lang, label=label, citation=short_citation(clause, lang)
        )
    return messages.say(
        "clause_line",
        lang,
        label=verdict_label(clause.verdict, lang, clause.service),
        text=clause.text(lang).rstrip(" ;"),
        citation=citation(clause, lang),
    )


def short_citation(clause: Clause, lang: str) -> str:
    """ "Support rules §4.2.3" / "Article 101732 §2.2": a clause named in a line."""
    doc = clause.document
    key = "citation_short_article" if doc.article_id else "citation_short_rules"
    return messages.say(key, lang, section=clause.section, article_id=doc.article_id)


def paid_services(rulebase: RuleBase, clause_ids: tuple[str, ...]) -> list[Service]:
    """The services that the cited clauses sell (services.yml `sold_by`), in the
    order of the first clause that sells each: never one that no cited clause sells."""
    found: list[Service] = []
    for cid in clause_ids:
        for service in rulebase.services.values():
            if cid in service.sold_by and service not in found:
                found.append(service)
    return found


def paid_offer(
    rulebase: RuleBase, services: list[Service], clause_ids: tuple[str, ...], lang: str
) -> str:
    """What can be bought, named by the clauses that sell it ("What Support rules
    §4.2.14 describes can be bought as Kaspersky Incident Response"), never the
    topic as a whole. A cited clause that only names paid services (one in their
    `sold_by` whose own `service` is not theirs: rules:5, "some services ... may
    be offered as part of paid services. Kaspersky offers professional services
    and premium support") is said as it says it, once for all the services it
    names: never "can be bought as"."""
    items: list[str] = []
    naming: list[str] = []  # the clauses that only name services
    named: list[Service] = []
    for service in services:
        sellers = [cid for cid in clause_ids if cid in service.sold_by]
        selling = [cid for cid in sellers if _sells_as(rulebase.clauses[cid], service)]
        if selling:
            key = "paid_offer_item" if len(selling) == 1 else "paid_offer_items"
            refs = _refs(rulebase, selling, lang)
            items.append(messages.say(key, lang, refs=refs, service=service.names[lang]))
        only_naming = [cid for cid in sellers if cid not in selling]
        if only_naming:
            named.append(service)
            naming += [cid for cid in only_naming if cid not in naming]
    if named:
        items.append(
            messages.say(
                "paid_offer_general",
                lang,
                refs=_refs(rulebase, naming, lang),
                services=messages.join([s.names[lang] for s in named], lang),
            )
        )
    return messages.say("paid_offer", lang, offers=" ".join(items))


def _sells_as(clause: Clause, service: Service) -> bool:
    """The clause says that what it describes can be bought as `service`."""
    return clause.service is not None and clause.service.id == service.id


def _refs(rulebase: RuleBase, clause_ids: list[str], lang: str) -> str:
    return messages.join([short_citation(rulebase.clauses[cid], lang) for cid in clause_ids], lang)


def request_button(service: Service, lang: str) -> dict[str, str]:
    """Offer to file a request for a paid service (starts the request form)."""
    return {
        "title": messages.say("button_request_service", lang, service=service.names[lang]),
        "payload": f'/request_service{{"sr_service": "{service.id}"}}',
    }


def request_offer(services: list[Service], lang: str) -> tuple[dict[str, str], ...]:
    """One button for what can be bought: the service itself when one is sold,
    else the request form, which asks which of them (issue 12: scope before the
    sale, one button)."""
    if not services:
        return ()
    if len(services) == 1:
        return (request_button(services[0], lang),)
    title = messages.say("button_request_paid_service", lang)
    return ({"title": title, "payload": "/request_service"},)


def clause_lines(rulebase: RuleBase, clause_ids: tuple[str, ...], lang: str, full: bool) -> str:
    return "\n".join(f"• {clause_line(rulebase.clauses[cid], lang, full)}" for cid in clause_ids)


def topic_answer(rulebase: RuleBase, topic: Topic, lang: str, full: bool = False) -> Reply:
    """The lead (the verdict, plainly), each clause with its own verdict and
    citation, then how to get what can be bought."""
    lines = [clause_lines(rulebase, topic.clauses, lang, full)]
    parts = [topic.leads[lang], *lines]
    services = paid_services(rulebase, topic.clauses)
    if services:
        parts.append(paid_offer(rulebase, services, topic.clauses, lang))
    buttons = request_offer(services, lang)
    if topic.follow_up:
        title = messages.say(f"button_{topic.follow_up}", lang)
        buttons += ({"title": title, "payload": f"/{topic.follow_up}"},)
    return Reply(
        text="\n\n".join(parts),
        lang=lang,
        verdict=topic.verdict,
        rule_ids=topic.clauses,
        buttons=buttons,
    )


def small_talk(intent: str, lang: str) -> Reply:
    verdict = "fallback" if intent == "out_of_scope" else "info"
    return Reply(text=messages.say(intent, lang), lang=lang, verdict=verdict)


def fallback(rulebase: RuleBase | None, ranking: list[tuple[str, float]], lang: str) -> Reply:
    """Ask to rephrase, offering up to three likely topics as buttons (none when
    there is no rule base to name them from)."""
    buttons: list[dict[str, str]] = []
    topics = [rulebase.topic_for_intent(intent) for intent, _ in ranking] if rulebase else []
    for topic in topics:
        if topic is not None:
            buttons.append({"title": topic.titles[lang], "payload": f"/{topic.intent}"})
        if len(buttons) == 3:
            break
    key = "fallback" if buttons else "fallback_no_options"
    return Reply(
        text=messages.say(key, lang), lang=lang, verdict="fallback", buttons=tuple(buttons)
    )


def likely_topic(
    rulebase: RuleBase, topic: Topic, others: list[str], lang: str, full: bool = False
) -> Reply:
    """Not sure, but `topic` clearly leads: its answer, said to be a guess, with up to
    two other likely topics (intents, likeliest first) as buttons after its own."""
    answer = topic_answer(rulebase, topic, lang, full)
    buttons = list(answer.buttons)
    for intent in others:
        other = rulebase.topic_for_intent(intent)
        if other is not None and other.intent != topic.intent:
            buttons.append({"title": other.titles[lang], "payload": f"/{other.intent}"})
        if len(buttons) >= len(answer.buttons) + 2:
            break
    text = f"{messages.say('fallback_lead', lang, title=topic.titles[lang])}\n\n{answer.text}"
    return dataclasses.replace(answer, text=text, buttons=tuple(buttons))


def unknown_version(
    rulebase: RuleBase,
    topic: Topic,
    product: str,
    version: str,
    nearest: tuple[str, ...],
    lang: str,
    full: bool = False,
) -> Reply:
    """A version the records do not know: that, the rule that applies to versions
    (the version topic's answer), where to find the number, and the versions known
    as buttons; the one question of the turn."""
    rule = topic_answer(rulebase, topic, lang, full)
    text = "\n\n".join(
        [
            messages.say("unknown_version", lang, product=product, version=version),
            rule.text,
            messages.say("how_to_find_version", lang),
        ]
    )
    lookup = {"product": product, "version": version, "status": "unknown"}
    buttons = tuple({"title": v, "payload": v} for v in nearest)
    return dataclasses.replace(rule, text=text, buttons=buttons, extra={"lookup": lookup})


def _last_group(masked_key: str) -> str:
    return masked_key.rsplit("-", 1)[-1]


def entitlement_answer(
    rulebase: RuleBase, found: Entitlement, lang: str, full: bool = False
) -> Reply:
    """A version or licence lookup: what the records
    say, what that means under the rules for this product's segment, the
    clauses, the paid route when the version has reached its end of life."""
    status, licence = found.version, found.licence
    say = messages.say
    parts: list[str] = []
    if licence is not None:
        last = _last_group(licence.masked_key)
        if licence.status == "unknown":
            parts.append(say("licence_unknown", lang, last=last))
        else:
            assert licence.valid_until is not None  # a licence on record always has one
            key = "licence_valid" if licence.status == "valid" else "licence_expired"
            parts.append(
                say(
                    key,
                    lang,
                    last=last,
                    product=licence.product,
                    version=licence.version,
                    date=messages.date(licence.valid_until, lang),
                )
            )
    product, version = status.product, status.record_version or status.version
    if found.reason == "end_of_life":
        assert status.support_ends is not None  # end of life means a date has passed
        ended = messages.date(status.support_ends, lang)
        parts.append(say("lookup_end_of_life", lang, product=product, version=version, date=ended))
    elif status.status == "supported":
        if status.support_ends:
            ends = messages.date(status.support_ends, lang)
            parts.append(
                say("lookup_supported_until", lang, product=product, version=version, date=ends)
            )
        else:
            parts.append(say("lookup_supported", lang, product=product, version=version))
    elif found.reason == "unknown_version":
        parts.append(say("unknown_version", lang, product=product, version=status.version))
    segment_line = {
        "home": "segment_home",
        "licence_valid": "segment_business_valid",
        "licence_expired": "segment_business_invalid",
        "licence_needed": "segment_business_needs",
        "licence_unknown": "segment_business_needs",
        "licence_other_product": "segment_business_needs",
    }.get(found.reason)
    if segment_line:
        parts.append(say(segment_line, lang, product=product))
    parts.append(clause_lines(rulebase, tuple(found.rule_ids), lang, full))
    buttons: list[dict[str, str]] = []
    sold = [s for s in paid_services(rulebase, tuple(found.rule_ids)) if s.id == found.service]
    if sold:  # only what a cited clause sells
        parts.append(paid_offer(rulebase, sold, tuple(found.rule_ids), lang))
        buttons.append(request_button(sold[0], lang))
    if found.reason in ("licence_needed", "licence_unknown", "licence_other_product"):
        buttons.append({"title": say("button_check_licence", lang), "payload": "/check_licence"})
    if found.reason == "unknown_version":
        buttons += [
            {"title": f"{product} {v}", "payload": f"{product} {v}"} for v in status.nearest
        ]
    return Reply(
        text="\n\n".join(p for p in parts if p),
        lang=lang,
        verdict=found.verdict,
        rule_ids=tuple(found.rule_ids),
        buttons=tuple(buttons),
        extra={"lookup": found.lookup},
    )
