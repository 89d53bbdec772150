"""Conversations written into a tracker store table as Rasa 3.6 writes them
(the event shapes were read from a real server's store: parse_data with the
language detector's output, nlu_fallback first in the ranking, the answer
payload and buttons in a bot event's data), and a small training data folder.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

from bot import db, tracker_events

NOW = dt.datetime.now(dt.timezone.utc)

# a small data/nlu: the examples the inbox must never list, and intents to assign to
NLU_FILES = {
    "en/disinfection.yml": (
        'version: "3.1"\n'
        "nlu:\n"
        "# removing malware for the customer\n"
        "- intent: scope_disinfection\n"
        "  examples: |\n"
        "    - can you disinfect my PC?\n"
        "    - please remove the virus from my computer\n"
        "    - will support clean my laptop of malware\n"
    ),
    "en/hardware_faults.yml": (
        'version: "3.1"\n'
        "nlu:\n"
        "- intent: scope_hardware_faults\n"
        "  examples: |\n"
        "    - my hard drive is failing, can you help\n"
        "    - is a broken graphics card covered by support\n"
    ),
    "en/out_of_scope.yml": (
        'version: "3.1"\n'
        "nlu:\n"
        "- intent: out_of_scope\n"
        "  examples: |\n"
        "    - what's the weather like tomorrow\n"
        "    - tell me a joke\n"
    ),
    "nb/disinfection.yml": (
        'version: "3.1"\n'
        "nlu:\n"
        "- intent: scope_disinfection\n"
        "  examples: |\n"
        "    - kan dere fjerne virus fra PC-en min?\n"
    ),
}
EVAL_CSV = (
    "lang,intent,text\nen,scope_disinfection,Could you get rid of the trojan on my machine?\n"
)


def make_nlu(root: Path) -> tuple[Path, Path]:
    """(data/nlu, an evaluation set) under `root`."""
    nlu = root / "data" / "nlu"
    for rel, text in NLU_FILES.items():
        path = nlu / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    heldout = root / "eval" / "heldout.csv"
    heldout.parent.mkdir(parents=True, exist_ok=True)
    heldout.write_text(EVAL_CSV, encoding="utf-8")
    return nlu, heldout


def copy_nlu(source: Path, root: Path) -> Path:
    target = root / "data" / "nlu"
    shutil.copytree(source, target)
    return target


class Conversation:
    """Appends events of one conversation to the tracker store table."""

    def __init__(self, url: str, sender: str, start: dt.datetime | None = None):
        self.url, self.sender = url, sender
        self.clock = (start or NOW - dt.timedelta(minutes=30)).timestamp()
        tracker_events.TRACKER_METADATA.create_all(db.engine_for(url))

    def _add(self, kind: str, data: dict[str, Any], **columns: Any) -> int:
        data = {"event": kind, "timestamp": self.clock, **data}
        with db.engine_for(self.url).begin() as conn:
            result = conn.execute(
                tracker_events.EVENTS.insert().values(
                    sender_id=self.sender,
                    type_name=kind,
                    timestamp=self.clock,
                    data=json.dumps(data),
                    **columns,
                )
            )
            return int(result.inserted_primary_key[0])

    def wait(self, seconds: float) -> Conversation:
        self.clock += seconds
        return self

    def user(
        self,
        text: str,
        ranking: list[tuple[str, float]],
        *,
        lang: str = "en",
        decisive: bool = True,
        fallback: bool = False,
    ) -> int:
        """A typed message (or a payload) and the NLU's ranking of it."""
        self.wait(1)
        ranked = [{"name": n, "confidence": c} for n, c in ranking]
        intent = ranked[0] if ranked else {"name": None, "confidence": 0.0}
        if fallback:
            intent = {"name": "nlu_fallback", "confidence": 0.3}
            ranked = [intent, *ranked]
        parse: dict[str, Any] = {
            "intent": intent,
            "entities": [],
            "text": text,
            "intent_ranking": ranked,
        }
        if not text.startswith("/"):
            parse["language"] = {
                "detected": lang,
                "confidence": 0.9 if decisive else 0.4,
                "decisive": decisive,
                "explicit": None,
            }
        self._add("action", {"name": "action_listen"}, action_name="action_listen")
        return self._add(
            "user",
            {"text": text, "parse_data": parse, "input_channel": "rest", "metadata": {}},
            intent_name=intent["name"],
        )

    def bot(
        self,
        text: str = "An answer.",
        *,
        rule_ids: tuple[str, ...] = (),
        verdict: str = "included",
        lang: str = "en",
        buttons: tuple[str, ...] = (),
    ) -> int:
        self.wait(0.2)
        data = {
            "elements": None,
            "quick_replies": None,
            "buttons": [{"title": b, "payload": b} for b in buttons] or None,
            "attachment": None,
            "image": None,
            "custom": {"answer": {"rule_ids": list(rule_ids), "verdict": verdict, "lang": lang}},
        }
        return self._add("bot", {"text": text, "data": data, "metadata": {}})

    def form(self, name: str | None) -> None:
        self._add("active_loop", {"name": name})

    def fallback(self, text: str, ranking: list[tuple[str, float]], lang: str = "en") -> int:
        """A message that fell back, and the bot's "did you mean" reply."""
        event = self.user(text, ranking, lang=lang, fallback=True)
        self.bot(
            "Could you say it another way?",
            verdict="fallback",
            lang=lang,
            buttons=tuple(f"/{name}" for name, _ in ranking[:3]),
        )
        return event
