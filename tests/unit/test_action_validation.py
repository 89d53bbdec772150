"""The compiled validator accepts and rejects action responses as Rasa's own does."""

from __future__ import annotations

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

import bot.rasa_addons  # noqa: F401  (installs the validator)
from bot.rasa_addons import action_validation

GOOD = {
    "events": [{"event": "slot", "name": "language", "value": "nb"}],
    "responses": [{"text": "Hei", "buttons": [], "custom": {"answer": {"rule_ids": []}}}],
}
BAD = {"events": [{"event": "slot", "value": "nb"}], "responses": []}  # a slot without a name


def test_installed():
    assert RemoteAction._validate_action_result is action_validation._validate_action_result


@pytest.mark.parametrize(("result", "ok"), [(GOOD, True), (BAD, False)])
def test_same_verdict_as_plain_jsonschema(result, ok):
    action = RemoteAction("action_answer_scope", EndpointConfig("http://127.0.0.1:1/webhook"))
    schema = RemoteAction.action_response_format_spec()
    try:
        jsonschema.validate(result, schema)
        expected = True
    except jsonschema.ValidationError:
        expected = False
    assert expected is ok
    if ok:
        assert action._validate_action_result(result) is True
    else:
        with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action server"):
            action._validate_action_result(result)
