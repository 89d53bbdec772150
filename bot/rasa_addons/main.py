"""The `rasa` command with this project's patches applied: the launcher starts
every Rasa process through `python -m bot.rasa_addons.main ARGS...`."""

from __future__ import annotations

from bot.rasa_addons import patches


def main() -> None:
    patches.apply()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
