"""The action server: rasa-sdk's own, made fit for a machine with a public website.

`python -m bot.rasa_addons.entry.action_server --actions actions --port N` (the
launcher) runs `python -m rasa_sdk` with, through the SDK's plugin hook
`attach_sanic_app_extensions`:

- loopback only: the SDK binds SANIC_HOST, default 0.0.0.0; ours 127.0.0.1
  (the Rasa server is its only client and runs on the same machine);
- a bearer token (BOT_ACTIONS_TOKEN, sent by Rasa through endpoints.yml) on every
  request but /health, compared in constant time;
- an action call that is not one (bad JSON, no action name, no tracker): 400;
- the project database unreachable: the user is told to try again shortly
  (a normal action response, so Rasa says it), and the next request simply uses
  the database again (the engine pings pooled connections);
- a request confirmed while the database was down waits in var/outbox/ and
  is filed by a background thread when it is back (bot.service_requests.deferred);
- retention: conversations, feedback, drafts and inbox occurrences past
  BOT_RETENTION_DAYS purged at start and every BOT_RETENTION_EVERY_SECONDS
  (bot.privacy.retention.start_purger);
- `GET /model`: the live model for Rasa's `models:` endpoint (ETag, 304 when
  unchanged; bot/runtime/model_server.py), behind the same token;
- any other error: one log line and a generic JSON error. The SDK's own handler
  answers a 500 with the whole request body: the tracker, i.e. the conversation.

rasa-sdk 3.6 discovers plugins only by importing a package named
`rasa_sdk_plugins` (rasa_sdk/plugin.py `_discover_plugins`), not from setuptools
entry points, so this module registers itself with the SDK's plugin manager
before handing over to the SDK's `main`.
"""

from __future__ import annotations

import hmac
import logging
import os
import sys
from typing import Any

import pluggy
from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import db, failure_replies, settings
from bot.runtime import model_server

logger = logging.getLogger(__name__)

hookimpl = pluggy.HookimplMarker("rasa_sdk")

PUBLIC_PATHS = frozenset({"/health"})  # the launcher's readiness check


def _authorised(header: str | None, token: str) -> bool:
    scheme, _, value = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), token.encode()
    )


def _action_call_problem(request: Request) -> str | None:
    """Why the body is not an action call Rasa would send, or None."""
    if request.headers.get("content-encoding") == "deflate":
        return None  # compressed (COMPRESS_ACTION_SERVER_REQUEST): the SDK decodes it
    try:
        call = request.json
    except SanicException:
        return "the body is not JSON"
    if not isinstance(call, dict):
        return "the body is not a JSON object"
    if not isinstance(call.get("next_action"), str) or not call["next_action"]:
        return "no next_action"
    if not isinstance(call.get("tracker"), dict):
        return "no tracker"
    return None


def _database_down_reply(request: Request) -> HTTPResponse:
    try:
        call: Any = request.json  # a compressed body is not parsed here: English then
    except SanicException:
        call = None
    tracker = (call.get("tracker") if isinstance(call, dict) else None) or {}
    text = failure_replies.apology(
        failure_replies.DATABASE_UNAVAILABLE,
        tracker.get("latest_message"),
        (tracker.get("slots") or {}).get("language"),
    )
    return response.json({"events": [], "responses": [{"text": text}]})


async def _on_error(request: Request, exception: BaseException) -> HTTPResponse:
    if isinstance(exception, SanicException):  # 400 bad JSON, 404, 405, 413 ...
        status = getattr(exception, "status_code", 500) or 500
        logger.info("%s %s: %s", request.method, request.path, status)
        return response.json({"error": _reason(status)}, status=status)
    if request.path == "/webhook" and db.unreachable(exception):
        logger.error("database unreachable (%s); told the user to try again", _short(exception))
        return _database_down_reply(request)
    logger.error("action call failed: %s", _short(exception))
    logger.debug("the failure in full", exc_info=exception)  # BOT_LOG_LEVEL=DEBUG
    return response.json({"error": "internal error"}, status=500)


