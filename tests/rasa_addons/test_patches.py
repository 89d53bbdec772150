"""Rasa patches: applied only when asked, and the compiled validator accepts and
rejects action responses as Rasa's own does."""

from __future__ import annotations

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from bot.rasa_addons import patches

GOOD = {
    "events": [{"event": "slot", "name": "language", "value": "nb"}],
    "responses": [{"text": "Hei", "buttons": [], "custom": {"answer": {"rule_ids": []}}}],
}
BAD = {"events": [{"event": "slot", "value": "nb"}], "responses": []}  # a slot without a name


ORIGINAL = RemoteAction._validate_action_result


def test_importing_the_addons_patches_nothing():
    import bot.rasa_addons.chat_channel  # noqa: F401

    assert RemoteAction._validate_action_result is ORIGINAL or patches._applied


def test_applied_once_and_only_on_the_checked_version(monkeypatch):
    patches.apply()
    assert RemoteAction._validate_action_result is patches._validate_action_result
    monkeypatch.setattr(patches, "_applied", False)
    monkeypatch.setattr(patches.rasa, "__version__", "3.7.0")
    with pytest.raises(patches.UnpatchedRasa, match="written for Rasa 3.6.21, found 3.7.0"):
        patches.apply()


@pytest.mark.parametrize(("result", "ok"), [(GOOD, True), (BAD, False)])
def test_same_verdict_as_plain_jsonschema(result, ok):
    patches.apply()
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
