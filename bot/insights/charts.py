"""The trainer page's charts, drawn here as SVG from the figures as shown
(bot/insights/report.py): a hidden count ("< 5") draws no bar, only its label.

No library: bars and lines are a few rectangles and a polyline, and SVG drawn
on the server needs no script in the page (its Content-Security-Policy allows
none inline). Every text is escaped; a viewBox lets a chart fit a phone's width.
"""

from __future__ import annotations

from html import escape
from typing import Any

from bot.contract import LANGS
from bot.insights.figures import FORM_ROWS
from bot.insights.report import MIN_COUNT as MIN_SHOWN

COLOURS = {"en": "#2f6fb0", "nb": "#c0392b", "sv": "#d4a017"}
HIDDEN = "#b8c0c8"  # the part of a total whose languages are each under MIN_SHOWN
WIDTH = 640
LABEL = 210  # the label column of a bar chart
ROW = 26
FAMILY = 'font-family="system-ui, sans-serif"'
FONT = f'{FAMILY} font-size="13"'
SMALL_FONT = f'{FAMILY} font-size="11"'


def _n(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _svg(height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" class="in-chart">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def legend(y: int = 14) -> list[str]:
    parts, x = [], LABEL
    for colour, name in [
        *((COLOURS[lang], lang) for lang in LANGS),
        (HIDDEN, f"< {MIN_SHOWN} each"),
    ]:
        parts.append(
            f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 16}" y="{y}" {FONT}>{escape(name)}</text>'
        )
        x += 60
    return parts


def bars(title: str, items: list[dict[str, Any]]) -> str:
    """Horizontal bars, one per item ({"label", "counts": shown by language,
    "href"?}), each stacked by language, its total written after it."""
    if not items:
        return _svg(40, title, [f'<text x="0" y="24" {FONT}>Nothing in this period.</text>'])
    most = max(max(_n(item["counts"]["all"]), 1) for item in items)
    scale = (WIDTH - LABEL - 60) / most
    body = legend()
    for row, item in enumerate(items):
        y = 30 + row * ROW
        label = str(item["label"])
        short = label if len(label) <= 30 else label[:29] + "…"
        text = (
            f'<text x="0" y="{y + 14}" {FONT}><title>{escape(label)}</title>{escape(short)}</text>'
        )
        if item.get("href"):
            text = f'<a href="{escape(item["href"])}">{text}</a>'
        body.append(text)
        x = float(LABEL)
        for lang in LANGS:
            width = _n(item["counts"][lang]) * scale
            if width > 0:
                body.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="18" '
                    f'fill="{COLOURS[lang]}"><title>{lang}: {item["counts"][lang]}</title></rect>'
                )
                x += width
        # the total is shown, some languages' parts are not: the rest in grey
        rest = _n(item["counts"]["all"]) - sum(_n(item["counts"][lang]) for lang in LANGS)
        if rest > 0:
            body.append(
                f'<rect x="{x:.1f}" y="{y}" width="{rest * scale:.1f}" height="18" '
                f'fill="{HIDDEN}"><title>languages under {MIN_SHOWN}</title></rect>'
            )
            x += rest * scale
        body.append(
            f'<text x="{x + 6:.1f}" y="{y + 14}" {FONT}>{escape(str(item["counts"]["all"]))}</text>'
        )
    return _svg(30 + len(items) * ROW + 6, title, body)


