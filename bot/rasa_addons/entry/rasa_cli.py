"""The `rasa` command with this project's patches applied: the launcher starts
every Rasa process through `python -m bot.rasa_addons.entry.rasa_cli ARGS...`.

Before Rasa starts: personal data is masked in log records (bot.privacy.log_filter),
and a server refuses to start unless endpoints.yml selects the masking tracker store."""

from __future__ import annotations

import sys

from bot.privacy import log_filter
from bot.rasa_addons import patches


def main() -> None:
    patches.apply()
    log_filter.install()
    from bot.rasa_addons.stores import tracker_store

    tracker_store.require_masking_store(sys.argv[1:])
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
