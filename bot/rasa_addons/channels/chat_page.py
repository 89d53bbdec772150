"""The chat page's server side: a Rasa input channel that only adds routes.

Listed in credentials.yml as `bot.rasa_addons.channels.chat_page.ChatChannel:`, it
lives under /webhooks/chat/ on the Rasa server. It does not take messages:
the page talks to Rasa's REST channel (POST /webhooks/rest/webhook) and reads
the answer payload of answer-contract.md §2. What it adds:

- GET  /webhooks/chat/                   the demo page (bot/web/index.html), with a
                                         Content-Security-Policy (no inline code;
                                         framed only by BOT_ALLOWED_ORIGINS)
- GET  /webhooks/chat/static/<path>      files under bot/web/ (no traversal, ETag)
- GET  /webhooks/chat/health             {"status": "ok"}; the page polls it
- GET  /webhooks/chat/clause/<id>?lang=  a clause's wording, original, citation,
                                         verdict and verdict label
- GET  /webhooks/chat/labels?lang=       {verdict: label}, fallback included
- GET  /webhooks/chat/lookup-labels?lang= {"status": {value: label}, "licence":
                                         {value: label}}: a lookup payload's values
                                         in the page's language (the payload stays
                                         as the contract has it)
- POST /webhooks/chat/feedback           thumbs up/down (bot/feedback.py);
                                         201 {"id": n} or 400 {"error": ...}
- POST /webhooks/chat/session            {"sender": an unguessable new id}: the
                                         page's conversation id (the REST channel
                                         refuses a missing one)

The POST routes spend the client's rate-limit bucket shared with the REST
channel (bot/rasa_addons/channels/rest.py), feedback also a per-sender one:
429 with Retry-After. Bodies over settings.max_body_bytes get 413.

Errors are JSON {"error": "..."}. CORS comes from Rasa's --cors, which covers
every route of the server. Database work runs in a worker thread so the event
loop is never blocked on it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import mimetypes
import re
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import answers, feedback, message_checks, messages, rulebase, settings
from bot.contract import ANSWER_VERDICTS, LANGS, LICENCE_STATUSES, LOOKUP_STATUSES
from bot.rasa_addons.channels.rest import client_key, limits, stored_answers, too_many
from bot.settings import PROJECT_DIR

logger = logging.getLogger(__name__)

WEB_DIR = PROJECT_DIR / "bot" / "web"
PLACEHOLDER = "<!doctype html><title>Chat</title><p>The chat page is not installed (bot/web/).</p>"
STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".mjs": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
}
_SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff"}
# A source expression in frame-ancestors: a scheme and host (wildcard and port
# allowed), nothing that could end the directive or start another.
_ORIGIN_SOURCE = re.compile(r"https?://[A-Za-z0-9*.-]+(:(\d{1,5}|\*))?")


def content_security_policy(frame_ancestors: Iterable[str] = (), img_src: str = "'self'") -> str:
    """The CSP of our own pages (the chat page, the trainer page): their own
    scripts and styles only, no inline code, requests only to this server, framed
    only by `frame_ancestors` (none: never). Origins that are not plain
    scheme://host[:port] are left out. The embedded widget runs under its host
    page's policy, not this one."""
    framers = [o for o in frame_ancestors if o == "'self'" or _ORIGIN_SOURCE.fullmatch(o)]
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {img_src}",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors " + (" ".join(framers) or "'none'"),
        )
    )


def _error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)


def _lang(request: Request) -> str | None:
    """The ?lang= argument (default en), or None when it is not a supported language."""
    lang = request.args.get("lang") or "en"
    return lang if lang in LANGS else None


def static_file(root: Path, relative: str) -> Path | None:
    """The file `relative` names inside `root`, or None if it is outside, hidden,
    not a regular file or of a type not served."""
    if not relative or "\x00" in relative or "\\" in relative:
        return None
    parts = relative.split("/")
    if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        return None
    base = root.resolve()
    try:  # a name too long for the file system raises OSError here: not found
        path = (base / relative).resolve()
        if not path.is_relative_to(base) or not path.is_file():
            return None
    except (OSError, RuntimeError, ValueError):
        return None
    if path.suffix.lower() not in STATIC_TYPES:
        return None
    return path


def _etag(path: Path) -> str:
    stat = path.stat()
    raw = f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode()
    return '"' + hashlib.sha256(raw).hexdigest()[:20] + '"'


async def send_file(
    request: Request, path: Path, cache: str, extra: dict[str, str] | None = None
) -> HTTPResponse:
    etag = _etag(path)
    headers = {"Cache-Control": cache, "ETag": etag, **_SECURITY_HEADERS, **(extra or {})}
    if request.headers.get("if-none-match") == etag:
        return response.empty(status=304, headers=headers)
    mime = STATIC_TYPES.get(path.suffix.lower()) or (
        mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )
    return await response.file(path, mime_type=mime, headers=headers)


