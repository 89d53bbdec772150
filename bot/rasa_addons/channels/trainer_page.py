"""The trainer page's server side: a Rasa input channel that only adds routes.

Listed in credentials.yml as `bot.rasa_addons.channels.trainer_page.TrainerChannel:`,
under /webhooks/trainer/ on the Rasa server. Thin: it checks the token and the
input, calls bot.training (inbox, phrases, catalogue, retrain_job, eval_latest)
in a worker thread, and turns their refusals into 4xx with {"error": ...}.

Public:
- GET  /webhooks/trainer/                     the page (bot/web/trainer.html)
- GET  /webhooks/trainer/static/<path>        files under bot/web/
- GET  /webhooks/trainer/api/state            {"enabled": bool, "enable": how}

Everything else wants `Authorization: Bearer <BOT_TRAINER_TOKEN>` (compared in
constant time; the token is re-read at each request, so writing or removing
var/secrets/bot_trainer_token takes effect without a restart). No token set:
503 saying how to enable the page; a wrong or missing token: 401 (and the
client's rate-limit bucket is spent, 429 beyond it):
- GET  api/inbox?lang=&reason=&status=&intent=&min_confidence=&max_confidence=&limit=
- POST api/inbox/sync                          read new conversations and thumbs-down
- GET  api/inbox/<id>                          the entry and the conversation around it
- POST api/inbox/<id>/assign {"intent": I}     conflict check, then the phrase is written
- POST api/inbox/<id>/ignore | api/inbox/<id>/oos
- GET  api/intents                             intents with topic titles and descriptions
- GET  api/retrain | POST api/retrain {"force": false}   status | start (409 while one runs)
- GET  api/evaluation | api/evaluation/plot    the newest `bot eval`, its confusion PNG
- GET  api/insights?days=N | ?since=D&until=D   the team's figures (`bot insights --json`,
                                               small counts hidden) and their charts (SVG)

Statuses: 400 bad input, 404 no such entry, 409 already resolved (another
trainer was first) or a retrain running, 422 the conflict check refused the
phrase (with the check), 503 database unreachable or page disabled, 500 a
training data file that could not be written (the entry stays `new`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import SQLAlchemyError

from bot import db, insights, message_checks, secrets, settings
from bot.contract import LANGS
from bot.rasa_addons.channels.chat_page import (
    WEB_DIR,
    content_security_policy,
    send_file,
    static_file,
)
from bot.rasa_addons.channels.rest import error, token_refusal
from bot.runtime import background_retrain, model_eval, retrain
from bot.training import inbox, intent_choices, phrases

logger = logging.getLogger(__name__)

MAX_BODY = 4096  # bytes: the largest body a trainer route needs is an intent name
MAX_LIST = 500  # entries in one listing
MAX_ID = 2**31 - 1
INTENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,95}")
DISABLED = (
    "The trainer page is disabled: BOT_TRAINER_TOKEN is not set. Enable it by setting "
    "BOT_TRAINER_TOKEN in the server's environment, or by writing a token into "
    "var/secrets/bot_trainer_token (`make run` creates one there), then reload this page."
)
ENABLED = (
    "Enter the trainer token: BOT_TRAINER_TOKEN, or the contents of "
    "var/secrets/bot_trainer_token on the server."
)
# The page loads only its own files and talks only to this server.
PAGE_HEADERS = {
    "Content-Security-Policy": content_security_policy(img_src="'self' blob:"),  # never framed
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
NO_STORE = {"Cache-Control": "no-store"}

Handler = Callable[..., Coroutine[Any, Any, HTTPResponse]]


class BadInput(ValueError):
    """A request the route answers with 400 and this message."""


class NotFound(Exception):
    """A request the route answers with 404 and this message."""


def _json(body: Any, status: int = 200) -> HTTPResponse:
    return response.json(body, status=status, headers=NO_STORE)


# ---------------------------------------------------------------- input


def _choice(args: Any, name: str, allowed: tuple[str, ...]) -> str | None:
    value = args.get(name) or None
    if value is not None and value not in allowed:
        raise BadInput(f"{name} must be one of {', '.join(allowed)}")
    return value


def _fraction(args: Any, name: str) -> float | None:
    raw = args.get(name)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(f"{name} must be a number between 0 and 1") from None
    if not 0.0 <= value <= 1.0:
        raise BadInput(f"{name} must be a number between 0 and 1")
    return value


def _intent_arg(value: object, name: str = "intent") -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{name} must be an intent name (text)")
    value = value.strip()
    if not INTENT.fullmatch(value):
        raise BadInput(f"{name} must be 1-96 characters of A-Z, a-z, 0-9 and _")
    return value


def list_filters(args: Any) -> dict[str, Any]:
    """The listing's query arguments, checked; BadInput says what is wrong."""
    status = _choice(args, "status", (*db.INBOX_STATUSES, "all")) or "new"
    raw_limit = args.get("limit") or "200"
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIST:
        raise BadInput(f"limit must be a whole number from 1 to {MAX_LIST}")
    intent = args.get("intent") or None
    low, high = _fraction(args, "min_confidence"), _fraction(args, "max_confidence")
    if low is not None and high is not None and low > high:
        raise BadInput("min_confidence is above max_confidence")
    return {
        "lang": _choice(args, "lang", LANGS),
        "reason": _choice(args, "reason", inbox.REASONS),
        "status": None if status == "all" else status,
        "intent": None if intent is None else _intent_arg(intent),
        "min_confidence": low,
        "max_confidence": high,
        "limit": int(raw_limit),
    }


