"""The import rules of docs/architecture.md, checked on the source (no imports run).

Layers, from the top: a module may import its own layer and the layers below it,
never one above. Every import counts, the ones inside functions too: an import
deferred to break a cycle is still the dependency it was.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import PROJECT_DIR

pytestmark = pytest.mark.unit

# Highest first; a module belongs to the first layer one of whose prefixes it has.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("entry points", ("bot.cli", "bot.rasa_addons")),
    ("runtime", ("bot.runtime",)),
    # forget, export and purge act on every store, the trainers' inbox included
    ("privacy across stores", ("bot.privacy.retention", "bot.privacy.subject")),
    ("training", ("bot.training",)),
    ("core", ("bot",)),
)
# What the actions may use of bot/: the core only (no SQL, no training, no Rasa).
# (bot.db's `unreachable` only classifies an exception; the SQL stays in the core.)
ACTIONS_MAY_NOT = ("bot.cli", "bot.rasa_addons", "bot.runtime", "bot.training")
ACTIONS_NEVER = ("sqlalchemy", "rasa")  # the SDK is rasa_sdk, not rasa


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_DIR).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources(*roots: str) -> Iterator[tuple[str, Path]]:
    for root in roots:
        for path in sorted((PROJECT_DIR / root).rglob("*.py")):
            yield _module_name(path), path


KNOWN = {name for name, _ in _sources("bot", "actions")}


def _resolve(name: str) -> str:
    """The longest known module of a dotted name (`bot.db.engine_for` -> `bot.db`)."""
    while name and name not in KNOWN and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def imports(path: Path, module: str) -> set[str]:
    """Every module `path` imports (at any depth), our own resolved to a module."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(_resolve(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # `from bot import db` imports bot.db
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in KNOWN else _resolve(base))
    return found


def layer_of(module: str) -> int | None:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    return None


GRAPH = {name: imports(path, name) for name, path in _sources("bot", "actions")}


def test_no_module_imports_a_layer_above_its_own():
    wrong = []
    for module, imported in GRAPH.items():
        own = layer_of(module)
        if own is None:
            continue
        for target in imported:
            theirs = layer_of(target)
            if theirs is not None and theirs < own:
                wrong.append(f"{module} ({LAYERS[own][0]}) imports {target} ({LAYERS[theirs][0]})")
    assert not wrong, "\n".join(sorted(wrong))


def test_only_rasa_addons_imports_rasa():
    wrong = [
        f"{module} imports {target}"
        for module, imported in GRAPH.items()
        if module.startswith("bot.") and not module.startswith("bot.rasa_addons")
        for target in imported
        if target.split(".")[0] in ("rasa", "rasa_sdk")
    ]
    assert not wrong, "\n".join(sorted(wrong))


def test_actions_use_the_core_only_and_no_sql():
    wrong = [
        f"{module} imports {target}"
        for module, imported in GRAPH.items()
        if module.startswith("actions")
        for target in imported
        if target.startswith(ACTIONS_MAY_NOT) or target.split(".")[0] in ACTIONS_NEVER
    ]
    assert not wrong, "\n".join(sorted(wrong))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, ()):
            if succ not in graph:
                continue
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    """No two modules import each other, directly or round a loop (a package's
    __init__ re-exporting its parts counts as importing them)."""
    ours = {module: {t for t in imported if t in GRAPH} for module, imported in GRAPH.items()}
    assert _cycles(ours) == []


def test_the_checker_sees_a_wrong_import(tmp_path):
    """The rules are not vacuous: a core module importing the runtime is caught."""
    assert layer_of("bot.answers") == len(LAYERS) - 1
    assert layer_of("bot.runtime.launcher") == 1
    assert "bot.runtime.processes" in GRAPH["bot.runtime.build"]
    assert "bot.db" in GRAPH["bot.training.inbox.sync"]
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


MAX_MODULE_LINES = 400  # a module past this is doing more than one job: make it a package


def test_no_module_passes_the_size_where_it_wants_to_be_a_package():
    long = [
        f"{name}: {lines} lines"
        for name, path in _sources("bot", "actions")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    assert not long, "\n".join(long)
