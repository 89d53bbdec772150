"""The trainers' inbox on SQLite and PostgreSQL: the sync (every reason,
incremental, idempotent), masking, privacy (forget, retention, export), and
resolving entries (assign, ignore, out of scope; two trainers at once).

The tracker store table lives in the test database (as Rasa 3.6 creates it,
bot.privacy.retention); the training data is a small copy in tmp_path, so the
work tree's data/nlu is never touched."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bot import db, feedback
from bot.privacy import drafts, retention, subject
from bot.runtime import processes, servers
from bot.settings import PROJECT_DIR
from bot.training import inbox, phrases
from tests.privacy_formats import MESSAGES, leaks
from tests.unit.helpers import run_cli
from tests.unit.inbox_data import NOW, Conversation, make_nlu

UNSURE = [("scope_hardware_faults", 0.28), ("out_of_scope", 0.15), ("scope_disinfection", 0.08)]


@pytest.fixture
def nlu(tmp_path: Path) -> tuple[Path, Path]:
    return make_nlu(tmp_path / "project")


@pytest.fixture
def url(database_url: str) -> str:
    db.ensure_schema(database_url)
    return database_url


def sync(url: str, nlu: tuple[Path, Path], **kw) -> inbox.Synced:
    return inbox.sync(url=url, tracker_url=url, nlu_dir=nlu[0], **kw)


def by_text(url: str, status: str | None = None) -> dict[str, inbox.Entry]:
    return {e.text: e for e in inbox.list_entries(status=status, url=url)}


def test_each_reason_is_recorded_with_its_suggestion(url, nlu) -> None:
    c = Conversation(url, "conv-reasons")
    c.fallback("my thing is broken", UNSURE)
    c.user("/scope_hardware_faults", [("scope_hardware_faults", 1.0)])  # a "did you mean" click
    c.bot(rule_ids=("rules:4.4.3",), verdict="no_guarantee")
    c.wait(60)
    c.user("virus", [("scope_malware_description", 0.52), ("scope_disinfection", 0.34)])
    c.bot(rule_ids=("rules:4.2.4",), verdict="excluded")
    c.wait(60)
    c.user("licence or virus", [("scope_licence", 0.46), ("scope_disinfection", 0.40)])
    c.bot(rule_ids=("rules:4.5a",), verdict="conditional")
    c.wait(60)
    c.fallback("fix pc pls", UNSURE)
    c.wait(20)  # rephrased within a minute, same language, confident answer
    c.user("could you clean the malware off my computer", [("scope_disinfection", 0.96)])
    c.bot(rule_ids=("rules:4.2.3",), verdict="excluded")
    c.wait(60)
    c.user("is there phone support", [("scope_phone_chat", 0.97), ("scope_support_hours", 0.01)])
    c.bot(rule_ids=("rules:3.1",), verdict="info")
    feedback.record(
        sender="conv-reasons",
        rating="down",
        question="is there phone support",
        answer="An answer.",
        lang="en",
        url=url,
    )
    feedback.record(  # a thumbs-down on a conversation the tracker store no longer has
        sender="conv-gone", rating="down", question="what about refunds", answer="x", url=url
    )
    feedback.record(  # thumbs up: not a problem
        sender="conv-reasons", rating="up", question="virus", answer="x", url=url
    )

    done = sync(url, nlu)

    entries = by_text(url)
    assert set(entries) == {
        "my thing is broken",
        "virus",
        "licence or virus",
        "fix pc pls",
        "is there phone support",
        "what about refunds",
    }
    broken = entries["my thing is broken"]
    assert broken.reasons == ["fallback", "did_you_mean"]
    assert broken.suggestion == "scope_hardware_faults"
    assert (broken.intent, broken.confidence) == ("scope_hardware_faults", 0.28)
    assert [t["intent"] for t in broken.top3] == [n for n, _ in UNSURE]
    assert broken.rule_ids == [] and broken.lang == "en" and broken.count == 1
    assert broken.conversation_id == "conv-reasons" and broken.status == "new"
    assert entries["virus"].reasons == ["low_confidence"]
    assert entries["virus"].rule_ids == ["rules:4.2.4"]
    assert entries["licence or virus"].reasons == ["low_confidence", "ambiguous"]
    assert entries["fix pc pls"].reasons == ["fallback", "rephrased"]
    assert entries["fix pc pls"].suggestion == "scope_disinfection"
    assert entries["is there phone support"].reasons == ["thumbs_down"]
    assert entries["is there phone support"].intent == "scope_phone_chat"
    gone = entries["what about refunds"]
    assert gone.reasons == ["thumbs_down"] and gone.intent is None
    assert gone.conversation_id == "conv-gone"
    # the confident rephrasing and the click are not entries themselves
    assert done.entries == 6 and done.new == 6 and done.feedback == 2


def test_ambiguous_alone_below_a_lower_threshold(url, nlu) -> None:
    c = Conversation(url, "conv-ambiguous")
    c.user("licence or virus", [("scope_licence", 0.48), ("scope_disinfection", 0.42)])
    c.bot()
    sync(url, nlu, threshold=0.4)
    assert by_text(url)["licence or virus"].reasons == ["ambiguous"]


def test_what_is_not_an_inbox_message(url, nlu) -> None:
    c = Conversation(url, "conv-skipped")
    c.user("can you disinfect my PC?", [("scope_disinfection", 0.2)], fallback=True)  # trained
    c.bot(verdict="fallback")
    c.user("Can you disinfect my PC", [("scope_disinfection", 0.25)])  # the same, normalised
    c.bot()
    c.user("please help me buy incident response", [("request_service", 0.95)])
    c.bot()
    c.form("service_request_form")
    c.user("Kari Nordmann", [("greet", 0.21)], fallback=True)  # a form's answer
    c.bot(verdict="fallback")
    c.form(None)
    c.user("asdf qwer", [("out_of_scope", 0.85)])  # out of scope, answered as such
    c.bot(verdict="fallback")
    c.wait(5)  # a confident message after an out-of-scope one: no rephrasing
    c.user("tell me a joke please", [("out_of_scope", 0.9)])
    c.bot(verdict="fallback")
    sync(url, nlu)
    assert by_text(url, status=None) == {}


def test_rephrasing_needs_the_same_language_a_minute_and_a_confident_answer(url, nlu) -> None:
    c = Conversation(url, "conv-rephrase")
    c.fallback("virus fix", UNSURE)
    c.wait(90)  # too late
    c.user("could you clean the malware off my computer", [("scope_disinfection", 0.96)])
    c.bot()
    c.fallback("pc sick", UNSURE)
    c.wait(10)  # another language
    c.user("kan dere rense PC-en?", [("scope_disinfection", 0.97)], lang="nb")
    c.bot(lang="nb")
    c.fallback("pc ill", UNSURE)
    c.wait(10)  # not confident
    c.user("malware thing", [("scope_disinfection", 0.41), ("scope_licence", 0.2)])
    c.bot()
    c.fallback("pc broke", UNSURE)
    c.wait(10)  # "thanks" answers the bot, it does not ask again
    c.user("thanks", [("thanks", 0.99)])
    c.bot()
    sync(url, nlu)
    entries = by_text(url)
    assert entries["virus fix"].reasons == ["fallback"]
    assert entries["pc sick"].reasons == ["fallback"]
    assert entries["pc ill"].reasons == ["fallback"]
    assert entries["pc broke"].reasons == ["fallback"]
    assert entries["malware thing"].reasons == ["low_confidence"]


def test_sync_is_incremental_and_idempotent(url, nlu) -> None:
    first = Conversation(url, "conv-a")
    first.fallback("my thing is broken", UNSURE)
    assert sync(url, nlu).recorded == 1
    before = [e.to_json() for e in inbox.list_entries(status=None, url=url)]

    again = sync(url, nlu)

    assert again.recorded == 0
    assert [e.to_json() for e in inbox.list_entries(status=None, url=url)] == before

    # the same text, normalised, in another conversation: counted, not a new entry
    second = Conversation(url, "conv-b", start=NOW - dt.timedelta(minutes=5))
    second.fallback("My thing is BROKEN!", UNSURE)
    # the next message of the first conversation, after the last sync: a click
    first.user("/scope_hardware_faults", [("scope_hardware_faults", 1.0)])
    first.bot()
    third = sync(url, nlu)
    assert third.recorded == 2  # conv-b's occurrence, conv-a's new reason
    (entry,) = inbox.list_entries(status=None, url=url)
    assert entry.count == 2 and entry.text == "my thing is broken"
    assert entry.conversation_id == "conv-b"  # the latest occurrence's
    assert entry.reasons == ["fallback", "did_you_mean"]
    assert entry.first_seen < entry.last_seen
    assert sync(url, nlu).recorded == 0
    assert inbox.list_entries(status=None, url=url)[0].count == 2


def test_text_is_masked_with_the_conversations_form_values(url, nlu) -> None:
    drafts.put("conv-mask", {"name": "Kari Nordmann", "company": "Nordmann Data AS"}, url)
    c = Conversation(url, "conv-mask")
    c.fallback(
        "I'm Kari from Nordmann Data AS, kari.nordmann@example.no, +47 912 34 567, "
        "key ZRM6N-TL7VJ-Q26X8-ZEB76",
        UNSURE,
    )
    sync(url, nlu)
    (entry,) = inbox.list_entries(url=url)
    assert entry.text == (
        "I'm [name] from [company], k***@example.no, [phone], key \u2022\u2022\u2022\u2022\u2022-"
        "\u2022\u2022\u2022\u2022\u2022-\u2022\u2022\u2022\u2022\u2022-ZEB76"
    )
    shown = inbox.context(entry, url=url, tracker_url=url)
    assert [line.this for line in shown] == [True, False]
    everything = json.dumps([line.text for line in shown]) + json.dumps(entry.to_json())
    for secret in ("Kari", "Nordmann", "912 34 567", "kari.nordmann@", "ZRM6N"):
        assert secret not in everything


@pytest.mark.parametrize(("message", "secrets"), MESSAGES)
def test_no_format_survives_in_the_inbox(url, nlu, message, secrets) -> None:
    """Stored unmasked (as by an older version): the inbox masks on its own."""
    Conversation(url, "conv-formats").fallback(message, UNSURE)
    sync(url, nlu)
    (entry,) = inbox.list_entries(url=url)
    shown = inbox.context(entry, url=url, tracker_url=url)
    everything = json.dumps([[line.text for line in shown], entry.to_json()], ensure_ascii=False)
    assert leaks(message, secrets) == secrets
    assert leaks(everything, secrets) == [] and "ZEB76" in entry.text


def test_forget_and_retention_cover_the_inbox(url, nlu) -> None:
    old = Conversation(url, "conv-old", start=NOW - dt.timedelta(days=100))
    old.fallback("my thing is broken", UNSURE)
    old.fallback("only the old one said this", UNSURE)
    mine = Conversation(url, "conv-mine")
    mine.fallback("my thing is broken", UNSURE)
    mine.fallback("only I said this", UNSURE)
    sync(url, nlu)
    assert by_text(url)["my thing is broken"].count == 2

    exported = subject.export("conv-mine", url=url, tracker_url=url)
    assert {row["text"] for row in exported["inbox"]} == {"my thing is broken", "only I said this"}
    done = subject.forget("conv-mine", url=url, tracker_url=url)
    assert done.inbox == 2
    left = by_text(url)
    assert set(left) == {"my thing is broken", "only the old one said this"}
    assert left["my thing is broken"].count == 1
    assert left["my thing is broken"].conversation_id == "conv-old"

    purged = retention.purge(90, url=url, tracker_url=url)
    assert purged.inbox == 2
    assert by_text(url, status=None) == {}
    assert sync(url, nlu).entries == 0  # the old conversation went with it


def test_assign_writes_the_phrase_and_resolves_the_entry(url, nlu, tmp_path) -> None:
    Conversation(url, "conv-assign").fallback("my graphics card smokes", UNSURE)
    sync(url, nlu)
    (entry,) = inbox.list_entries(url=url)

    done = inbox.assign(
        entry.id,
        "scope_hardware_faults",
        url=url,
        nlu_dir=nlu[0],
        eval_sets=[nlu[1]],
        predictor=None,
        cache=tmp_path / "e5.npz",
    )

    target = nlu[0] / "en" / "hardware_faults.yml"
    assert done.file == target
    assert target.read_text(encoding="utf-8").endswith(
        "    - is a broken graphics card covered by support\n    - my graphics card smokes\n"
    )
    stored = inbox.get(entry.id, url)
    assert stored.status == "added" and stored.assigned_intent == "scope_hardware_faults"
    assert stored.resolved_file == "data/nlu/en/hardware_faults.yml"
    assert inbox.list_entries(url=url) == []  # `new` only, by default
    with pytest.raises(inbox.AlreadyResolved, match="already resolved .added as scope_hardware"):
        inbox.ignore(entry.id, url=url)
    # now a training example: a later sync never lists it again
    Conversation(url, "conv-later").fallback("My graphics card smokes!", UNSURE)
    sync(url, nlu)
    assert inbox.get(entry.id, url).count == 1


def test_a_refused_assignment_leaves_the_entry_new(url, nlu, tmp_path) -> None:
    Conversation(url, "conv-refused").fallback(
        "Could you get rid of the trojan on my machine", UNSURE
    )
    sync(url, nlu)
    (entry,) = inbox.list_entries(url=url)
    before = {p: p.read_bytes() for p in nlu[0].rglob("*.yml")}
    with pytest.raises(phrases.PhraseRefused, match="held-out evaluation question"):
        inbox.assign(
            entry.id,
            "scope_disinfection",
            url=url,
            nlu_dir=nlu[0],
            eval_sets=[nlu[1]],
            predictor=None,
            cache=tmp_path / "e5.npz",
        )
    with pytest.raises(
        phrases.PhraseRefused,
        match="unknown intent 'scope_disinfect'.*did you mean scope_disinfection",
    ):
        inbox.assign(entry.id, "scope_disinfect", url=url, nlu_dir=nlu[0], predictor=None)
    assert inbox.get(entry.id, url).status == "new"
    assert {p: p.read_bytes() for p in nlu[0].rglob("*.yml")} == before


def test_two_trainers_assign_one_entry_at_once(url, nlu, tmp_path) -> None:
    Conversation(url, "conv-race").fallback("the fan of my laptop rattles", UNSURE)
    sync(url, nlu)
    (entry,) = inbox.list_entries(url=url)
    cache = tmp_path / "e5.npz"
    phrases.prepare(  # embed the examples once, so both threads reach the claim together
        "scope_hardware_faults",
        "warm up",
        "en",
        nlu_dir=nlu[0],
        eval_sets=[nlu[1]],
        predictor=None,
        cache=cache,
    )
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def trainer(intent: str) -> None:
        start.wait()
        try:
            outcomes.append(
                inbox.assign(
                    entry.id,
                    intent,
                    url=url,
                    nlu_dir=nlu[0],
                    eval_sets=[nlu[1]],
                    predictor=None,
                    cache=cache,
                )
            )
        except inbox.AlreadyResolved as exc:
            outcomes.append(exc)

    threads = [
        threading.Thread(target=trainer, args=(intent,))
        for intent in ("scope_hardware_faults", "out_of_scope")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    won = [o for o in outcomes if isinstance(o, inbox.Assigned)]
    told = [o for o in outcomes if isinstance(o, inbox.AlreadyResolved)]
    assert len(won) == 1 and len(told) == 1, outcomes
    assert "already resolved" in str(told[0])
    winner = won[0].plan.intent
    assert inbox.get(entry.id, url).assigned_intent == winner
    written = [p for p in nlu[0].rglob("*.yml") if "the fan of my laptop rattles" in p.read_text()]
    assert len(written) == 1
    assert written[0].read_text().count("the fan of my laptop rattles") == 1


def test_out_of_scope_and_ignore(url, nlu, tmp_path) -> None:
    c = Conversation(url, "conv-oos")
    c.fallback("what is the best pizza in Oslo", UNSURE)
    c.fallback("hmm hmm hmm", UNSURE)
    sync(url, nlu)
    entries = by_text(url)
    done = inbox.out_of_scope(
        entries["what is the best pizza in Oslo"].id,
        url=url,
        nlu_dir=nlu[0],
        eval_sets=[nlu[1]],
        predictor=None,
        cache=tmp_path / "e5.npz",
    )
    assert done.entry.status == "out_of_scope" and done.entry.assigned_intent == "out_of_scope"
    assert (
        (nlu[0] / "en" / "out_of_scope.yml")
        .read_text()
        .endswith("    - what is the best pizza in Oslo\n")
    )
    ignored = inbox.ignore(entries["hmm hmm hmm"].id, url=url)
    assert ignored.status == "ignored"
    assert inbox.list_entries(url=url) == []
    assert [e.text for e in inbox.list_entries(status="ignored", url=url)] == ["hmm hmm hmm"]
    c.fallback("Hmm, hmm hmm?", UNSURE)  # the same text again: counted, still ignored
    sync(url, nlu)
    assert inbox.get(ignored.id, url).count == 2
    assert inbox.get(ignored.id, url).status == "ignored"


def test_an_entry_trained_by_other_means_is_marked_added(url, nlu, tmp_path) -> None:
    Conversation(url, "conv-meanwhile").fallback("my screen went black", UNSURE)
    sync(url, nlu)
    (entry,) = inbox.list_entries(url=url)
    phrases.add(
        "scope_hardware_faults",
        "My screen went black.",
        "en",
        nlu_dir=nlu[0],
        eval_sets=[nlu[1]],
        predictor=None,
        cache=tmp_path / "e5.npz",
    )
    sync(url, nlu)
    done = inbox.get(entry.id, url)
    assert (done.status, done.assigned_intent) == ("added", "scope_hardware_faults")
    assert done.resolved_file == "data/nlu/en/hardware_faults.yml"


def test_cli_sync_list_show_and_bad_input(url, nlu, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BOT_DATABASE_URL", url)
    monkeypatch.setenv("BOT_TRACKER_URL", url)
    c = Conversation(url, "conv-cli")
    c.fallback("my thing is broken", UNSURE, lang="en")
    c.user("virus", [("scope_malware_description", 0.52), ("scope_disinfection", 0.34)])
    c.bot(lang="en")
    c.user("virus på PC", [("scope_disinfection", 0.5), ("scope_licence", 0.2)], lang="nb")
    c.bot(lang="nb")

    synced = run_cli("inbox", "sync")
    assert synced.returncode == 0 and "3 entries, 3 new" in synced.stdout

    listed = json.loads(run_cli("inbox", "list", "--json").stdout)
    assert [e["text"] for e in listed] == ["virus på PC", "virus", "my thing is broken"]
    only = json.loads(run_cli("inbox", "list", "--json", "--reason", "fallback").stdout)
    assert [(e["text"], e["reasons"]) for e in only] == [("my thing is broken", ["fallback"])]
    nb = json.loads(run_cli("inbox", "list", "--json", "--lang", "nb").stdout)
    assert [e["text"] for e in nb] == ["virus på PC"]
    table = run_cli("inbox", "list").stdout
    assert "scope_malware_descri" in table and "my thing is broken" in table

    entry_id = only[0]["id"]
    shown = run_cli("inbox", "show", str(entry_id))
    assert shown.returncode == 0
    assert "-> " in shown.stdout and "Could you say it another way?" in shown.stdout
    as_json = json.loads(run_cli("inbox", "show", str(entry_id), "--json").stdout)
    assert [line["this"] for line in as_json["conversation"]][:1] == [True]

    missing = run_cli("inbox", "show", "999999")
    assert missing.returncode == 1 and "no inbox entry 999999" in missing.stderr
    assert run_cli("inbox", "list", "--status", "maybe").returncode == 2  # argparse
    ignored = run_cli("inbox", "ignore", str(entry_id))
    assert ignored.returncode == 0
    twice = run_cli("inbox", "ignore", str(entry_id))
    assert twice.returncode == 1 and "already resolved (ignored)" in twice.stderr


def test_the_launcher_syncs_at_start_and_in_the_background(url, monkeypatch) -> None:
    from bot import settings

    monkeypatch.setenv("BOT_DATABASE_URL", url)
    monkeypatch.setenv("BOT_TRACKER_URL", url)
    monkeypatch.setenv("BOT_INBOX_SYNC_SECONDS", "1")
    cfg = settings.load()
    assert servers.sync_inbox(cfg).startswith("inbox: read 0 conversation(s)")
    syncer = servers.InboxSyncer(cfg)
    syncer.start()
    try:
        Conversation(url, "conv-launcher").fallback("my thing is broken", UNSURE)
        for _ in range(600):  # until the thread has synced (no time is asserted)
            if inbox.list_entries(url=url):
                break
            syncer.stopping.wait(0.1)
        assert [e.text for e in inbox.list_entries(url=url)] == ["my thing is broken"]
    finally:
        syncer.stop()
        syncer.join(timeout=30)
    assert not syncer.is_alive()
    unreachable = dataclasses.replace(cfg, database_url="postgresql://nobody@127.0.0.1:1/none")
    assert servers.sync_inbox(unreachable).startswith("inbox sync failed: OperationalError")


@pytest.mark.process  # starts the `bot` command in a process of its own
def test_cli_assign_and_oos_on_a_project_copy(url, nlu, tmp_path) -> None:
    """The installed command on a project directory of its own (BOT_PROJECT_DIR):
    its data/nlu is the copy, never the work tree's."""
    project = nlu[0].parent.parent
    (project / "content").symlink_to(PROJECT_DIR / "content")  # read only: the parser's
    env = {
        **os.environ,
        "BOT_PROJECT_DIR": str(project),
        "BOT_VAR_DIR": str(tmp_path / "var"),
        "BOT_DATABASE_URL": url,
        "BOT_TRACKER_URL": url,
        "BOT_RASA_PORT": str(processes.free_port()),  # no server: no prediction
    }

    def bot(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    c = Conversation(url, "conv-cli-assign")
    c.fallback("the fan of my laptop rattles", UNSURE)
    c.fallback("what is the best pizza in Oslo", UNSURE)
    assert bot("inbox", "sync").returncode == 0
    entries = {e["text"]: e["id"] for e in json.loads(bot("inbox", "list", "--json").stdout)}

    unknown = bot("inbox", "assign", str(entries["the fan of my laptop rattles"]), "hardware")
    assert unknown.returncode == 1
    assert "unknown intent 'hardware'; did you mean scope_hardware_faults" in unknown.stderr
    done = bot(
        "inbox", "assign", str(entries["the fan of my laptop rattles"]), "scope_hardware_faults"
    )
    assert done.returncode == 0, done.stderr
    assert "to scope_hardware_faults in data/nlu/en/hardware_faults.yml" in done.stdout
    assert "nearest examples of scope_hardware_faults" in done.stdout
    twice = bot("inbox", "assign", str(entries["the fan of my laptop rattles"]), "out_of_scope")
    assert twice.returncode == 1
    assert "already resolved (added as scope_hardware_faults)" in twice.stderr
    oos = bot("inbox", "oos", str(entries["what is the best pizza in Oslo"]), "--json")
    assert oos.returncode == 0, oos.stderr
    assert json.loads(oos.stdout)["file"] == "data/nlu/en/out_of_scope.yml"
    assert (
        (nlu[0] / "en" / "out_of_scope.yml")
        .read_text()
        .endswith("    - what is the best pizza in Oslo\n")
    )
    listed = json.loads(bot("inbox", "list", "--status", "all", "--json").stdout)
    assert {(e["status"], e["assigned_intent"]) for e in listed} == {
        ("added", "scope_hardware_faults"),
        ("out_of_scope", "out_of_scope"),
    }
