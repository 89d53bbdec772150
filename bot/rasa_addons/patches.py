"""Every change this project makes to Rasa's own code, in one place.

Each patch names the Rasa version it was written against and is applied only
there: a different Rasa fails loudly at start-up instead of being patched
blindly. `apply()` is called by the entry point that starts Rasa
(`bot.rasa_addons.entry.rasa_cli`), never as a side effect of an import.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import rasa
import rasa.core.tracker_store
import rasa.server
import rasa.shared.utils.common
import rasa.shared.utils.io
import rasa.shared.utils.validation
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.actions.forms import FormAction
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.core.tracker_store import TrackerStore
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import BotUttered, Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.training_data.features import Features
from sanic import response

from bot import failure_replies, message_checks, settings
from bot.rasa_addons import nlu_pool

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


RunMethod = Callable[..., Awaitable[list[Event]]]
# Rasa's own, kept so that applying twice (tests reset `_applied`) never wraps twice.
_REMOTE_RUN: RunMethod = RemoteAction.run
_FORM_RUN: RunMethod = FormAction.run


def _answer_on_failure(run: RunMethod, timeout: float) -> RunMethod:
    """A custom action (or a form, which calls its validation action) that fails
    says so to the user instead of nothing, and gives up after `timeout` seconds.

    Rasa 3.6 waits up to DEFAULT_REQUEST_TIMEOUT (300 s, hard-coded in
    RemoteAction.run) for the action server, and when the call fails
    (refused, 401, 500, timeout) the processor's `_run_action` logs it and drops
    the action's events: the user gets no reply at all. A rejection (the SDK's
    400, a form's "not this slot") is normal dialogue flow and passes through.
    """

    @functools.wraps(run)
    async def guarded(self: Any, output_channel: Any, nlg: Any, tracker: Any, domain: Any):
        if isinstance(self, RemoteAction) and self.name().startswith("validate_"):
            # Called by a form (FormAction.validate_slots), which treats missing
            # events as "every slot valid": let it fail, the form's guard answers.
            return await run(self, output_channel, nlg, tracker, domain)
        try:
            return await asyncio.wait_for(run(self, output_channel, nlg, tracker, domain), timeout)
        except ActionExecutionRejection:
            raise
        except asyncio.TimeoutError:
            logger.error("action %s: no answer within %.0f s", self.name(), timeout)
        except Exception as exc:  # noqa: BLE001 - whatever failed, the user hears about it
            logger.error("action %s failed: %s", self.name(), exc)
        latest = tracker.latest_message.parse_data if tracker.latest_message else {}
        text = failure_replies.apology(
            failure_replies.ACTION_FAILED, latest, tracker.get_slot("language")
        )
        return [BotUttered(text, metadata={"fault": failure_replies.ACTION_FAILED})]

    return guarded


def _bounded_api(create_app: Callable[..., Any], max_chars: int) -> Callable[..., Any]:
    """Rasa's HTTP API with the message cap on the routes that run NLU.

    POST /model/parse and POST /conversations/<id>/messages are behind the API
    token, but NLU runs on the server's event loop: one 60,000-character text
    kept it busy for 95 s (bench/limits.py), stalling every conversation. Such
    a text gets 413 before any handler (or the token check) sees it."""

    @functools.wraps(create_app)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        app = create_app(*args, **kwargs)

        async def cap(request: Any) -> Any:
            if not message_checks.runs_nlu(request.method, request.path):
                return None
            try:
                body = request.json
            except Exception:  # noqa: BLE001 - not JSON: Rasa's own 400
                return None
            if message_checks.text_too_long(body, max_chars):
                return response.json(
                    {"error": f"text is longer than {max_chars} characters"}, status=413
                )
            return None

        app.register_middleware(cap, "request")
        return app

    return bounded


_CREATE_APP: Callable[..., Any] = rasa.server.create_app


def _features_fingerprint(self: Features) -> str:
    """Rasa 3.6's Features.fingerprint writes a sparse matrix out as text, one
    "(row, col)  value" line per entry, to hash it. Training fingerprints every
    node's output for its cache, so the n-gram counts of every example were
    printed after each NLU component: a third of a retrain's time outside the
    classifier (py-spy). The same entries, hashed as arrays: equal matrices get
    equal fingerprints, different ones different."""
    if self._cached_fingerprint is None:
        if self.is_dense():
            content = self.features.tobytes()
        else:
            coo = self.features.tocoo()
            digest = hashlib.sha256(repr((coo.shape, str(coo.dtype))).encode())
            for array in (coo.row, coo.col, coo.data):
                digest.update(np.ascontiguousarray(array).tobytes())
            content = digest.hexdigest()
        self._cached_fingerprint = rasa.shared.utils.io.deep_container_fingerprint(
            [self.type, self.origin, self.attribute, content]
        )
    return self._cached_fingerprint


_TOKEN_FINGERPRINT: Callable[[Token], str] = Token.fingerprint


def _token_fingerprint(self: Token) -> str:
    """Rasa 3.6 fingerprints a token as a list of five fingerprints, each its own JSON
    text and MD5, and training fingerprints every example's tokens after each NLU
    component (for its cache): 1.9 s for data/nlu's tokens once, 0.55 s this way
    (one JSON text, one MD5). Equal tokens get equal fingerprints and different ones
    different; a token whose data JSON cannot hold is left to Rasa's own."""
    try:
        text = json.dumps(
            [self.text, self.start, self.end, self.lemma, self.data],
            sort_keys=True,
            ensure_ascii=False,
        )
    except (TypeError, ValueError):
        return _TOKEN_FINGERPRINT(self)
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


