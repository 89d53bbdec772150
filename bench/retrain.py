"""Full retrain vs retrain after adding one phrase, and phrase-to-live time.

    .venv/bin/python -m bench.retrain

On a copy of the project (bot.runtime.project_copy; data/nlu here is never touched):

1. a full retrain as `make run` does it today (`rasa train`, no embedding cache,
   no Rasa cache), timed;
2. the assistant started on the copy (`bot run`, the model server on);
3. one phrase appended to a topic, then `bot retrain` (the regression gate's
   evaluation is reported beside the training, not in it) and the time until the
   running server answers the phrase from that topic, with no restart; then a
   second phrase the same way: the first retrain of a sitting starts the warm NLU
   process (bot.runtime.nlu_jobs), the second finds it running; then, the process
   stopped, a third phrase written as `bot inbox assign` and the trainer page
   write one (the warm process started in the background: retrain.warm_up) and
   `bot retrain` at once, with no pause a trainer would take.

Prints both side by side and their ratio; the machine's load is printed too,
since other work on a 2-core machine changes every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bot.runtime import build, processes, project_copy

# (file, intent, a phrase no topic understands yet, a question the topic answers);
# the first retrain of a sitting starts the warm process, the second finds it, the
# third finds it starting (warmed up when the phrase was written)
PHRASES = (
    (
        "en/disinfection.yml",
        "scope_disinfection",
        "the gremlins chewed through my laptop",
        "Can you remove a virus from my PC?",
    ),
    (
        "en/onsite_remote.yml",
        "scope_onsite_remote",
        "fancy sending a boffin round to our warehouse",
        "Will someone come to our office?",
    ),
    (
        "en/after_hours.yml",
        "scope_after_hours",
        "anyone about when the owls are out",
        "Can I get help at night?",
    ),
)
WHEN = (
    "first of a sitting: the warm process starts",
    "warm process",
    "warm process started when the phrase was written",
)
_WARM = "from bot import settings; from bot.runtime import nlu_jobs, retrain; "


def _post(url: str, body: dict, headers: dict[str, str] | None = None) -> object:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _python(project: Path, env: dict[str, str], code: str) -> None:
    """`code` run in the copy's settings (its var/, its worker)."""
    subprocess.run([sys.executable, "-c", code], cwd=project, env={**os.environ, **env}, check=True)


def intent_of(base: str, text: str) -> str:
    """The intent that answered `text` through the REST channel (its rule ids' topic)."""
    replies = _post(
        f"{base}/webhooks/rest/webhook", {"sender": os.urandom(8).hex(), "message": text}
    )
    assert isinstance(replies, list)
    for reply in replies:
        answer = (reply.get("custom") or {}).get("answer")
        if answer:
            return ",".join(answer.get("rule_ids") or []) or answer.get("verdict", "")
    return ""


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 900) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise SystemExit("the assistant stopped during start-up; see the log")
        try:
            urllib.request.urlopen(f"{base}/webhooks/chat/health", timeout=2)
            intent_of(base, "hello")
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the assistant did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the copy (prints where)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-retrain-"))
    project = project_copy.copy_project(tmp / "project")
    env = project_copy.environment(project, processes.free_port(), processes.free_port())
    env["PYTHONPATH"] = str(project)
    base = f"http://127.0.0.1:{env['BOT_RASA_PORT']}"
    load = os.getloadavg()[0]

    print("1/3 full retrain (rasa train, nothing cached) ...", flush=True)
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "generate"],
        cwd=project,
        env={**os.environ, **env},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    fingerprint = subprocess.run(
        [sys.executable, "-c", "from bot.runtime import build; print(build.fingerprint())"],
        cwd=project,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    target = project / "models" / f"model-{fingerprint}.tar.gz"
    started = time.monotonic()
    subprocess.run(
        build.train_command(project / "config.yml", target),
        cwd=project,
        env={**os.environ, **env},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    full = time.monotonic() - started

    print("2/3 starting the assistant on the copy ...", flush=True)
    proc = project_copy.start(project, env, tmp / "run.log")
    rows = []
    try:
        wait_ready(base, proc)
        for n, (nlu_file, intent, phrase, example) in enumerate(PHRASES, 1):
            topic = intent_of(base, example)
            before = intent_of(base, phrase)
            when = WHEN[n - 1]
            if n == 3:  # the process of the last two stopped: a new sitting
                _python(project, env, _WARM + "nlu_jobs.shutdown(settings.load())")
            print(f"3/3 ({n}) adding {phrase!r} to {intent}, bot retrain ({when}) ...", flush=True)
            added = time.monotonic()
            project_copy.append_example(project / "data" / "nlu" / nlu_file, intent, phrase)
            if n == 3:
                _python(project, env, _WARM + "retrain.warm_up(settings.load())")
            result = project_copy.run_cli(project, env, "retrain", "--no-wait")
            retrained = time.monotonic() - added
            if result.returncode != 0:
                print(result.stdout, result.stderr, sep="\n")
                raise SystemExit("bot retrain failed")
            trained = float(re.search(r"trained in ([\d.]+) s", result.stdout).group(1))  # type: ignore[union-attr]
            evaluated = float(re.search(r"evaluation ([\d.]+) s", result.stdout).group(1))  # type: ignore[union-attr]
            while intent_of(base, phrase) != topic:
                if time.monotonic() - added > 300:
                    raise SystemExit("the new model did not go live within 5 minutes")
                time.sleep(0.2)
            live = time.monotonic() - added if before != topic else None
            rows.append((when, phrase, before, topic, trained, evaluated, retrained, live))
    finally:
        project_copy.stop(proc)
    print(f"\nload average at start: {load:.1f} (2 cores; others' work slows every figure)")
    print(f"{'':<52}{'seconds':>9}{'vs full':>9}")
    print(f"{'full retrain (rasa train, nothing cached)':<52}{full:>9.1f}{1:>9.2f}")
    for when, phrase, before, topic, trained, evaluated, retrained, live in rows:
        print(f"one phrase added ({when}):")
        print(f"{'  new model (bot retrain)':<52}{trained:>9.1f}{trained / full:>9.2f}")
        print(f"{'  + regression gate evaluation (beside)':<52}{evaluated:>9.1f}")
        print(f"{'  bot retrain in all':<52}{retrained:>9.1f}{retrained / full:>9.2f}")
        if live is None:
            print(f"  phrase added -> live: not measured ({phrase!r} was understood before)")
        else:
            label = "  phrase added -> answered live (no restart)"
            print(f"{label:<52}{live:>9.1f}{live / full:>9.2f}")
        print(f"  before: {phrase!r} -> {before or 'fallback'}; after: {topic}")
    if args.keep:
        print(f"copy kept in {tmp}")
    else:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
