"""A retrain in the background, for the trainer page: started by one request,
watched by polling another.

`bot.runtime.retrain.retrain` does the work (train, regression gate, activate)
and holds the retrain lock in var/retrain/; this only runs it in a thread and
remembers its steps and outcome. A request while a retrain runs (this page's,
`bot retrain` in a shell, another replica's) is told so and never queued: the
trainer retrains again when it is done if there is more to learn.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.runtime import retrain
from bot.settings import Settings

logger = logging.getLogger(__name__)

Run = Callable[..., retrain.Outcome]  # retrain.retrain's signature: (cfg, force=, progress=)


class Busy(Exception):
    """A retrain is already running; nothing was started."""


@dataclass
class Job:
    started: float
    force: bool
    steps: list[tuple[float, str]] = field(default_factory=list)
    finished: float | None = None
    outcome: retrain.Outcome | None = None
    error: str | None = None

    @property
    def running(self) -> bool:
        return self.finished is None


def outcome_json(outcome: retrain.Outcome) -> dict[str, Any]:
    verdict = outcome.verdict
    return {
        "status": outcome.status,  # activated | forced | refused | unchanged
        "live": outcome.live,
        "model": outcome.model.name if outcome.model else None,
        "train_seconds": outcome.train_seconds,
        "eval_seconds": outcome.eval_seconds,
        "verdict": None
        if verdict is None
        else {
            "passed": verdict.passed,
            "summary": list(verdict.summary),
            "problems": [{"what": p.what, "examples": list(p.examples)} for p in verdict.problems],
        },
    }


class RetrainJobs:
    """At most one background retrain per process, and what the last one did."""

    def __init__(self, run: Run = retrain.retrain) -> None:
        self._run = run
        self._lock = threading.Lock()
        self._job: Job | None = None

    def start(self, cfg: Settings, force: bool = False) -> dict[str, Any]:
        """Start a retrain in a thread; Busy if one is running here or anywhere else."""
        with self._lock:
            if self._job is not None and self._job.running:
                raise Busy(
                    "a retrain started from this page "
                    f"{time.strftime('at %H:%M:%S', time.localtime(self._job.started))} is still "
                    "running: wait for its verdict, then retrain again if you changed more since"
                )
            holder = retrain.running(cfg)
            if holder is not None:
                raise Busy(
                    f"a retrain is already running ({holder}), e.g. `bot retrain` in a shell: "
                    "wait for it, then retrain again if you changed more since"
                )
            job = Job(started=time.time(), force=force)
            self._job = job
        thread = threading.Thread(
            target=self._work, args=(cfg, job), name="trainer-retrain", daemon=True
        )
        thread.start()
        return self.status(cfg)

    def _work(self, cfg: Settings, job: Job) -> None:
        def progress(text: str) -> None:
            logger.info("retrain: %s", text)
            job.steps.append((time.time(), text))

        progress("started" + (" (forced past the gate)" if job.force else ""))
        try:
            job.outcome = self._run(cfg, force=job.force, progress=progress)
        except (retrain.RetrainBusy, retrain.RetrainFailed) as exc:
            job.error = str(exc)
        except Exception as exc:  # the page must hear of it; the live model keeps serving
            logger.exception("retrain from the trainer page failed")
            job.error = f"the retrain failed ({type(exc).__name__}); the live model keeps serving"
        finally:
            job.finished = time.time()

    def status(self, cfg: Settings) -> dict[str, Any]:
        """What the page shows: this process's last job, and a retrain run elsewhere."""
        job = self._job
        elsewhere = None if job is not None and job.running else retrain.running(cfg)
        if job is None:
            return {"state": "running_elsewhere" if elsewhere else "idle", "elsewhere": elsewhere}
        end = job.finished or time.time()
        if job.running:
            state = "running"
        elif job.error is not None:
            state = "failed"
        else:
            state = "done"
        return {
            "state": state,
            "elsewhere": elsewhere,
            "started": job.started,
            "seconds": round(end - job.started, 1),
            "force": job.force,
            "steps": [{"seconds": round(at - job.started, 1), "text": t} for at, t in job.steps],
            "error": job.error,
            "outcome": None if job.outcome is None else outcome_json(job.outcome),
        }
