"""Custom Rasa components: the one part of `bot` that imports Rasa.

Each is a thin wrapper around a Rasa-free core module (bot.language, ...), so
the logic is tested without Rasa and the wrappers only adapt it to the graph.
"""

from bot.rasa_addons import action_validation

action_validation.install()
