"""Facts fixed by /work/shared/answer-contract.md, written out literally so that
the tests check the data against the contract rather than against itself."""

from __future__ import annotations

# §1: 44 `rules:` ids and 21 `kb101732:` ids, 65 in all.
RULES_IDS = (
    "rules:1",
    "rules:2.1",
    "rules:2.2",
    "rules:2.3",
    "rules:2.4",
    "rules:3.1",
    "rules:3.2",
    "rules:4",
    "rules:4.1.1",
    "rules:4.1.2a",
    "rules:4.1.2b",
    "rules:4.1.2c",
    "rules:4.1.3",
    "rules:4.1.4a",
    "rules:4.1.4b",
    "rules:4.1.4c",
    "rules:4.2.1",
    "rules:4.2.2",
    "rules:4.2.3",
    "rules:4.2.4",
    "rules:4.2.5",
    "rules:4.2.6",
    "rules:4.2.7",
    "rules:4.2.8",
    "rules:4.2.9",
    "rules:4.2.10",
    "rules:4.2.11",
    "rules:4.2.12",
    "rules:4.2.13",
    "rules:4.2.14",
    "rules:4.3.1",
    "rules:4.3.2",
    "rules:4.4.1",
    "rules:4.4.2",
    "rules:4.4.3",
    "rules:4.4.4",
    "rules:4.4.5",
    "rules:4.4.6",
    "rules:4.5a",
    "rules:4.5b",
    "rules:5",
    "rules:6",
    "rules:7.1",
    "rules:7.2",
)
KB101732_IDS = (
    "kb101732:1.1",
    "kb101732:1.2",
    "kb101732:2.1",
    "kb101732:2.2",
    "kb101732:2.3",
    "kb101732:2.4",
    "kb101732:2.5",
    "kb101732:2.6",
    "kb101732:2.7",
    "kb101732:2.8",
    "kb101732:2.9",
    "kb101732:2.10",
    "kb101732:2.11",
    "kb101732:3",
    "kb101732:4.1",
    "kb101732:4.2",
    "kb101732:4.3",
    "kb101732:4.4",
    "kb101732:4.5",
    "kb101732:4.6",
    "kb101732:4.7",
)
CLAUSE_IDS = RULES_IDS + KB101732_IDS

# §1: which seed file each prefix is taken from, and its language.
SEEDS = {"rules": "000_3bd3f36c4824cb4b.txt", "kb101732": "001_840a43d743effd60.txt"}
ORIGINAL_LANGUAGE = {"rules": "nb", "kb101732": "sv"}

# §2
LANGS = ("en", "nb", "sv")
VERDICTS = (
    "included",
    "excluded",
    "paid",
    "not_supported",
    "no_guarantee",
    "conditional",
    "info",
    "fallback",
)
QUEUES = ("professional_services", "premium_support", "incident_response", "support_renewal")
