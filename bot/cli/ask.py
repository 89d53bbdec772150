"""`bot ask`: put a question to the running assistant and show how it understood it.

For support agents checking answers from a shell. It talks to the Rasa server that
`make run` started, over HTTP only (standard library), so it needs no model and does
not import Rasa: NLU details come from `POST /webhooks/agent/parse` (behind
BOT_AGENT_TOKEN, which opens nothing else: bot/rasa_addons/channels/agent.py),
the reply (and the answer payload of the answer contract (answer-contract.md,
section 2)) from the REST channel.

`ask` and `ask_file` are the client; `_command` and `register` the command line.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import textwrap
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

from bot import secrets, settings
from bot.contract import LANGS
from bot.escaping import spreadsheet_cell

PARSE = "/webhooks/agent/parse"  # the NLU's reading, behind BOT_AGENT_TOKEN
TIMEOUT = 60  # seconds; the first message after start-up can be slow
WIDTH = 100  # columns of the plain reply
PROGRESS_FROM = 20  # lines; shorter files finish before progress would help
# Columns `ask_file` adds after the input's own columns.
RESULT_COLUMNS = [
    "language",
    "intent",
    "confidence",
    "second_intent",
    "second_confidence",
    "verdict",
    "rule_ids",
    "reply",
]


class AskError(Exception):
    """A failure with a one-line message for the user (no traceback)."""


# ---------------------------------------------------------------- HTTP


def _post(base: str, path: str, body: dict, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        # checked before URLError, its base class: the server is up but refused
        hint = ""
        if exc.code in (401, 503) and path == PARSE:
            hint = (
                " (it needs the agent token: set BOT_AGENT_TOKEN as on the server, or run "
                "where `make run` wrote var/secrets/bot_agent_token)"
            )
        raise AskError(
            f"The assistant at {base} answered {path} with HTTP {exc.code}{hint}."
        ) from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise AskError(f"The assistant at {base} did not answer within {TIMEOUT} s.") from None
        raise AskError(
            f"The assistant is not running at {base}: start it with `make run` "
            "(or set BOT_RASA_PORT)."
        ) from None
    except TimeoutError:  # connected, but no reply in time
        raise AskError(f"The assistant at {base} did not answer within {TIMEOUT} s.") from None
    except ConnectionError:  # e.g. the server stopped while answering
        raise AskError(
            f"The assistant at {base} closed the connection; is it still running?"
        ) from None
    except json.JSONDecodeError:
        raise AskError(
            f"The assistant at {base} sent something other than JSON for {path}."
        ) from None


# ---------------------------------------------------------------- one question


def ask(
    question: str, lang: str | None = None, base: str | None = None, full: bool = False
) -> dict:
    """Parse and answer one question; the record `--json` prints.

    Each call uses a fresh sender id, so no earlier conversation (and its language)
    colours the answer. `full`: every cited clause's wording in the reply, as an
    agent wants it (customers get one short line per clause).
    """
    question = question.strip()
    if not question:
        raise AskError("The question is empty.")
    cfg = settings.load()
    base = base or cfg.rasa_url
    # the reading needs the agent token (never BOT_API_TOKEN); the REST channel is public
    token = secrets.agent_token(cfg)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    parsed = _post(base, PARSE, {"text": question}, headers)
    body: dict[str, Any] = {"sender": f"bot-ask-{uuid.uuid4().hex}", "message": question}
    metadata: dict[str, str] = {"lang": lang} if lang else {}
    if full:
        metadata["detail"] = "full"
    if metadata:
        body["metadata"] = metadata
    messages = _post(base, "/webhooks/rest/webhook", body)
    if not isinstance(messages, list):
        raise AskError(f"The assistant at {base} sent an unexpected reply: {messages!r:.200}")

    detected = parsed.get("language") or {}
    intent = parsed.get("intent") or {}
    ranking = parsed.get("intent_ranking") or []
    answers = [
        m["custom"]["answer"]
        for m in messages
        if isinstance(m.get("custom"), dict) and isinstance(m["custom"].get("answer"), dict)
    ]
    answer: dict[str, Any] = answers[0] if answers else {}
    found = parsed.get("segments") if isinstance(parsed.get("segments"), dict) else {}
    return {
        "question": question,
        # /model/parse takes no metadata, so an explicit language is ours to report
        "language": lang or detected.get("detected"),
        "language_source": "explicit" if lang else "detected",
        "language_confidence": None if lang else detected.get("confidence"),
        "intent": intent.get("name"),
        "confidence": _round(intent.get("confidence")),
        "top3": [
            {"intent": r.get("name"), "confidence": _round(r.get("confidence"))}
            for r in ranking[:3]
        ],
        "entities": [
            {k: e[k] for k in ("entity", "value", "role", "group", "start", "end") if k in e}
            for e in parsed.get("entities") or []
        ],
        "reply": "\n".join(m["text"] for m in messages if m.get("text")),
        "buttons": [
            {"title": b.get("title"), "payload": b.get("payload")}
            for m in messages
            for b in m.get("buttons") or []
        ],
        "rule_ids": list(answer.get("rule_ids") or []),
        "verdict": answer.get("verdict"),
        # the language the reply is written in (may differ from a weak detection)
        "reply_language": answer.get("lang"),
        # every answer of the turn (answer contract, section 2a), in order
        "answers": [
            {
                "rule_ids": list(a.get("rule_ids") or []),
                "verdict": a.get("verdict"),
                "lang": a.get("lang"),
                **({"segment": a["segment"]} if a.get("segment") else {}),
            }
            for a in answers
        ],
        # the message's parts as the NLU read them (bot.segments), and what it answers
        "segments": {
            "parts": list(found.get("parts") or []),
            "answer": list(found.get("answer") or []),
        },
    }


def _round(value: object) -> float | None:
    return round(value, 3) if isinstance(value, (int, float)) else None


def _conf(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


def format_plain(result: dict) -> str:
    """The readable form: one labelled line per fact, the reply indented."""
    if result["language_source"] == "explicit":
        language = f"{result['language']} (explicit, --lang)"
    else:
        language = (
            f"{result['language']} (detected, confidence {_conf(result['language_confidence'])})"
        )
    if result.get("reply_language") and result["reply_language"] != result["language"]:
        language += f"; reply in {result['reply_language']}"
    top = " · ".join(f"{t['intent']} {_conf(t['confidence'])}" for t in result["top3"])
    entities = ", ".join(f"{e.get('entity')}={e.get('value')!r}" for e in result["entities"])
    lines = [
        f"Language:   {language}",
        f"Intent:     {result['intent']} ({_conf(result['confidence'])})",
        f"Top three:  {top or 'none'}",
        f"Entities:   {entities or 'none'}",
        f"Verdict:    {result['verdict'] or 'none (no answer payload)'}",
        f"Cited:      {', '.join(result['rule_ids']) or 'none'}",
    ]
    parts = result.get("segments", {}).get("parts") or []
    if parts:
        read = " | ".join(f"{p['text']!r}: {p['intent']} {_conf(p['confidence'])}" for p in parts)
        lines.append(f"Parts:      {read}")
    for n, extra in enumerate(result.get("answers", [])[1:], start=2):
        about = f" (for {extra['segment']!r})" if extra.get("segment") else ""
        cited = ", ".join(extra["rule_ids"]) or "none"
        lines.append(f"Answer {n}:   {extra['verdict']}, cited {cited}{about}")
    lines.append("Reply:")
    for paragraph in (result["reply"] or "(no text)").splitlines():
        # bullets hang under their first word, so each clause stays one visual block
        hang = "    " if paragraph.startswith("•") else "  "
        lines.append(textwrap.fill(paragraph, WIDTH, initial_indent="  ", subsequent_indent=hang))
    if result["buttons"]:
        buttons = " · ".join(f"{b['title']} -> {b['payload']}" for b in result["buttons"])
        lines.append(f"  [buttons: {buttons}]")
    return "\n".join(lines)


def format_json(result: dict) -> str:
    return json.dumps(result, ensure_ascii=False, indent=2)


# ---------------------------------------------------------------- a file of questions


def read_questions(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The input columns and one row per question, from plain text or CSV.

    CSV when the name ends in .csv or the first line is a header naming `question`;
    otherwise one question per line, blank lines skipped.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: spreadsheets add a BOM
    except FileNotFoundError:
        raise AskError(f"No such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AskError(f"Cannot read {path}: {exc}") from None
    first = next((line for line in text.splitlines() if line.strip()), "")
    header = next(csv.reader([first]), [])
    is_csv = path.suffix.lower() == ".csv" or "question" in (h.strip().lower() for h in header)
    if not is_csv:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return ["question"], [{"question": q} for q in lines]

    reader = csv.DictReader(io.StringIO(text))
    columns = list(reader.fieldnames or [])
    # match the column loosely ("Question ") but keep the file's spelling
    key = next((c for c in columns if c.strip().lower() == "question"), None)
    if key is None:
        raise AskError(
            f"{path} has no `question` column (its header: {', '.join(columns) or 'empty'})."
        )
    rows = [
        {c: (row.get(c) or "") for c in columns} for row in reader if (row.get(key) or "").strip()
    ]
    if key != "question":  # the rest of the code reads row["question"]
        columns = ["question" if c == key else c for c in columns]
        rows = [{("question" if c == key else c): v for c, v in row.items()} for row in rows]
    return columns, rows


def ask_rows(
    rows: Iterable[dict[str, str]],
    lang: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, str]]:
    """Each input row with the result columns added."""
    base = settings.load().rasa_url
    out = []
    for done, row in enumerate(rows, start=1):
        result = ask(row["question"], lang, base)
        top = result["top3"]
        second = top[1] if len(top) > 1 else {"intent": "", "confidence": None}
        out.append(
            {
                **row,
                "language": result["language"] or "",
                "intent": result["intent"] or "",
                "confidence": _conf(result["confidence"]),
                "second_intent": second["intent"] or "",
                "second_confidence": _conf(second["confidence"]) if second["intent"] else "",
                "verdict": result["verdict"] or "",
                "rule_ids": " ".join(result["rule_ids"]),
                "reply": result["reply"],
            }
        )
        if progress:
            progress(done)
    return out


def ask_file(
    path: Path, out: Path | None = None, lang: str | None = None, log: TextIO | None = None
) -> int:
    """Answer every question in `path`; write the CSV table to `out` (or stdout).

    Progress and the closing line go to `log` (default: stderr, as it is at the call).
    Returns the number of questions answered.
    """
    log = log or sys.stderr
    columns, rows = read_questions(path)
    if not rows:
        raise AskError(f"{path} holds no questions.")
    # an input column of the same name as a result would be overwritten: keep it once
    fieldnames = columns + [c for c in RESULT_COLUMNS if c not in columns]
    total = len(rows)

    def progress(done: int) -> None:
        if total > PROGRESS_FROM and (done % 10 == 0 or done == total):
            print(f"answered {done}/{total}", file=log, flush=True)

    table = ask_rows(rows, lang, progress)  # all answered before the output is opened
    if out is None:
        _write_csv(sys.stdout, fieldnames, table)
    else:
        try:
            with out.open("w", encoding="utf-8", newline="") as handle:
                _write_csv(handle, fieldnames, table)
        except OSError as exc:
            raise AskError(f"Cannot write {out}: {exc.strerror or exc}") from None
        print(f"wrote {total} answers to {out}", file=log)
    return total


def _write_csv(handle: TextIO, fieldnames: list[str], rows: list[dict[str, str]]) -> None:
    """The table for a spreadsheet: every cell, header included, neutralised
    (bot.escaping), since questions, input columns and replies are anyone's text."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow([spreadsheet_cell(name) for name in fieldnames])
    writer.writerows([spreadsheet_cell(row.get(name, "")) for name in fieldnames] for row in rows)


