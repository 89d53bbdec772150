"""A copy of the project to try a change on, never touching the work tree's data/.

The end-to-end retrain test and `python -m bench.retrain` add a phrase to a copy,
retrain it and run servers on it. The copy has the code, data, content and held-out
sets; not the virtual environment (the same interpreter runs it), models (`model`
is copied in), var/ or tests. `environment()` points every setting at the copy:
a process started with it (cwd = the copy) reads and writes only there.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from bot.settings import PROJECT_DIR

_SKIP = {".git", ".venv", "models", "var", ".rasa", "tests", "docs", "results", "node_modules"}
_SKIP_SUFFIXES = ("_cache", "__pycache__")


def _ignore(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n in _SKIP or n.endswith(_SKIP_SUFFIXES)}


def copy_project(dest: Path, model: Path | None = None, cache: Path | None = None) -> Path:
    """Copy the project to `dest` (new); with `model` copied into its models/ and the
    files of `cache` (a var/cache/: embeddings, the classifier's last fit) into its
    var/cache/."""
    shutil.copytree(PROJECT_DIR, dest, ignore=_ignore, symlinks=True)
    (dest / "models").mkdir()
    if model is not None:
        shutil.copy2(model, dest / "models" / model.name)
    (dest / "var" / "cache").mkdir(parents=True)
    for path in cache.iterdir() if cache is not None and cache.is_dir() else ():
        if path.is_file() and not path.name.startswith("."):
            shutil.copy2(path, dest / "var" / "cache" / path.name)
    return dest


def environment(project: Path, rasa_port: int, actions_port: int) -> dict[str, str]:
    """The settings of a copy: its own databases, var/, models/, ports and secrets."""
    var = project / "var"
    return {
        "BOT_PROJECT_DIR": str(project),
        "BOT_VAR_DIR": str(var),
        "BOT_MODELS_DIR": str(project / "models"),
        "BOT_DATABASE_URL": f"sqlite:///{var / 'bot.db'}",
        "BOT_TRACKER_URL": f"sqlite:///{var / 'tracker.db'}",
        "BOT_RASA_PORT": str(rasa_port),
        "BOT_ACTIONS_PORT": str(actions_port),
        "BOT_API_TOKEN": secrets.token_urlsafe(32),
        "BOT_ACTIONS_TOKEN": secrets.token_urlsafe(32),
        "BOT_TRAINER_TOKEN": secrets.token_urlsafe(32),
        "BOT_LOG_LEVEL": "WARNING",
        "BOT_RATE_PER_CLIENT": "1000000",
        "BOT_TURNS_PER_CLIENT": "1000",
    }


def append_example(nlu_file: Path, intent: str, text: str) -> None:
    """Add `text` as the last example of `intent` in a data/nlu file (plain text edit;
    trainers use `bot phrase add`, which also checks for conflicts)."""
    lines = nlu_file.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == f"- intent: {intent}")
    end = start + 1
    while end < len(lines) and not lines[end].startswith("- "):
        end += 1
    last = max(i for i in range(start, end) if lines[i].lstrip().startswith("- "))
    indent = lines[last][: len(lines[last]) - len(lines[last].lstrip())]
    if not lines[last].endswith("\n"):
        lines[last] += "\n"
    lines.insert(last + 1, f"{indent}- {text}\n")
    nlu_file.write_text("".join(lines), encoding="utf-8")


def start(project: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    """`bot run` in the copy (as `make run` starts it), output to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=project,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def run_cli(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """A `bot` command in the copy, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=project,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
