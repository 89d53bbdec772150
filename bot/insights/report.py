"""What the figures show a person or another tool: counts from 1 to 4 hidden
as "< 5" (a handful of conversations can point at a person), rates only where
both counts are shown, as JSON, CSV or text. The one place that hides them:
the CLI and the trainer page both print what `shown` returns.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from bot.contract import LANGS
from bot.escaping import spreadsheet_cell
from bot.insights.figures import FORM_ROWS

MIN_COUNT = 5
SMALL = f"< {MIN_COUNT}"
COLUMNS = ("all", *LANGS)

Shown = int | str  # a count, or SMALL


def count(n: int) -> Shown:
    return n if n == 0 or n >= MIN_COUNT else SMALL


def hidden(n: int) -> bool:
    return 0 < n < MIN_COUNT


def rate(part: int, whole: int) -> float | None:
    """part / whole, when neither count is hidden (0 of a shown whole is shown)."""
    if whole < MIN_COUNT or hidden(part):
        return None
    return round(part / whole, 4)


def is_by_lang(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == set(COLUMNS)


def by_lang_shown(counts: dict[str, int]) -> dict[str, Shown]:
    """One figure's counts as shown. A single hidden language beside a shown
    total would be the total minus the others: then the smallest other language
    is hidden too, or the total if no other has any."""
    out: dict[str, Shown] = {key: count(int(n)) for key, n in counts.items()}
    small = [lang for lang in LANGS if hidden(counts[lang])]
    if len(small) == 1 and not hidden(counts["all"]):
        others = [lang for lang in LANGS if lang not in small and counts[lang] > 0]
        if others:
            out[min(others, key=lambda lang: counts[lang])] = SMALL
        else:
            out["all"] = SMALL
    return out


def _hide(value: Any) -> Any:
    if is_by_lang(value):
        return by_lang_shown(value)
    if isinstance(value, dict):
        return {key: _hide(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_hide(v) for v in value]
    return value


def _fold(groups: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Keys a handful of requests have (a country with one request in a week)
    say more than the count: they go into "other" together."""
    kept: dict[str, dict[str, int]] = {}
    other = {key: 0 for key in COLUMNS}
    for key, counts in groups.items():
        if hidden(counts["all"]):
            for column in COLUMNS:
                other[column] += counts[column]
        else:
            kept[key] = counts
    if other["all"]:
        kept["other"] = other
    return kept


def _rates(part: dict[str, int], whole: dict[str, int], shown_part: Any, shown_whole: Any):
    """A rate per column where both of its counts are shown as numbers."""
    return {
        key: rate(part[key], whole[key])
        if isinstance(shown_part[key], int) and isinstance(shown_whole[key], int)
        else None
        for key in COLUMNS
    }


def shown(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures as they may be shown: counts hidden, rates added."""
    figures = {**figures, "requests": dict(figures["requests"])}
    for name in ("by_service", "by_queue", "by_country"):
        figures["requests"][name] = _fold(figures["requests"][name])
    out = _hide(figures)
    out["min_count"] = MIN_COUNT
    raw_requests, requests, forms = figures["requests"], out["requests"], out["forms"]

    def both(part: str, whole: str, raw: Any = figures, seen: Any = out) -> dict[str, Any]:
        return _rates(raw[part], raw[whole], seen[part], seen[whole])

    out["rates"] = {
        "settled": both("settled", "conversations"),
        "fallback": both("fell_back", "questions"),
        "offered_then_filed": both("offered_then_filed", "offered", raw_requests, requests),
        "forms_filed": both("filed", "started", figures["forms"], forms),
    }
    for week, raw in zip(out["weeks"], figures["weeks"], strict=True):
        week["fallback_rate"] = both("fallback", "questions", raw, week)
        week["low_confidence_rate"] = both("low_confidence", "questions", raw, week)
    return out


def rows(shown_figures: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(figure, key, {all, en, nb, sv}) for every count and rate: the CSV's rows."""

    def walk(value: Any, path: str, key: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
        if is_by_lang(value):
            yield path, key, value
        elif isinstance(value, dict):
            for name, inner in value.items():
                if path in ("answers", "rates") or path.startswith(("requests.by_", "forms.given")):
                    yield from walk(inner, path, name)  # a category: the key column
                else:
                    yield from walk(inner, f"{path}.{name}" if path else name, key)
        elif isinstance(value, list):
            for item in value:
                label = str(item.get("topic") or item.get("clause") or item.get("week") or "")
                for name, inner in item.items():
                    if is_by_lang(inner):
                        yield f"{path}.{name}", label, inner

    for name, value in shown_figures.items():
        if name not in ("period", "min_count"):
            yield from walk(value, name, "")


def to_csv(shown_figures: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    period = shown_figures["period"]
    writer.writerow(["figure", "key", *COLUMNS, "since", "until"])
    for figure, key, values in rows(shown_figures):
        cells = ["" if values[c] is None else values[c] for c in COLUMNS]
        writer.writerow(
            [
                spreadsheet_cell(figure),
                spreadsheet_cell(key),
                *cells,
                period["since"],
                period["until"],
            ]
        )
    return out.getvalue()


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f} %"


def to_text(shown_figures: dict[str, Any], top: int = 10) -> str:
    """A screen for an agent's shell: the headline figures, then the details."""
    f = shown_figures
    lines = [
        f"Insights {f['period']['since']} to {f['period']['until']} (counts under "
        f'{MIN_COUNT} shown as "{SMALL}")',
        "",
    ]

    def table(title: str, items: list[tuple[str, dict[str, Any]]], fmt: Any = str) -> None:
        if not items:
            return
        width = max(len(title), *(len(name) for name, _ in items))
        lines.append(f"{title:<{width}}  " + "  ".join(f"{c:>6}" for c in COLUMNS))
        for name, values in items:
            lines.append(f"{name:<{width}}  " + "  ".join(f"{fmt(values[c]):>6}" for c in COLUMNS))
        lines.append("")

    table(
        "conversations",
        [(n, f[n]) for n in ("conversations", "settled", "messages", "questions")],
    )
    table("rates", list(f["rates"].items()), _pct)
    table("answers", [(k, v) for k, v in f["answers"].items() if v["all"] != 0])
    table("topics", [(t["topic"], t["answers"]) for t in f["topics"][:top]])
    table("thumbs down", [(t["topic"], t["down"]) for t in f["topics"] if t["down"]["all"] != 0])
    table("clauses cited", [(c["clause"], c["cited"]) for c in f["clauses"][:top]])
    table(
        "requests",
        [("filed", f["requests"]["filed"])]
        + [(f"service {k}", v) for k, v in f["requests"]["by_service"].items()]
        + [(f"country {k}", v) for k, v in f["requests"]["by_country"].items()]
        + [(n, f["requests"][n]) for n in ("offered", "offered_then_filed")],
    )
    table(
        "forms",
        [(n, f["forms"][n]) for n in FORM_ROWS]
        + [(f"gave up at {k}", v) for k, v in f["forms"]["given_up_at"].items()],
    )
    table(
        "fallback rate by week",
        [(w["week"], w["fallback_rate"]) for w in f["weeks"]],
        _pct,
    )
    return "\n".join(lines).rstrip() + "\n"
