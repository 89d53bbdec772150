"""`bot ask`, run as agents run it: the real command against the running assistant.

The `running_bot` fixture puts its ports in os.environ, so a subprocess given a copy
of the environment talks to the test servers.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import rulebase
from bot.runtime.processes import free_port
from tests.conversation.questions import DISINFECTION, ONSITE

BOT = str(Path(sys.executable).with_name("bot"))

DISINFECTION_IDS = ["rules:4.2.3", "kb101732:2.2", "rules:4.1.2c"]


def bot_ask(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BOT, "ask", *args],
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )


def lead(lang: str) -> str:
    return rulebase.current().topics["disinfection"].leads[lang]


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_plain_output_shows_language_intent_verdict_citations_and_reply(running_bot):
    done = bot_ask(DISINFECTION["nb"])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Language:   nb (detected, confidence 0.")
    assert lines[1].startswith("Intent:     scope_disinfection (")
    assert lines[2].startswith("Top three:  scope_disinfection ")
    assert lines[2].count(" · ") == 2
    assert lines[3] == "Entities:   none"
    assert lines[4] == "Verdict:    excluded"
    assert lines[5] == "Cited:      " + ", ".join(DISINFECTION_IDS)
    assert lines[6] == "Reply:"
    reply = " ".join(line.strip() for line in lines[7:])  # the reply is wrapped
    assert reply.startswith(lead("nb"))
    assert all(line.startswith("  ") for line in lines[7:] if line)


def test_json_output(running_bot):
    done = bot_ask(DISINFECTION["nb"], "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {
        "question",
        "language",
        "language_source",
        "language_confidence",
        "intent",
        "confidence",
        "top3",
        "entities",
        "reply",
        "buttons",
        "rule_ids",
        "verdict",
    } <= result.keys()
    assert result["question"] == DISINFECTION["nb"]
    assert result["language"] == "nb"
    assert result["language_source"] == "detected"
    assert 0.5 < result["language_confidence"] <= 1
    assert result["intent"] == "scope_disinfection"
    assert result["top3"][0] == {"intent": "scope_disinfection", "confidence": result["confidence"]}
    assert len(result["top3"]) == 3
    assert result["entities"] == []
    assert result["rule_ids"] == DISINFECTION_IDS
    assert result["verdict"] == "excluded"
    assert result["reply"].startswith(lead("nb"))
    # no cited clause sells cleaning a PC: no request is offered
    assert result["buttons"] == []


def test_explicit_language_gives_a_reply_in_that_language(running_bot):
    done = bot_ask(DISINFECTION["en"], "--lang", "sv", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["language"] == "sv"
    assert result["language_source"] == "explicit"
    assert result["reply_language"] == "sv"  # the answer payload's own lang
    assert result["intent"] == "scope_disinfection"
    assert result["reply"].startswith(lead("sv"))


def test_a_text_file_of_questions_in_three_languages(running_bot, tmp_path):
    questions = tmp_path / "questions.txt"
    questions.write_text(
        f"{DISINFECTION['nb']}\n\n{ONSITE['en']}\n   \n{ONSITE['sv']}\n", encoding="utf-8"
    )
    done = bot_ask("--file", str(questions))
    assert done.returncode == 0, done.stderr
    rows = read_csv(done.stdout)
    assert list(rows[0]) == [
        "question",
        "language",
        "intent",
        "confidence",
        "second_intent",
        "second_confidence",
        "verdict",
        "rule_ids",
        "reply",
    ]
    assert [(r["question"], r["language"], r["intent"], r["verdict"]) for r in rows] == [
        (DISINFECTION["nb"], "nb", "scope_disinfection", "excluded"),
        (ONSITE["en"], "en", "scope_onsite_remote", "paid"),
        (ONSITE["sv"], "sv", "scope_onsite_remote", "paid"),
    ]
    assert rows[0]["rule_ids"] == " ".join(DISINFECTION_IDS)
    assert rows[0]["reply"].startswith(lead("nb"))
    assert rows[1]["second_intent"] and rows[1]["second_intent"] != "scope_onsite_remote"
    assert float(rows[1]["confidence"]) >= float(rows[1]["second_confidence"])
    assert "answered" not in done.stderr  # progress only for long files


def test_a_csv_file_keeps_its_columns(running_bot, tmp_path):
    questions = tmp_path / "questions.csv"
    questions.write_text(
        "id,question,expected_intent\n"
        f'7,"{DISINFECTION["en"]}",scope_disinfection\n'
        f"8,{ONSITE['nb']},scope_onsite_remote\n"
        '9,"Can a technician visit us, on site?",scope_onsite_remote\n',
        encoding="utf-8",
    )
    out = tmp_path / "answers.csv"
    done = bot_ask("--file", str(questions), "--out", str(out), "--lang", "sv")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    rows = read_csv(out.read_text(encoding="utf-8"))
    assert list(rows[0])[:3] == ["id", "question", "expected_intent"]
    assert [r["id"] for r in rows] == ["7", "8", "9"]
    assert rows[2]["question"] == "Can a technician visit us, on site?"
    assert all(r["intent"] == r["expected_intent"] for r in rows), rows
    assert all(r["language"] == "sv" for r in rows)
    assert rows[0]["reply"].startswith(lead("sv"))


def test_assistant_not_running_is_one_clear_line(tmp_path):
    port = free_port()  # bound and released: nothing listens there
    env = {**os.environ, "BOT_RASA_PORT": str(port)}
    done = bot_ask("Can you disinfect my PC?", env=env)
    assert done.returncode != 0
    assert done.stderr.strip() == (
        f"error: The assistant is not running at http://127.0.0.1:{port}: "
        "start it with `make run` (or set BOT_RASA_PORT)."
    )
    assert done.stdout == ""
    questions = tmp_path / "q.txt"
    questions.write_text("Can you disinfect my PC?\n", encoding="utf-8")
    done = bot_ask("--file", str(questions), env=env)
    assert done.returncode != 0
    assert "is not running at" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--file", "nowhere/questions.txt"], "error: No such file: nowhere/questions.txt"),
        (["   "], "error: The question is empty."),
        ([], "error: The question is empty."),
    ],
)
def test_bad_input_is_one_clear_line(args, message):
    done = bot_ask(*args)
    assert done.returncode != 0
    assert done.stderr.strip() == message


def test_csv_without_a_question_column(tmp_path):
    questions = tmp_path / "questions.csv"
    questions.write_text("id,text\n1,Can you disinfect my PC?\n", encoding="utf-8")
    done = bot_ask("--file", str(questions))
    assert done.returncode != 0
    assert done.stderr.strip() == (
        f"error: {questions} has no `question` column (its header: id, text)."
    )


def test_full_gives_the_wording_of_every_cited_clause(running_bot):
    short = bot_ask(DISINFECTION["en"], "--json")
    full = bot_ask(DISINFECTION["en"], "--json", "--full")
    assert short.returncode == 0 and full.returncode == 0, (short.stderr, full.stderr)
    short_reply, full_reply = json.loads(short.stdout)["reply"], json.loads(full.stdout)["reply"]
    clauses = rulebase.current().clauses
    for cid in DISINFECTION_IDS:
        wording = clauses[cid].text("en").rstrip(" ;")
        assert wording in full_reply, cid
        assert wording not in short_reply, cid
    assert json.loads(short.stdout)["rule_ids"] == json.loads(full.stdout)["rule_ids"]


def test_an_agent_needs_only_the_agent_token(running_bot):
    # BOT_API_TOKEN signs admin tokens (replace the model, read every conversation):
    # an agent's shell has the agent token alone
    env = {k: v for k, v in os.environ.items() if k != "BOT_API_TOKEN"}
    done = bot_ask("--json", DISINFECTION["en"], env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["intent"] == "scope_disinfection" and result["verdict"] == "excluded"


def test_a_wrong_agent_token_is_one_clear_line(running_bot):
    env = {**os.environ, "BOT_AGENT_TOKEN": "w" * 20 + "rong-agent-token-0123456789"}
    done = bot_ask(DISINFECTION["en"], env=env)
    assert done.returncode != 0
    assert "answered /webhooks/agent/parse with HTTP 401" in done.stderr
    assert "BOT_AGENT_TOKEN" in done.stderr and "Traceback" not in done.stderr


def test_the_csv_table_neutralises_spreadsheet_formulas(running_bot, tmp_path):
    """Questions and input columns are anyone's text: a cell that a spreadsheet
    would run (= + - @, or behind a tab or line break) gets a leading ', on --out
    and stdout alike, header included; the other cells are left as they are. (A
    lone CR cannot reach the table: the input is read with universal newlines.)"""
    questions = tmp_path / "questions.csv"
    with questions.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "question", "@note"])
        writer.writerow(['=HYPERLINK("http://x.example")', "-" + DISINFECTION["en"], "+1"])
        writer.writerow(["\t=1+1", DISINFECTION["nb"], "\n@SUM(A1)"])
        writer.writerow(["7", DISINFECTION["sv"], "plain"])
    out = tmp_path / "answers.csv"
    to_file = bot_ask("--file", str(questions), "--out", str(out))
    to_stdout = bot_ask("--file", str(questions))
    assert to_file.returncode == 0, to_file.stderr
    assert to_stdout.returncode == 0, to_stdout.stderr
    for text in (out.read_text(encoding="utf-8"), to_stdout.stdout):
        header = next(csv.reader(io.StringIO(text)))
        assert header[:3] == ["id", "question", "'@note"]
        rows = read_csv(text)
        assert [(r["id"], r["question"], r["'@note"]) for r in rows] == [
            ('\'=HYPERLINK("http://x.example")', "'-" + DISINFECTION["en"], "'+1"),
            ("'\t=1+1", DISINFECTION["nb"], "'\n@SUM(A1)"),
            ("7", DISINFECTION["sv"], "plain"),
        ]
        assert [r["intent"] for r in rows] == ["scope_disinfection"] * 3
        assert all(r["reply"] and r["reply"][0] not in "=+-@\t\r" for r in rows)
