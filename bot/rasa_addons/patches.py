"""Every change this project makes to Rasa's own code, in one place.

Each patch names the Rasa version it was written against and is applied only
there: a different Rasa fails loudly at start-up instead of being patched
blindly. `apply()` is called by the entry point that starts Rasa
(`bot.rasa_addons.main`), never as a side effect of an import.
"""

from __future__ import annotations

import logging
from typing import Any

import rasa
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

logger = logging.getLogger(__name__)

RASA_VERSION = "3.6.21"  # the version every patch below was checked against

_validator: Any = None
_applied = False


class UnpatchedRasa(RuntimeError):
    """The installed Rasa is not the one the patches were written for."""


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """Rasa 3.6's RemoteAction._validate_action_result calls jsonschema.validate,
    which builds the response schema and checks the schema itself on every
    response: measured at 27 % of the Rasa server's time per message
    (py-spy, bench/speed.py). Same schema, same error, compiled once."""
    global _validator
    if _validator is None:
        schema = self.action_response_format_spec()
        cls = validator_for(schema)
        cls.check_schema(schema)
        _validator = cls(schema)
    try:
        _validator.validate(result)
        return True
    except ValidationError as e:  # the same message as Rasa's own
        e.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise e


def apply() -> None:
    """Apply every patch once; refuse a Rasa version they were not checked on."""
    global _applied
    if _applied:
        return
    if rasa.__version__ != RASA_VERSION:
        raise UnpatchedRasa(
            f"bot/rasa_addons/patches.py was written for Rasa {RASA_VERSION}, "
            f"found {rasa.__version__}: check each patch against it, then update RASA_VERSION"
        )
    RemoteAction._validate_action_result = _validate_action_result
    _applied = True
    logger.debug("Rasa patches applied")