_VALIDATE_YAML: Callable[..., None] = rasa.shared.utils.validation.validate_yaml_schema
_VALIDATED: set[tuple[bytes, str, str]] = set()
_VALIDATED_LIMIT = 20_000  # file versions remembered (a few MB at most)


def _remembered_validation(content: str, schema_path: str, *args: Any, **kwargs: Any) -> None:
    """Rasa checks every YAML file against its schema (pykwalify) each time it reads
    it: 2.6 s for data/nlu's 138 files on a busy machine, and a training reads them
    twice. A file version that passed
    once passes again: a long-lived process (the warm NLU worker, which trains
    after each new phrase) checks only what changed. Failures are never
    remembered, so a bad file fails every time."""
    key = (
        hashlib.sha256(content.encode("utf-8")).digest(),
        schema_path,
        repr((args, sorted(kwargs.items()))),
    )
    if key in _VALIDATED:
        return
    _VALIDATE_YAML(content, schema_path, *args, **kwargs)
    if len(_VALIDATED) >= _VALIDATED_LIMIT:
        _VALIDATED.clear()
    _VALIDATED.add(key)


def remember_validated_yaml() -> None:
    """For processes that train again and again (bot.rasa_addons.entry.nlu_job); servers
    read their files once and need no memory of them."""
    _check_version()
    rasa.shared.utils.validation.validate_yaml_schema = _remembered_validation


def _strict_load(domain: Any, store: Any, event_broker: Any = None) -> TrackerStore:
    """Rasa's custom-store loader without its silent in-memory fallback."""
    cls = rasa.shared.utils.common.class_from_module_path(store.type)
    return cls(host=store.url, domain=domain, event_broker=event_broker, **store.kwargs)


def strict_tracker_store_loading() -> None:
    """Rasa 3.6 quietly falls back to an in-memory store when a custom tracker
    store's import fails (rasa.core.tracker_store._load_from_module_name_in_endpoint_config):
    conversations would then be kept unmasked in memory and lost on restart. With
    this, a custom store that cannot be loaded stops Rasa (bot.rasa_addons.stores.tracker_store)."""
    _check_version()
    rasa.core.tracker_store._load_from_module_name_in_endpoint_config = _strict_load


_PARSE_MESSAGE = MessageProcessor.parse_message


async def _parse_off_the_loop(
    self: MessageProcessor,
    message: UserMessage,
    tracker: DialogueStateTracker | None = None,
    only_output_properties: bool = True,
) -> dict[str, Any]:
    """MessageProcessor.parse_message (Rasa 3.6.21) with the NLU graph run in the
    parse pool (bot.rasa_addons.nlu_pool), by client in turn, instead of on the
    event loop; the rest
    as Rasa does it. The tracker is the conversation's, held by its lock for the
    whole turn, so nothing else changes it while a thread reads it."""
    fair = nlu_pool.queue()
    if fair is None or self.http_interpreter:
        return await _PARSE_MESSAGE(self, message, tracker, only_output_properties)
    if tracker is None:
        tracker = DialogueStateTracker.from_events(message.sender_id, [])
    client = nlu_pool.client_of(message.sender_id)
    parse_data: dict[str, Any] = await fair.run(  # nlu_pool.Busy: the channel says so
        client, self._parse_message_with_graph, message, tracker, only_output_properties
    )
    self._update_full_retrieval_intent(parse_data)
    self._check_for_unseen_features(parse_data)
    return parse_data


_HANDLE_MESSAGE = MessageProcessor.handle_message


async def _in_the_clients_turn(
    self: MessageProcessor, message: UserMessage
) -> list[dict[str, Any]] | None:
    """MessageProcessor.handle_message (Rasa 3.6.21), which Agent.handle_message runs
    for every channel under the conversation's lock, inside one of the client's
    turns (bot.client_turns): a client with many connections open has
    BOT_TURNS_PER_CLIENT turns in flight (one by default), not all of them.
    Inside the lock, so that a conversation's next message waits for the lock,
    not in one of its client's turns. Busy (nothing read or stored yet): the
    channel says so."""
    async with nlu_pool.turns().turn(nlu_pool.client_of(message.sender_id)):
        return await _HANDLE_MESSAGE(self, message)


def _check_version() -> None:
    if rasa.__version__ != RASA_VERSION:
        raise UnpatchedRasa(
            f"bot/rasa_addons/patches.py was written for Rasa {RASA_VERSION}, "
            f"found {rasa.__version__}: check each patch against it, then update RASA_VERSION"
        )


def apply() -> None:
    """Apply every patch once; refuse a Rasa version they were not checked on."""
    global _applied
    if _applied:
        return
    _check_version()
    RemoteAction._validate_action_result = _validate_action_result
    timeout = settings.load().action_timeout
    RemoteAction.run = _answer_on_failure(_REMOTE_RUN, timeout)
    FormAction.run = _answer_on_failure(_FORM_RUN, timeout)
    rasa.server.create_app = _bounded_api(_CREATE_APP, settings.load().max_message_chars)
    Features.fingerprint = _features_fingerprint
    Token.fingerprint = _token_fingerprint
    MessageProcessor.parse_message = _parse_off_the_loop
    MessageProcessor.handle_message = _in_the_clients_turn
    _applied = True
    logger.debug("Rasa patches applied")
