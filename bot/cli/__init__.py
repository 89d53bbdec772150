"""The `bot` command: run the assistant, and the tools agents and editors use.

bot run                          database, model, both servers (make run)
bot shell                        rasa shell against the same set-up (make shell)
bot prepare [--for-tests]        generate, load the rule base, (validate,) train
bot rulebase load                reload content/rulebase/ after an edit (no retraining)
bot rules list [--json]          every clause
bot rules show ID [--lang L]     one clause, its wording, verdict, links, topics
bot rules search TEXT            clauses whose wording holds every word
bot ask "QUESTION" [--json]      ask the running assistant; language, intent, verdict, reply
bot ask --file FILE [--out CSV]  a file of questions (text or CSV) to a CSV table
bot import products FILE.csv     load product records (all or nothing; contract §3)
bot import licences FILE.csv     load licence records (the products must be there first)
bot records products [--json]    every product version and its support status today
bot records licence KEY          a licence's status and what it entitles to (key masked)
bot records version PRODUCT VER  a product version's status and entitlement
bot requests list [--queue Q] [--status S] [--json]   paid-service requests (keys masked)
bot requests show REF            one request, every field (key masked)
bot requests export --format csv|json [--out FILE]   every request, for the team
bot requests set-status REF STATUS   new, in_progress or closed
bot requests notify REF          send a request to the webhook again
bot requests routing             the routing table (content/routing.csv), checked
bot privacy purge [--days N]     delete conversations, feedback, drafts past BOT_RETENTION_DAYS
bot privacy forget SENDER        delete one person's data; anonymise their service requests
bot privacy export SENDER        everything stored about one person, as JSON (masked)
bot inbox sync|list|show|assign|ignore|oos   what customers left behind (misunderstood messages)
bot phrase add|check|intents     add a phrase to the training data (conflict check first)
bot insights [--days N] [--json|--csv]   the support team's figures (small counts hidden)
bot retrain [--force]            train the current data; live without a restart if the gate passes
bot eval [--cross-validate K]    per-language and per-intent scores, confusions, PNG and HTML

One module per command group, each with a `register(sub)` that adds its
subcommands and handlers `(args: argparse.Namespace) -> int` (the exit code):

bot/cli/launch.py     run, shell, prepare, generate
bot/cli/rules.py      rulebase, rules
bot/cli/ask.py        ask (the HTTP client and the command)
bot/cli/records.py    import, records
bot/cli/requests.py   requests
bot/cli/privacy.py    privacy
bot/cli/inbox.py      inbox, phrase
bot/cli/insights.py   insights
bot/cli/training.py   retrain, eval
"""

from __future__ import annotations

import argparse
import os
import sys

from bot.cli import ask, inbox, insights, launch, privacy, records, requests, rules, training
from bot.runtime.processes import PRIVATE_UMASK, private_var_dir

__all__ = ["main", "parser"]


def parser() -> argparse.ArgumentParser:
    """The whole `bot` command line (`requests --queue` reads services.yml now)."""
    top = argparse.ArgumentParser(prog="bot", description="The support-scope assistant.")
    sub = top.add_subparsers(dest="command", required=True)
    for group in (
        launch,
        rules,
        ask,
        records,
        requests,
        privacy,
        inbox,
        insights,
        training,
    ):  # the order of `bot --help`
        group.register(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    """Parse `argv` (default: sys.argv[1:]), run the command, return its exit code.

    argparse exits with 2 on a usage error; a handler may raise SystemExit with a
    one-line message (exit 1).
    """
    args = parser().parse_args(argv)
    os.umask(PRIVATE_UMASK)  # what any command creates under var/ is its owner's only
    private_var_dir()
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `bot rules list | head`
        sys.stderr.close()
        return 0
