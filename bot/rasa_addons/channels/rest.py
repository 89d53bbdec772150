"""Rasa's REST channel, bounded for a public website.

Listed in credentials.yml as `bot.rasa_addons.channels.rest.RestChannel:`; its
name is still "rest", so the URL stays POST /webhooks/rest/webhook with
{"sender": ID, "message": TEXT, "metadata": {...}} and the reply is the list
of bot messages (answer-contract.md §4). What it adds to Rasa's RestInput:

- 429 + Retry-After per client address and per sender (bot/limits.py); the
  address's bucket is shared with the chat routes and socket.io, and with the
  other replicas through Redis (bot/address_limits.py); the address is the
  peer, or X-Forwarded-For only from a trusted proxy (bot/client_address.py);
- 413 for a body over settings.max_body_bytes, 400 + {"error": ...} for a body
  that is not a JSON object with a valid sender, a string message and object
  metadata (bot/message_checks.py), where Rasa answered 500 or used sender "default";
- a message over settings.max_message_chars is answered at once, in the
  user's language, and never reaches NLU (which runs on the event loop);
- a "/intent{...}" payload runs only if it is a button the bot offered in
  this conversation or a bare intent of the domain; otherwise the fallback
  phrase is the answer (bot.message_checks.intent_allowed);
- the client cannot set input_channel, and ?stream is not offered.

Neither a refused nor a capped message is stored in the tracker. Logs name
the sender, never the text (personal data).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import (
    address_limits,
    client_address,
    feedback,
    message_checks,
    messages,
    secrets,
    settings,
)
from bot.address_limits import AddressLimits
from bot.limits import RateLimiter, retry_after
from bot.rasa_addons import nlu_pool

logger = logging.getLogger(__name__)

RECENT_BOT_MESSAGES = 10  # buttons still on screen a few turns up stay valid


@dataclass(frozen=True)
class Limits:
    """One set per server: the client bucket is shared by every route and channel
    that spends it (REST, the chat and trainer routes, socket.io messages)."""

    client: AddressLimits  # requests a minute and open sockets, one client address
    sender: RateLimiter  # messages a minute, one conversation
    feedback: RateLimiter  # feedback a minute, one conversation


def app_limits(app: Any, cfg: settings.Settings) -> Limits:
    """The server's limits, made on first use from the settings."""
    found = getattr(app.ctx, "bot_limits", None)
    if found is None:
        found = Limits(
            client=address_limits.for_settings(cfg),
            sender=RateLimiter(cfg.rate_per_sender),
            feedback=RateLimiter(cfg.rate_per_sender),
        )
        app.ctx.bot_limits = found
    return found


def limits(request: Request, cfg: settings.Settings) -> Limits:
    return app_limits(request.app, cfg)


def client_key(request: Request, cfg: settings.Settings) -> str:
    """The key of the client's limits: the TCP peer's address, or the address a
    trusted proxy (cfg.trusted_proxies) put in X-Forwarded-For; IPv6 by /64.
    Sanic's remote_addr is not used: it believes any peer's header once
    SANIC_PROXIES_COUNT is set."""
    forwarded = ",".join(request.headers.getall("x-forwarded-for", []))
    address = client_address.client_ip(request.ip, forwarded, cfg.trusted_proxies)
    return client_address.limit_key(address)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> HTTPResponse:
    return response.json({"error": message}, status=status, headers=headers)


def too_many(wait: float) -> HTTPResponse:
    seconds = retry_after(wait)
    return error(429, f"too many requests: try again in {seconds} s", {"Retry-After": seconds})


async def token_refusal(
    request: Request, cfg: settings.Settings, token: str | None, realm: str, disabled: str
) -> HTTPResponse | None:
    """None if the request carries `token` as a bearer; else the answer to give:
    503 `disabled` when no token is set, else 401 (the client's bucket spent, so
    guessing costs it, 429 beyond). Compared in constant time."""
    if not token:
        return error(503, disabled)
    scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and given.strip():
        if secrets.same_token(given.strip(), token):
            return None
    wait = await limits(request, cfg).client.spend(client_key(request, cfg))
    if wait:
        return too_many(wait)
    return error(
        401,
        f"wrong or missing {realm} token (send it as Authorization: Bearer <token>)",
        {"WWW-Authenticate": f'Bearer realm="{realm}"'},
    )


