"""The rule base: both support documents as clauses, with topics and paid services.

Source of truth: YAML under content/rulebase/ (one entry per clause id). `load`
validates every file, then replaces the rule base in the database in one
transaction, so a broken edit leaves the old rule base in place. Readers get an
immutable snapshot (`current`), cached until the stored version changes, so a
corrected sentence is live after `bot rulebase load` with no retraining and no
restart.
"""

from bot.rulebase.model import Clause, Document, RuleBase, RulebaseError, Service, Topic
from bot.rulebase.snapshot import RulebaseMissing, clear_cache, current
from bot.rulebase.source import RULEBASE_DIR, Source, read
from bot.rulebase.store import load

__all__ = [
    "RULEBASE_DIR",
    "Clause",
    "Document",
    "RuleBase",
    "RulebaseError",
    "RulebaseMissing",
    "Service",
    "Source",
    "Topic",
    "clear_cache",
    "current",
    "load",
    "read",
]
