"""Which paid service a message names ("we want incident response", "fornyet
støtte"): the rule base's service names, then a few words per service and
language from content/lexicon/service_requests.yml (`sr_service_words_<service id>`)."""

from __future__ import annotations

from bot import lexicon, rulebase
from bot.text import fold


def keywords(service_id: str) -> frozenset[str]:
    """The words that name a service when its full name is not used (folded, every
    language); none for a service without a list. Kept specific: "support" alone
    names none of them."""
    try:
        return lexicon.get(f"sr_service_words_{service_id}").folded()
    except KeyError:
        return frozenset()


def find_service(text: str, rules: rulebase.RuleBase | None = None) -> str | None:
    """The service id the text names, or None; a bare service id counts too."""
    folded = fold(text)
    rules = rules or rulebase.current()
    for service in rules.services.values():
        names = {service.id, service.id.replace("_", " "), *map(fold, service.names.values())}
        if folded in names or any(name in folded for name in names if len(name) > 6):
            return service.id
    for service in rules.services.values():
        if any(word in folded for word in keywords(service.id)):
            return service.id
    return None
