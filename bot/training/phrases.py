"""Adding a phrase to the training data: checked first, then appended to
data/nlu/<lang>/<topic>.yml.

`prepare` cleans the text, resolves the intent (an unknown one is refused with
the close names), finds the file and runs the conflict check
(bot/training/conflicts.py); `write` appends the example; `add` does both.

The writer is ruamel.yaml's round trip (installed with Rasa), so comments,
order and quoting stay as they were (every file of data/nlu/ loads and dumps
byte for byte; a test checks it), and the example goes into the intent's
`examples: |` block as Rasa itself writes it (rasa.shared.nlu.training_data.
formats.rasa_yaml: a literal block of "- text" lines). A file edited by hand
while this runs is never clobbered: the new content is computed from the file
as read, and written (to a temporary file, then renamed) only if the file still
has the same bytes under an exclusive lock; otherwise it is read again.
"""

from __future__ import annotations

import difflib
import fcntl
import hashlib
import io
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bot import settings
from bot.contract import LANGS
from bot.text import normalise, strip_controls
from bot.training import conflicts, similarity
from bot.training.examples import EVAL_SETS, NLU_DIR, Example, training_examples

MAX_CHARS = 500  # longer examples are documents, not questions
MIN_WORD_CHARS = 2
# Rasa reads "[text](entity)", "[text]{...}" and "[text][...]" in an example as
# entity annotations: such a phrase would not be the text the trainer meant.
_ANNOTATION = re.compile(r"\[[^\]\n]*\]\s*[({\[]")
NOT_ASSIGNABLE = frozenset({"nlu_fallback"})
NEW_FILE = 'version: "3.1"\nnlu:\n'
_WRITE_ATTEMPTS = 5  # retries after an edit by hand during the write


class PhraseRefused(ValueError):
    """The phrase was not written; the message says why (and what to do)."""

    def __init__(self, message: str, verdict: conflicts.Verdict | None = None):
        super().__init__(message)
        self.verdict = verdict


# ---------------------------------------------------------------- input


def clean_text(text: object) -> str:
    """One line of text as an example, or PhraseRefused saying what is wrong."""
    if not isinstance(text, str):
        raise PhraseRefused("the phrase must be text")
    cleaned = " ".join(strip_controls(text.replace("\t", " ").replace("\n", " ")).split())
    if not cleaned:
        raise PhraseRefused("the phrase is empty (or only spaces)")
    if len(cleaned) > MAX_CHARS:
        raise PhraseRefused(
            f"the phrase is too long ({len(cleaned)} characters; at most {MAX_CHARS})"
        )
    if sum(ch.isalnum() for ch in cleaned) < MIN_WORD_CHARS:
        raise PhraseRefused("the phrase has no words")
    if cleaned.startswith("/"):
        raise PhraseRefused("the phrase starts with '/', which Rasa reads as an intent payload")
    if _ANNOTATION.search(cleaned):
        raise PhraseRefused(
            "the phrase contains [..](..), which Rasa reads as an entity annotation"
        )
    return cleaned


def intent_files(examples: Sequence[Example]) -> dict[str, dict[str, Path]]:
    """intent -> {lang: the file holding its examples}."""
    found: dict[str, dict[str, Path]] = {}
    for example in examples:
        found.setdefault(example.intent, {}).setdefault(example.lang, example.file)
    return found


def resolve_intent(intent: object, known: Sequence[str]) -> str:
    """The intent if it is known, else PhraseRefused offering the close names."""
    if not isinstance(intent, str) or not intent.strip():
        raise PhraseRefused("name an intent")
    name = intent.strip()
    if name in known and name not in NOT_ASSIGNABLE:
        return name
    choices = [k for k in known if k not in NOT_ASSIGNABLE]
    close = difflib.get_close_matches(name, choices, n=5, cutoff=0.5)
    close += [k for k in choices if name.lower() in k.lower() and k not in close][: 5 - len(close)]
    hint = f"; did you mean {', '.join(close)}?" if close else "; `bot phrase intents` lists them"
    raise PhraseRefused(f"unknown intent {name!r}{hint}")


def target_file(intent: str, lang: str, files: dict[str, dict[str, Path]], nlu_dir: Path) -> Path:
    """Where an example of `intent` in `lang` goes: its file in that language, else
    the same topic's file name (as in the other languages)."""
    by_lang = files[intent]
    if lang in by_lang:
        return by_lang[lang]
    name = next(iter(by_lang.values())).name
    return nlu_dir / lang / name


# ---------------------------------------------------------------- checking


@dataclass(frozen=True)
class Plan:
    text: str
    intent: str
    lang: str
    file: Path
    verdict: conflicts.Verdict


