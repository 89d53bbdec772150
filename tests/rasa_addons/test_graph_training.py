"""The retrain's training (bot/rasa_addons/graph_training.py) is `rasa train`'s
without the cache: what it passes to the recipe is what `rasa train`'s own parser
gives with no options, and it picks the training type as Rasa does. (The end-to-end
retrain test compares a whole model with the session's `rasa train` model.)"""

from __future__ import annotations

import argparse

from rasa.cli import train as cli_train
from rasa.shared.data import TrainingType
from rasa.shared.importers.importer import TrainingDataImporter

from bot.rasa_addons import graph_training
from bot.settings import PROJECT_DIR


def test_the_recipe_gets_what_rasa_train_with_no_options_gives_it():
    parser = argparse.ArgumentParser()
    cli_train.add_subparser(parser.add_subparsers(), parents=[])
    args = parser.parse_args(["train"])
    expected = {  # rasa/cli/train.py run_training -> rasa.api.train -> _train_graph
        **cli_train.extract_core_additional_arguments(args),
        **cli_train._extract_additional_arguments(args),
        **cli_train.extract_nlu_additional_arguments(args),
        "persist_nlu_training_data": args.persist_nlu_data,
        "finetuning_epoch_fraction": args.epoch_fraction,
    }
    assert graph_training.cli_defaults() == expected


def test_this_project_trains_core_and_nlu():
    importer = TrainingDataImporter.load_from_config(
        str(PROJECT_DIR / "config.yml"), str(PROJECT_DIR / "domain"), [str(PROJECT_DIR / "data")]
    )
    assert graph_training.training_type(importer) == TrainingType.BOTH
    nlu_only = TrainingDataImporter.load_from_config(
        str(PROJECT_DIR / "config.yml"),
        str(PROJECT_DIR / "domain"),
        [str(PROJECT_DIR / "data" / "nlu")],
    )
    assert graph_training.training_type(nlu_only) == TrainingType.NLU  # no stories or rules
