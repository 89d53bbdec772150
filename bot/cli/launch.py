"""`bot run`, `bot cluster`, `bot shell`, `bot prepare`, `bot generate`: set up and
start the assistant.

Thin: the work is in `bot.runtime` (imported when a command runs: it is only
needed here) and `bot.intent_files`.
"""

from __future__ import annotations

import argparse

from bot import intent_files, settings


def _generate(_args: argparse.Namespace) -> int:
    """Write the domain intents and rules generated from topics.yml."""
    changed = intent_files.generate()
    print("\n".join(f"wrote {p}" for p in changed) or "generated files up to date")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    """Generate, load the rule base, (validate,) train if needed."""
    from bot.runtime import build

    build.prepare(settings.load(), for_tests=args.for_tests)
    return 0


def _run(_args: argparse.Namespace) -> int:
    """Database, model, both servers; stops them on Ctrl-C."""
    from bot.runtime import launcher

    launcher.run()
    return 0


def _cluster(args: argparse.Namespace) -> int:
    """PostgreSQL, Redis, N Rasa replicas, M action servers, HAProxy."""
    from bot.runtime import cluster

    cluster.run(args.rasa, args.actions)
    return 0


def _serve(args: argparse.Namespace) -> int:
    """One server in the foreground (containers)."""
    from bot.runtime import launcher

    launcher.serve_one(args.server)
    return 0


def _shell(_args: argparse.Namespace) -> int:
    """rasa shell with the same model, actions and tracker store."""
    from bot.runtime import launcher

    launcher.shell()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `run`, `shell`, `prepare` and `generate` to the top-level parser."""
    sub.add_parser("run", help="start the assistant").set_defaults(func=_run)
    clu = sub.add_parser(
        "cluster", help="start the production shape: replicas behind HAProxy (make cluster)"
    )
    clu.add_argument("--rasa", type=int, help="Rasa replicas (default BOT_CLUSTER_RASA, 2)")
    clu.add_argument("--actions", type=int, help="action servers (default BOT_CLUSTER_ACTIONS, 2)")
    clu.set_defaults(func=_cluster)
    one = sub.add_parser("serve", help="one server in the foreground (containers: deploy/)")
    one.add_argument("server", choices=["init", "rasa", "actions"])
    one.set_defaults(func=_serve)
    sub.add_parser("shell", help="rasa shell against this set-up").set_defaults(func=_shell)
    prep = sub.add_parser("prepare", help="generate, load the rule base, train if needed")
    prep.add_argument("--for-tests", action="store_true", help="also run rasa data validate")
    prep.set_defaults(func=_prepare)
    sub.add_parser("generate", help="write the generated domain and rules").set_defaults(
        func=_generate
    )
