"""Process entry points: `python -m bot.rasa_addons.entry.<name>`."""
