"""`rasa train`, without Rasa's training cache: for the retrain after a trainer's
change.

`rasa train` fingerprints every node of the training graph against its cache
(.rasa/cache), then runs what changed under a hook that fingerprints each node's
inputs and outputs again to cache them. Our components keep their own caches of
what is costly (the e5 vectors by text, the classifier's last fit), and what
Rasa's cache can spare us (the dialogue policy, 0.1 s) costs less than the
fingerprinting: after one new phrase, 5 of a 24 s retrain (1 December). So this
is model_training.train's path with the cache left out: the same recipe, schema,
validation, graph runner and package, hence the same model.
"""

from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path
from typing import Any

import rasa.engine.validation
from rasa.engine.constants import PLACEHOLDER_IMPORTER
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.recipe import Recipe
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.training.hooks import LoggingHook
from rasa.graph_components.providers.training_tracker_provider import TrainingTrackerProvider
from rasa.model_training import _check_unresolved_slots  # rasa train's own check
from rasa.shared.data import TrainingType
from rasa.shared.importers.importer import TrainingDataImporter


def cli_defaults() -> dict[str, Any]:
    """What `rasa train` with no options passes on to the recipe (rasa/cli/train.py:
    its parser's defaults for the core and NLU arguments, and --epoch-fraction's
    None), so that the schema is the one the launcher's `rasa train` writes
    (tests/rasa_addons/test_graph_training.py parses Rasa's own parser to check)."""
    tracker = TrainingTrackerProvider.get_default_config()
    return {
        "augmentation_factor": tracker["augmentation_factor"],
        "debug_plots": tracker["debug_plots"],
        "num_threads": None,
        "persist_nlu_training_data": False,
        "finetuning_epoch_fraction": None,
    }


def training_type(importer: TrainingDataImporter) -> TrainingType:
    """model_training.train's choice: NLU only without a domain or stories, core only
    without NLU examples, end-to-end with end-to-end examples; it refuses no data."""
    stories, nlu = importer.get_stories(), importer.get_nlu_data()
    if stories.is_empty() and nlu.contains_no_pure_nlu_data():
        raise ValueError("no training data: neither stories nor NLU examples")
    if importer.get_domain().is_empty() or stories.is_empty():
        return TrainingType.NLU
    if nlu.has_e2e_examples():
        return TrainingType.END_TO_END
    if nlu.contains_no_pure_nlu_data():
        return TrainingType.CORE
    return TrainingType.BOTH


def train(target: Path, config: str, domain: str, data: list[str]) -> None:
    """Train a model of `data` with `config` and `domain` into the file `target`,
    which appears whole or not at all (a half-written candidate would be taken
    for a finished one)."""
    importer = TrainingDataImporter.load_from_config(config, domain, data)
    kind = training_type(importer)
    _check_unresolved_slots(importer.get_domain(), importer.get_stories())
    recipe = Recipe.recipe_for_name(importer.get_config().get("recipe"))
    configured, _missing, _configured = recipe.auto_configure(
        importer.get_config_file_for_auto_config(), importer.get_config(), kind
    )
    model_configuration = recipe.graph_config_for_recipe(
        configured, cli_defaults(), training_type=kind, is_finetuning=False
    )
    rasa.engine.validation.validate(model_configuration)
    # as GraphTrainer.train: the domain taken before any node can change it
    domain_object = copy.deepcopy(importer.get_domain())
    partial = target.with_name(f".{target.name}.part")
    with tempfile.TemporaryDirectory(prefix="graph-training-") as tmp:
        storage = LocalModelStorage(Path(tmp))
        schema = model_configuration.train_schema
        runner = DaskGraphRunner(
            schema,
            storage,
            ExecutionContext(graph_schema=schema),
            hooks=[LoggingHook(pruned_schema=schema)],  # "Starting to train component X"
        )
        runner.run(inputs={PLACEHOLDER_IMPORTER: importer})
        try:
            storage.create_model_package(partial, model_configuration, domain_object)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
