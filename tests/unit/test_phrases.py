"""Adding a phrase: the conflict check (held-out, duplicate, conflict, near
duplicate), bad input, and the round-trip YAML writer, always on a copy of the
training data in tmp_path (the work tree's data/nlu is only ever read)."""

from __future__ import annotations

import difflib
import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from bot.runtime import processes
from bot.settings import PROJECT_DIR
from bot.training import conflicts, phrases, similarity
from bot.training.examples import training_examples
from tests.unit.inbox_data import copy_nlu, make_nlu


@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, Path]:
    return make_nlu(tmp_path / "project")


def options(small: tuple[Path, Path], tmp_path: Path, **kw) -> dict:
    return {
        "nlu_dir": small[0],
        "eval_sets": [small[1]],
        "predictor": None,
        "cache": tmp_path / "e5.npz",
        **kw,
    }


def test_every_training_file_round_trips_byte_for_byte(tmp_path) -> None:
    nlu = copy_nlu(PROJECT_DIR / "data" / "nlu", tmp_path)
    files = sorted(nlu.glob("*/*.yml"))
    assert len(files) > 100
    y = phrases._yaml()
    for path in files:
        source = path.read_text(encoding="utf-8")
        doc = y.load(source)
        out = io.StringIO()
        y.dump(doc, out)
        assert out.getvalue() == source, path


def test_a_phrase_is_appended_as_rasa_writes_it_keeping_comments(tmp_path) -> None:
    nlu = copy_nlu(PROJECT_DIR / "data" / "nlu", tmp_path)
    path = nlu / "en" / "chitchat.yml"  # several intents in one file
    source = path.read_text(encoding="utf-8").replace(
        "- intent: goodbye\n", "# goodbyes, however brief\n- intent: goodbye  # the end\n"
    )
    path.write_text(source, encoding="utf-8")

    phrases.write(path, "goodbye", "ok that's all, bye for now")

    after = path.read_text(encoding="utf-8")
    diff = [
        line
        for line in difflib.unified_diff(source.splitlines(), after.splitlines(), lineterm="")
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
    ]
    assert diff == ["+    - ok that's all, bye for now"]
    goodbye = after.split("- intent: goodbye")[1].split("- intent:")[0]
    assert goodbye.rstrip().endswith("    - ok that's all, bye for now")
    assert "# goodbyes, however brief\n- intent: goodbye  # the end\n" in after
    parsed = yaml.safe_load(after)
    block = next(b for b in parsed["nlu"] if b["intent"] == "goodbye")
    assert block["examples"].endswith("- ok that's all, bye for now\n")


def test_unicode_and_yaml_characters_survive(tmp_path, small) -> None:
    path = small[0] / "nb" / "disinfection.yml"
    text = 'Kan dere fjerne «viruset» på PC-en? #hjelp: "nå" 😀 & {x}'
    phrases.write(path, "scope_disinfection", text)
    examples = [e.text for e in training_examples(small[0]) if e.file == path]
    assert examples[-1] == text


def test_a_new_language_file_and_a_new_block(small) -> None:
    nlu = small[0]
    files = phrases.intent_files(training_examples(nlu))
    target = phrases.target_file("scope_hardware_faults", "sv", files, nlu)
    assert target == nlu / "sv" / "hardware_faults.yml" and not target.exists()
    phrases.write(target, "scope_hardware_faults", "min hårddisk är trasig")
    assert target.read_text(encoding="utf-8") == (
        'version: "3.1"\nnlu:\n- intent: scope_hardware_faults\n  examples: |\n'
        "    - min hårddisk är trasig\n"
    )
    # an intent that has no block in an existing file gets one at the end
    phrases.write(nlu / "en" / "out_of_scope.yml", "scope_hardware_faults", "fan noise")
    assert (
        (nlu / "en" / "out_of_scope.yml")
        .read_text(encoding="utf-8")
        .endswith("- intent: scope_hardware_faults\n  examples: |\n    - fan noise\n")
    )


