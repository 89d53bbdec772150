"""`bot retrain` end to end, on a temporary copy of the project (data/nlu in the work
tree is never touched): a phrase added to a topic, a retrain (the one second
training of a test run), and the running assistant answering it from that topic
without a restart, while other conversations go on; then a model the regression
gate refuses, and the live one keeps serving.

The copy runs `bot run` as `make run` does, with the session's model copied in and
the work tree's var/cache/ (filled by `make test`'s training: e5 vectors, the
classifier's last fit), so only the new phrase is embedded.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot import secrets
from bot.runtime import processes, project_copy
from bot.settings import PROJECT_DIR
from tests.conversation.questions import DISINFECTION

NLU_FILE, INTENT = "en/disinfection.yml", "scope_disinfection"
PHRASE = "the gremlins chewed through my laptop"  # no topic's words: falls back today


@dataclass
class Copy:
    project: Path
    env: dict[str, str]
    log: Path
    proc: object = None
    original: str = ""  # the NLU file before the phrase
    results: dict = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.env['BOT_RASA_PORT']}"

    def _request(self, path: str, body: dict | None = None) -> object:
        headers = {"Content-Type": "application/json"}
        if not path.startswith("/webhooks/"):
            headers["Authorization"] = f"Bearer {secrets.bearer(self.env['BOT_API_TOKEN'])}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data, headers)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def ask(self, text: str, sender: str | None = None) -> dict:
        """The answer payload of `text` (the contract's rule_ids, verdict, lang)."""
        body = {"sender": sender or uuid.uuid4().hex, "message": text}
        replies = self._request("/webhooks/rest/webhook", body)
        assert isinstance(replies, list)
        return next(r["custom"]["answer"] for r in replies if "answer" in r.get("custom", {}))

    def model_file(self) -> str:
        return self._request("/status")["model_file"]  # type: ignore[index]

    def retrain(self, *args: str):
        return project_copy.run_cli(self.project, self.env, "retrain", *args)

    @property
    def nlu_file(self) -> Path:
        return self.project / "data" / "nlu" / NLU_FILE


@pytest.fixture(scope="module")
def copy(tmp_path_factory, model: Path) -> Iterator[Copy]:
    tmp = tmp_path_factory.mktemp("retrain")
    cache = PROJECT_DIR / "var" / "cache"  # make test's training filled it
    project = project_copy.copy_project(tmp / "project", model=model, cache=cache)
    env = project_copy.environment(project, processes.free_port(), processes.free_port())
    it = Copy(project, env, tmp / "run.log")
    it.proc = project_copy.start(project, env, it.log)
    try:
        started = time.monotonic()
        while True:  # `bot run`: no training (the model is there), servers up
            try:
                assert it.model_file() == model.name
                break
            except (OSError, urllib.error.URLError, KeyError, AssertionError):
                assert it.proc.poll() is None, it.log.read_text()[-3000:]  # type: ignore[attr-defined]
                assert time.monotonic() - started < 300, it.log.read_text()[-3000:]
                time.sleep(0.5)
        yield it
    finally:
        project_copy.stop(it.proc)  # type: ignore[arg-type]


class Traffic(threading.Thread):
    """Other users, one message after another, while the model changes."""

    def __init__(self, copy: Copy) -> None:
        super().__init__(daemon=True)
        self.copy, self.stop, self.answered, self.failed = copy, threading.Event(), 0, []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                assert self.copy.ask(DISINFECTION["nb"])["verdict"] == "excluded"
                self.answered += 1
            except Exception as exc:  # noqa: BLE001 - every failure is reported
                self.failed.append(repr(exc))
            self.stop.wait(0.5)  # a user, not a load test


@pytest.fixture(scope="module")
def retrained(copy: Copy) -> Copy:
    """The phrase added, `bot retrain` run while others talk to the assistant."""
    topic = copy.ask(DISINFECTION["en"])
    copy.results.update(topic=topic, before=copy.ask(PHRASE), model_before=copy.model_file())
    ongoing = f"ongoing-{uuid.uuid4().hex}"
    copy.ask(DISINFECTION["sv"], sender=ongoing)
    copy.original = copy.nlu_file.read_text(encoding="utf-8")
    project_copy.append_example(copy.nlu_file, INTENT, PHRASE)
    traffic = Traffic(copy)
    traffic.start()
    try:
        copy.results["retrain"] = copy.retrain("--wait", "60")
    finally:
        traffic.stop.set()
        traffic.join(timeout=120)
    copy.results.update(traffic=traffic, ongoing=ongoing, model_after=copy.model_file())
    return copy


def test_a_new_phrase_is_answered_by_the_running_server_without_a_restart(retrained):
    r = retrained.results
    assert r["before"]["rule_ids"] != r["topic"]["rule_ids"]  # not this topic's answer yet
    out = r["retrain"].stdout + r["retrain"].stderr
    assert r["retrain"].returncode == 0, out
    assert "live: model-" in out and "answers with it" in out, out
    assert r["model_after"] != r["model_before"]
    assert retrained.ask(PHRASE)["rule_ids"] == r["topic"]["rule_ids"]
    assert retrained.proc.poll() is None  # the same `bot run`, never restarted
    # nobody's message failed while the model changed, and conversations went on
    assert r["traffic"].failed == [] and r["traffic"].answered > 0
    retrained.ask(DISINFECTION["en"], sender=r["ongoing"])
    tracker = retrained._request(f"/conversations/{r['ongoing']}/tracker")
    said = [e.get("text") for e in tracker["events"] if e["event"] == "user"]  # type: ignore[index]
    assert said == [DISINFECTION["sv"], DISINFECTION["en"]]
    assert retrained.nlu_file.read_text(encoding="utf-8").count(PHRASE) == 1
    assert (PROJECT_DIR / "data" / "nlu" / NLU_FILE).read_text(encoding="utf-8").count(PHRASE) == 0


def _graph(model: Path) -> dict:
    """A model's metadata without what differs between any two trainings: when, its
    id, and where (project_fingerprint is the git commit of the directory it was
    trained in: the copy has no .git)."""
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    meta = LocalModelStorage.metadata_from_archive(model).as_dict()
    for schema in ("train_schema", "predict_schema"):
        for node in meta[schema]["nodes"].values():
            if node.get("resource"):
                node["resource"].pop("output_fingerprint")
    for key in ("trained_at", "model_id", "project_fingerprint"):
        meta.pop(key)
    return meta


def test_the_retrain_makes_the_model_rasa_train_makes(retrained, model):
    """The retrain runs Rasa's training graph without its cache (graph_training):
    the same schemas, domain and settings as the session's `rasa train`, and the
    same components' files."""
    import tarfile

    new = retrained.project / "models" / retrained.results["model_after"]
    assert _graph(new) == _graph(model)
    with tarfile.open(new) as a, tarfile.open(model) as b:
        assert sorted(a.getnames()) == sorted(b.getnames())


def test_a_model_the_gate_refuses_never_goes_live(retrained):
    """The phrase removed again: the candidate is the first model (no training). The
    stored report of the live model is raised to a perfect Norwegian score, so the
    candidate's real score is a drop: refused, and the live model keeps serving."""
    live = retrained.results["model_after"]
    stored = retrained.project / "var" / "retrain" / "reports" / f"{live}.json"
    report = json.loads(stored.read_text(encoding="utf-8"))
    report["nb"]["macro_f1"] = 1.0
    stored.write_text(json.dumps(report), encoding="utf-8")
    retrained.nlu_file.write_text(retrained.original, encoding="utf-8")
    refused = retrained.retrain("--no-wait")
    out = refused.stdout + refused.stderr
    assert refused.returncode == 1, out
    assert "REFUSED" in out and "worse: nb macro-F1 1.000 ->" in out, out
    time.sleep(4)  # longer than wait_time_between_pulls: a pull happened meanwhile
    assert retrained.model_file() == live
    assert retrained.ask(PHRASE)["rule_ids"] == retrained.results["topic"]["rule_ids"]