def answer(sender: str, text: str, lang: str) -> list[dict[str, Any]]:
    """A reply in the REST channel's shape, with the contract's fallback payload."""
    payload = {"answer": {"rule_ids": [], "verdict": "fallback", "lang": lang}}
    return [{"recipient_id": sender, "text": text}, {"recipient_id": sender, "custom": payload}]


async def conversation(app: Any, sender: str) -> tuple[list[str], list[str], str | None]:
    """(payloads the bot offered lately, the domain's intents, the conversation's
    language), from the Sanic app's agent; shared with the socket.io channel."""
    agent = getattr(getattr(app, "ctx", None), "agent", None)
    if agent is None:
        return [], [], None
    intents = list(agent.domain.intents) if agent.domain is not None else []
    try:
        tracker = await agent.tracker_store.retrieve(sender) if agent.tracker_store else None
    except Exception as exc:  # noqa: BLE001 - no tracker: only bare intents pass
        logger.warning("sender %s: tracker not read (%s)", sender, type(exc).__name__)
        tracker = None
    if tracker is None:
        return [], intents, None
    bot_events = [e.as_dict() for e in tracker.events if getattr(e, "type_name", "") == "bot"]
    offered = message_checks.offered_payloads(bot_events[-RECENT_BOT_MESSAGES:])
    return offered, intents, tracker.get_slot("language")


async def stored_answers(app: Any, sender: object) -> list[feedback.Turn]:
    """The answers the bot gave in the conversation `sender` names (bot.feedback);
    [] when there is none, or no tracker store to ask."""
    agent = getattr(getattr(app, "ctx", None), "agent", None)
    if not isinstance(sender, str) or not sender or agent is None or not agent.tracker_store:
        return []
    try:
        tracker = await agent.tracker_store.retrieve(sender[: feedback.MAX_SENDER])
    except Exception as exc:  # noqa: BLE001 - no conversation: no answer to rate
        logger.warning("sender %s: tracker not read (%s)", sender, type(exc).__name__)
        return []
    if tracker is None:
        return []
    return feedback.answered_turns([e.as_dict() for e in tracker.events])


class RestChannel(InputChannel):
    """POST /webhooks/rest/webhook, bounded; GET /webhooks/rest/ is its health check."""

    def __init__(self) -> None:
        self.cfg = settings.load()  # once: load() reads the environment and files

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        rest = Blueprint("bounded_rest", __name__)

        @rest.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @rest.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            cfg = self.cfg
            guard = limits(request, cfg)
            client = client_key(request, cfg)
            wait = await guard.client.spend(client)
            if wait:
                return too_many(wait)
            try:
                message = message_checks.parse(
                    request.body or b"", cfg.max_body_bytes, cfg.max_message_chars
                )
            except message_checks.Refused as exc:
                return error(exc.status, str(exc))
            wait = guard.sender.hit(message.sender)
            if wait:
                return too_many(wait)
            if message.too_long:
                lang = message_checks.reply_language(message)
                logger.info(
                    "sender %s: message over %d characters, not parsed",
                    message.sender,
                    cfg.max_message_chars,
                )
                text = messages.say("message_too_long", lang, limit=cfg.max_message_chars)
                return response.json(answer(message.sender, text, lang))
            if message.is_intent:
                offered, intents, previous = await conversation(request.app, message.sender)
                if not message_checks.intent_allowed(message.text, offered, intents):
                    lang = message_checks.reply_language(message, previous)
                    logger.info(
                        "sender %s: an intent payload the bot did not offer, not run",
                        message.sender,
                    )
                    text = messages.say("fallback_no_options", lang)
                    return response.json(answer(message.sender, text, lang))
            collector = CollectingOutputChannel()
            user_message = UserMessage(
                message.text,
                collector,
                message.sender,
                input_channel=self.name(),
                metadata=message.metadata,
            )
            # this request's turn and parse wait as this client's; reset after,
            # since Sanic runs every request of a keep-alive connection in one task
            client_set = nlu_pool.CLIENT.set(client)
            try:
                await on_new_message(user_message)
            except nlu_pool.Busy as busy:  # not parsed, nothing stored: send it again later
                logger.info("sender %s: too many messages waiting, not read", message.sender)
                return too_many(busy.wait)
            except Exception as exc:  # noqa: BLE001 - as Rasa's RestInput: the replies so far
                # The type only: a traceback can quote the message.
                logger.error(
                    "sender %s: message not handled (%s)", message.sender, type(exc).__name__
                )
                logger.debug("message not handled", exc_info=True)
            finally:
                nlu_pool.CLIENT.reset(client_set)
            return response.json(collector.messages)

        return rest
