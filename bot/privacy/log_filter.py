"""Personal data out of the logs: Rasa's channels log the user's full text on
errors (the REST channel: "An exception occured while handling user message
'...'"), and debug logging prints every message.

`MaskingFilter` rewrites a record's message (and its formatted traceback) with
bot.privacy.mask's patterns: keys, e-mail addresses, phone numbers. `install()`
puts it on the root logger and its handlers, and wraps the log record factory,
because a logger's filters do not see records its children propagate to it and
Rasa and Sanic add their handlers after start-up. Called by
bot.rasa_addons.entry.rasa_cli (Rasa) and actions.conversation (the action server).
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from bot.privacy.mask import mask_text


class MaskingFilter(logging.Filter):
    """Masks the record in place; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_masked", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string: leave it to logging
            return True
        record.msg, record.args = mask_text(message), None
        if record.exc_info and not record.exc_text:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = mask_text(text)
        record._masked = True
        return True


_FILTER = MaskingFilter()
_installed = False


def install() -> None:
    """Mask every record of this process from now on (idempotent)."""
    global _installed
    root = logging.getLogger()
    for target in (root, *root.handlers):
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        _FILTER.filter(record)
        return record

    logging.setLogRecordFactory(masked_record)
    _installed = True