def weekly(title: str, weeks: list[dict[str, Any]]) -> str:
    """Questions a week (bars) and the fallback and low-confidence rates (lines, 0-100 %)."""
    if not weeks:
        return _svg(40, title, [f'<text x="0" y="24" {FONT}>Nothing in this period.</text>'])
    top, height, left = 30, 160, 40
    step = (WIDTH - left - 10) / len(weeks)
    most = max(max(_n(w["questions"]["all"]) for w in weeks), 1)
    body = [
        f'<line x1="{left}" y1="{top + height}" x2="{WIDTH - 10}" y2="{top + height}" '
        'stroke="#999"/>',
        f'<text x="0" y="{top + 4}" {FONT}>100 %</text>',
        f'<text x="0" y="{top + height}" {FONT}>0</text>',
    ]
    lines: dict[str, list[tuple[float, float] | None]] = {
        "fallback_rate": [],
        "low_confidence_rate": [],
    }
    for i, week in enumerate(weeks):
        x = left + i * step
        questions = week["questions"]["all"]
        bar = _n(questions) / most * height
        body.append(
            f'<rect x="{x + step * 0.2:.1f}" y="{top + height - bar:.1f}" width="{step * 0.6:.1f}" '
            f'height="{bar:.1f}" fill="#d9e2ec"><title>{escape(week["week"])}: '
            f"{escape(str(questions))} questions</title></rect>"
        )
        if len(weeks) <= 12 or i % max(1, len(weeks) // 8) == 0:
            body.append(
                f'<text x="{x + step / 2:.1f}" y="{top + height + 16}" text-anchor="middle" '
                f"{SMALL_FONT}>{escape(week['week'][5:])}</text>"
            )
        for name, points in lines.items():
            value = week[name]["all"]
            points.append(None if value is None else (x + step / 2, top + height * (1 - value)))
    styles = {
        "fallback_rate": ("#c0392b", "fallback"),
        "low_confidence_rate": ("#7d3c98", "low confidence"),
    }
    for name, points in lines.items():
        colour, _ = styles[name]
        run: list[str] = []
        for point in [*points, None]:
            if point is not None:
                run.append(f"{point[0]:.1f},{point[1]:.1f}")
                body.append(
                    f'<circle cx="{point[0]:.1f}" cy="{point[1]:.1f}" r="3" fill="{colour}"/>'
                )
            elif run:
                body.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                    'stroke-width="2"/>'
                )
                run = []
    x = left
    for colour, label in [*styles.values(), ("#d9e2ec", "questions")]:
        body.append(
            f'<rect x="{x}" y="4" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 16}" y="14" {FONT}>{label}</text>'
        )
        x += 130
    return _svg(top + height + 24, title, body)


def all_charts(figures: dict[str, Any], title_lang: str = "en") -> dict[str, str]:
    """Every chart of the page, by name, from the figures as shown."""

    def topic(t: dict[str, Any], counts: dict[str, Any]) -> dict[str, Any]:
        """A topic's bar, its name opening the topic's inbox entries."""
        label = t["title"].get(title_lang) or t["topic"]
        return {"label": label, "counts": counts, "href": f"#inbox?intent={t['intent']}"}

    topics = [topic(t, t["answers"]) for t in figures["topics"][:15]]
    answers = [
        {"label": name.replace("_", " "), "counts": counts}
        for name, counts in figures["answers"].items()
        if counts["all"] != 0
    ]
    down = [topic(t, t["down"]) for t in figures["topics"] if t["down"]["all"] != 0]
    requests = figures["requests"]
    sold = [{"label": k.replace("_", " "), "counts": v} for k, v in requests["by_service"].items()]
    countries = [{"label": k, "counts": v} for k, v in requests["by_country"].items()]
    forms = figures["forms"]
    funnel = [{"label": name.replace("_", " "), "counts": forms[name]} for name in FORM_ROWS] + [
        {"label": f"gave up at {step.removeprefix('sr_')}", "counts": counts}
        for step, counts in forms["given_up_at"].items()
    ]
    return {
        "weeks": weekly("Questions, fallbacks and low confidence by week", figures["weeks"]),
        "topics": bars("Top topics", topics),
        "answers": bars("Answers by verdict", answers),
        "thumbs_down": bars("Thumbs down by topic", down),
        "services": bars("Paid-service requests by service", sold),
        "countries": bars("Paid-service requests by country", countries),
        "forms": bars("The request form: started, filed, given up", funnel),
    }
