"""The one part of `bot` that imports Rasa, laid out by role as Rasa lays out its own:

- components/  NLU pipeline components (config.yml), each a thin wrapper around a
               Rasa-free core module (bot.language, bot.records.facts, bot.nlu);
- channels/    input channels (credentials.yml): REST, socket.io, the chat page, the trainer page;
- stores/      the tracker store (endpoints.yml) and the Redis lock store;
- entry/       process entry points (`python -m bot.rasa_addons.entry.<name>`): Rasa
               with our patches, the server, the action server, the NLU job and worker;
- graph_training.py  `rasa train` without Rasa's cache, for the retrain;
- patches.py   every change to Rasa's own code, version-guarded, applied by the entry points.
"""