def _short(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {first[0][:200] if first else ''}"


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return "error"


async def _model(request: Request) -> HTTPResponse:
    """The live model for Rasa's `models:` endpoint: ETag, 304 (bot.runtime.model_server)."""
    found = model_server.answer(settings.load(), request.headers.get("if-none-match"))
    if found.status == 304:
        return response.empty(status=304, headers=found.headers)
    if found.model is None:  # Rasa keeps its model and asks again
        return response.json({"error": "no model is active"}, status=404)
    return await response.file(found.model, headers=found.headers, mime_type="application/gzip")


async def warm_lookups(_app: Sanic, _loop: Any) -> None:
    """spaCy and the product matcher, loaded before the first message is served:
    loaded by the first lookup, they took more than BOT_ACTION_TIMEOUT (10 s) on a
    busy machine, and that customer was told something went wrong."""
    from bot.records import facts

    try:
        facts.extract("Kaspersky Endpoint Security 12")
    except Exception as exc:  # noqa: BLE001 - e.g. the database is down: the first lookup loads them
        logger.warning("lookups not warmed at start (%s); the first lookup loads them", _short(exc))


@hookimpl
def attach_sanic_app_extensions(app: Sanic) -> None:
    token = settings.load().actions_token
    if not token:  # fail closed: an action server anyone on the machine may call
        raise SystemExit(
            "BOT_ACTIONS_TOKEN is not set and var/secrets/bot_actions_token is missing: "
            "start the assistant with `make run`, which creates it"
        )

    async def check_token(request: Request) -> HTTPResponse | None:
        if request.path in PUBLIC_PATHS:
            return None
        if not _authorised(request.headers.get("authorization"), token):
            logger.warning("refused %s %s: no valid token", request.method, request.path)
            return response.json({"error": "unauthorised"}, status=401)
        if request.path == "/webhook" and request.method == "POST":
            problem = _action_call_problem(request)
            if problem:
                logger.info("refused an action call: %s", problem)
                return response.json({"error": f"not an action call: {problem}"}, status=400)
        return None

    async def start_outbox(_app: Sanic, _loop: Any) -> None:
        # requests confirmed while the database was down, filed when it is back
        from bot.service_requests import deferred

        deferred.start_drainer()
        # retention in every shape, containers included (not only at `make run`)
        from bot import settings
        from bot.privacy import retention

        retention.start_purger(settings.load())

    app.register_middleware(check_token, "request")
    app.register_listener(warm_lookups, "before_server_start")
    app.register_listener(start_outbox, "after_server_start")
    app.add_route(_model, "/model", methods=["GET"])  # behind the same token
    # Replaces the SDK's handler for Exception (added in create_app, same key).
    app.error_handler.add(Exception, _on_error)


# spaCy's thinc imports these at its own import when they are installed (they
# are, for Rasa): TensorFlow, JAX and h5py, about 350 MB resident, at the first
# product lookup. The actions use none of them; a None in sys.modules makes the
# import fail with ImportError, which thinc takes as "not installed".
ACTION_CALL_MAX_BYTES = 16 * 1024 * 1024  # a tracker of thousands of turns; Rasa's own calls only
UNUSED_BY_ACTIONS = ("tensorflow", "jax", "jaxlib", "h5py", "torch", "mxnet")


def main() -> None:
    for name in UNUSED_BY_ACTIONS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    # BOT_MAX_BODY_BYTES (SANIC_REQUEST_MAX_SIZE, 64 KB) bounds what the public
    # sends to Rasa. This server's one client is Rasa, whose every call carries
    # the whole tracker and the domain: past about 14 turns that was over 64 KB,
    # Sanic refused it and every action of the conversation failed from then on.
    os.environ["SANIC_REQUEST_MAX_SIZE"] = str(ACTION_CALL_MAX_BYTES)
    # rasa_sdk.endpoint.run binds os.environ["SANIC_HOST"] (default 0.0.0.0).
    os.environ.setdefault("SANIC_HOST", "127.0.0.1")
    from rasa_sdk.__main__ import main as sdk_main
    from rasa_sdk.plugin import plugin_manager

    plugin_manager().register(sys.modules[__name__])
    sdk_main()


if __name__ == "__main__":
    main()
