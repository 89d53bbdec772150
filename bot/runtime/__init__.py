"""Starting, serving and stopping the assistant: the processes and their
environment, the model a run needs (build), the servers, the cluster, the live
model (model_server), the retrain that replaces it, and `bot eval`.

Above bot.training and the core, below bot.cli; docs/architecture.md has the
import rules (tests/unit/test_import_rules.py checks them)."""
