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
from rasa.shared.data import TrainingType
from rasa.shared.importers.importer import TrainingDataImporter


def cli_defaults() -> dict[str, Any]:
    """What `rasa train` with no options passes on to the recipe (rasa/cli/train.py:
    the core and NLU arguments of its parser's defaults, then model_training's), so
    that the schema is the one the launcher's `rasa train` writes."""
    tracker = TrainingTrackerProvider.get_default_config()
    return {
        "augmentation_factor": tracker["augmentation_factor"],
        "debug_plots": tracker["debug_plots"],
        "num_threads": None,
        "persist_nlu_training_data": False,
        "finetuning_epoch_fraction": 1.0,
    }


def train(target: Path, config: str, domain: str, data: list[str]) -> None:
    """Train a model of `data` with `config` and `domain` into the file `target`."""
    importer = TrainingDataImporter.load_from_config(config, domain, data)
    training_type = (
        TrainingType.END_TO_END if importer.get_nlu_data().has_e2e_examples() else TrainingType.BOTH
    )
    recipe = Recipe.recipe_for_name(importer.get_config().get("recipe"))
    configured, _missing, _configured = recipe.auto_configure(
        importer.get_config_file_for_auto_config(), importer.get_config(), training_type
    )
    model_configuration = recipe.graph_config_for_recipe(
        configured, cli_defaults(), training_type=training_type, is_finetuning=False
    )
    rasa.engine.validation.validate(model_configuration)
    # as GraphTrainer.train: the domain taken before any node can change it
    domain_object = copy.deepcopy(importer.get_domain())
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
        storage.create_model_package(target, model_configuration, domain_object)
