"""What a run needs before any server starts: the generated domain files, the
database with the rule base and sample records, and a model trained from exactly
the current inputs (`bot prepare`; `make test` adds `--for-tests`, which
validates the training data too).
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.engine import make_url

from bot import db, intent_files, rulebase
from bot.runtime.processes import RASA, LaunchError, rasa_env, step
from bot.settings import PROJECT_DIR, Settings

# Everything a trained model depends on; the model is named after their hash.
# data/ holds Rasa training data only (content/ is read at answer time); the
# channels and Rasa patches in bot/rasa_addons are not part of the model.
TRAINING_INPUTS = ("config.yml", "domain", "data")

MODEL_CODE = (
    "bot/rasa_addons/components/e5_featurizer.py",
    "bot/rasa_addons/components/language_detector.py",
    "bot/rasa_addons/components/letter_folder.py",
    "bot/rasa_addons/components/segments.py",
    "bot/text.py",  # fold_letters: what the letter folder makes of a token
    "bot/rasa_addons/components/linear_intent_classifier.py",
    "bot/rasa_addons/components/record_facts.py",
    # what the classifier's weights are computed by
    "bot/nlu/softmax_fit.py",
    "bot/nlu/lbfgs.py",
)

# files of MODEL_CODE that no config names, by the component that uses them
MODEL_CODE_HELPERS = {
    "bot/rasa_addons/components/linear_intent_classifier.py": (
        "bot/nlu/softmax_fit.py",
        "bot/nlu/lbfgs.py",
    ),
    "bot/rasa_addons/components/letter_folder.py": ("bot/text.py",),
    "bot/rasa_addons/components/segments.py": ("bot/segments.py",),
}

NLU_DATA = ("data",)


def _files(paths: Iterable[str]) -> list[Path]:
    found = []
    for rel in paths:
        path = PROJECT_DIR / rel
        found += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return [p for p in found if "__pycache__" not in p.parts and p.exists()]


def fingerprint() -> str:
    digest = hashlib.sha256()
    for path in _files(TRAINING_INPUTS + MODEL_CODE + ("requirements.lock",)):
        digest.update(str(path.relative_to(PROJECT_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def model_path(cfg: Settings) -> Path:
    return cfg.models_dir / f"model-{fingerprint()}.tar.gz"


def train_command(config: Path, target: Path) -> list[str]:
    """`rasa train` of this project's data with `config`, into the file `target`."""
    return [
        *RASA,
        "train",
        "--config",
        str(config),
        "--domain",
        "domain",
        "--data",
        *NLU_DATA,
        "--out",
        str(target.parent),
        "--fixed-model-name",
        target.name.removesuffix(".tar.gz"),
    ]


def train(cfg: Settings, config: Path = PROJECT_DIR / "config.yml") -> Path:
    """Train unless a model of exactly these inputs exists; return its path."""
    target = model_path(cfg)
    if target.exists():
        step(f"model up to date: {target.relative_to(PROJECT_DIR)}")
        return target
    step("training the model (data, config or domain changed)")
    started = time.monotonic()
    result = subprocess.run(train_command(config, target), cwd=PROJECT_DIR, env=rasa_env(cfg))
    if result.returncode != 0 or not target.exists():
        raise LaunchError("training failed (see the messages above); fix the data and run again")
    step(f"trained in {time.monotonic() - started:.0f} s: {target.relative_to(PROJECT_DIR)}")
    return target


def validate_data(cfg: Settings) -> None:
    step("validating the training data (rasa data validate)")
    cmd = [
        *RASA,
        "data",
        "validate",
        "--fail-on-warnings",
        "--domain",
        "domain",
        "--data",
        *NLU_DATA,
        "--config",
        "config.yml",
    ]
    if subprocess.run(cmd, cwd=PROJECT_DIR, env=rasa_env(cfg)).returncode != 0:
        raise LaunchError("the training data is inconsistent (see above)")


def prepare_database(cfg: Settings) -> None:
    step(f"database: {make_url(cfg.database_url).render_as_string(hide_password=True)}")
    try:
        db.upgrade(cfg.database_url)
        version, changed = rulebase.load(cfg.database_url)
    except rulebase.RulebaseError as exc:
        raise LaunchError(str(exc)) from None
    except Exception as exc:  # a connection refused, a bad URL
        raise LaunchError(f"cannot use the database: {exc}. Check BOT_DATABASE_URL.") from None
    step(f"rule base {'loaded' if changed else 'up to date'} (version {version})")
    if cfg.sample_records:  # a deployment with its own records sets BOT_SAMPLE_RECORDS=0
        from bot import records

        try:
            loaded = [
                records.import_products(records.SAMPLE_PRODUCTS, cfg.database_url),
                records.import_licences(records.SAMPLE_LICENCES, cfg.database_url),
            ]
        except records.ImportFailed as exc:
            raise LaunchError(str(exc)) from None
        step(f"sample records: {'; '.join(result.summary() for result in loaded)}")


def prepare(cfg: Settings, for_tests: bool = False) -> Path:
    for path in intent_files.generate():
        step(f"generated {path.relative_to(PROJECT_DIR)}")
    prepare_database(cfg)
    if for_tests:
        validate_data(cfg)
    return train(cfg)
