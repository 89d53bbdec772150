"""Telling the team: each filed request (licence key masked) is POSTed as JSON
to BOT_REQUESTS_WEBHOOK_URL, retried with exponential back-off.

`notify` never raises: the request is already stored, so a failing endpoint
only sets webhook_status `failed` and logs a warning naming the reference
(never the key, never the endpoint's path or query, which may hold a token).
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence

from sqlalchemy import update

from bot import db, settings
from bot.escaping import UnsafeHeader, header_value
from bot.service_requests.store import StoredRequest, get_request, normalise_reference

logger = logging.getLogger(__name__)

DELAYS = (0.5, 1.0, 2.0)  # between the 4 attempts


def webhook_url() -> str | None:
    """BOT_REQUESTS_WEBHOOK_URL (read now), or None: no webhook."""
    return settings.load().requests_webhook_url


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect is a failure, not a re-POST
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _where(hook: str) -> str:
    """The webhook's scheme, host and port only: its path or query may hold a token."""
    parts = urllib.parse.urlsplit(hook)
    return f"{parts.scheme}://{parts.hostname or '?'}" + (f":{parts.port}" if parts.port else "")


def _post(hook: str, body: bytes, reference: str, timeout: float) -> tuple[bool, str, bool]:
    """(delivered, what happened, worth retrying)."""
    try:
        idempotency_key = header_value(reference)  # never a second header smuggled in
    except UnsafeHeader as exc:
        return False, str(exc), False
    request = urllib.request.Request(
        hook,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "support-scope-bot",
            "Idempotency-Key": idempotency_key,
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(65536)
            code = response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        code = exc.code
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return False, f"{type(exc).__name__}: {reason}"[:200], True
    if 200 <= code < 300:
        return True, f"HTTP {code}", False
    retry = code >= 500 or code in (408, 429)
    return False, f"HTTP {code}", retry


def _record(url: str, reference: str, status: str, attempts: int, error: str | None) -> None:
    with db.session_scope(url) as session:
        session.execute(
            update(db.ServiceRequest)
            .where(db.ServiceRequest.reference == reference)
            .values(webhook_status=status, webhook_attempts=attempts, webhook_error=error)
        )


def _payload(stored: StoredRequest) -> dict[str, object]:
    """What the team's endpoint receives: every field (key masked) but the webhook's own."""
    return {k: v for k, v in stored.record().items() if not k.startswith("webhook_")}


def notify(
    reference: str,
    *,
    url: str | None = None,
    webhook: str | None = None,
    delays: Sequence[float] = DELAYS,
    timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """POST the filed request (key masked) to the webhook and record the outcome.

    `url` is the database; `webhook` the endpoint (default BOT_REQUESTS_WEBHOOK_URL;
    none: webhook_status "none"). len(delays) + 1 attempts, sleeping delays[i]
    between them; network errors, 5xx, 408 and 429 are retried, other answers
    are final. Returns the final webhook_status; never raises.
    """
    try:
        url = db.resolve_url(url)
        reference = normalise_reference(reference)
        stored = get_request(reference, url)
        hook = (webhook or webhook_url() or "").strip()
        if not hook:
            _record(url, reference, "none", stored.webhook_attempts, None)
            return "none"
        scheme = urllib.parse.urlsplit(hook).scheme.lower()
        if scheme not in ("http", "https"):
            error = f"the webhook URL is not http(s) (scheme {scheme or 'missing'!r})"
            _record(url, reference, "failed", stored.webhook_attempts, error)
            logger.warning("service request %s: webhook not called: %s", reference, error)
            return "failed"
        body = json.dumps(
            {"event": "service_request.filed", "service_request": _payload(stored)},
            ensure_ascii=False,
        ).encode("utf-8")
        attempts = stored.webhook_attempts
        error = ""
        for n in range(len(delays) + 1):
            if n:
                sleep(delays[n - 1])
            attempts += 1
            delivered, error, retry = _post(hook, body, reference, timeout)
            if delivered:
                _record(url, reference, "delivered", attempts, None)
                logger.info("service request %s: webhook delivered (%s)", reference, error)
                return "delivered"
            _record(url, reference, "pending", attempts, error)
            if not retry:
                break
        _record(url, reference, "failed", attempts, error)
        logger.warning(
            "service request %s: webhook %s failed after %d attempt(s) (%s); the request "
            "is stored; `bot requests notify %s` tries again",
            reference,
            _where(hook),
            n + 1,
            error,
            reference,
        )
        return "failed"
    except Exception:  # noqa: BLE001 - the request is stored; the webhook must not break filing
        logger.warning("service request %s: webhook not delivered", reference, exc_info=True)
        try:
            with db.session_scope(db.resolve_url(url)) as session:
                session.execute(
                    update(db.ServiceRequest)
                    .where(db.ServiceRequest.reference == normalise_reference(reference))
                    .values(webhook_status="failed", webhook_error="unexpected error")
                )
        except Exception:  # noqa: BLE001 - nothing more to do; the warning is logged
            pass
        return "failed"


def notify_in_background(
    reference: str, *, url: str | None = None, webhook: str | None = None
) -> threading.Thread:
    """Run `notify` in a daemon thread (for the action server, right after filing).
    A process that exits mid-way leaves webhook_status "pending"; `bot requests
    notify REF` sends it again."""
    thread = threading.Thread(
        target=notify,
        args=(reference,),
        kwargs={"url": url, "webhook": webhook},
        name=f"webhook-{reference}",
        daemon=True,
    )
    thread.start()
    return thread
