"""The one part of `bot` that imports Rasa: pipeline components, channels and
the patches to Rasa's own code (`patches`, applied by `bot.rasa_addons.main`).

Each component is a thin wrapper around a Rasa-free core module (bot.language,
...), so the logic is tested without Rasa and the wrappers only adapt it.
"""
