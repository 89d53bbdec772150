"""`bot rulebase` and `bot rules` against a real database: in process through
`bot.cli.main`, plus two runs of the installed `bot` command (the entry point
itself, and a load from another project directory, which the settings read
once, at import)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import db, rulebase
from bot.settings import PROJECT_DIR

from .contract import CLAUSE_IDS, LANGS, QUEUES, VERDICTS
from .helpers import CliResult, copy_rulebase, edit_entry, run_cli


def run_bot(*args: str, url: str, check: bool = True) -> CliResult:
    """`bot ARGS` in this process with BOT_DATABASE_URL=url."""
    result = run_cli(*args, env={"BOT_DATABASE_URL": url})
    if check:
        assert result.returncode == 0, f"bot {' '.join(args)} failed:\n{result.stderr}"
    return result


def _bot_executable() -> str:
    beside_python = Path(sys.executable).with_name("bot")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("bot")
    if found is None:
        pytest.fail("the `bot` command is not installed (pip install -e .)", pytrace=False)
    return found


def run_bot_process(*args: str, url: str, project_dir: Path | None = None):
    """The installed `bot` command as a subprocess (console script, fresh settings)."""
    env = {**os.environ, "BOT_DATABASE_URL": url, "PYTHONIOENCODING": "utf-8"}
    if project_dir is not None:
        env["BOT_PROJECT_DIR"] = str(project_dir)
    result = subprocess.run(
        [_bot_executable(), *args],
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        cwd=PROJECT_DIR,
    )
    assert result.returncode == 0, f"bot {' '.join(args)} failed:\n{result.stderr}"
    return result


def _words(text: str) -> str:
    """Whitespace-normalised text (the CLI wraps long lines)."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory) -> Iterator[str]:
    """A SQLite file loaded once through the CLI, for the read-only commands."""
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'bot.db'}"
    first = run_bot("rulebase", "load", url=url)
    assert "Rule base loaded: 65 clauses" in first.stdout
    yield url
    db.engine_for(url).dispose()


@pytest.mark.process  # starts the `bot` command in a process of its own
def test_the_installed_bot_command_runs(sqlite_url):
    """The one smoke test of the console script (pyproject's `bot = "bot.cli:main"`)."""
    result = run_bot_process("rules", "list", url=sqlite_url)
    assert [line.split()[0] for line in result.stdout.splitlines()] == list(CLAUSE_IDS)
    assert result.stdout == run_bot("rules", "list", url=sqlite_url).stdout


def test_rulebase_load_reports_65_clauses_then_unchanged(tmp_path):
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    first = run_bot("rulebase", "load", url=url)
    assert "Rule base loaded: 65 clauses" in first.stdout
    version = rulebase.read().version
    assert f"(version {version})" in first.stdout
    again = run_bot("rulebase", "load", url=url)
    assert "Rule base unchanged: 65 clauses" in again.stdout


def test_rules_list_json_gives_every_field(database_url):
    run_bot("rulebase", "load", url=database_url)
    records = json.loads(run_bot("rules", "list", "--json", url=database_url).stdout)

    assert [r["id"] for r in records] == list(CLAUSE_IDS)  # all 65, in document order
    for record in records:
        cid = record["id"]
        assert {
            "id",
            "document",
            "section",
            "original",
            "text",
            "verdict",
            "topics",
            "see_also",
            "service",
        } <= set(record), cid
        assert {"title", "date", "language", "article_id"} <= set(record["document"]), cid
        assert record["section"] == cid.split(":", 1)[1]
        assert record["original"].strip(), cid
        assert all(record["text"].get(lang, "").strip() for lang in LANGS), cid
        assert record["verdict"] in VERDICTS, cid
        assert record["topics"], f"{cid} is in no topic"
        assert isinstance(record["see_also"], list), cid
        if record["service"] is not None:
            assert record["service"]["queue"] in QUEUES, cid

    by_id = {r["id"]: r for r in records}
    rules_doc = by_id["rules:4.2.3"]["document"]
    assert rules_doc["title"] == "Støtteregler for Kaspersky Software"
    assert (rules_doc["date"], rules_doc["language"], rules_doc["article_id"]) == (
        "2022-04-07",
        "nb",
        None,
    )
    kb_doc = by_id["kb101732:2.2"]["document"]
    assert (kb_doc["date"], kb_doc["language"], kb_doc["article_id"]) == (
        "2023-04-04",
        "sv",
        "101732",
    )
    assert by_id["rules:4.2.3"]["see_also"] == ["kb101732:2.2"]
    assert "rules:4.2.3" in by_id["kb101732:2.2"]["see_also"]
    assert "disinfection" in by_id["rules:4.2.3"]["topics"]
    assert by_id["rules:4.2.3"]["text"]["nb"] == by_id["rules:4.2.3"]["original"]
    assert by_id["rules:4.2.3"]["service"] is None
    assert by_id["rules:4.2.5"]["service"]["queue"] == "professional_services"
    assert by_id["rules:4.3.2"]["service"]["queue"] == "support_renewal"


