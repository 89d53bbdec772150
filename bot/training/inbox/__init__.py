"""The trainers' inbox: user messages the assistant may have misunderstood.

`sync` reads the tracker store's events (plain SQL, no Rasa: the table is
described in bot.privacy.retention) and the feedback table, and records one
entry per normalised text with the reasons it came in:

    fallback        the NLU fell back (nlu_fallback), or the reply's verdict was
                    `fallback` for an intent that is not out_of_scope
    low_confidence  answered, but the top intent's confidence was below
                    BOT_INBOX_CONFIDENCE (default 0.6)
    ambiguous       the top two intents were within AMBIGUITY of each other
    did_you_mean    the user clicked one of the fallback's topic buttons next:
                    the clicked intent is the suggestion
    thumbs_down     the chat page's thumbs-down on the answer
    rephrased       within REPHRASE_SECONDS of a fallback or low-confidence
                    answer, the user's next message, in the same language, got a
                    confident answer: its intent is the suggestion

Skipped: button payloads ("/scope_x"), answers to a form's questions (names,
e-mail addresses, ...: not questions), and texts that are already a training
example. Texts are masked (bot.privacy.mask: keys, e-mail addresses, phone
numbers, and the names and companies the conversation gave in its forms).

The sync is incremental (a cursor per source, re-reading a margin behind it,
since PostgreSQL may commit ids out of order) and idempotent (an occurrence is
unique per sender and source, and reasons only ever grow), so it can run at
every start, every minute and by hand at once. Resolving an entry (assign,
ignore, out of scope) is one UPDATE ... WHERE status = 'new': of two trainers
at once, one wins and the other is told.

    turns     conversations from the tracker store's events; why a message is here
    sync      occurrences recorded and merged into entries (the sync itself)
    entries   reading the inbox, resolving entries, privacy (forget, retention, export)
"""

from __future__ import annotations

from bot.training.inbox.entries import (
    AlreadyResolved,
    Assigned,
    Entry,
    InboxError,
    Line,
    assign,
    claim,
    context,
    delete_older,
    for_sender,
    forget_sender,
    get,
    ignore,
    list_entries,
    note_file,
    out_of_scope,
    release,
)
from bot.training.inbox.occurrences import refresh, text_key
from bot.training.inbox.sync import Synced, sync, training_texts
from bot.training.inbox.turns import (
    REASONS,
    Turn,
    conversation_turns,
    next_reasons,
    own_reasons,
)

__all__ = [
    "REASONS",
    "AlreadyResolved",
    "Assigned",
    "Entry",
    "InboxError",
    "Line",
    "Synced",
    "Turn",
    "assign",
    "claim",
    "context",
    "conversation_turns",
    "delete_older",
    "for_sender",
    "forget_sender",
    "get",
    "ignore",
    "list_entries",
    "next_reasons",
    "note_file",
    "out_of_scope",
    "own_reasons",
    "refresh",
    "release",
    "sync",
    "text_key",
    "training_texts",
]