# ---------------------------------------------------------------- the command


def _command(args: argparse.Namespace) -> int:
    """One question (plain or --json), or --file to a CSV table; exit 1 on AskError."""
    try:
        if args.file:
            if args.question or args.json:
                usage = "bot ask: give a QUESTION or --file, not both (--json is for one question)"
                print(usage, file=sys.stderr)
                return 2
            ask_file(Path(args.file), Path(args.out) if args.out else None, args.lang)
            return 0
        if args.out:
            print("bot ask: --out goes with --file", file=sys.stderr)
            return 2
        result = ask(" ".join(args.question), args.lang, full=args.full)
    except AskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(format_json(result) if args.json else format_plain(result))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `ask` to the top-level parser."""
    cmd = sub.add_parser("ask", help="ask the running assistant (make run) a question")
    cmd.add_argument("question", nargs="*", help="the question (quote it)")
    cmd.add_argument("--lang", choices=LANGS, help="answer in this language, as a page would")
    cmd.add_argument("--json", action="store_true", help="one JSON object")
    cmd.add_argument(
        "--full", action="store_true", help="each cited clause's wording, not one short line"
    )
    cmd.add_argument("--file", help="questions, one a line, or a CSV with a question column")
    cmd.add_argument("--out", help="with --file: write the CSV table here (default: stdout)")
    cmd.set_defaults(func=_command)
