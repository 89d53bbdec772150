"""Trained models for the benchmarks, one per pipeline, shared by bench.speed and
bench.accuracy (a full model: its NLU part is what bench.accuracy parses with).

A model is keyed by what that pipeline actually depends on: its config file,
data/, domain/, requirements.lock and only those of our component files
(build.MODEL_CODE) its config names. So changing our classifier retrains
the chosen pipeline but not Rasa's default one (which takes ~30 min).
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

from bot import settings
from bot.runtime import build, processes
from bot.settings import PROJECT_DIR

RESULTS = PROJECT_DIR / "bench" / "results"
MODELS = RESULTS / "models"
PIPELINES = {
    "chosen": PROJECT_DIR / "config.yml",
    "rasa-default": PROJECT_DIR / "bench" / "pipelines" / "rasa-default.yml",
}


def component_files(config: Path) -> list[str]:
    """Our component files whose module (bot.rasa_addons.x) the config names, and
    the files those components compute with."""
    text = config.read_text(encoding="utf-8")
    named = [
        rel for rel in build.MODEL_CODE if rel.removesuffix(".py").replace("/", ".") + "." in text
    ]
    return named + [h for rel in named for h in build.MODEL_CODE_HELPERS.get(rel, ())]


def fingerprint(config: Path) -> str:
    digest = hashlib.sha256(config.read_bytes())
    inputs = ("data", "domain", "requirements.lock", *component_files(config))
    for path in build._files(inputs):
        digest.update(str(path.relative_to(PROJECT_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def model_for(name: str) -> Path:
    return MODELS / f"full-{name}-{fingerprint(PIPELINES[name])}.tar.gz"


def trained(name: str, cfg: settings.Settings | None = None) -> tuple[Path, float | None]:
    """The model of pipeline `name`, trained now if missing; with training seconds."""
    target = model_for(name)
    if target.exists():
        return target, None
    print(f"training {name} from scratch ({target.name})", flush=True)
    started = time.monotonic()
    cmd = [*build.train_command(PIPELINES[name], target), "--force"]
    subprocess.run(
        cmd,
        cwd=PROJECT_DIR,
        env=processes.rasa_env(cfg or settings.load()),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seconds = time.monotonic() - started
    (target.parent / (target.name + ".train_s")).write_text(f"{seconds:.1f}\n")
    return target, seconds


def resolve(spec: str) -> tuple[str, Path, float | None]:
    """A pipeline name (its model trained if missing), or `label=path/to/model.tar.gz`
    for a model trained elsewhere (e.g. at the commit before a change); with the
    training seconds when known."""
    if "=" in spec:
        label, given = spec.split("=", 1)
        return label, Path(given), None
    model, seconds = trained(spec)
    note = model.parent / (model.name + ".train_s")
    if seconds is None and note.exists():
        seconds = float(note.read_text())
    return spec, model, seconds


def main() -> int:
    """`python -m bench.models [name ...]`: train the missing models (e.g. in the background)."""
    import sys

    for name in sys.argv[1:] or list(PIPELINES):
        path, seconds = trained(name)
        print(f"{name}: {path} ({'reused' if seconds is None else f'{seconds:.0f} s'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
