"""The documentation holds together: README.md, docs/ and bench/RESULTS.md link only
to files inside the repository, every link and anchor resolves, and every
cross-reference to a heading (in code, configuration and docs) names a heading
that exists. Standard library only: no Markdown parser, GitHub's rules as below."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
THIS_FILE = Path(__file__).resolve()

README_MAX_LINES = 200  # issue 24: the README stays one or two screens; depth goes to docs/


def documents() -> list[Path]:
    """The Markdown files whose links are checked."""
    return [
        ROOT / "README.md",
        *sorted((ROOT / "docs").rglob("*.md")),
        ROOT / "bench" / "RESULTS.md",
    ]


# Fenced code blocks (``` or ~~~, up to three spaces of indent): no links, no headings.
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# Inline code spans, never across a blank line: no links inside them either.
CODE_SPAN = re.compile(r"(`+)(?:(?!\n[ \t]*\n).)+?\1", re.S)
# An ATX heading: 1-6 #'s, a space, the text, optional closing #'s.
HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
# An inline link or image: [text](target) or ![alt](target "title"); one level of
# brackets inside the text (an image inside a link's text).
INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"
)
# A reference definition: [label]: target
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*(<[^>]*>|\S+)", re.M)
# An autolink: <scheme:...> (e.g. <https://...>, <mailto:...>) or <//host/...>.
AUTOLINK = re.compile(r"<(?:[A-Za-z][A-Za-z0-9+.-]{1,31}:|//)[^<>\s]*>")
# A link target that leaves the repository: any scheme (http:, https:, mailto:, ...)
# or a protocol-relative //host.
LEAVES_REPOSITORY = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:|//)")


def prose(text: str) -> str:
    """The text with fenced code blocks blanked (line numbers kept) and inline code
    spans removed: what is left is what GitHub reads links and headings from."""
    lines = []
    fence: str | None = None
    for line in text.split("\n"):
        opened = FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)[0] * 3
            lines.append("")
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
            lines.append("")
        else:
            lines.append(line)
    return CODE_SPAN.sub(lambda m: "\n" * m.group(0).count("\n"), "\n".join(lines))


def headings(path: Path) -> list[str]:
    """The text of every heading, in order, without the #'s."""
    found = []
    for line in prose(path.read_text(encoding="utf-8")).split("\n"):
        match = HEADING.match(line)
        if match:
            found.append(match.group(1).strip())
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text (a link's text for a link, no
    markup), lowercased, punctuation other than '-' and '_' dropped, each space a '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor GitHub gives a file's headings: a repeated slug gets -1, -2, ..."""
    seen: dict[str, int] = {}
    found = set()
    for heading in headings(path):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, target) of every inline link, image and reference definition."""
    text = prose(path.read_text(encoding="utf-8"))
    for pattern in (INLINE_LINK, REFERENCE_DEFINITION):
        for match in pattern.finditer(text):
            target = match.group(1)
            if target.startswith("<") and target.endswith(">"):
                target = target[1:-1]
            yield text.count("\n", 0, match.start(1)) + 1, target


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def test_anchors_and_links_are_read_as_github_reads_them(tmp_path: Path):
    assert slug("Sticky socket.io, not sticky REST") == "sticky-socketio-not-sticky-rest"
    assert (
        slug("30 November (recorded): the form's question")
        == "30-november-recorded-the-forms-question"
    )
    assert slug("`BOT_API_TOKEN` and [C++](x.md)") == "bot_api_token-and-c"
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n## Faults\n### Faults\n```\n## Not a heading [x](http://a)\n```\n"
        'See [faults](#faults-1), `[code](http://b)` and ![img](a.png "t").\n'
        "[ref]: other.md#title\n",
        encoding="utf-8",
    )
    assert anchors(page) == {"title", "faults", "faults-1"}
    assert list(links(page)) == [(7, "#faults-1"), (7, "a.png"), (8, "other.md#title")]


def test_the_readme_stays_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move depth to docs/"


def test_every_document_exists():
    assert [str(p.relative_to(ROOT)) for p in documents() if not p.is_file()] == []


def test_no_link_leaves_the_repository():
    problems = []
    for path in documents():
        for line, target in links(path):
            if LEAVES_REPOSITORY.match(target):
                problems.append(f"{where(path, line)}: {target} (name it as plain text)")
        text = prose(path.read_text(encoding="utf-8"))
        for match in AUTOLINK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            problems.append(f"{where(path, line)}: autolink {match.group(0)}")
    assert not problems, "\n".join(problems)


