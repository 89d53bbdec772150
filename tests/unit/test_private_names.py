"""Every private name of Rasa (and of the libraries beside it) that our code uses,
listed: upgrading Rasa means checking each of these, and a new one fails here
until it is added to the list, with the reason next to the code that uses it.

Changes to Rasa's behaviour live in bot/rasa_addons/patches.py (version-guarded);
reading a private name elsewhere is allowed only as listed below.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.settings import PROJECT_DIR

pytestmark = pytest.mark.unit

LIBRARIES = ("rasa", "rasa_sdk", "scipy", "sanic", "sanic_cors", "socketio", "sklearn")

EXPECTED: dict[str, set[str]] = {
    # scipy's strong-Wolfe line search (dcsrch), as L-BFGS-B uses it
    "bot/nlu/lbfgs.py": {"scipy.optimize._linesearch"},
    # rasa train's own unresolved-slot check, so the retrain checks what it checks
    "bot/rasa_addons/graph_training.py": {"rasa.model_training._check_unresolved_slots"},
    "bot/rasa_addons/patches.py": {
        "rasa.core.tracker_store._load_from_module_name_in_endpoint_config",
        "RemoteAction._validate_action_result",
    },
    # Rasa's SQL store's own query for the events not stored yet (save, masked)
    # and its query of a conversation's events, read in a worker thread (_read,
    # which also overrides its _retrieve)
    "bot/rasa_addons/stores/tracker_store.py": {"self._additional_events", "self._event_query"},
    # a GraphComponent's configuration and node name, as Rasa's own components read them
    "bot/rasa_addons/components/e5_featurizer.py": {"self._config", "self._identifier"},
}

_LIB = "|".join(LIBRARIES)
# rasa.x._private, from rasa.x import _private, from rasa.x._private import y
_MODULE_PATH = re.compile(rf"\b((?:{_LIB})(?:\.\w+)*\._[a-z]\w*)")
_FROM_IMPORT = re.compile(rf"^\s*from ((?:{_LIB})(?:\.\w+)*) import ([^\n]+)$", re.M)
_IMPORTED_CLASS = re.compile(rf"^\s*from (?:{_LIB})(?:\.\w+)* import ([^\n]+)$", re.M)
_SELF_PRIVATE = re.compile(r"\b(?:self|cls)\.(_[a-z]\w*)")


def _own_privates(text: str) -> set[str]:
    return (
        set(re.findall(r"def (_\w+)", text))
        | set(re.findall(r"(?:self|cls)\.(_\w+)\s*(?::[^=\n]*)?=(?!=)", text))
        | set(re.findall(r"^\s+(_\w+)\s*[:=]", text, re.M))
    )


def private_names(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    found = {m for m in _MODULE_PATH.findall(text)}
    for module, names in _FROM_IMPORT.findall(text):
        for name in re.findall(r"\b(_[a-z]\w*)", names.split("#")[0]):
            found.add(f"{module}.{name}")
    classes = {
        name.strip().split(" as ")[-1]
        for names in _IMPORTED_CLASS.findall(text)
        for name in names.split("#")[0].strip("() ").split(",")
        if name.strip()[:1].isupper()
    }
    for cls in classes:
        found |= {f"{cls}.{m}" for m in re.findall(rf"\b{cls}\.(_[a-z]\w*)", text)}
    subclasses_library = any(
        re.search(rf"class \w+\([^)]*\b{cls}\b", text) for cls in classes
    ) or bool(re.search(rf"class \w+\((?:{_LIB})\.", text))
    for alias in re.findall(rf"^import (?:{_LIB})(?:\.\w+)* as (\w+)", text, re.M):
        subclasses_library |= bool(re.search(rf"class \w+\({alias}\.", text))
    if subclasses_library:
        own = _own_privates(text)
        found |= {f"self.{n}" for n in _SELF_PRIVATE.findall(text) if n not in own}
    return found


def test_every_private_name_used_is_listed():
    seen: dict[str, set[str]] = {}
    for root in ("bot", "actions"):
        for path in sorted((PROJECT_DIR / root).rglob("*.py")):
            names = private_names(path)
            if names:
                seen[str(path.relative_to(PROJECT_DIR))] = names
    assert seen == EXPECTED


def test_the_scan_finds_each_kind(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import scipy.optimize._linesearch\n"
        "from rasa.model_training import _check_unresolved_slots\n"
        "from rasa.core.actions.action import RemoteAction\n"
        "RemoteAction._validate_action_result = None\n"
        "class Store(RemoteAction):\n"
        "    def own(self):\n"
        "        self._mine = 1\n"
        "        return self._inherited(), self._mine\n",
        encoding="utf-8",
    )
    assert private_names(sample) == {
        "scipy.optimize._linesearch",
        "rasa.model_training._check_unresolved_slots",
        "RemoteAction._validate_action_result",
        "self._inherited",
    }