def _body(request: Request, shape: str) -> dict[str, Any]:
    return message_checks.load_object(request.body or b"", MAX_BODY, shape)


def _entry_id(entry_id: int) -> int:
    if not 0 < entry_id <= MAX_ID:
        raise NotFound(f"no inbox entry {entry_id}")
    return entry_id


# ---------------------------------------------------------------- work (in a thread)


def listing(url: str, filters: dict[str, Any]) -> dict[str, Any]:
    entries = inbox.list_entries(
        lang=filters["lang"],
        reason=filters["reason"],
        status=filters["status"],
        intent=filters["intent"],
        url=url,
    )
    low, high = filters["min_confidence"], filters["max_confidence"]
    if low is not None or high is not None:  # entries without a parse have no confidence
        entries = [
            e
            for e in entries
            if e.confidence is not None
            and (low is None or e.confidence >= low)
            and (high is None or e.confidence <= high)
        ]
    shown = entries[: filters["limit"]]
    return {"entries": [e.to_json() for e in shown], "total": len(entries)}


def _existing(entry_id: int, url: str) -> inbox.Entry:
    try:
        return inbox.get(entry_id, url)
    except inbox.InboxError:
        raise NotFound(f"no inbox entry {entry_id}") from None


def detail(entry_id: int, cfg: settings.Settings) -> dict[str, Any]:
    entry = _existing(entry_id, cfg.database_url)
    lines = inbox.context(entry, url=cfg.database_url, tracker_url=cfg.tracker_url)
    return {
        "entry": entry.to_json(),
        "context": [
            {"who": line.who, "text": line.text, "at": line.at.isoformat(), "this": line.this}
            for line in lines
        ],
    }


def resolve(
    entry_id: int, action: str, intent: str | None, cfg: settings.Settings
) -> dict[str, Any]:
    url = cfg.database_url
    _existing(entry_id, url)
    if action == "ignore":
        return {"entry": inbox.ignore(entry_id, url=url).to_json()}
    if action == "oos":
        done = inbox.out_of_scope(entry_id, url=url)
    else:
        assert intent is not None
        done = inbox.assign(entry_id, intent, url=url)
    retrain.warm_up(cfg)  # the retrain that follows finds it ready
    return {
        "entry": done.entry.to_json(),
        "check": done.plan.verdict.to_json(),
        "file": done.entry.resolved_file,
    }


# ---------------------------------------------------------------- the channel


def _one_arg(args: Any, name: str) -> str | None:
    """A query argument given at most once, of a sane length."""
    values = [v for v in (args.getlist(name) or []) if v is not None]
    if len(values) > 1:
        raise BadInput(f"{name} given more than once")
    if values and len(values[0]) > 32:
        raise BadInput(f"{name} is too long")
    return values[0] if values else None


