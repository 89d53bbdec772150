"""`make shell`'s rasa shell: its stock REST server listens on this machine only."""

from __future__ import annotations

from pathlib import Path

from rasa.__main__ import create_argument_parser

from bot import settings
from bot.runtime import launcher, processes


def test_the_shell_server_listens_on_loopback_as_rasa_reads_its_command():
    cfg = settings.load()
    cmd = launcher.shell_command(cfg, Path("models/model.tar.gz"), 5006)
    assert cmd[: len(processes.RASA)] == list(processes.RASA)
    args = create_argument_parser().parse_args(cmd[len(processes.RASA) :])
    assert args.interface == "127.0.0.1" and args.port == 5006
