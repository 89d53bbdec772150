"""Process entry points: `python -m bot.rasa_addons.entry.<name>`."""

import os

# e5's OpenMP threads wait passively (docs/decisions/pipeline.md, "e5's threads").
# libgomp reads this once, when Rasa's imports load it, so it is set here, before
# any entry point imports Rasa; server.py also sets e5's one thread.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
