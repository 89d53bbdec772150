"""Rasa's socket.io channel, made to work with the pinned python-socketio and
standard widgets (rasa-webchat), and hardened (issue #15).

Listed in credentials.yml as `bot.rasa_addons.channels.socketio.SocketIOChannel:`
with the keys of Rasa's `socketio:`. What differs from rasa.core.channels.socketio:

- Rooms are really joined: `enter_room` is a coroutine since python-socketio
  5.10, and Rasa does not await it, so with session_persistence no reply arrived.
- One `bot_uttered` per bot message: {"text", "quick_replies"?, "metadata"?}, the
  custom JSON (the contract's {"answer": ...}) under `metadata`. rasa-webchat
  strips `metadata` before it picks a renderer and drops a message with any other
  extra key; Rasa spread the custom JSON into `emit(**payload)` (a TypeError that
  lost the turn). Only `quick_replies`, never `buttons` too: webchat renders
  buttons only for exactly two keys, text and one of them.
- A turn's messages are emitted after the turn (the tracker is saved by then),
  so a custom-only message can join the text message before or after it.
- The session id is bound to the socket at session_request; an event's own
  `session_id` is ignored (holding someone's id does not get their replies).
- `customData.language` (rasa-webchat) is the page's language, like the chat
  page's `metadata.lang`; both are validated to en/nb/sv.
- Limits: allowed origins (BOT_ALLOWED_ORIGINS), message length
  (BOT_MAX_MESSAGE_CHARS), payload size, and a per-socket rate limit.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage, decode_bearer_token
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic_cors.core import SANIC_CORS_EVALUATED
from socketio import AsyncServer

from bot import language, message_checks, settings
from bot.contract import LANGS
from bot.limits import RateLimiter
from bot.messages import say
from bot.rasa_addons.channels.rest import conversation
from bot.text import strip_controls

logger = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 16 * 1024  # one engine.io packet; far above 1,000 characters of text
RATE_PER_SECOND = 5.0  # token bucket per socket: sustained rate ...
RATE_BURST = 10  # ... and burst
# A client may resume a session only with an id shaped like ours (uuid4 hex, or a
# uuid with dashes): no short, guessable ids such as "1" or a user's name.
RESUMABLE_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


def widget_messages(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Rasa's bot message as the bot_uttered events a standard widget renders."""
    shaped: dict[str, Any] = {}
    if message.get("text"):
        # Widgets render text as Markdown, which joins single lines (our bullet
        # lists); a trailing double space keeps the line break, and is invisible.
        shaped["text"] = message["text"].replace("\n", "  \n")
    buttons = message.get("buttons") or message.get("quick_replies")
    if buttons:
        shaped.setdefault("text", "")
        shaped["quick_replies"] = [
            {"content_type": "text", "title": b.get("title"), "payload": b.get("payload")}
            for b in buttons
        ]
    custom = message.get("custom")
    if custom:
        shaped["metadata"] = custom if isinstance(custom, dict) else {"custom": custom}
    out = [shaped] if shaped else []
    if message.get("image"):
        out.append({"attachment": {"type": "image", "payload": {"src": message["image"]}}})
    if message.get("attachment"):
        out.append({"attachment": message["attachment"]})
    for element in message.get("elements") or []:
        payload = {"template_type": "generic", "elements": element}
        out.append({"attachment": {"type": "template", "payload": payload}})
    return out


