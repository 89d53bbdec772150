"""The action server stays small: its code path never imports Rasa's core or
TensorFlow (`rasa run actions` did, and held ~540 MB; `python -m rasa_sdk` with
these actions does not)."""

from __future__ import annotations

import subprocess
import sys

from bot.settings import PROJECT_DIR

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