class TrainerChannel(InputChannel):
    """Routes for the trainer page; it takes no messages."""

    def __init__(self) -> None:
        self.cfg = settings.load()  # the token itself is re-read per request
        self.jobs = background_retrain.RetrainJobs()

    @classmethod
    def name(cls) -> str:
        return "trainer"

    async def _refused(self, request: Request) -> HTTPResponse | None:
        """None if the request carries the trainer token; else the answer to give."""
        token = secrets.trainer_token(self.cfg)
        return await token_refusal(request, self.cfg, token, "trainer", DISABLED)

    def _api(self, handler: Handler) -> Handler:
        """The token check, then the handler; expected failures become clear 4xx."""

        async def guarded(request: Request, **kwargs: Any) -> HTTPResponse:
            refused = await self._refused(request)
            if refused is not None:
                return refused
            try:
                return await handler(request, **kwargs)
            except message_checks.Refused as exc:
                return error(exc.status, str(exc))
            except BadInput as exc:
                return error(400, str(exc))
            except NotFound as exc:
                return error(404, str(exc))
            except phrases.PhraseRefused as exc:
                check = exc.verdict.to_json() if exc.verdict is not None else None
                return _json({"error": str(exc), "check": check}, status=422)
            except inbox.AlreadyResolved as exc:
                return error(409, str(exc))
            except inbox.InboxError as exc:
                return error(400, str(exc))
            except background_retrain.Busy as exc:
                status = await asyncio.to_thread(self.jobs.status, self.cfg)
                return _json({"error": str(exc), "retrain": status}, status=409)
            except SQLAlchemyError:
                logger.exception("trainer page: database error")
                return error(503, "the database is unreachable; try again shortly")
            except OSError as exc:  # the training data could not be written: nothing was
                logger.exception("trainer page: file error")
                return error(500, f"could not write the training data ({exc.strerror or exc})")

        guarded.__name__ = handler.__name__
        return guarded

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        trainer = Blueprint("trainer_page", __name__)
        cfg = self.cfg
        api = self._api

        @trainer.route("/", methods=["GET"])
        async def page(request: Request) -> HTTPResponse:
            index = static_file(WEB_DIR, "trainer.html")
            if index is None:
                return error(404, "the trainer page is not installed (bot/web/trainer.html)")
            return await send_file(request, index, "no-cache", PAGE_HEADERS)

        @trainer.route("/static/<relative:path>", methods=["GET"])
        async def static(request: Request, relative: str) -> HTTPResponse:
            path = static_file(WEB_DIR, relative)
            if path is None:
                return error(404, "not found")
            return await send_file(request, path, "public, max-age=300, must-revalidate")

        @trainer.route("/api/state", methods=["GET"])
        async def state(request: Request) -> HTTPResponse:
            enabled = bool(secrets.trainer_token(cfg))
            return _json({"enabled": enabled, "enable": ENABLED if enabled else DISABLED})

        async def entries(request: Request) -> HTTPResponse:
            filters = list_filters(request.args)
            return _json(await asyncio.to_thread(listing, cfg.database_url, filters))

        async def sync(request: Request) -> HTTPResponse:
            done = await asyncio.to_thread(
                lambda: inbox.sync(url=cfg.database_url, tracker_url=cfg.tracker_url)
            )
            return _json({"summary": done.summary(), "entries": done.entries, "new": done.new})

        async def entry(request: Request, entry_id: int) -> HTTPResponse:
            return _json(await asyncio.to_thread(detail, _entry_id(entry_id), cfg))

        async def assign(request: Request, entry_id: int) -> HTTPResponse:
            intent = _intent_arg(_body(request, '{"intent": NAME}').get("intent"))
            found = await asyncio.to_thread(resolve, _entry_id(entry_id), "assign", intent, cfg)
            return _json(found)

        def resolver(action: str) -> Handler:
            async def act(request: Request, entry_id: int) -> HTTPResponse:
                found = await asyncio.to_thread(resolve, _entry_id(entry_id), action, None, cfg)
                return _json(found)

            act.__name__ = action
            return act

        async def intents(request: Request) -> HTTPResponse:
            found = await asyncio.to_thread(intent_choices.intents, url=cfg.database_url)
            return _json({"intents": [i.to_json() for i in found]})

        async def retrain_status(request: Request) -> HTTPResponse:
            return _json(await asyncio.to_thread(self.jobs.status, cfg))

        async def retrain_start(request: Request) -> HTTPResponse:
            body = _body(request, '{"force": false}') if (request.body or b"").strip() else {}
            force = body.get("force", False)
            if not isinstance(force, bool):
                raise BadInput("force must be true or false")
            started = await asyncio.to_thread(self.jobs.start, cfg, force)
            return _json(started, status=202)

        async def evaluation(request: Request) -> HTTPResponse:
            found = await asyncio.to_thread(model_eval.latest, cfg)
            if found is None:
                raise NotFound(
                    "no evaluation yet: run `bot eval` on the server (it writes var/eval/)"
                )
            return _json({**found.summary, "has_plot": found.plot is not None})

        async def plot(request: Request) -> HTTPResponse:
            found = await asyncio.to_thread(model_eval.latest, cfg)
            if found is None or found.plot is None:
                raise NotFound("no confusion-matrix plot yet: run `bot eval` on the server")
            return await send_file(request, found.plot, "no-store")

        async def figures(request: Request) -> HTTPResponse:
            try:
                args = request.args
                period = insights.Period.parse(
                    _one_arg(args, "days"), _one_arg(args, "since"), _one_arg(args, "until")
                )
            except insights.PeriodError as exc:
                raise BadInput(str(exc)) from None
            found = await asyncio.to_thread(
                insights.page_view, period, cfg.database_url, cfg.tracker_url
            )
            return _json(found)

        routes: list[tuple[str, Handler, str]] = [
            ("/api/inbox", entries, "GET"),
            ("/api/inbox/sync", sync, "POST"),
            ("/api/inbox/<entry_id:int>", entry, "GET"),
            ("/api/inbox/<entry_id:int>/assign", assign, "POST"),
            ("/api/inbox/<entry_id:int>/ignore", resolver("ignore"), "POST"),
            ("/api/inbox/<entry_id:int>/oos", resolver("oos"), "POST"),
            ("/api/intents", intents, "GET"),
            ("/api/retrain", retrain_status, "GET"),
            ("/api/retrain", retrain_start, "POST"),
            ("/api/evaluation", evaluation, "GET"),
            ("/api/evaluation/plot", plot, "GET"),
            ("/api/insights", figures, "GET"),
        ]
        for uri, handler, method in routes:
            name = f"{handler.__name__}_{method.lower()}"
            trainer.add_route(api(handler), uri, methods=[method], name=name)
        return trainer
