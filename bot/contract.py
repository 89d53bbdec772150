"""The vocabularies of the answer contract (../shared/answer-contract.md):
one home for the languages and verdicts every other module checks against."""

from __future__ import annotations

LANGS = ("en", "nb", "sv")  # the languages of the wording and of replies
DEFAULT_LANG = "en"

# What the rule base can say of a clause or topic ...
VERDICTS = ("included", "excluded", "paid", "not_supported", "no_guarantee", "conditional", "info")
# ... and what an answer's payload can carry (a fallback rests on no clause).
ANSWER_VERDICTS = (*VERDICTS, "fallback")

LOOKUP_STATUSES = ("supported", "end_of_life", "unknown")
LICENCE_STATUSES = ("valid", "expired", "unknown")
