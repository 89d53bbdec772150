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
    import bot.rasa_addons.channels.chat_page  # noqa: F401

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


def _features(matrix) -> object:
    from rasa.shared.nlu.training_data.features import Features

    return Features(matrix, "sentence", "text", "CountVectorsFeaturizer")


def test_sparse_fingerprints_tell_matrices_apart_as_rasas_own_do():
    """The cheap fingerprint (the entries hashed as arrays, not printed) is equal
    for equal matrices, in any storage format, and differs when any entry, the
    shape or the dtype differs."""
    import numpy as np
    import scipy.sparse as sp

    patches.apply()
    base = sp.csr_matrix(np.array([[0, 1.0, 0, 2.0]]))
    same = [base.copy(), sp.coo_matrix(base), sp.csr_matrix(np.array([[0, 1.0, 0, 2.0]]))]
    other = [
        sp.csr_matrix(np.array([[0, 1.0, 0, 3.0]])),  # a value
        sp.csr_matrix(np.array([[0, 1.0, 2.0, 0]])),  # a column
        sp.csr_matrix(np.array([[0, 1.0, 0, 2.0, 0]])),  # the shape
        sp.csr_matrix(np.array([[0, 1, 0, 2]], dtype=np.int64)),  # the dtype
    ]
    fingerprint = _features(base).fingerprint()
    assert all(_features(m).fingerprint() == fingerprint for m in same)
    assert len({fingerprint, *(_features(m).fingerprint() for m in other)}) == 1 + len(other)
    dense = _features(np.array([[0.5, 0.25]]))
    assert dense.fingerprint() == _features(np.array([[0.5, 0.25]])).fingerprint()


def test_a_yaml_file_is_checked_against_its_schema_once_per_version(monkeypatch):
    """In a process that trains again and again, a file version that passed Rasa's
    schema check is not checked again; one that failed fails every time."""
    import rasa.shared.utils.validation as validation
    from rasa.shared.nlu.training_data.formats.rasa_yaml import NLU_SCHEMA_FILE

    checked: list[str] = []

    def counting(content, schema, *args, **kwargs):
        checked.append(content)
        return ORIGINAL_VALIDATION(content, schema, *args, **kwargs)

    ORIGINAL_VALIDATION = patches._VALIDATE_YAML
    monkeypatch.setattr(patches, "_VALIDATE_YAML", counting)
    monkeypatch.setattr(patches, "_VALIDATED", set())
    monkeypatch.setattr(validation, "validate_yaml_schema", validation.validate_yaml_schema)
    patches.remember_validated_yaml()
    good = 'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hello\n'
    changed = good + "    - hi there\n"
    bad = 'version: "3.1"\nnlu:\n- intent: greet\n  examples: 7\n  stray: key\n'
    for content in (good, good, changed, good):
        validation.validate_yaml_schema(content, NLU_SCHEMA_FILE)
    assert checked == [good, changed]
    for _ in range(2):
        with pytest.raises(validation.YamlValidationException):
            validation.validate_yaml_schema(bad, NLU_SCHEMA_FILE)
    assert checked == [good, changed, bad, bad]


def test_token_fingerprints_tell_tokens_apart_as_rasas_own_do():
    from rasa.nlu.tokenizers.tokenizer import Token

    patches.apply()
    base = Token("virus", 4, data={"pattern": {"a": 1}}, lemma="virus")
    same = Token("virus", 4, data={"pattern": {"a": 1}}, lemma="virus")
    other = [
        Token("virus", 5, data={"pattern": {"a": 1}}, lemma="virus"),  # where
        Token("Virus", 4, data={"pattern": {"a": 1}}, lemma="virus"),  # the text
        Token("virus", 4, data={"pattern": {"a": 2}}, lemma="virus"),  # its data
        Token("virus", 4, data={"pattern": {"a": 1}}, lemma="vir"),  # the lemma
        Token("virus", 4, end=12, data={"pattern": {"a": 1}}, lemma="virus"),  # the end
    ]
    assert base.fingerprint() == same.fingerprint()
    assert len({base.fingerprint(), *(t.fingerprint() for t in other)}) == 1 + len(other)
    odd = Token("virus", 4, data={"vector": object()})  # not JSON: Rasa's own way
    assert odd.fingerprint() == patches._TOKEN_FINGERPRINT(odd)
