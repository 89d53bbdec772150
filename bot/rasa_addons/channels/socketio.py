"""Rasa's socket.io channel, made to work with the pinned python-socketio and
standard widgets (rasa-webchat), and hardened (issue #15).

Listed in credentials.yml as `bot.rasa_addons.channels.socketio.SocketIOChannel:`
with the keys of Rasa's `socketio:`. What differs from rasa.core.channels.socketio:

- Rooms are really joined: `enter_room` is a coroutine since python-socketio
  5.10, and Rasa does not await it, so with session_persistence no reply arrived.
- What it sends is shaped for the widgets: bot/rasa_addons/channels/webchat_output.py.
- The session id is bound to the socket at session_request; an event's own
  `session_id` is ignored (holding someone's id does not get their replies).
- `customData.language` (rasa-webchat) is the page's language, like the chat
  page's `metadata.lang`; both are validated to en/nb/sv.
- Limits: allowed origins (BOT_ALLOWED_ORIGINS), message length
  (BOT_MAX_MESSAGE_CHARS), payload size, metadata (the REST channel's rules:
  bot.message_checks.check_metadata), a per-socket rate limit, and per client
  address (bot/address_limits.py, shared with REST and, through Redis, with the
  other replicas): open sockets (BOT_SOCKETS_PER_CLIENT; more are refused at
  connect with a reason) and messages (the REST channel's bucket). A message
  over a limit is answered with what was wrong and never reaches Rasa.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

from rasa.core.channels.channel import UserMessage, decode_bearer_token
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic_cors.core import SANIC_CORS_EVALUATED
from socketio import AsyncServer
from socketio.exceptions import ConnectionRefusedError as Refused

from bot import language, message_checks, settings
from bot.limits import RateLimiter, retry_after
from bot.messages import say
from bot.rasa_addons import nlu_pool
from bot.rasa_addons.channels.rest import Limits, app_limits, client_key, conversation
from bot.rasa_addons.channels.webchat_output import WebchatOutput
from bot.text import strip_controls

logger = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 16 * 1024  # one engine.io packet; far above 1,000 characters of text
RATE_PER_SECOND = 5.0  # token bucket per socket: sustained rate ...
RATE_BURST = 10  # ... and burst
DROP_AFTER = 0.2  # seconds between refusing a socket and closing its transport
# A client may resume a session only with an id as random-looking as ours
# (message_checks.new_sender; rasa-webchat's uuids pass): no "1" or a user's name.
RESUMABLE_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


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
        cfg = self.cfg = settings.load()
        self.allowed_origins = list(cfg.allowed_origins) or None  # None: same origin
        self.max_chars = cfg.max_message_chars
        self.sessions: dict[str, str] = {}  # socket id -> its session id
        self.addresses: dict[str, str] = {}  # socket id -> its client's limit key
        # per socket, the same token buckets as the REST channel (bot/limits.py)
        self.app: Any = None  # the Sanic app, once the server starts
        self.limiter = RateLimiter(RATE_PER_SECOND * 60, burst=RATE_BURST)
        self.explicit_lang: dict[str, str] = {}  # socket id -> the page's language
        self.reply_lang: dict[str, str] = {}  # socket id -> language of the last answer
        # socket id -> the language detected for the channel's own replies, once: a
        # socket refused again and again must not cost a detection each time
        self.detected_lang: dict[str, str] = {}

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
            if self.jwt_key:
                token = (auth or {}).get("token") if isinstance(auth, dict) else None
                if not (token and decode_bearer_token(token, self.jwt_key, self.jwt_algorithm)):
                    return False
            key = self._address(environ)
            if not await self._limits().client.open_socket(key, sid):
                logger.info("socket.io: an address over %d open sockets; refused", self.cap)
                # The refusal reaches the client first; then its transport is closed,
                # so a refused socket holds nothing here (nor waits on a long-poll).
                eio_sid = sio.manager.eio_sid_from_sid(sid, ns or "/")
                if eio_sid is not None:
                    sio.start_background_task(self._drop, eio_sid)
                raise Refused(f"too many connections from this address: at most {self.cap}")
            # Gone while the limits were asked (a hang-up mid-connect): socket.io then
            # calls no disconnect handler, so the socket is released here or never.
            eio_sid = sio.manager.eio_sid_from_sid(sid, ns or "/")
            if eio_sid is None or eio_sid not in sio.environ:
                await self._limits().client.close_socket(key, sid)
                return False
            self.addresses[sid] = key
            return True

        @sio.on("disconnect", namespace=ns)
        async def disconnect(sid: str, *_: Any) -> None:
            for state in (self.sessions, self.explicit_lang, self.reply_lang, self.detected_lang):
                state.pop(sid, None)
            key = self.addresses.pop(sid, None)
            if key is not None:
                await self._limits().client.close_socket(key, sid)

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
            if not (
                isinstance(wanted, str)
                and RESUMABLE_ID.fullmatch(wanted)
                and message_checks.private_sender(wanted)
            ):
                wanted = message_checks.new_sender()
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
            wait = self.limiter.hit(sid) or await self._limits().client.spend(
                self.addresses.get(sid, "unknown")
            )
            if wait:  # what REST answers with 429: this message is not read
                await self._say(sid, "too_many_messages", text, seconds=retry_after(wait))
                return
            try:
                metadata = self._metadata(sid, data)
            except message_checks.Refused as exc:
                logger.info("socket.io %s: metadata refused (%s)", sid, exc)
                await self._say(sid, "metadata_refused", text, reason=str(exc))
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
                metadata=metadata,
            )
            client_set = nlu_pool.CLIENT.set(self.addresses.get(sid))  # its turns' client
            try:
                await on_new_message(message)
            except nlu_pool.Busy as busy:  # not parsed, nothing stored: as the rate limit
                await self._say(sid, "too_many_messages", text, seconds=retry_after(busy.wait))
                return
            finally:
                nlu_pool.CLIENT.reset(client_set)
                await output.flush()
            if output.lang:
                self.reply_lang[sid] = output.lang

        return webhook

    # ------------------------------------------------------------ limits

    @property
    def cap(self) -> int:
        return self.cfg.sockets_per_client

    def _limits(self) -> Limits:
        """The server's limits, which the REST channel spends too (one app per server)."""
        if self.app is None:  # never started by Sanic: limits of its own
            self.app = SimpleNamespace(ctx=SimpleNamespace())
        return app_limits(self.app, self.cfg)

    async def _drop(self, eio_sid: str) -> None:
        assert self.sio is not None
        await self.sio.sleep(DROP_AFTER)
        await self.sio.eio.disconnect(eio_sid)

    def _address(self, environ: dict[str, Any]) -> str:
        """The limit key of the client that opened the socket (the handshake's peer,
        or a trusted proxy's X-Forwarded-For: bot/client_address.py)."""
        request = environ.get("sanic.request")
        if request is not None:
            if self.app is None:  # before_server_start did not run (an embedding server)
                self.app = request.app
            return client_key(request, self.cfg)
        return environ.get("REMOTE_ADDR") or "unknown"

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
        bound = self.sessions.get(sid) or await self._bind(sid, message_checks.new_sender())
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
            except (ValueError, RecursionError):
                raw = None
        return dict(raw) if isinstance(raw, dict) else {}

    def _metadata(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """The client's metadata, checked as the REST channel checks it (else
        message_checks.Refused), with `lang` valid or absent; customData.language
        (this event's, or the one the socket sent before) stands in for it."""
        raw = data.get(self.metadata_key or "metadata")
        if isinstance(raw, str):  # a JSON string, as some widgets send it
            try:
                raw = json.loads(raw)
            except (ValueError, RecursionError):
                raise message_checks.Refused(400, "metadata must be a JSON object") from None
        metadata = dict(message_checks.check_metadata(raw) or {})
        metadata.pop("lang", None)
        lang = self._event_language(data) or self.explicit_lang.get(sid)
        return {**metadata, "lang": lang} if lang else metadata

    def _user_language(self, sid: str, text: str = "") -> str:
        """For the channel's own replies: the page's choice, else the last answer's
        language, else a detection of the message (its start is enough), else English."""
        known = (
            self.explicit_lang.get(sid) or self.reply_lang.get(sid) or self.detected_lang.get(sid)
        )
        if known:
            return known
        if not text.strip():
            return "en"
        self.detected_lang[sid] = language.detect(text[:300]).lang
        return self.detected_lang[sid]

    def _number(self, sid: str, text: str) -> str:
        grouped = f"{self.max_chars:,}"
        return grouped if self._user_language(sid, text) == "en" else grouped.replace(",", "\u00a0")

    async def _say(self, sid: str, key: str, text: str = "", **values: object) -> None:
        assert self.sio is not None
        reply = say(key, self._user_language(sid, text), **values)
        await self.sio.emit(
            self.bot_message_evt, {"text": reply}, room=sid, namespace=self.namespace
        )
