"""The support agents' route: the NLU's reading of a question, behind a token
that opens nothing else.

Listed in credentials.yml as `bot.rasa_addons.channels.agent.AgentChannel:`,
under /webhooks/agent/ on the Rasa server. `bot ask` shows an agent how a
question was understood (intent, ranking, entities, language, parts) beside
the reply. Rasa's POST /model/parse gives that, but only to a JWT signed with
BOT_API_TOKEN, which also signs admin tokens (replace the model, read and
rewrite every conversation): an agent's shell should not hold it.

- POST /webhooks/agent/parse {"text": TEXT}
  with `Authorization: Bearer <BOT_AGENT_TOKEN>` -> what POST /model/parse answers

No token set: 503 saying how to enable it; a wrong or missing token: 401 (the
client's rate-limit bucket spent). Every request spends the client's bucket
(429 beyond it): a parse costs what a message costs. A body that is not
{"text": a non-empty string}: 400; a text over BOT_MAX_MESSAGE_CHARS: 413.
The reply itself comes from the public REST channel, as any client's does.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import message_checks, secrets, settings
from bot.rasa_addons import nlu_pool
from bot.rasa_addons.channels.rest import client_key, error, limits, token_refusal, too_many
from bot.text import strip_controls

logger = logging.getLogger(__name__)

DISABLED = (
    "The agents' route is disabled: BOT_AGENT_TOKEN is not set. Set it in the "
    "server's environment, or write a token into var/secrets/bot_agent_token "
    "(`make run` creates one there)."
)


def parse_request(raw: bytes, cfg: settings.Settings) -> str:
    """The text to parse, or message_checks.Refused (400, 413) saying what is wrong."""
    body = message_checks.load_object(raw, cfg.max_body_bytes, '{"text": TEXT}')
    text = body.get("text")
    if not isinstance(text, str):
        raise message_checks.Refused(400, "text is required: a string")
    text = strip_controls(text).strip()
    if not text:
        raise message_checks.Refused(400, "text is empty")
    if len(text) > cfg.max_message_chars:
        raise message_checks.Refused(413, f"text is over {cfg.max_message_chars} characters")
    return text


class AgentChannel(InputChannel):
    """POST /webhooks/agent/parse; it takes no messages."""

    def __init__(self) -> None:
        self.cfg = settings.load()  # the token itself is re-read per request

    @classmethod
    def name(cls) -> str:
        return "agent"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        agent_routes = Blueprint("agent_routes", __name__)

        @agent_routes.route("/parse", methods=["POST"])
        async def parse(request: Request) -> HTTPResponse:
            cfg = self.cfg
            token = secrets.agent_token(cfg)
            refused = await token_refusal(request, cfg, token, "agent", DISABLED)
            if refused is not None:
                return refused
            client = client_key(request, cfg)
            wait = await limits(request, cfg).client.spend(client)
            if wait:
                return too_many(wait)
            try:
                text = parse_request(request.body or b"", cfg)
            except message_checks.Refused as exc:
                return error(exc.status, str(exc))
            agent = getattr(request.app.ctx, "agent", None)
            if agent is None or not agent.is_ready():
                return error(503, "no model is loaded yet; try again shortly")
            client_set = nlu_pool.CLIENT.set(client)
            try:
                parsed = await agent.parse_message(text)
            except nlu_pool.Busy as busy:
                return too_many(busy.wait)
            except Exception as exc:  # noqa: BLE001 - the type only: a traceback can quote the text
                logger.error("agent parse failed (%s)", type(exc).__name__)
                return error(500, "the question could not be parsed")
            finally:
                nlu_pool.CLIENT.reset(client_set)
            return response.json(parsed)

        return agent_routes
