"""One conversation's events into the summary's rows: a user message (its kind
and the language it was answered in), each answer (its category and topic), and
each run of the request form (where it ended, the field it last asked for)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot import db
from bot.insights.reading import SESSION_ENDS, lang_of, rule_ids, week_of, when, yes

REQUEST_FORM = "service_request_form"


@dataclass
class Batch:
    """What one batch adds or changes, before it is written in one transaction."""

    turns: int = 0
    answers: int = 0
    forms: int = 0


class ConversationRows:
    """One run: per-conversation state, read as each batch needs it."""

    def __init__(self, session: Session, topics: dict[tuple[str, ...], str]):
        self.session = session
        self.topics = topics
        self.states: dict[str, db.InsightSender] = {}
        self.forms: dict[str, db.InsightForm] = {}  # each conversation's latest form run
        self.turns: dict[int, db.InsightTurn] = {}  # the latest user message of each

    def preload(self, senders: set[str]) -> None:
        """What the batch's conversations left last time, in three queries, not
        one per conversation."""
        wanted = sorted(senders)
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            where = db.InsightSender.sender.in_(chunk)
            for state in self.session.scalars(sa.select(db.InsightSender).where(where)):
                self.states[state.sender] = state
        forms = [s.form_id for s in self.states.values() if s.form_id]
        turns = [s.turn_id for s in self.states.values() if s.turn_id]
        for i in range(0, len(forms), 500):
            query = sa.select(db.InsightForm).where(db.InsightForm.id.in_(forms[i : i + 500]))
            for form in self.session.scalars(query):
                self.forms[form.sender] = form
        for i in range(0, len(turns), 500):
            query = sa.select(db.InsightTurn).where(db.InsightTurn.event_id.in_(turns[i : i + 500]))
            for turn in self.session.scalars(query):
                self.turns[turn.event_id] = turn

    def finish(self) -> None:
        """New form runs get their ids: the conversations point at them."""
        self.session.flush()
        for sender, form in self.forms.items():
            self.states[sender].form_id = form.id

    def state(self, sender: str) -> db.InsightSender:
        found = self.states.get(sender)
        if found is None:
            found = db.InsightSender(sender=sender)
            self.session.add(found)
            self.states[sender] = found
        return found

    def turn(self, turn_id: int | None) -> db.InsightTurn | None:
        return self.turns.get(turn_id) if turn_id is not None else None

    def form(self, state: db.InsightSender) -> db.InsightForm | None:
        return self.forms.get(state.sender)

    def read(self, row: Any, batch: Batch) -> None:
        state = self.state(row.sender_id)
        at = when(row.timestamp)
        form = self.form(state)
        if form is not None and form.outcome == "open":
            form.last_at = at
        if row.type_name == "user":
            kind = "form" if state.loop else "button" if row.first == "/" else "question"
            # as the actions choose the reply's language (actions/conversation.py):
            # the page's choice, else a decisive detection outside a form's field,
            # else the conversation's so far; the answer's own language wins below
            detected = row.detected if kind != "form" and yes(row.decisive) else None
            lang = lang_of(row.explicit, detected, state.lang, row.detected)
            turn = db.InsightTurn(
                event_id=row.id,
                sender=row.sender_id,
                at=at,
                week=week_of(at),
                lang=lang,
                kind=kind,
                intent=(row.intent_name or None) and row.intent_name[:96],
                confidence=row.confidence,
                fallback=False,
            )
            self.session.add(turn)
            self.turns[row.id] = turn
            batch.turns += 1
            state.turn_id, state.lang = row.id, lang
        elif row.type_name == "bot" and row.verdict:
            self.answer(row, state, at, batch)
        elif row.type_name == "bot" and row.filed and form is not None:
            form.outcome = "filed"
        elif row.type_name == "active_loop":
            self.loop(row, state, at, batch)
        elif row.type_name == "slot" and form is not None and form.outcome == "open":
            if row.name == "requested_slot" and row.value:
                form.step = str(row.value)[:32]
        elif row.type_name in SESSION_ENDS:
            # a new session (or /restart) ends any form without an active_loop event
            if form is not None and form.outcome == "open":
                form.outcome = "abandoned"
            state.loop = None

    def answer(self, row: Any, state: db.InsightSender, at: dt.datetime, batch: Batch) -> None:
        lang = lang_of(row.answer_lang, state.lang)
        cited = rule_ids(row.rule_ids)
        turn = self.turn(state.turn_id)
        topic = None if row.lookup else self.topics.get(tuple(cited))
        if row.lookup:
            kind = "lookup"
        elif row.verdict == "fallback":
            kind = (
                "out_of_scope" if turn is not None and turn.intent == "out_of_scope" else "fallback"
            )
        else:
            kind = "topic" if topic else "other"
        self.session.add(
            db.InsightAnswer(
                event_id=row.id,
                turn_id=state.turn_id,
                sender=row.sender_id,
                at=at,
                lang=lang,
                verdict=str(row.verdict)[:32],
                kind=kind,
                topic=topic,
                rule_ids=json.dumps(cited),
            )
        )
        batch.answers += 1
        if turn is not None:
            turn.lang = lang  # the language it was answered in
            turn.fallback = turn.fallback or kind == "fallback"
        state.lang = lang

    def loop(self, row: Any, state: db.InsightSender, at: dt.datetime, batch: Batch) -> None:
        name = row.name or None
        if name == REQUEST_FORM and state.loop != REQUEST_FORM:
            form = db.InsightForm(
                event_id=row.id,
                sender=row.sender_id,
                at=at,
                lang=lang_of(state.lang),
                outcome="open",
                last_at=at,
            )
            self.session.add(form)
            self.forms[row.sender_id] = form  # its id, and the state's, at the end
            batch.forms += 1
        elif name is None and state.loop == REQUEST_FORM:
            ended = self.form(state)
            if ended is not None and ended.outcome == "open":
                # ended: cancelled unless the filing that follows says otherwise
                ended.outcome = "cancelled"
        state.loop = name