def merge_turn(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A custom-only message joins the text message before it (or else after it)
    of the same turn; webchat would show `String(undefined)` for it alone."""
    merged: list[dict[str, Any]] = []
    waiting: list[dict[str, Any]] = []  # metadata with no free text message before it
    for message in messages:
        if set(message) == {"metadata"}:
            last = merged[-1] if merged else {}
            if "text" in last and "metadata" not in last:
                last["metadata"] = message["metadata"]
            else:
                waiting.append(message["metadata"])
            continue
        if waiting and "text" in message and "metadata" not in message:
            message["metadata"] = waiting.pop(0)
        merged.append(message)
    return merged + [{"text": "", "metadata": metadata} for metadata in waiting]


class WebchatOutput(SocketIOOutput):
    """Collects a turn's messages; `flush` emits them. Outside a turn (messages the
    HTTP API triggers), `buffered=False` emits each message at once."""

    def __init__(self, sio: AsyncServer, event: str, namespace: str | None, buffered: bool):
        super().__init__(sio, event)
        self.namespace = namespace
        self.pending: list[tuple[str, dict[str, Any]]] | None = [] if buffered else None
        self.lang: str | None = None  # the language of the last answer sent

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        shaped = widget_messages(message)
        if self.pending is None:
            await self._emit(recipient_id, merge_turn(shaped))
        else:
            self.pending += [(recipient_id, m) for m in shaped]

    async def flush(self) -> None:
        pending, self.pending = self.pending or [], []
        for recipient in dict.fromkeys(r for r, _ in pending):
            await self._emit(recipient, merge_turn([m for r, m in pending if r == recipient]))

    async def _emit(self, room: str, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            answer = message.get("metadata", {}).get("answer")
            if isinstance(answer, dict) and answer.get("lang") in LANGS:
                self.lang = answer["lang"]
            await self.sio.emit(self.bot_message_evt, message, room=room, namespace=self.namespace)


class _Blueprint(SocketBlueprint):
    def register(self, app: Sanic, options: dict[str, Any]) -> None:
        super().register(app, options)
        path = self.ctx.socketio_path.rstrip("/")

        # engine.io checks the Origin and sets Access-Control-Allow-Origin itself;
        # Rasa's --cors (sanic-cors) would add a second one, which browsers reject.
        async def engineio_owns_cors(request: Request) -> None:
            if request.path.rstrip("/") == path:
                setattr(request.ctx, SANIC_CORS_EVALUATED, "1")

        app.register_middleware(engineio_owns_cors, "request")


class SocketIOChannel(SocketIOInput):
    """Rasa's socket.io input channel with the fixes and limits above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = settings.load()
        self.allowed_origins = list(cfg.allowed_origins) or None  # None: same origin
        self.max_chars = cfg.max_message_chars
        self.sessions: dict[str, str] = {}  # socket id -> its session id
        # per socket, the same token buckets as the REST channel (bot/limits.py)
        self.app: Any = None  # the Sanic app, once the server starts
        self.limiter = RateLimiter(RATE_PER_SECOND * 60, burst=RATE_BURST)
        self.explicit_lang: dict[str, str] = {}  # socket id -> the page's language
        self.reply_lang: dict[str, str] = {}  # socket id -> language of the last answer

    def get_output_channel(self) -> WebchatOutput | None:
        if self.sio is None:
            return super().get_output_channel()  # warns
        return WebchatOutput(self.sio, self.bot_message_evt, self.namespace, buffered=False)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = AsyncServer(
            async_mode="sanic",
            cors_allowed_origins=self.allowed_origins,
            max_http_buffer_size=MAX_PAYLOAD_BYTES,
        )
        self.sio = sio
        webhook = _Blueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        ns = self.namespace

        @webhook.listener("before_server_start")
        async def remember_app(app: Any, _loop: Any) -> None:
            self.app = app  # its agent knows which buttons each conversation was offered

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=ns)
        async def connect(sid: str, environ: dict, auth: dict | None = None) -> bool:
            if not self.jwt_key:
                return True
            token = (auth or {}).get("token") if isinstance(auth, dict) else None
            return bool(token and decode_bearer_token(token, self.jwt_key, self.jwt_algorithm))

        @sio.on("disconnect", namespace=ns)
        async def disconnect(sid: str, *_: Any) -> None:
            for state in (self.sessions, self.explicit_lang, self.reply_lang):
                state.pop(sid, None)

        @sio.on("session_request", namespace=ns)
        async def session_request(sid: str, data: Any = None) -> None:
            data = {} if data is None else data
            if not isinstance(data, dict):
                logger.warning("socket.io: session_request from %s is not an object; ignored", sid)
                return
            if self.limiter.hit(sid):
                return
            self._remember_language(sid, data)
            wanted = data.get("session_id")
            if not (isinstance(wanted, str) and RESUMABLE_ID.fullmatch(wanted)):
                wanted = uuid.uuid4().hex
            session_id = await self._bind(sid, wanted)
            await sio.emit("session_confirm", session_id, room=sid, namespace=ns)

        @sio.on(self.user_message_evt, namespace=ns)
        async def handle_message(sid: str, data: Any = None) -> None:
            if not isinstance(data, dict) or not isinstance(data.get("message", ""), str):
                logger.warning(
                    "socket.io: a message from %s is not an object with text; ignored", sid
                )
                return
            text = strip_controls(data.get("message", ""), multiline=True)
            self._remember_language(sid, data)
            if self.limiter.hit(sid):
                await self._say(sid, "slow_down")
                return
            if len(text) > self.max_chars:
                await self._say(sid, "message_too_long", text, limit=self._number(sid, text))
                return
            sender_id = await self._sender(sid, data)
            if text.startswith("/"):  # as on the REST channel: only offered payloads run
                offered, intents, _ = await conversation(self.app, sender_id)
                if not message_checks.intent_allowed(text, offered, intents):
                    logger.info("socket.io %s: an intent payload the bot did not offer", sid)
                    await self._say(sid, "fallback_no_options", text)
                    return
            output = WebchatOutput(sio, self.bot_message_evt, ns, buffered=True)
            message = UserMessage(
                text,
                output,
                sender_id,
                input_channel=self.name(),
                metadata=self._metadata(sid, data),
            )
            try:
                await on_new_message(message)
            finally:
                await output.flush()
            if output.lang:
                self.reply_lang[sid] = output.lang

        return webhook

    # ------------------------------------------------------------ sessions

    async def _bind(self, sid: str, session_id: str) -> str:
        """Put the socket in the session's room (replies go to the room)."""
        assert self.sio is not None
        old = self.sessions.get(sid)
        if old and old != session_id:
            await self.sio.leave_room(sid, old, namespace=self.namespace)
        if self.session_persistence:
            await self.sio.enter_room(sid, session_id, namespace=self.namespace)
        self.sessions[sid] = session_id
        return session_id

    async def _sender(self, sid: str, data: dict[str, Any]) -> str:
        """The session bound to this socket; a socket that never asked gets a new one."""
        if not self.session_persistence:
            return sid
        bound = self.sessions.get(sid) or await self._bind(sid, uuid.uuid4().hex)
        claimed = data.get("session_id")
        if claimed and claimed != bound:
            logger.warning("socket.io: %s sent a session_id it is not bound to; ignored", sid)
        return bound

    # ------------------------------------------------------------ language

    def _remember_language(self, sid: str, data: dict[str, Any]) -> None:
        lang = self._event_language(data)
        if lang:
            self.explicit_lang[sid] = lang

    def _event_language(self, data: dict[str, Any]) -> str | None:
        metadata = self._raw_metadata(data)
        custom = data.get("customData")
        return language.normalise(metadata.get("lang")) or language.normalise(
            custom.get("language") if isinstance(custom, dict) else None
        )

    def _raw_metadata(self, data: dict[str, Any]) -> dict[str, Any]:
        raw = data.get(self.metadata_key or "metadata")
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raw = None
        return dict(raw) if isinstance(raw, dict) else {}

    def _metadata(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """The client's metadata with `lang` valid or absent; customData.language
        (this event's, or the one the socket sent before) stands in for it."""
        metadata = self._raw_metadata(data)
        metadata.pop("lang", None)
        lang = self._event_language(data) or self.explicit_lang.get(sid)
        return {**metadata, "lang": lang} if lang else metadata

    def _user_language(self, sid: str, text: str = "") -> str:
        """For the channel's own replies: the page's choice, else the last answer's
        language, else a detection of the message (its start is enough), else English."""
        known = self.explicit_lang.get(sid) or self.reply_lang.get(sid)
        if known:
            return known
        return language.detect(text[:300]).lang if text.strip() else "en"

    def _number(self, sid: str, text: str) -> str:
        grouped = f"{self.max_chars:,}"
        return grouped if self._user_language(sid, text) == "en" else grouped.replace(",", "\u00a0")

    async def _say(self, sid: str, key: str, text: str = "", **values: object) -> None:
        assert self.sio is not None
        reply = say(key, self._user_language(sid, text), **values)
        await self.sio.emit(
            self.bot_message_evt, {"text": reply}, room=sid, namespace=self.namespace
        )
