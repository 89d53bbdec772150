"""Entitlement: whether standard support covers a product version (and licence), by the rules.

- end of life: rules:4.3.2 + kb101732:1.2, not supported, paid route
  support_renewal;
- home products: supported regardless of licence status (rules:4.5a);
- business products: a valid licence is needed (rules:4.5b, rules:2.4).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from bot.records.lookup import LicenceStatus, VersionStatus, lookup_licence, lookup_version

# rule ids (answer-contract §1) the entitlement rests on
END_OF_LIFE_RULES = ("rules:4.3.2", "kb101732:1.2")
HOME_RULES = ("rules:4.5a",)
BUSINESS_RULES = ("rules:4.5b", "rules:2.4")
END_OF_LIFE_SERVICE = "support_renewal"


@dataclass(frozen=True)
class Entitlement:
    """Whether standard support covers this product (version, licence), and why.

    `reason` is one of: end_of_life, home, licence_valid, licence_expired,
    licence_needed (no key given), licence_unknown (key not on record or
    malformed), licence_other_product, unknown_product, unknown_version.
    """

    verdict: str  # answer-contract §2 vocabulary
    rule_ids: tuple[str, ...]
    reason: str
    version: VersionStatus
    licence: LicenceStatus | None = None
    service: str | None = None  # the paid route (a service id of the rule base)

    @property
    def lookup(self) -> dict[str, Any]:
        """answer-contract §2 `lookup`: product, version, status, support_ends[, licence]."""
        data = self.version.lookup
        if self.licence is not None:
            data["licence"] = self.licence.status
        return data


def entitlement(
    product: str | None = None,
    version: str | None = None,
    key: str | None = None,
    today: dt.date | None = None,
    url: str | None = None,
) -> Entitlement:
    """Apply rules 4.3.2 / 4.5a / 4.5b / 2.4 to what is known.

    With only a key, the licence's own product and version are used. A licence
    covers every version of its product (a KES 11.6 licence covers KES 12.1).
    """
    today = today or dt.date.today()
    licence = lookup_licence(key, today, url) if key else None
    if licence is not None and licence.product is not None:
        if not product:
            product, version = licence.product, version or licence.version
    status = lookup_version(product, version, today, url)

    def result(
        verdict: str, rules: tuple[str, ...], reason: str, service: str | None = None
    ) -> Entitlement:
        return Entitlement(verdict, rules, reason, status, licence, service)

    if not status.known_product:
        return result("conditional", HOME_RULES + BUSINESS_RULES, "unknown_product")
    by_segment = HOME_RULES if status.segment == "home" else BUSINESS_RULES
    if status.status == "end_of_life":
        return result("not_supported", END_OF_LIFE_RULES, "end_of_life", END_OF_LIFE_SERVICE)
    if status.status == "unknown":  # the product is known, its version is not
        return result("conditional", ("rules:4.3.2",) + by_segment, "unknown_version")
    if status.segment == "home":
        return result("included", HOME_RULES, "home")
    if licence is None:
        return result("conditional", BUSINESS_RULES, "licence_needed")
    if licence.status == "unknown":
        return result("conditional", BUSINESS_RULES, "licence_unknown")
    if licence.product != status.product:
        return result("conditional", BUSINESS_RULES, "licence_other_product")
    if licence.status == "expired":
        return result("not_supported", BUSINESS_RULES, "licence_expired")
    return result("included", BUSINESS_RULES, "licence_valid")