def test_rules_list_prints_one_line_per_clause(sqlite_url):
    lines = run_bot("rules", "list", url=sqlite_url).stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(CLAUSE_IDS)


def test_rules_show_in_swedish_with_citation(sqlite_url):
    out = _words(run_bot("rules", "show", "rules:4.2.3", "--lang", "sv", url=sqlite_url).stdout)
    clause = {c["id"]: c for c in rulebase.read().clauses}["rules:4.2.3"]
    assert _words(clause["text"]["sv"]) in out
    assert "Supportregler för Kaspersky-program, punkt 4.2.3, 7 april 2022" in out
    assert _words(clause["original"]) in out  # the Norwegian original follows
    assert "kb101732:2.2" in out
    assert "disinfection" in out
    assert _words(clause["text"]["en"]) not in out


def test_rules_show_cites_the_article_for_kb_clauses(sqlite_url):
    out = _words(run_bot("rules", "show", "kb101732:2.2", url=sqlite_url).stdout)
    assert "article 101732, point 2.2, 4 April 2023" in out
    assert "rules:4.2.3" in out


def test_rules_show_unknown_id_fails_helpfully(sqlite_url):
    result = run_bot("rules", "show", "nope:1", url=sqlite_url, check=False)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "No clause 'nope:1'" in result.stderr
    assert "bot rules list" in result.stderr


def test_rules_search_finds_clauses(sqlite_url):
    out = run_bot("rules", "search", "desinfisering", url=sqlite_url).stdout
    ids = [line.split()[0] for line in out.splitlines()]
    assert "rules:4.2.3" in ids
    assert set(ids) <= set(CLAUSE_IDS)
    upper = run_bot("rules", "search", "DESINFISERING", url=sqlite_url).stdout
    assert upper == out
    several = run_bot("rules", "search", "disinfection", "specialists", url=sqlite_url).stdout
    assert "rules:4.2.3" in several


def test_rules_search_without_hits_says_so(sqlite_url):
    result = run_bot("rules", "search", "xyzzy", url=sqlite_url, check=False)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "No clause matches" in result.stderr


@pytest.mark.process  # starts the `bot` command in a process of its own
def test_a_correction_loaded_by_the_cli_is_live_in_a_running_process(database_url, tmp_path):
    """An editor runs `bot rulebase load`; a running process (the action server)
    sees the corrected sentence on its next read, with no restart.

    A subprocess: BOT_PROJECT_DIR is read once, at import (settings.CONTENT_DIR,
    rulebase.RULEBASE_DIR and rulebase.load's default directory), so this
    process cannot be pointed at another project."""
    rulebase.load(database_url)
    before = rulebase.current(database_url)
    project = tmp_path / "project"
    (project / "content").mkdir(parents=True)
    shutil.copy(PROJECT_DIR / "content" / "messages.yml", project / "content" / "messages.yml")
    copy = copy_rulebase(project / "content" / "rulebase")
    new_text = "Disinfection of infected computers by support specialists (corrected)"
    edit_entry(
        copy / "clauses" / "rules.yml",
        "clauses",
        "rules:4.2.3",
        lambda entry: entry["text"].update(en=new_text),
    )

    result = run_bot_process("rulebase", "load", url=database_url, project_dir=project)

    assert "Rule base loaded: 65 clauses" in result.stdout
    after = rulebase.current(database_url)
    assert after.version != before.version
    assert after.clauses["rules:4.2.3"].texts["en"] == new_text
    assert before.clauses["rules:4.2.3"].texts["en"] != new_text
