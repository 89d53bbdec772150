"""The project database's tables: the rule base, the records, service requests,
feedback, request drafts, the trainers' inbox and the insights summary (bot.db has the engine, the
sessions and the upgrade that creates them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base

SCHEMA_VERSION = "1"

# Typed as Any: SQLAlchemy 1.4 describes declarative classes to mypy only
# through its plugin and stubs, which are not pinned here.
Base: Any = declarative_base()


class Meta(Base):
    """Small facts about the database itself (schema version, rule base hash)."""

    __tablename__ = "meta"
    key = Column(String(64), primary_key=True)
    value = Column(Text, nullable=False)


class Document(Base):
    __tablename__ = "documents"
    prefix = Column(String(32), primary_key=True)
    title = Column(Text, nullable=False)
    titles = Column(JSON, nullable=False)  # {lang: title}, the original included
    date = Column(Date, nullable=False)
    language = Column(String(2), nullable=False)
    article_id = Column(String(32))
    url = Column(Text)
    seed = Column(Text, nullable=False)


class Service(Base):
    __tablename__ = "services"
    id = Column(String(64), primary_key=True)
    queue = Column(String(64), nullable=False)
    names = Column(JSON, nullable=False)
    summaries = Column(JSON, nullable=False)
    position = Column(Integer, nullable=False)
    sold_by = Column(JSON)  # the clause ids whose original wording sells this service


class Clause(Base):
    __tablename__ = "clauses"
    id = Column(String(64), primary_key=True)
    document = Column(String(32), ForeignKey("documents.prefix"), nullable=False)
    section = Column(String(32), nullable=False)
    position = Column(Integer, nullable=False)
    original = Column(Text, nullable=False)
    texts = Column(JSON, nullable=False)  # {lang: wording}; the original's language holds it
    verdict = Column(String(32), nullable=False)
    service = Column(String(64), ForeignKey("services.id"))


class ClauseLink(Base):
    """Two clauses of different documents that say the same thing; stored both ways."""

    __tablename__ = "clause_links"
    clause_id = Column(String(64), ForeignKey("clauses.id"), primary_key=True)
    other_id = Column(String(64), ForeignKey("clauses.id"), primary_key=True)


class Topic(Base):
    __tablename__ = "topics"
    id = Column(String(64), primary_key=True)
    intent = Column(String(96), nullable=False, unique=True)
    verdict = Column(String(32), nullable=False)
    description = Column(Text, nullable=False)
    titles = Column(JSON, nullable=False)  # {lang: short title}, for buttons
    leads = Column(JSON, nullable=False)
    follow_up = Column(String(96))  # an intent offered as a button after the answer
    position = Column(Integer, nullable=False)


class TopicClause(Base):
    __tablename__ = "topic_clauses"
    topic_id = Column(String(64), ForeignKey("topics.id"), primary_key=True)
    clause_id = Column(String(64), ForeignKey("clauses.id"), primary_key=True)
    rank = Column(Integer, nullable=False)


class Product(Base):
    """One version of one product (contract §3): its segment and support dates.

    Natural key (product, version); a null end_of_support means still supported.
    """

    __tablename__ = "products"
    product = Column(String(200), primary_key=True)
    version = Column(String(64), primary_key=True)
    segment = Column(String(16), nullable=False)
    released = Column(Date, nullable=False)
    end_of_support = Column(Date)
    __table_args__ = (
        CheckConstraint("segment IN ('home', 'business')", name="ck_products_segment"),
    )


class Licence(Base):
    """One licence key (stored upper case) for one product version."""

    __tablename__ = "licences"
    licence_key = Column(String(32), primary_key=True)
    product = Column(String(200), nullable=False)
    version = Column(String(64), nullable=False)
    holder = Column(Text, nullable=False)
    valid_until = Column(Date, nullable=False)
    __table_args__ = (
        ForeignKeyConstraint(
            ["product", "version"],
            ["products.product", "products.version"],
            name="fk_licences_product",
        ),
    )


class ServiceRequest(Base):
    """A paid-service request filed by the assistant (bot/service_requests/).

    `reference` is SR-YYYY-NNNNNN (year of filing in UTC, a sequence per year from
    service_request_counters); `idempotency_key` makes a doubled confirmation file
    one request. The licence key is stored in full because the team needs it, but
    is only ever shown masked. `service` is deliberately not a foreign key: the
    rule base tables are replaced on every `bot rulebase load`.
    """

    __tablename__ = "service_requests"
    id = Column(Integer, primary_key=True, autoincrement=True)
    reference = Column(String(16), nullable=False, unique=True)
    idempotency_key = Column(String(64), nullable=False, unique=True)
    service = Column(String(64), nullable=False)
    clause_id = Column(String(64))  # the clause that prompted it, when known
    queue = Column(String(32), nullable=False, index=True)
    status = Column(String(16), nullable=False, default="new", server_default="new")
    language = Column(String(2), nullable=False)
    conversation_id = Column(String(255), nullable=False, index=True)  # forget; insights
    name = Column(String(100), nullable=False)
    email = Column(String(254), nullable=False)
    company = Column(String(120))
    country = Column(String(2), nullable=False)
    licence_key = Column(String(32))  # upper case; never printed or logged in full
    licence_status = Column(String(16))  # valid | expired | unknown, when a key was given
    description = Column(Text, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)
    updated_at = Column(DateTime(timezone=True))
    webhook_status = Column(String(16), nullable=False, default="none", server_default="none")
    webhook_attempts = Column(Integer, nullable=False, default=0, server_default="0")
    webhook_error = Column(String(200))  # the last delivery failure (never the URL)
    __table_args__ = (
        CheckConstraint(
            "status IN ('new', 'in_progress', 'closed')", name="ck_service_requests_status"
        ),
        CheckConstraint(
            "webhook_status IN ('none', 'pending', 'delivered', 'failed')",
            name="ck_service_requests_webhook_status",
        ),
    )


class ServiceRequestCounter(Base):
    """The last sequence number handed out per year; updated in the filing transaction."""

    __tablename__ = "service_request_counters"
    year = Column(Integer, primary_key=True, autoincrement=False)
    last = Column(Integer, nullable=False)


class Feedback(Base):
    """A thumbs up or down on one bot answer, from the chat page (bot/feedback.py).

    `rule_ids` and `verdict` are the answer's contract payload; no foreign key to
    the clauses, because the rule base tables are replaced on every load.
    """

    __tablename__ = "feedback"
    id = Column(Integer, primary_key=True, autoincrement=True)
    created_at = Column(DateTime(timezone=True), nullable=False)
    sender = Column(String(255), nullable=False, index=True)
    rating = Column(String(4), nullable=False, index=True)
    question = Column(Text, nullable=False)
    answer = Column(Text, nullable=False)
    rule_ids = Column(JSON, nullable=False)
    verdict = Column(String(32))
    lang = Column(String(2), nullable=False)
    comment = Column(Text)
    __table_args__ = (CheckConstraint("rating IN ('up', 'down')", name="ck_feedback_rating"),)


class RequestDraft(Base):
    """A form's personal answers before filing (bot/privacy/drafts.py): the
    tracker store keeps only masked slots, so the real values live here, keyed
    by a hash of the conversation id. Deleted on filing, cancelling, and by
    retention (BOT_RETENTION_DAYS, by updated_at)."""

    __tablename__ = "request_drafts"
    conversation_hash = Column(String(64), primary_key=True)
    fields = Column(JSON, nullable=False)  # {field: value}, the values in full
    created_at = Column(DateTime(timezone=True), nullable=False)
    updated_at = Column(DateTime(timezone=True), nullable=False, index=True)


INBOX_STATUSES = ("new", "added", "ignored", "out_of_scope")


class InboxEntry(Base):
    """A user message the assistant may have misunderstood, for trainers
    (bot/training/inbox.py): one row per normalised text, however often it came.

    `text` is masked (bot/privacy/mask.py); `key` is a hash of the normalised
    text. The fields of the latest occurrence are copied here (intent,
    confidence, top three, rule ids, language, conversation) so a list needs no
    join; `reasons`, `count`, `first_seen` and `last_seen` sum up the
    occurrences. `status` moves from `new` exactly once (an UPDATE ... WHERE
    status = 'new', so of two trainers at once one wins)."""

    __tablename__ = "inbox"
    id = Column(Integer, primary_key=True, autoincrement=True)
    key = Column(String(64), nullable=False, unique=True)
    text = Column(Text, nullable=False)
    lang = Column(String(2), nullable=False, index=True)
    intent = Column(String(96))  # the model's top intent (not nlu_fallback); None: unknown
    confidence = Column(Float)
    ranking = Column(JSON, nullable=False)  # top three: [{"intent", "confidence"}]
    rule_ids = Column(JSON, nullable=False)  # the answer's clause ids
    reasons = Column(JSON, nullable=False)  # sorted, from inbox.REASONS
    suggestion = Column(String(96))  # the intent a click or a rephrasing pointed to
    count = Column(Integer, nullable=False)
    first_seen = Column(DateTime(timezone=True), nullable=False)
    last_seen = Column(DateTime(timezone=True), nullable=False, index=True)
    conversation_id = Column(String(255))  # the latest occurrence's, for context
    event_id = Column(Integer)  # its user event in the tracker store
    status = Column(String(16), nullable=False, default="new", server_default="new", index=True)
    assigned_intent = Column(String(96))  # for `added` and `out_of_scope`
    resolved_file = Column(Text)  # where the phrase was written
    resolved_at = Column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint(
            "status IN ('new', 'added', 'ignored', 'out_of_scope')", name="ck_inbox_status"
        ),
    )


class InboxOccurrence(Base):
    """One time an inbox text came in: a user event of the tracker store, or a
    thumbs-down that matched none. (sender, source) is unique, which makes the
    sync idempotent; retention and `forget` delete occurrences, and an entry
    left with none is deleted with them."""

    __tablename__ = "inbox_occurrences"
    id = Column(Integer, primary_key=True, autoincrement=True)
    entry_id = Column(Integer, ForeignKey("inbox.id", ondelete="CASCADE"), nullable=False)
    sender = Column(String(255), nullable=False, index=True)
    source = Column(String(64), nullable=False)  # "event:<id>" or "feedback:<id>"
    event_id = Column(Integer)
    seen_at = Column(DateTime(timezone=True), nullable=False, index=True)
    lang = Column(String(2), nullable=False)
    intent = Column(String(96))
    confidence = Column(Float)
    ranking = Column(JSON, nullable=False)
    rule_ids = Column(JSON, nullable=False)
    reasons = Column(JSON, nullable=False)
    suggestion = Column(String(96))
    __table_args__ = (UniqueConstraint("sender", "source", name="uq_inbox_occurrence_source"),)


class InboxCursor(Base):
    """How far the inbox sync has read each source (tracker events, feedback)."""

    __tablename__ = "inbox_cursors"
    source = Column(String(32), primary_key=True)
    position = Column(Integer, nullable=False)
    synced_at = Column(DateTime(timezone=True), nullable=False)


class InsightTurn(Base):
    """One user message, summarised from the tracker store for the team's figures
    (bot/insights/). Rows go with their conversation (retention, `forget`)."""

    __tablename__ = "insight_turns"
    event_id = Column(Integer, primary_key=True, autoincrement=False)  # tracker events.id
    sender = Column(String(255), nullable=False, index=True)
    at = Column(DateTime(timezone=True), nullable=False, index=True)
    week = Column(Date, nullable=False)  # the Monday of its ISO week
    lang = Column(String(2), nullable=False)  # the language it was answered in
    kind = Column(String(16), nullable=False)  # question | button | form
    intent = Column(String(96))
    confidence = Column(Float)
    fallback = Column(Boolean, nullable=False, default=False)  # an answer was a fallback
    # conversations of a period per language, from the index alone
    __table_args__ = (Index("ix_insight_turns_at_lang_sender", "at", "lang", "sender"),)


class InsightAnswer(Base):
    """One answer with the contract's payload (answer-contract.md §2)."""

    __tablename__ = "insight_answers"
    event_id = Column(Integer, primary_key=True, autoincrement=False)
    turn_id = Column(Integer, index=True)  # the user message it answered
    sender = Column(String(255), nullable=False, index=True)
    at = Column(DateTime(timezone=True), nullable=False, index=True)
    lang = Column(String(2), nullable=False)
    verdict = Column(String(32), nullable=False)
    kind = Column(String(16), nullable=False)  # topic | lookup | fallback | out_of_scope | info
    topic = Column(String(64))  # the rule base topic whose clauses it cited
    rule_ids = Column(Text, nullable=False)  # the payload's list, as JSON
    __table_args__ = (
        Index("ix_insight_answers_at_kind_lang_sender", "at", "kind", "lang", "sender"),
    )


class InsightForm(Base):
    """One run of the paid-service request form: where it ended."""

    __tablename__ = "insight_forms"
    id = Column(Integer, primary_key=True, autoincrement=True)
    event_id = Column(Integer, nullable=False, unique=True)  # the form's start
    sender = Column(String(255), nullable=False, index=True)
    at = Column(DateTime(timezone=True), nullable=False, index=True)
    lang = Column(String(2), nullable=False)
    outcome = Column(String(16), nullable=False)  # open | filed | cancelled | abandoned
    step = Column(String(32))  # the last field it asked for
    last_at = Column(DateTime(timezone=True), nullable=False)  # its latest event


class InsightSender(Base):
    """What the summary needs to remember of a conversation between two runs."""

    __tablename__ = "insight_senders"
    sender = Column(String(255), primary_key=True)
    turn_id = Column(Integer)  # its latest user message
    lang = Column(String(2))  # the language of its latest answer
    loop = Column(String(64))  # the form active now
    form_id = Column(Integer)  # its open insight_forms row
