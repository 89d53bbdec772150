"""`bot ask` argument errors, in process: answered before any HTTP, so no server
is needed (tests/conversation/test_bot_ask.py asks the running assistant)."""

from __future__ import annotations

import pytest

from bot.runtime.processes import free_port

from .helpers import run_cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--file", "q.txt", "Can you disinfect my PC?"],
            "bot ask: give a QUESTION or --file, not both (--json is for one question)",
        ),
        (
            ["--file", "q.txt", "--json"],
            "bot ask: give a QUESTION or --file, not both (--json is for one question)",
        ),
        (["--out", "a.csv", "Can you disinfect my PC?"], "bot ask: --out goes with --file"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, message):
    result = run_cli("ask", *args)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", message + "\n")


def test_no_assistant_is_one_line_and_exit_1():
    port = free_port()  # bound and released: nothing listens there
    result = run_cli("ask", "Can you disinfect my PC?", env={"BOT_RASA_PORT": str(port)})
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: The assistant is not running at http://127.0.0.1:{port}: "
        "start it with `make run` (or set BOT_RASA_PORT).\n"
    )
