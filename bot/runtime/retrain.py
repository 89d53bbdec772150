"""Retrain after a trainer's change, gate the new model, and make it live.

`retrain(cfg)` (the `bot retrain` command and the trainer page call it):

1. one at a time: a second request while one runs is told so (RetrainBusy), never
   queued (an flock on var/retrain/lock, released even if the process dies);
2. trains a model of the current data into var/retrain/candidates/, in one Rasa
   process that then also parses the held-out questions (Rasa imported once);
   the e5 vectors of unchanged examples come from var/cache/ (embedding_store), so
   after one new phrase only that phrase is embedded;
3. the regression gate (bot.training.gate) against the live model's report;
4. passed (or forced): moved into models/ under the launcher's name for these
   inputs, and named live in var/active-model.json, which every Rasa server pulls
   within endpoints.yml's wait_time_between_pulls. Refused or failed: nothing
   changes, the live model keeps serving.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import intent_files, secrets
from bot.runtime import build, model_server, nlu_jobs, processes
from bot.settings import PROJECT_DIR, Settings
from bot.training import gate, scoring
from bot.training.examples import EVAL_SETS, check_apart

NLU_JOB = (sys.executable, "-m", "bot.rasa_addons.entry.nlu_job")
logger = logging.getLogger(__name__)
Progress = Callable[[str], None]


class RetrainBusy(Exception):
    """Another retrain is running; this one did nothing."""


class RetrainFailed(Exception):
    """Training or evaluation failed; the live model keeps serving."""


@dataclass
class Outcome:
    status: str  # "activated", "forced", "refused" or "unchanged"
    model: Path | None  # the new model (live unless refused)
    train_seconds: float | None = None
    eval_seconds: float | None = None
    verdict: gate.Verdict | None = None
    report: dict[str, Any] | None = None

    @property
    def live(self) -> bool:
        return self.status in ("activated", "forced")


def retrain_dir(cfg: Settings) -> Path:
    return cfg.var_dir / "retrain"


# ---------------------------------------------------------------- one at a time


@contextmanager
def exclusive(cfg: Settings) -> Iterator[None]:
    """Hold the retrain lock, or raise RetrainBusy saying who holds it."""
    path = retrain_dir(cfg) / "lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise RetrainBusy(
                f"a retrain is already running ({holder}); its model goes live when it "
                "passes the gate: wait for it, then retrain again if you changed more since"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {time.strftime('%H:%M:%S')}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def running(cfg: Settings) -> str | None:
    """Who is retraining now (for a page's status line), or None."""
    path = retrain_dir(cfg) / "lock"
    if not path.exists():
        return None
    with path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            return handle.read().strip() or "a retrain"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


# ---------------------------------------------------------------- the Rasa job


def nlu_job(
    cfg: Settings,
    train: Path | None = None,
    parse: tuple[Path, ...] = (),
    texts: list[str] | None = None,
    config: Path = PROJECT_DIR / "config.yml",
    cross_validate: int = 0,
) -> dict[str, Any]:
    """Run bot.rasa_addons.entry.nlu_job: train into `train` and/or parse `texts` with `parse`
    (and/or cross-validate data/nlu in `cross_validate` folds). In the warm worker
    (bot.runtime.nlu_jobs) unless BOT_RETRAIN_WARM_SECONDS is 0, else in a new process;
    a worker that cannot start, or dies mid-job, leaves the job to a new process."""
    with tempfile.TemporaryDirectory(prefix="nlu-job-") as tmp:
        out = Path(tmp) / "result.json"
        argv = ["--out", str(out), "--config", str(config)]
        if train is not None:
            train.parent.mkdir(parents=True, exist_ok=True)
            argv += ["--train", str(train)]
        if cross_validate:
            argv += ["--cross-validate", str(cross_validate)]
        if parse:
            (Path(tmp) / "texts.json").write_text(json.dumps(texts or []), encoding="utf-8")
            argv += ["--texts", str(Path(tmp) / "texts.json")]
            argv += [arg for model in parse for arg in ("--parse", str(model))]
        env = processes.rasa_env(cfg)
        if cfg.retrain_warm_seconds > 0:
            try:
                return nlu_jobs.run(cfg, argv, env)
            except nlu_jobs.JobFailed as exc:
                raise RetrainFailed(
                    f"training failed ({exc}); the live model keeps serving"
                ) from None
            except nlu_jobs.WorkerFailed as exc:
                processes.step(f"{exc}: running the job in a new process instead")
        result = subprocess.run([*NLU_JOB, *argv], cwd=PROJECT_DIR, env=env)
        if result.returncode != 0 or not out.exists():
            raise RetrainFailed(
                "training failed (see the messages above); the live model keeps serving"
            )
        return dict(json.loads(out.read_text(encoding="utf-8")))


def warm_up(cfg: Settings) -> bool:
    """A phrase was just written, so a retrain comes next: start the warm NLU process
    now, in the background (if retrains use one and none runs), and that retrain
    finds Rasa imported and e5 loaded: about 10 s of a first retrain
    (docs/trainers.md, "The standing NLU worker"). True if one was started."""
    if cfg.retrain_warm_seconds <= 0:
        return False
    try:
        return nlu_jobs.prestart(cfg, processes.rasa_env(cfg))
    except Exception:  # only a head start: the phrase is written, the retrain starts one
        logger.warning("could not start the warm retrain process early", exc_info=True)
        return False


# ---------------------------------------------------------------- reports


def sets_digest() -> str:
    """Changes when a held-out set changes: a stored report is then stale."""
    digest = hashlib.sha256()
    for path in EVAL_SETS:
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _report_file(cfg: Settings, model: Path) -> Path:
    return retrain_dir(cfg) / "reports" / f"{model.name}.json"


def stored_report(cfg: Settings, model: Path) -> dict[str, Any] | None:
    """The held-out report of `model`, if one was stored for today's held-out sets."""
    try:
        report = json.loads(_report_file(cfg, model).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if report.get("sets_digest") == sets_digest() else None


def store_report(cfg: Settings, model: Path, report: dict[str, Any]) -> None:
    path = _report_file(cfg, model)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")


def serving_model(cfg: Settings, besides: Path | None = None) -> Path | None:
    """The live model: the one the servers pull, else the newest in models/."""
    live = model_server.active(cfg)
    if live is not None:
        return live
    models = sorted(
        (p for p in cfg.models_dir.glob("*.tar.gz") if besides is None or p != besides),
        key=lambda p: p.stat().st_mtime,
    )
    return models[-1] if models else None


def evaluate_models(
    cfg: Settings, models: tuple[Path, ...], train: Path | None = None
) -> tuple[dict[Path, dict[str, Any]], dict[str, Any]]:
    """Held-out reports of `models` (training `train` first, in the same process)."""
    sets = scoring.heldout_sets()
    job = nlu_job(cfg, train=train, parse=models, texts=scoring.texts(sets))
    reports = {}
    for model in models:
        report = scoring.evaluate(sets, job["parses"][str(model)])
        report.update(model=model.name, sets_digest=sets_digest(), created=time.time())
        reports[model] = report
    return reports, job


# ---------------------------------------------------------------- retrain


def retrain(cfg: Settings, force: bool = False, progress: Progress = processes.step) -> Outcome:
    """Train the current data, gate it, make it live; see the module's text."""
    with exclusive(cfg):
        intent_files.generate()  # the topic intents, as `make run` does
        leaks = check_apart()
        if leaks:  # the gate would measure nothing: refuse before spending a training
            raise RetrainFailed(
                "evaluation questions are also training examples (remove them from "
                "data/nlu):\n" + "\n".join(leaks)
            )
        target = build.model_path(cfg)
        serving = serving_model(cfg, besides=target)
        if serving is not None and serving.resolve() == target.resolve():
            progress(f"the live model already has these data: {target.name}")
            return Outcome("unchanged", target)
        candidate = target if target.exists() else retrain_dir(cfg) / "candidates" / target.name
        # a candidate the gate refused before: `--force` makes it live without retraining
        train = None if candidate.exists() else candidate
        report = stored_report(cfg, target) if train is None else None
        baseline = stored_report(cfg, serving) if serving else None
        parse = tuple(m for m, r in ((candidate, report), (serving, baseline)) if m and r is None)
        progress(
            ("training a model of the current data, then " if train else "")
            + f"evaluating {len(parse)} model(s) on the held-out sets"
        )
        started = time.time()
        reports, job = evaluate_models(cfg, parse, train=train) if parse or train else ({}, {})
        finished = time.time()
        if report is None:
            report = reports[candidate]
            store_report(cfg, target, report)
        if serving is not None and baseline is None:
            baseline = reports[serving]
            store_report(cfg, serving, baseline)
        # wall clock, Rasa's import included; the evaluation is what follows
        trained_at = job.get("trained_at")
        train_seconds = trained_at - started if trained_at else None
        eval_seconds = finished - (trained_at or started)
        verdict = gate.check(baseline, report)
        if not verdict.passed and not force:
            progress(f"refused by the regression gate; still live: {serving and serving.name}")
            return Outcome("refused", candidate, train_seconds, eval_seconds, verdict, report)
        if candidate != target:
            shutil.move(str(candidate), target)
        model_server.activate(cfg, target, forced=not verdict.passed)
        progress(f"live: {target.name}" + ("" if verdict.passed else " (forced past the gate)"))
        status = "activated" if verdict.passed else "forced"
        return Outcome(status, target, train_seconds, eval_seconds, verdict, report)


def wait_live(cfg: Settings, model: Path, timeout: float = 60.0) -> float | None:
    """Seconds until the Rasa server at cfg.rasa_url serves `model`; None if it does
    not in `timeout` (not running, or not pulling models)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        request = urllib.request.Request(f"{cfg.rasa_url}/status", headers=secrets.api_headers(cfg))
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if json.loads(response.read()).get("model_file") == model.name:
                    return time.monotonic() - started
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.25)
    return None
