"""What a message from a public website must look like before Rasa sees it.

No Rasa, no Sanic: bot/rasa_addons/channels/rest.py turns a request into a
`Message` with `parse`, or into a 4xx from `Refused`; any other channel can
apply the same rules. Three decisions live here:

- the body: at most `max_bytes`, UTF-8, one JSON object; `sender` required,
  1-64 characters of [A-Za-z0-9_.:-] (a missing sender used to become Rasa's
  "default", one conversation shared by every such client); `message` a
  non-empty string, control characters removed (NUL and lone surrogates break
  trackers and JSON encoders); `metadata` absent or a JSON object of the keys
  clients send (`check_metadata`: `lang`, `detail`, strings, 1 KB at most: the
  tracker store masks every string of it on the event loop when it saves);
- `reply_language`: the language to refuse or cap a message in, without NLU;
- `intent_allowed`: a "/intent{...}" payload skips NLU and can set slots
  directly, so it is taken only when it is a button the bot itself offered in
  this conversation, or a bare "/intent" of the domain (what the bot's own
  topic buttons send). Anything else gets the fallback phrase and is never run.

The HTTP API's NLU routes are behind the API token but bounded all the same
(`runs_nlu`, `text_too_long`: bot/rasa_addons/patches.py refuses them with 413).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from bot import language
from bot.contract import DEFAULT_LANG
from bot.text import strip_controls

SENDER = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
SENDER_RULE = "1-64 characters of A-Z, a-z, 0-9, _ . : -"
# What clients put in metadata: the page's language (the chat page, rasa-webchat's
# callers, REST clients) and `bot ask --full`'s "detail": "full" (actions/conversation.py).
METADATA_KEYS = ("lang", "detail")
MAX_METADATA_BYTES = 1024  # as UTF-8 JSON; a language code and a word need a few dozen
DETECT_PREFIX = 200  # characters: enough to tell en/nb/sv, cheap on any length
INTENT_PREFIX = "/"
BARE_INTENT = re.compile(r"/([A-Za-z_][A-Za-z0-9_]{0,99})")
# Rasa's own control intents: they steer the dialogue machinery, no button sends them.
CONTROL_INTENTS = frozenset({"session_start", "restart", "back", "nlu_fallback"})


class Refused(ValueError):
    """A request the channel answers with `status` and {"error": str(self)}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Message:
    sender: str
    text: str
    metadata: dict[str, Any] | None
    too_long: bool  # over max_chars as sent: answered at once, never parsed

    @property
    def lang(self) -> str | None:
        """The client's metadata.lang, when it names one of ours."""
        return language.normalise((self.metadata or {}).get("lang"))

    @property
    def is_intent(self) -> bool:
        return self.text.startswith(INTENT_PREFIX)


def valid_sender(value: object) -> bool:
    return isinstance(value, str) and SENDER.fullmatch(value) is not None


PRIVATE_SENDER_CHARS = 16  # the chat page's ids are 24, rasa-webchat's uuids 36
PRIVATE_SENDER_DISTINCT = 8  # a random 16 has ~13; "aaaa…" or "abababab…" has 1-2


def private_sender(sender: str) -> bool:
    """Whether a conversation id looks too random for anyone else to guess.

    REST takes any valid id (answer-contract.md §4), and the id is all that
    names a conversation: whoever sends "me" continues the conversation "me".
    A paid-service request holds a name and an e-mail address, so the form
    runs only in a conversation whose id passes this (actions/service_request.py).
    Randomness cannot be proven from one string; this refuses what is surely
    not random: short ids, names and counters without digits or letters, and
    ids of a few characters repeated."""
    return (
        len(sender) >= PRIVATE_SENDER_CHARS
        and len(set(sender)) >= PRIVATE_SENDER_DISTINCT
        and any(c.isdigit() for c in sender)
        and any(c.isalpha() for c in sender)
    )


NEW_SENDER_BYTES = 18  # 144 random bits: 24 characters of token_urlsafe


def new_sender() -> str:
    """A conversation id no client guesses (the chat page's session, a socket
    that never asked for one); drawn again in the rare case (1 in 60) it lacks
    a digit, so that every id issued here can hold a request."""
    while True:
        sender = secrets.token_urlsafe(NEW_SENDER_BYTES)
        if private_sender(sender):
            return sender


def check_sender(value: object) -> str:
    """The conversation id, or Refused (400) in the words every route uses for it
    (REST, the chat page's feedback)."""
    if value is None or value == "":
        raise Refused(400, "sender is required: an id for the conversation")
    if not valid_sender(value):
        raise Refused(400, f"sender must be a string of {SENDER_RULE}")
    return str(value)


