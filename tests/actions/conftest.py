"""Action unit tests, built as Rasa's own demos build them: a tracker from its
JSON form (`Tracker.from_dict`), a `CollectingDispatcher`, and the action's
`run` called directly, against a real SQLite database holding the rule base."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot import db, rulebase

# random-looking, as the chat page's are: a guessable id takes no request
SENDER = "test-user-7f3a9c2e51d84b06"


@pytest.fixture(scope="module")
def rulebase_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('actions') / 'bot.db'}"
    db.upgrade(url)
    rulebase.load(url)
    yield url
    db.engine_for(url).dispose()


@pytest.fixture
def bot_db(rulebase_db: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The actions read BOT_DATABASE_URL, as in the action server."""
    monkeypatch.setenv("BOT_DATABASE_URL", rulebase_db)
    return rulebase_db


def language_info(detected: str, *, decisive: bool = True, explicit: str | None = None) -> dict:
    """What the pipeline's LanguageDetector puts on a parsed message."""
    return {
        "detected": detected,
        "confidence": 0.95,
        "scores": {"en": 0.0, "nb": 0.0, "sv": 0.0, detected: 0.95},
        "decisive": decisive,
        "explicit": explicit,
    }


def tracker(
    text: str,
    intent: str,
    *,
    lang: str = "en",
    decisive: bool = True,
    explicit: str | None = None,
    ranking: list[tuple[str, float]] | None = None,
    slots: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    active_loop: str | None = None,
) -> Tracker:
    """A tracker whose latest user message is `text`, classified as `intent`."""
    ranking = ranking or [(intent, 0.9)]
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": ranking[0][1]},
        "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
        "entities": [],
        "language": language_info(lang, decisive=decisive, explicit=explicit),
    }
    events = [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": latest, "metadata": metadata or {}},
    ]
    state = {
        "sender_id": SENDER,
        "slots": {"language": None, "requested_slot": None, **(slots or {})},
        "latest_message": latest,
        "events": events,
        "active_loop": {"name": active_loop} if active_loop else {},
        "latest_action_name": "action_listen",
    }
    return Tracker.from_dict(state)  # type: ignore[arg-type]


@dataclass
class Ran:
    """What an action sent and returned."""

    messages: list[dict[str, Any]]
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(m.get("text") or "" for m in self.messages)

    @property
    def answer(self) -> dict[str, Any]:
        payloads = [
            m["custom"]["answer"] for m in self.messages if "answer" in (m.get("custom") or {})
        ]
        assert len(payloads) == 1, self.messages
        return payloads[0]

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [b for m in self.messages for b in m.get("buttons") or []]

    def slot(self, name: str) -> Any:
        values = [e["value"] for e in self.events if e.get("event") == "slot" and e["name"] == name]
        assert values, f"no SlotSet({name!r}) in {self.events}"
        return values[-1]


def run(action: Action, tracker: Tracker, domain: dict | None = None) -> Ran:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, domain or {}))
    return Ran(dispatcher.messages, list(events or []))