def test_every_relative_link_resolves_to_a_file_and_heading_in_the_repository():
    problems = []
    for path in documents():
        for line, target in links(path):
            if LEAVES_REPOSITORY.match(target):
                continue  # test_no_link_leaves_the_repository
            file_part, _, anchor = target.partition("#")
            file_part = unquote(file_part)
            if file_part.startswith("/"):
                problems.append(f"{where(path, line)}: {target} is absolute: make it relative")
                continue
            resolved = (path.parent / file_part).resolve() if file_part else path
            if not resolved.is_relative_to(ROOT):
                problems.append(f"{where(path, line)}: {target} points above the repository")
                continue
            if not resolved.exists():
                problems.append(f"{where(path, line)}: {target}: no such file")
                continue
            if not anchor:
                continue
            if resolved.suffix != ".md":
                problems.append(
                    f"{where(path, line)}: {target}: an anchor into a non-Markdown file"
                )
            elif unquote(anchor) not in anchors(resolved):
                problems.append(f"{where(path, line)}: {target}: no such heading")
    assert not problems, "\n".join(problems)


# Files scanned for cross-references, and the directories skipped on the way
# (.yaml beside .yml: deploy/k8s/ and deploy/compose/ spell it that way).
SCANNED_SUFFIXES = (".py", ".yml", ".yaml", ".md", ".cfg", ".template")
SCANNED_NAMES = ("Makefile",)
SKIPPED_DIRS = ("var", ".git", "node_modules")  # and every .venv* (the virtual environments)

# A heading named in double quotes may run on to the next line of a comment or a
# docstring; at most this many characters (a longer quote is not a heading).
QUOTED_HEADING = r'"([^"]{1,160})"'
# The forms of a cross-reference to a heading, each with its file:
#   README, "Heading"              README, section "Heading"       README: "Heading"
#   docs/<file>.md, "Heading"      docs/<file>.md, section "Heading"
#   see docs/<file>.md "Heading"
# <file> may lie in a subdirectory of docs/ (docs/decisions/pipeline.md).
README_REFERENCE = re.compile(r"\bREADME(?:,\s+section|,|:)\s+" + QUOTED_HEADING)
DOCS_REFERENCE = re.compile(r"(?<![\w/.])(docs/[\w./-]+\.md)(?:,\s+section|,)\s+" + QUOTED_HEADING)
SEE_DOCS_REFERENCE = re.compile(r"\bsee\s+(docs/[\w./-]+\.md)\s+" + QUOTED_HEADING)


def scanned_files() -> Iterator[Path]:
    for directory, subdirectories, files in os.walk(ROOT):
        subdirectories[:] = sorted(
            d for d in subdirectories if d not in SKIPPED_DIRS and not d.startswith(".venv")
        )
        for name in sorted(files):
            if name.endswith(SCANNED_SUFFIXES) or name in SCANNED_NAMES:
                path = Path(directory, name)
                if path.resolve() != THIS_FILE:  # its comments show the forms
                    yield path


def one_line(heading: str) -> str:
    """A quoted heading on one line: where it was wrapped, the next line's comment
    marker ('#') and indent dropped, whitespace collapsed."""
    return " ".join(re.sub(r"\s*\n\s*#*\s*", " ", heading).split())


def normalised(heading: str) -> str:
    """A heading as compared: on one line, no leading #'s, any case."""
    return one_line(heading).lstrip("#").strip().casefold()


def references(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line, the Markdown file named, the heading named) of every cross-reference."""
    text = path.read_text(encoding="utf-8", errors="replace")
    found = [(m.start(), "README.md", m.group(1)) for m in README_REFERENCE.finditer(text)]
    for pattern in (DOCS_REFERENCE, SEE_DOCS_REFERENCE):
        found += [(m.start(), m.group(1), m.group(2)) for m in pattern.finditer(text)]
    for start, target, heading in sorted(set(found)):
        yield text.count("\n", 0, start) + 1, target, heading


def test_the_reference_patterns_read_what_they_should(tmp_path: Path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        '# README, "One"; README, section "Two"; README: "Three\n# over a line"\n'
        '# docs/operations.md, "Four"; see docs/decisions/pipeline.md "Five"\n'
        '# docs/a.md, section "Six"; open("README", "r"); docs/a.md "not a reference"\n',
        encoding="utf-8",
    )
    assert [(line, target, normalised(h)) for line, target, h in references(sample)] == [
        (1, "README.md", "one"),
        (1, "README.md", "two"),
        (1, "README.md", "three over a line"),
        (3, "docs/operations.md", "four"),
        (3, "docs/decisions/pipeline.md", "five"),
        (4, "docs/a.md", "six"),
    ]


def test_every_cross_reference_names_a_heading_that_exists():
    known: dict[str, set[str] | None] = {}
    problems = []
    for path in scanned_files():
        for line, target, heading in references(path):
            if target not in known:
                file = ROOT / target
                known[target] = {normalised(h) for h in headings(file)} if file.is_file() else None
            names = known[target]
            shown = one_line(heading)
            if names is None:
                problems.append(f'{where(path, line)}: {target} does not exist ("{shown}")')
            elif normalised(heading) not in names:
                problems.append(f'{where(path, line)}: {target} has no heading "{shown}"')
    assert not problems, "\n".join(problems)