def test_a_file_edited_by_hand_meanwhile_is_read_again_not_clobbered(small) -> None:
    path = small[0] / "en" / "hardware_faults.yml"

    def person_saves_in_an_editor() -> None:
        text = path.read_text(encoding="utf-8").replace(
            "- intent: scope_hardware_faults\n",
            "# edited by hand\n- intent: scope_hardware_faults\n",
        )
        path.write_text(text + "    - my monitor flickers\n", encoding="utf-8")

    phrases.write(
        path, "scope_hardware_faults", "the fan rattles", before_write=person_saves_in_an_editor
    )

    after = path.read_text(encoding="utf-8")
    assert "# edited by hand\n" in after
    assert after.endswith("    - my monitor flickers\n    - the fan rattles\n")


def test_two_writers_at_once_both_land(small) -> None:
    path = small[0] / "en" / "hardware_faults.yml"
    texts = [f"hardware problem number {i}" for i in range(6)]
    threads = [
        threading.Thread(target=phrases.write, args=(path, "scope_hardware_faults", t))
        for t in texts
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    found = [e.text for e in training_examples(small[0]) if e.file == path]
    assert sorted(found[2:]) == sorted(texts) and len(found) == 8


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("x" * 501, "too long (501 characters; at most 500)"),
        ("?!", "no words"),
        ("/scope_licence", "intent payload"),
        ("my [KES](product) is slow", "entity annotation"),
        (42, "must be text"),
    ],
)
def test_bad_text_is_refused_with_a_reason(small, tmp_path, text, message) -> None:
    with pytest.raises(
        phrases.PhraseRefused, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        phrases.add("scope_disinfection", text, "en", **options(small, tmp_path))


def test_an_unknown_intent_offers_the_close_names(small, tmp_path) -> None:
    with pytest.raises(phrases.PhraseRefused) as refused:
        phrases.add("scope_hardware_fault", "the fan rattles", "en", **options(small, tmp_path))
    assert "unknown intent 'scope_hardware_fault'; did you mean scope_hardware_faults" in str(
        refused.value
    )
    with pytest.raises(phrases.PhraseRefused, match="unknown intent 'nlu_fallback'"):
        phrases.add("nlu_fallback", "the fan rattles", "en", **options(small, tmp_path))
    with pytest.raises(phrases.PhraseRefused, match="language must be one of en, nb, sv"):
        phrases.add("scope_disinfection", "the fan rattles", "de", **options(small, tmp_path))


def test_held_out_duplicate_and_conflicting_texts_are_refused(small, tmp_path) -> None:
    before = {p: p.read_bytes() for p in small[0].rglob("*.yml")}
    cases = {
        "could you get rid of the Trojan on my machine": (
            "held-out evaluation question (heldout.csv:2)"
        ),
        "Can you disinfect my PC": (
            "already a training example of scope_disinfection in "
            "data/nlu/en/disinfection.yml: 'can you disinfect my PC?'"
        ),
        "Tell me a joke!": (
            "the same text is already an example of out_of_scope in "
            "data/nlu/en/out_of_scope.yml: 'tell me a joke'"
        ),
    }
    for text, reason in cases.items():
        with pytest.raises(phrases.PhraseRefused) as refused:
            phrases.add("scope_disinfection", text, "en", **options(small, tmp_path))
        assert reason in str(refused.value), str(refused.value)
        assert refused.value.verdict is not None and not refused.value.verdict.allowed
    assert {p: p.read_bytes() for p in small[0].rglob("*.yml")} == before


def test_a_near_duplicate_under_another_intent_is_refused(small, tmp_path) -> None:
    opts = options(small, tmp_path)
    with pytest.raises(phrases.PhraseRefused) as refused:
        phrases.add(
            "scope_hardware_faults", "please remove the viruses from my computer", "en", **opts
        )
    message = str(refused.value)
    assert "near duplicate (e5 cosine" in message
    assert "scope_disinfection in data/nlu/en/disinfection.yml: " in message
    assert "'please remove the virus from my computer'" in message
    # the same phrase under the intent it is close to is welcome, and the nearest
    # examples of the likeliest intents are shown
    added = phrases.add(
        "scope_disinfection", "please remove the viruses from my computer", "en", **opts
    )
    verdict = added.plan.verdict
    assert verdict.allowed and added.file == small[0] / "en" / "disinfection.yml"
    assert list(verdict.neighbours)[0] == "scope_disinfection"
    assert verdict.neighbours["scope_disinfection"][0].example.text == (
        "please remove the virus from my computer"
    )
    assert verdict.closest_same is not None and verdict.closest_same.cosine >= 0.9
    # a different question about hardware is not near anything of another intent
    other = phrases.add("scope_hardware_faults", "my laptop battery swells up", "en", **opts)
    assert other.plan.verdict.allowed


def test_no_server_means_no_prediction_and_says_why(small, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BOT_RASA_PORT", str(processes.free_port()))  # nothing listens there
    plan = phrases.prepare(
        "scope_hardware_faults",
        "my laptop battery swells up",
        "en",
        **options(small, tmp_path, predictor=conflicts.server_prediction),
    )
    assert plan.verdict.prediction is None
    assert "the assistant is not running" in (plan.verdict.prediction_note or "")
    assert not plan.verdict.already_understood


def test_the_language_is_detected_when_not_given(small, tmp_path) -> None:
    plan = phrases.prepare(
        "scope_hardware_faults",
        "harddisken min er ødelagt, kan dere hjelpe",
        None,
        **options(small, tmp_path),
    )
    assert plan.lang == "nb" and plan.file == small[0] / "nb" / "hardware_faults.yml"


def test_the_embedding_cache_embeds_only_new_texts(tmp_path) -> None:
    cache = tmp_path / "e5.npz"
    counted: list[int] = []
    first = similarity.embed_cached(["one text", "another text"], cache, counted.append)
    again = similarity.embed_cached(["another text", "a third"], cache, counted.append)
    assert counted == [2, 1]
    assert abs(float(first[1] @ again[0]) - 1.0) < 1e-5
    assert similarity.embed_cached(["a third"], cache, counted.append).shape == (1, 384)
    assert counted == [2, 1]


def bot_command(project: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """The installed `bot` command, on a project directory of its own (BOT_PROJECT_DIR):
    its data/nlu and bench/ are the copy, never the work tree's."""
    env = {
        **os.environ,
        "BOT_PROJECT_DIR": str(project),
        "BOT_VAR_DIR": str(tmp_path / "var"),
        "BOT_RASA_PORT": str(processes.free_port()),  # no server: no prediction
    }
    command = [sys.executable, "-m", "bot.cli", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.process  # starts the `bot` command in a process of its own
def test_phrase_cli_add_and_refusal(small, tmp_path) -> None:
    project = small[0].parent.parent
    (project / "content").symlink_to(PROJECT_DIR / "content")  # read only: the parser's
    done = bot_command(
        project, tmp_path, "phrase", "add", "scope_hardware_faults", "my laptop battery swells up"
    )
    assert done.returncode == 0, done.stderr
    assert (
        "Added 'my laptop battery swells up' to scope_hardware_faults in "
        "data/nlu/en/hardware_faults.yml" in done.stdout
    )
    assert "the assistant is not running" in done.stdout
    assert (
        (small[0] / "en" / "hardware_faults.yml")
        .read_text()
        .endswith("    - my laptop battery swells up\n")
    )

    again = bot_command(
        project,
        tmp_path,
        "phrase",
        "add",
        "scope_hardware_faults",
        "My laptop battery swells up!",
        "--json",
    )
    assert again.returncode == 1
    assert json.loads(again.stdout)["written"] is False
    assert "already a training example of scope_hardware_faults" in again.stderr

    unknown = bot_command(project, tmp_path, "phrase", "add", "scope_hardwar", "whatever it is")
    assert unknown.returncode == 1 and "did you mean scope_hardware_faults" in unknown.stderr
    empty = bot_command(project, tmp_path, "phrase", "add", "scope_hardware_faults", "  ")
    assert empty.returncode == 1 and "empty" in empty.stderr


def test_the_embedding_cache_keeps_other_texts_until_it_is_full(tmp_path, monkeypatch) -> None:
    cache = tmp_path / "e5.npz"
    counted: list[int] = []
    similarity.embed_cached(["one text", "another text"], cache, counted.append)
    similarity.embed_cached(["a third"], cache, counted.append)
    similarity.embed_cached(["one text", "a third"], cache, counted.append)
    assert counted == [2, 1]  # nothing embedded twice
    monkeypatch.setattr(similarity, "MAX_CACHED", 2)
    similarity.embed_cached(["a fourth"], cache, counted.append)  # over the cap: pruned
    similarity.embed_cached(["one text"], cache, counted.append)
    assert counted == [2, 1, 1, 1]