def prepare(
    intent: object,
    text: object,
    lang: str | None = None,
    *,
    nlu_dir: Path = NLU_DIR,
    eval_sets: Sequence[Path] = EVAL_SETS,
    predictor: conflicts.Predictor | None = conflicts.server_prediction,
    cache: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> Plan:
    """Check a phrase; the plan to write it, or PhraseRefused (with the verdict)."""
    cleaned = clean_text(text)
    examples = training_examples(nlu_dir)
    files = intent_files(examples)
    name = resolve_intent(intent, sorted(files))
    if lang is None:
        from bot import language

        lang = language.detect(cleaned).lang
    if lang not in LANGS:
        raise PhraseRefused(f"language must be one of {', '.join(LANGS)}")

    def index() -> similarity.Index:
        return similarity.Index.build(examples, cache, progress)

    def embed(phrase: str) -> np.ndarray:
        return similarity.embed_texts([phrase])[0]

    verdict = conflicts.check(
        cleaned,
        name,
        lang,
        examples=examples,
        eval_sets=eval_sets,
        index=index,
        predictor=predictor,
        embed=embed,
    )
    if not verdict.allowed:
        raise PhraseRefused("refused: " + "; ".join(verdict.refusals), verdict)
    return Plan(cleaned, name, lang, target_file(name, lang, files, nlu_dir), verdict)


# ---------------------------------------------------------------- writing


def _yaml() -> Any:
    from ruamel.yaml import YAML

    y: Any = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never fold a line (Rasa's own writer uses the same width)
    y.indent(mapping=2, sequence=2, offset=0)  # "- intent:" at the margin, as in data/nlu
    return y


def appended(source: str, intent: str, text: str) -> str:
    """`source` (a training data file) with `text` added to `intent`'s examples."""
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.scalarstring import LiteralScalarString

    y = _yaml()
    doc = y.load(source or NEW_FILE)
    if not isinstance(doc, dict) or not isinstance(doc.get("nlu") or [], list):
        raise PhraseRefused("the file is not Rasa training data (no `nlu:` list)")
    if doc.get("nlu") is None:
        doc["nlu"] = []
    line = f"- {text}\n"
    for block in doc["nlu"]:
        if isinstance(block, dict) and block.get("intent") == intent:
            current = str(block.get("examples") or "")
            if current and not current.endswith("\n"):
                current += "\n"
            block["examples"] = LiteralScalarString(current + line)
            break
    else:
        block = CommentedMap()
        block["intent"] = intent
        block["examples"] = LiteralScalarString(line)
        doc["nlu"].append(block)
    out = io.StringIO()
    y.dump(doc, out)
    result = out.getvalue()
    _verify(source or NEW_FILE, result, intent, text)
    return result


def _examples_of(source: str) -> dict[str, list[str]]:
    doc = yaml.safe_load(source) or {}
    found: dict[str, list[str]] = {}
    for block in doc.get("nlu") or []:
        if isinstance(block, dict) and "intent" in block:
            lines = str(block.get("examples") or "").splitlines()
            found.setdefault(block["intent"], []).extend(
                line.strip()[2:].strip() for line in lines if line.strip().startswith("- ")
            )
    return found


def _verify(before: str, after: str, intent: str, text: str) -> None:
    """The new file says what the old one said, plus the one example, and keeps
    every comment: anything else is a bug here, and nothing is written."""
    old, new = _examples_of(before), _examples_of(after)
    expected = {**old, intent: [*old.get(intent, []), text]}
    comments = [ln.strip() for ln in before.splitlines() if ln.lstrip().startswith("#")]
    kept = [ln.strip() for ln in after.splitlines() if ln.lstrip().startswith("#")]
    if new != expected or comments != kept:
        raise PhraseRefused("the file could not be rewritten faithfully; nothing was written")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def lock_path(path: Path) -> Path:
    """The lock of one training data file: in var/, never in data/ (whose every
    file is a training input)."""
    name = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    return settings.load().var_dir / "locks" / f"nlu-{name}.lock"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write(
    path: Path, intent: str, text: str, *, before_write: Callable[[], None] | None = None
) -> Path:
    """Append one example to `path` (created if need be), never over a newer edit.

    `before_write` runs between computing and writing (the tests edit the file
    there, as a person in an editor might)."""
    for _attempt in range(_WRITE_ATTEMPTS):
        # Under the lock from read to write: other writers of ours wait their turn;
        # the digest check below is for an edit by hand (an editor takes no lock).
        with _locked(path):
            original = _read(path)
            source = original.decode("utf-8")
            if normalise(text) in {
                normalise(t) for t in _examples_of(source or NEW_FILE).get(intent, [])
            }:
                raise PhraseRefused(f"already a training example of {intent} in {path.name}")
            content = appended(source, intent, text)
            if before_write is not None:
                before_write()
            if _digest(_read(path)) != _digest(original):
                before_write = None  # changed meanwhile: read it again
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(content)
                if path.exists():
                    os.chmod(tmp, path.stat().st_mode & 0o777)
                else:
                    os.chmod(tmp, 0o644)
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            return path
    raise PhraseRefused(
        f"{path} kept changing while the phrase was being added; nothing was written, try again"
    )


@dataclass(frozen=True)
class Added:
    plan: Plan
    file: Path


def add(
    intent: object,
    text: object,
    lang: str | None = None,
    *,
    nlu_dir: Path = NLU_DIR,
    eval_sets: Sequence[Path] = EVAL_SETS,
    predictor: conflicts.Predictor | None = conflicts.server_prediction,
    cache: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> Added:
    """Check and write one phrase; PhraseRefused if it may not be added."""
    plan = prepare(
        intent,
        text,
        lang,
        nlu_dir=nlu_dir,
        eval_sets=eval_sets,
        predictor=predictor,
        cache=cache,
        progress=progress,
    )
    return Added(plan, write(plan.file, plan.intent, plan.text))


def known_intents(nlu_dir: Path = NLU_DIR) -> list[str]:
    return sorted(intent_files(training_examples(nlu_dir)))
