"""Which paid service a message names ("we want incident response", "fornyet
støtte"), from the rule base's service names and a few words per language."""

from __future__ import annotations

import unicodedata

from bot import rulebase

# Words that name a service when its full name is not used. Keep them specific:
# "support" alone names none of them.
KEYWORDS = {
    "professional_services": ("professional", "on-site", "onsite", "remote session",
                              "fjernøkt", "fjärrsession", "på stedet", "på plats"),
    "premium_support": ("premium support", "premiumstøtte", "premiumsupport", "premium-støtte"),
    "incident_response": ("incident response", "incident-response", "hendelseshåndtering",
                          "incidenthantering"),
    "support_renewal": ("renewal", "renew support", "fornyelse", "fornyet støtte",
                        "forlenget støtte", "förnyad support", "förlängd support"),
}  # fmt: skip


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def find_service(text: str, rules: rulebase.RuleBase | None = None) -> str | None:
    """The service id the text names, or None; a bare service id counts too."""
    folded = _fold(text).strip()
    rules = rules or rulebase.current()
    for service in rules.services.values():
        names = {service.id, service.id.replace("_", " "), *map(_fold, service.names.values())}
        if folded in names or any(name in folded for name in names if len(name) > 6):
            return service.id
    for service_id, words in KEYWORDS.items():
        if service_id in rules.services and any(word in folded for word in words):
            return service_id
    return None
