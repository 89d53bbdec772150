"""The trainer page (bot/web/trainer.*, bot/rasa_addons/channels/trainer_page.py) in
headless Chromium, against its own Rasa and action servers.

Its own pair, because assigning writes training data: these servers run with
BOT_PROJECT_DIR pointing at a temporary copy of the project, so every phrase
goes into the copy's data/nlu/ and the work tree's is never touched (checked).
The trainer token is in the copy's var/secrets/ file, not the environment, so a
test can remove it and see the page disabled without a restart.

The inbox entries come from real conversations through the REST channel that
fall back or are answered below the confidence threshold. No real retrain here
(the retrain end-to-end test trains one): the retrain button's busy and
refused states are reached by holding the retrain lock as `bot retrain` does.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect

from bot import secrets, settings
from bot.runtime import build, model_eval, processes, project_copy, retrain
from bot.runtime.servers import Servers
from bot.settings import PROJECT_DIR
from bot.training import scoring, similarity
from bot.training.examples import training_examples

# Messages this model answers with a fallback or below the inbox's confidence
# (BOT_INBOX_CONFIDENCE 0.6), each with the intent its top guess names, which
# is where it belongs. Checked against the running model in the fixture.
TO_ASSIGN = "can you recover my instagram account"
TO_IGNORE = "fjdksl vbnmqw"  # keyboard mash: most now go to out_of_scope, this one below 0.6
TO_TYPE = "will you help me with my scanner software"
UNKNOWN = "who do I call when the scanner says my bank app is dangerous"
SLOW = 60_000  # ms: an assignment asks the model and searches the examples
SERVER = 30_000  # ms: any other answer from the server (the machine may be busy)


@dataclass
class TrainerBot:
    cfg: settings.Settings
    copy: Path
    token: str

    @property
    def url(self) -> str:
        return self.cfg.rasa_url + "/webhooks/trainer/"

    def call(
        self, method: str, path: str, body: object = None, token: str | None = "own"
    ) -> tuple[int, dict, dict]:
        """(status, JSON body, headers) of an API route."""
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {self.token if token == 'own' else token}"
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read()), dict(response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}"), dict(exc.headers)

    def say(self, text: str) -> str:
        """One message through the REST channel, as a customer; the conversation id."""
        sender = uuid.uuid4().hex
        request = urllib.request.Request(
            self.cfg.rasa_url + "/webhooks/rest/webhook",
            data=json.dumps({"sender": sender, "message": text}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            json.loads(response.read())
        return sender

    def parse(self, text: str) -> dict:
        request = urllib.request.Request(
            self.cfg.rasa_url + "/model/parse",
            data=json.dumps({"text": text}).encode(),
            headers={"Content-Type": "application/json", **secrets.api_headers(self.cfg)},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return dict(json.loads(response.read()))

    def entry(self, text: str) -> dict:
        status, body, _ = self.call("GET", "api/inbox?status=all")
        assert status == 200, body
        found = [e for e in body["entries"] if e["text"] == text]
        assert len(found) == 1, (text, body)
        return found[0]


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.yml")):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def trainer_bot(tmp_path_factory, model) -> Iterator[TrainerBot]:
    # The vectors of examples embedded before, by `bot inbox assign` in the work
    # tree or an earlier run (a cache by text hash: the copy embeds only the rest).
    earlier = PROJECT_DIR / "var" / "cache"
    copy = project_copy.copy_project(tmp_path_factory.mktemp("trainer") / "project", cache=earlier)
    env = project_copy.environment(copy, processes.free_port(), processes.free_port())
    token = env.pop("BOT_TRAINER_TOKEN")  # into var/secrets/, as `make run` writes it
    env["SANIC_REQUEST_MAX_SIZE"] = str(64 * 1024)
    # no real retrain here, so no warm retrain process for an assignment to start
    # (retrain.warm_up; tests/rasa_addons/test_nlu_worker.py covers it)
    env["BOT_RETRAIN_WARM_SECONDS"] = "0"
    removed = ("BOT_TRAINER_TOKEN", "BOT_ALLOWED_ORIGINS")  # same origin only
    with settings.environment({**env, **{key: None for key in removed}}):
        cfg = settings.load()
        path = settings.secret_file(cfg.var_dir, "BOT_TRAINER_TOKEN")
        path.parent.mkdir(parents=True)
        path.write_text(token + "\n", encoding="utf-8")
        build.prepare_database(cfg)
        # The near-duplicate check embeds every example once (cached in var/cache/):
        # done here, so the first assignment in the browser is as quick as the rest.
        examples = training_examples(copy / "data" / "nlu")
        similarity.embed_cached([e.text for e in examples], similarity.cache_path())
        servers = Servers(cfg, model, log_dir=cfg.var_dir / "logs")
        servers.start()  # the children took this environment
    before = _digest(PROJECT_DIR / "data" / "nlu")
    try:
        servers.wait_ready()
        yield TrainerBot(cfg, copy, token)
    finally:
        servers.stop()
    assert _digest(PROJECT_DIR / "data" / "nlu") == before, "the work tree's data/nlu changed"


@pytest.fixture(scope="module")
def conversations(trainer_bot) -> dict[str, str]:
    """The messages said by customers; each reached the inbox (checked here)."""
    senders = {}
    for text in (TO_ASSIGN, TO_IGNORE, TO_TYPE, UNKNOWN):
        parse = trainer_bot.parse(text)
        assert parse["intent"]["name"] == "nlu_fallback" or parse["intent"]["confidence"] < 0.6, (
            f"{text!r} is understood now ({parse['intent']}): pick another message"
        )
        senders[text] = trainer_bot.say(text)
    return senders


def open_page(new_page, trainer_bot, token: str | None = "own", **kwargs):
    page = new_page(**kwargs)
    page.goto(trainer_bot.url)
    if token is not None:
        box = page.get_by_label("Trainer token")
        expect(box).to_be_visible()
        box.fill(trainer_bot.token if token == "own" else token)
        box.press("Enter")
        if token == "own":  # the page syncs the inbox, then lists it
            expect(page.locator("#tr-total")).not_to_be_empty(timeout=SERVER)
    return page


def row(page, text: str):
    return page.locator(".tr-row").filter(has=page.locator(".tr-text", has_text=text))


def select_with_keys(page, text: str) -> None:
    """Move the selection to the entry of `text` with j and k only."""
    target = row(page, text)
    expect(target).to_have_count(1)
    rows = page.locator(".tr-row")
    index = [rows.nth(i).inner_text() for i in range(rows.count())].index(target.inner_text())
    page.locator("#tr-list").focus()
    for _ in range(rows.count()):
        page.keyboard.press("k")
    for _ in range(index):
        page.keyboard.press("j")
    expect(target).to_have_attribute("aria-selected", "true")


# ---------------------------------------------------------------- the token


def test_page_says_disabled_without_a_token(new_page, trainer_bot):
    path = settings.secret_file(trainer_bot.cfg.var_dir, "BOT_TRAINER_TOKEN")
    aside = path.with_name("moved-away")
    path.rename(aside)
    try:
        page = new_page()
        page.goto(trainer_bot.url)
        heading = page.get_by_role("heading", name="The trainer page is disabled")
        expect(heading).to_be_visible(timeout=SERVER)
        expect(page.locator("#tr-disabled-text")).to_contain_text("BOT_TRAINER_TOKEN")
        expect(page.locator("#tr-disabled-text")).to_contain_text("var/secrets/bot_trainer_token")
        expect(page.get_by_label("Trainer token")).to_be_hidden()
        status, body, _ = trainer_bot.call("GET", "api/inbox")
        assert status == 503 and "disabled" in body["error"], body
        status, body, _ = trainer_bot.call("GET", "api/state", token=None)
        assert status == 200 and body["enabled"] is False
    finally:
        aside.rename(path)
    status, body, _ = trainer_bot.call("GET", "api/state", token=None)
    assert body["enabled"] is True  # back without a restart


def test_wrong_or_missing_token_gets_401(new_page, trainer_bot):
    for token in ("wrong-" + trainer_bot.token, trainer_bot.token[:-1], None, ""):
        status, body, headers = trainer_bot.call("GET", "api/inbox", token=token)
        assert status == 401, (token, body)
        assert "token" in body["error"]
        assert headers.get("WWW-Authenticate", "").startswith("Bearer")
    page = open_page(new_page, trainer_bot, token="not-the-token")
    expect(page.get_by_role("alert")).to_contain_text("not accepted", timeout=SERVER)
    expect(page.locator("#tr-main")).to_be_hidden()
    # the token never travels in a URL, and is kept only in this tab's session
    assert trainer_bot.token not in page.url


# ---------------------------------------------------------------- the inbox


def test_inbox_lists_a_real_fallback_with_its_reason(new_page, trainer_bot, conversations):
    page = open_page(new_page, trainer_bot)  # the page syncs the inbox as it opens
    target = row(page, TO_ASSIGN)
    expect(target).to_have_count(1)
    entry = trainer_bot.entry(TO_ASSIGN)
    assert entry["status"] == "new"
    assert {"fallback", "low_confidence"} & set(entry["reasons"]), entry
    assert entry["conversation_id"] == conversations[TO_ASSIGN]
    expect(target.locator(".tr-lang")).to_have_text("en")
    # filters: a language with no such entry hides it, a confidence range keeps it
    page.get_by_label("Language").select_option("nb")
    expect(target).to_have_count(0, timeout=SERVER)
    page.get_by_label("Language").select_option("en")
    expect(target).to_have_count(1, timeout=SERVER)
    page.get_by_label("Confidence from").fill("0.99")
    expect(target).to_have_count(0, timeout=SERVER)
    page.get_by_label("Confidence from").fill("")
    expect(target).to_have_count(1, timeout=SERVER)


def test_assign_with_enter_writes_the_phrase_into_the_copy(new_page, trainer_bot, conversations):
    entry = trainer_bot.entry(TO_ASSIGN)
    intent = entry["suggestion"] or entry["intent"]
    assert intent, entry
    page = open_page(new_page, trainer_bot)
    select_with_keys(page, TO_ASSIGN)
    expect(page.locator("#tr-accept")).to_contain_text(intent)
    page.keyboard.press("Enter")
    target = row(page, TO_ASSIGN)
    expect(target.locator(".tr-status")).to_have_text("added", timeout=SLOW)
    expect(target.locator(".tr-verdict")).to_contain_text("Added as an example of " + intent)
    done = trainer_bot.entry(TO_ASSIGN)
    assert done["status"] == "added" and done["assigned_intent"] == intent
    written = trainer_bot.copy / "data" / "nlu" / "en"
    assert any(f"- {TO_ASSIGN}\n" in p.read_text("utf-8") for p in written.glob("*.yml"))
    assert TO_ASSIGN not in "".join(
        p.read_text("utf-8") for p in (PROJECT_DIR / "data" / "nlu").rglob("*.yml")
    )
    # a second assignment of the same entry is told, and changes nothing
    status, body, _ = trainer_bot.call("POST", f"api/inbox/{done['id']}/assign", {"intent": intent})
    assert status == 409 and "already resolved" in body["error"], body


def test_assign_through_the_type_ahead(new_page, trainer_bot, conversations):
    page = open_page(new_page, trainer_bot)
    select_with_keys(page, TO_TYPE)
    page.keyboard.press("a")
    box = page.get_by_role("combobox", name=re.compile("^Assign to another intent"))
    expect(box).to_be_focused()
    box.press_sequentially("third party")
    options = page.locator("#tr-options [role=option]")
    expect(options.first).to_be_visible()
    expect(options.first.locator(".tr-option-desc")).not_to_be_empty()  # the topic's description
    chosen = options.first.get_attribute("data-intent")
    box.press("Enter")
    target = row(page, TO_TYPE)
    expect(target.locator(".tr-status")).to_have_text("added", timeout=SLOW)
    assert trainer_bot.entry(TO_TYPE)["assigned_intent"] == chosen


def test_ignore_with_i(new_page, trainer_bot, conversations):
    page = open_page(new_page, trainer_bot)
    select_with_keys(page, TO_IGNORE)
    page.keyboard.press("i")
    expect(row(page, TO_IGNORE).locator(".tr-status")).to_have_text("ignored", timeout=SERVER)
    assert trainer_bot.entry(TO_IGNORE)["status"] == "ignored"
    # the default filter (status new) no longer lists it after a reload
    page.reload()  # the token is kept for the tab's session: not asked again
    expect(page.locator("#tr-main")).to_be_visible(timeout=SERVER)
    expect(page.locator("#tr-total")).not_to_be_empty(timeout=SERVER)
    expect(row(page, TO_IGNORE)).to_have_count(0)


def test_api_answers_bad_input_with_clear_4xx(trainer_bot, conversations):
    call = trainer_bot.call
    for query, words in (
        ("status=bogus", "status must be one of"),
        ("lang=de", "lang must be one of"),
        ("reason=x", "reason must be one of"),
        ("min_confidence=2", "between 0 and 1"),
        ("min_confidence=abc", "between 0 and 1"),
        ("min_confidence=0.8&max_confidence=0.2", "above"),
        ("limit=0", "limit"),
        ("intent=" + "x" * 200, "1-96 characters"),
    ):
        status, body, _ = call("GET", "api/inbox?" + query)
        assert status == 400 and words in body["error"], (query, body)
    some = trainer_bot.entry(TO_IGNORE)["id"]
    assert call("GET", "api/inbox/999999")[0] == 404
    assert call("POST", "api/inbox/999999/ignore", {})[0] == 404
    for body, words in (
        (b"not json", "not valid JSON"),
        (b"[1]", "expected a JSON object"),
        ({"intent": 7}, "intent must be"),
        ({"intent": "a b"}, "1-96 characters"),
        (b"x" * 5000, "larger than"),
    ):
        status, answer, _ = call("POST", f"api/inbox/{some}/assign", body)
        assert status in (400, 413) and words in answer["error"], (body, answer)
    call("POST", "api/inbox/sync")
    entry = trainer_bot.entry(UNKNOWN)
    status, body, _ = call("POST", f"api/inbox/{entry['id']}/assign", {"intent": "scope_disinfect"})
    assert status == 422 and "did you mean scope_disinfection" in body["error"], body
    assert trainer_bot.entry(UNKNOWN)["status"] == "new"  # nothing lost


# ---------------------------------------------------------------- retrain and evaluation


def test_retrain_while_one_runs_is_told_not_queued(new_page, trainer_bot):
    status, body, _ = trainer_bot.call("GET", "api/retrain")
    assert status == 200 and body["state"] == "idle", body
    status, body, _ = trainer_bot.call("POST", "api/retrain", {"force": "yes"})
    assert status == 400 and "force must be true or false" in body["error"]
    page = open_page(new_page, trainer_bot)
    expect(page.locator("#tr-main")).to_be_visible()
    with retrain.exclusive(trainer_bot.cfg):  # as `bot retrain` in a shell holds it
        status, body, _ = trainer_bot.call("GET", "api/retrain")
        assert body["state"] == "running_elsewhere" and "pid" in body["elsewhere"], body
        status, body, _ = trainer_bot.call("POST", "api/retrain", {})
        assert status == 409 and "already running" in body["error"], body
        page.get_by_role("button", name="Retrain now").click()
        expect(page.locator("#tr-retrain-status")).to_contain_text("Not started", timeout=SERVER)
        expect(page.locator("#tr-retrain-status")).to_contain_text("already running")
        expect(page.locator("#tr-retrain")).to_be_disabled()
    expect(page.locator("#tr-retrain")).to_be_enabled(timeout=10_000)  # polled: free again
    status, body, _ = trainer_bot.call("GET", "api/retrain")
    assert body["state"] == "idle", body


def _real_evaluation(trainer_bot: TrainerBot, per_set: int = 60) -> None:
    """A held-out report of the running model on every k-th question of each set
    (all languages, out of scope included), parsed by the server itself, stored as
    `bot eval` stores it, with its PNG. A sample: the whole sets take minutes."""
    sets = {
        name: rows[:: max(1, len(rows) // per_set)] for name, rows in scoring.heldout_sets().items()
    }
    parses = [trainer_bot.parse(text) for text in scoring.texts(sets)]
    report = scoring.evaluate(sets, parses)
    sample = sum(len(rows) for rows in sets.values())
    report.update(
        kind="heldout", model=f"a sample of {sample} held-out questions", created=time.time()
    )
    stem = model_eval.save(trainer_bot.cfg, report)
    model_eval.write_png(report, stem.with_suffix(".png"))


def test_latest_evaluation_with_its_plot(new_page, trainer_bot, docs_dir):
    status, body, _ = trainer_bot.call("GET", "api/evaluation")
    assert status == 404 and "bot eval" in body["error"]
    _real_evaluation(trainer_bot)
    status, body, _ = trainer_bot.call("GET", "api/evaluation")
    assert status == 200 and body["has_plot"] and set(body["languages"]) == {"en", "nb", "sv"}
    assert "predictions" not in body
    page = open_page(new_page, trainer_bot, width=1440, height=1100)
    panel = page.locator("#tr-eval-panel")
    expect(panel.locator("table")).to_contain_text("macro-F1", timeout=SERVER)
    plot = panel.get_by_role("img", name=re.compile("Confusion matrix"))
    expect(plot).to_be_visible(timeout=SERVER)
    assert plot.evaluate("img => img.naturalWidth") > 100
    panel.screenshot(path=str(docs_dir / "trainer-evaluation.png"))
    assert trainer_bot.token not in (plot.get_attribute("src") or "")


def test_screenshots(new_page, trainer_bot, conversations, docs_dir):
    """The page as a trainer sees it (docs/ only with BOT_UPDATE_SCREENSHOTS=1)."""
    for text in (
        "hvordan bytter jeg dekk på bilen",
        "mitt antivirus stoppar mitt spel, kan ni fixa det",
    ):
        trainer_bot.say(text)
    page = open_page(new_page, trainer_bot, width=1440, height=1100)
    page.get_by_label("Status").select_option("all")
    expect(page.locator(".tr-row").first).to_be_visible()
    expect(row(page, "mitt antivirus")).to_have_count(1)
    select_with_keys(page, "mitt antivirus stoppar")
    expect(page.locator(".tr-context li").first).to_be_visible(timeout=SERVER)
    page.screenshot(path=str(docs_dir / "trainer.png"))
    # clicked, not the "a" key (test_assign_through_the_type_ahead tests that): here
    # "a" sometimes arrived before the page had focus back after the screenshot
    box = page.get_by_role("combobox", name=re.compile("^Assign"))
    box.click()
    box.press_sequentially("false")
    expect(box).to_have_value("false")
    expect(page.locator("#tr-options [role=option]").first).to_be_visible(timeout=SERVER)
    page.screenshot(path=str(docs_dir / "trainer-assign.png"))
