"""Validate action server responses with one compiled validator.

Rasa 3.6's RemoteAction._validate_action_result calls jsonschema.validate,
which builds the response schema and checks the schema itself on every
response: measured at 27 % of the Rasa server's time per message here
(py-spy, bench/speed.py). This keeps the same schema and the same error,
but compiles the validator once. Installed when the pipeline's components are
imported (bot/rasa_addons/__init__.py), i.e. in every Rasa process that runs
this project's model.
"""

from __future__ import annotations

from typing import Any

from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

_validator = None


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
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


def install() -> None:
    RemoteAction._validate_action_result = _validate_action_result