def clause_json(clause_id: str, lang: str) -> dict[str, Any] | None:
    clause = rulebase.current().clause(clause_id)
    if clause is None:
        return None
    return {
        "id": clause.id,
        "lang": lang,
        "text": clause.text(lang),
        "original": clause.original,
        "original_lang": clause.document.language,
        "citation": answers.citation(clause, lang),
        "verdict": clause.verdict,
        "label": answers.verdict_label(clause.verdict, lang, clause.service),
    }


def labels_json(lang: str) -> dict[str, str]:
    return {verdict: answers.verdict_label(verdict, lang) for verdict in ANSWER_VERDICTS}


def lookup_labels_json(lang: str) -> dict[str, dict[str, str]]:
    """The words for the contract's lookup values (answer-contract.md §2), which
    the page shows beside a lookup answer: the payload itself stays as it is."""
    return {
        "status": {v: messages.say(f"lookup_status_{v}", lang) for v in LOOKUP_STATUSES},
        "licence": {v: messages.say(f"lookup_licence_{v}", lang) for v in LICENCE_STATUSES},
    }


class ChatChannel(InputChannel):
    """Routes for the chat page; messages themselves go through the REST channel."""

    def __init__(self) -> None:
        self.cfg = settings.load()  # once: load() reads the environment and files
        # the sites that may call the bot may frame the page too (BOT_ALLOWED_ORIGINS)
        policy = content_security_policy(("'self'", *self.cfg.allowed_origins))
        self.page_headers = {"Content-Security-Policy": policy}

    @classmethod
    def name(cls) -> str:
        return "chat"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        chat = Blueprint("chat_page", __name__)

        @chat.route("/", methods=["GET"])
        async def page(request: Request) -> HTTPResponse:
            index = static_file(WEB_DIR, "index.html")
            if index is None:
                return response.html(
                    PLACEHOLDER, headers={"Cache-Control": "no-cache", **self.page_headers}
                )
            return await send_file(request, index, "no-cache", self.page_headers)

        @chat.route("/static/<relative:path>", methods=["GET"])
        async def static(request: Request, relative: str) -> HTTPResponse:
            path = static_file(WEB_DIR, relative)
            if path is None:
                return _error(404, "not found")
            return await send_file(request, path, "public, max-age=300, must-revalidate")

        @chat.route("/health", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"}, headers={"Cache-Control": "no-store"})

        @chat.route("/clause/<clause_id>", methods=["GET"])
        async def clause(request: Request, clause_id: str) -> HTTPResponse:
            lang = _lang(request)
            if lang is None:
                return _error(400, f"lang must be one of {', '.join(LANGS)}")
            try:
                found = await asyncio.to_thread(clause_json, clause_id, lang)
            except rulebase.RulebaseMissing:
                return _error(503, "no rule base loaded")
            if found is None:
                return _error(404, f"no clause {clause_id[:64]!r}")
            return response.json(found)

        @chat.route("/labels", methods=["GET"])
        async def labels(request: Request) -> HTTPResponse:
            lang = _lang(request)
            if lang is None:
                return _error(400, f"lang must be one of {', '.join(LANGS)}")
            return response.json(labels_json(lang))

        @chat.route("/lookup-labels", methods=["GET"])
        async def lookup_labels(request: Request) -> HTTPResponse:
            lang = _lang(request)
            if lang is None:
                return _error(400, f"lang must be one of {', '.join(LANGS)}")
            return response.json(lookup_labels_json(lang))

        @chat.route("/session", methods=["POST"])
        async def session(request: Request) -> HTTPResponse:
            wait = await limits(request, self.cfg).client.spend(client_key(request, self.cfg))
            if wait:
                return too_many(wait)
            sender = message_checks.new_sender()
            return response.json({"sender": sender}, headers={"Cache-Control": "no-store"})

        @chat.route("/feedback", methods=["POST"])
        async def post_feedback(request: Request) -> HTTPResponse:
            guard = limits(request, self.cfg)
            wait = await guard.client.spend(client_key(request, self.cfg))
            if wait:
                return too_many(wait)
            try:
                body = message_checks.load_object(request.body or b"", self.cfg.max_body_bytes)
                # the REST channel's rule and words, before the tracker store is asked
                sender = message_checks.check_sender(body.get("sender"))
            except message_checks.Refused as exc:
                return _error(exc.status, str(exc))
            wait = guard.feedback.hit(sender)
            if wait:
                return too_many(wait)
            fields = ("sender", "rating", "question", "answer", "rule_ids", "verdict", "lang")
            values = {k: body.get(k) for k in fields}
            values["comment"] = body.get("comment")
            if values["rule_ids"] is None:
                values["rule_ids"] = []
            if values["lang"] is None:
                values["lang"] = "en"
            try:
                # the question and answer stored are the conversation's own, not the page's
                turn = feedback.matching_turn(
                    await stored_answers(request.app, values["sender"]),
                    values["rule_ids"],
                    values["verdict"],
                )
                values.update(
                    question=turn.question[: feedback.MAX_QUESTION],
                    answer=turn.answer[: feedback.MAX_ANSWER],
                )
                new_id = await asyncio.to_thread(lambda: feedback.record(**values))
            except feedback.FeedbackInvalid as exc:
                return _error(400, str(exc))
            return response.json({"id": new_id}, status=201)

        return chat
