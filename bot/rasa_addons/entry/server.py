"""`rasa run` with its HTTP API behind a JWT: `python -m bot.rasa_addons.entry.server run ...`.

Rasa takes its secret only as a command-line option (`--jwt-secret`, or
`--auth-token`), which every local user can read in `ps` and /proc/<pid>/cmdline.
The launcher passes BOT_API_TOKEN in the environment instead (readable by its
owner only), and this entry adds the option inside the process: the argv Python
hands to Rasa changes, the process's command line does not.

Why JWT (HS256) and not `--auth-token`: the token travels as `?token=` in every
URL (access logs, proxies, browser history) and never expires; a JWT travels in
the Authorization header, expires after minutes (bot.secrets.bearer), and the
secret itself is never sent. Measured cost: bench/auth_cost.py.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    token = os.environ.get("BOT_API_TOKEN", "").strip()
    if not token:  # fail closed: an open HTTP API would let anyone replace the model
        raise SystemExit("BOT_API_TOKEN is not set: start the assistant with `make run`")
    # one argument with "=": a url-safe token may begin with "-", which argparse
    # would take for an option ("--jwt-secret: expected one argument")
    sys.argv += [f"--jwt-secret={token}", "--jwt-method", "HS256"]
    # e5's one OpenMP thread (docs/decisions/pipeline.md, "e5's threads"): libgomp
    # reads this once, when it loads, and Rasa's imports load it before E5Featurizer
    # could set it; left at its default, e5 ran on every core and crawled on a busy
    # machine. numpy's BLAS reads it too: one thread, as a server should on a shared
    # machine (the NLU worker, which trains, keeps its BLAS threads)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from bot.rasa_addons.entry.rasa_cli import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
