"""The action server stays small: its code path never imports Rasa's core or
TensorFlow (`rasa run actions` did, and held ~540 MB; `python -m rasa_sdk` with
these actions does not)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.settings import PROJECT_DIR

pytestmark = pytest.mark.process  # each probe is a Python process of its own

PROBE = """
import importlib, pkgutil, sys
import actions
for module in pkgutil.iter_modules(actions.__path__):
    importlib.import_module("actions." + module.name)
import rasa_sdk.endpoint
print(sorted(k for k in ("tensorflow", "jax", "h5py", "rasa", "torch") if k in sys.modules))
"""


def test_the_actions_import_neither_rasa_nor_tensorflow():
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


WARM_PROBE = """
import asyncio, sys
from bot.rasa_addons.entry import action_server
from bot.records import names
for name in action_server.UNUSED_BY_ACTIONS:  # as main() does
    sys.modules.setdefault(name, None)
assert names.nlp.cache_info().currsize == 0
asyncio.run(action_server.warm_lookups(None, None))
print(names.nlp.cache_info().currsize, sys.modules.get("tensorflow") is not None)
"""


def test_the_action_server_loads_spacy_and_the_matcher_before_serving(tmp_path):
    """The first customer's lookup must not pay for loading spaCy (seconds on a busy
    machine, past BOT_ACTION_TIMEOUT): the server's start-up does, without TensorFlow."""
    import os

    env = {**os.environ, "BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"}
    result = subprocess.run(
        [sys.executable, "-c", WARM_PROBE],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["1", "False"]