def check_metadata(metadata: object) -> dict[str, Any] | None:
    """A message's metadata if a client may send it (absent: None), else Refused
    (400) saying what is wrong. Shared by REST and socket.io."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise Refused(400, "metadata must be a JSON object")
    try:  # "\ud800" is valid JSON but no valid text: refuse it before it is stored
        size = len(json.dumps(metadata, ensure_ascii=False).encode("utf-8"))
    except UnicodeEncodeError:
        raise Refused(400, "metadata holds invalid Unicode") from None
    except (TypeError, ValueError, RecursionError):
        raise Refused(400, "metadata must be plain JSON") from None
    if size > MAX_METADATA_BYTES:
        raise Refused(400, f"metadata is larger than {MAX_METADATA_BYTES} bytes")
    allowed = ", ".join(METADATA_KEYS)
    for key, value in metadata.items():
        if key not in METADATA_KEYS:
            raise Refused(400, f"metadata may hold only {allowed}; {key!r} is not one of them")
        if value is not None and not isinstance(value, str):
            raise Refused(400, f"metadata.{key} must be a string")
    return metadata


def load_object(
    raw: bytes, max_bytes: int, shape: str = '{"sender": ID, "message": TEXT}'
) -> dict[str, Any]:
    """The body as a JSON object, or Refused (413 too large, 400 anything else);
    `shape` is what the 400 says was expected."""
    if len(raw) > max_bytes:
        raise Refused(413, f"the request body is larger than {max_bytes} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the request body is not UTF-8") from None
    try:
        body = json.loads(text) if text.strip() else None
    except (ValueError, RecursionError):
        raise Refused(400, "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise Refused(400, f"expected a JSON object: {shape}")
    return body


def parse(raw: bytes, max_bytes: int, max_chars: int) -> Message:
    """The message of a REST body, or Refused. A text over max_chars (as sent)
    is kept only as a prefix, enough to tell its language."""
    body = load_object(raw, max_bytes)
    sender = check_sender(body.get("sender"))
    text = body.get("message")
    if text is None:
        raise Refused(400, "message is required")
    if not isinstance(text, str):
        raise Refused(400, "message must be a string")
    metadata = check_metadata(body.get("metadata"))
    too_long = len(text) > max_chars
    cleaned = strip_controls(text[: 2 * DETECT_PREFIX] if too_long else text, multiline=True)
    if not cleaned and not too_long:
        raise Refused(400, "message is empty")
    return Message(sender, cleaned, metadata, too_long)


def text_too_long(body: object, max_chars: int) -> bool:
    """Does a body of Rasa's HTTP API that is parsed by NLU (POST /model/parse,
    POST /conversations/<id>/messages) carry a `text` over max_chars? Rasa takes
    a string or, with an emulator, a list of them; anything else is Rasa's to refuse."""
    value = body.get("text") if isinstance(body, dict) else None
    values = value if isinstance(value, list) else [value]
    return any(isinstance(v, str) and len(v) > max_chars for v in values)


def runs_nlu(method: str, path: str) -> bool:
    """The HTTP API routes that run NLU on a text in the body."""
    if method != "POST":
        return False
    path = path.rstrip("/")
    return path == "/model/parse" or (
        path.startswith("/conversations/") and path.endswith("/messages")
    )


def reply_language(message: Message, previous: str | None = None) -> str:
    """metadata.lang, else the conversation's language, else a detection on the
    first DETECT_PREFIX characters when it is decisive, else English."""
    if message.lang:
        return message.lang
    if previous:
        return language.normalise(previous) or DEFAULT_LANG
    detection = language.detect(message.text[:DETECT_PREFIX])
    return detection.lang if detection.decisive else DEFAULT_LANG


def intent_allowed(text: str, offered: Iterable[str], intents: Collection[str]) -> bool:
    """May this "/..." payload go to Rasa? Yes if it is exactly a payload the bot
    offered, or a bare "/intent" (no entities, no confidence) of the domain."""
    payload = text.strip()
    if payload in set(offered):
        return True
    bare = BARE_INTENT.fullmatch(payload)
    return bare is not None and bare.group(1) in intents and bare.group(1) not in CONTROL_INTENTS


def offered_payloads(bot_events: Iterable[dict[str, Any]]) -> list[str]:
    """The button payloads in these bot events (tracker "bot" events, their data)."""
    found: list[str] = []
    for event in bot_events:
        data = event.get("data") or {}
        buttons = data.get("buttons") if isinstance(data, dict) else None
        for button in buttons or []:
            if isinstance(button, dict) and isinstance(button.get("payload"), str):
                found.append(button["payload"].strip())
    return found
