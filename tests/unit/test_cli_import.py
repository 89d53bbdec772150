"""`bot import` and `bot records` through `bot.cli.main`, in process, with
BOT_DATABASE_URL naming a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from bot import records

from .helpers import CliResult, run_cli


def run_bot(*args: str, url: str, check: bool = True) -> CliResult:
    result = run_cli(*args, env={"BOT_DATABASE_URL": url})
    if check:
        assert result.returncode == 0, f"bot {' '.join(args)} failed:\n{result.stderr}"
    return result


PRODUCTS = """\
product,version,segment,released,end_of_support
Kaspersky Plus,21.19,home,2024-09-10,
Kaspersky Endpoint Security for Windows,11.6,business,2021-02-01,2024-02-29
Kaspersky Endpoint Security for Windows,12.6,business,2024-07-09,
"""
KEY = "FJORD-12345-VIKAS-9RQ7T"
LICENCES = f"""\
licence_key,product,version,holder,valid_until
{KEY},Kaspersky Endpoint Security for Windows,12.6,Fjordvik Regnskap AS,2099-12-31
"""
BAD_LICENCES = """\
licence_key,product,version,holder,valid_until
AAAAA-BBBBB-CCCCC-DDDDD,Kaspersky Plus,21.19,Ola Nordmann,2027-01-01
BBBBB-CCCCC-DDDDD-EEEEE,Kaspersky Plus,21.19,Kari Nordmann,2026-01-31
CCCCC-DDDDD-EEEEE-FFFFF,Kaspersky Plus,21.19,Sven Svensson,2025-13-01
DDDDD-EEEEE-FFFFF,Kaspersky Plus,21.19,Anna Andersson,2027-01-01
EEEEE-FFFFF-GGGGG-HHHHH,Kaspersky Plsu,21.19,Per Hansen,2027-01-01
"""


def _file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_import_good_files_then_again(database_url, tmp_path):
    products = _file(tmp_path, "products.csv", PRODUCTS)
    licences = _file(tmp_path, "licences.csv", LICENCES)

    first = run_bot("import", "products", products, url=database_url)
    assert first.stdout.strip() == "Imported products: 3 added, 0 updated, 0 unchanged."
    lic = run_bot("import", "licences", licences, url=database_url)
    assert lic.stdout.strip() == "Imported licences: 1 added, 0 updated, 0 unchanged."

    again = run_bot("import", "products", products, url=database_url)
    assert again.stdout.strip() == (
        "Imported products: 0 added, 0 updated, 3 unchanged (nothing changed)."
    )
    assert len(records.find_products(database_url)) == 3

    table = run_bot("records", "products", url=database_url).stdout
    assert "Kaspersky Endpoint Security for Windows  11.6" in table
    assert "end_of_life" in table and "supported" in table

    shown = run_bot("records", "licence", KEY.lower(), url=database_url)
    assert "Licence •••••-•••••-•••••-9RQ7T: valid, valid until 2099-12-31" in shown.stdout
    assert "Verdict: included (licence_valid); rules: rules:4.5b, rules:2.4" in shown.stdout
    assert "FJORD" not in shown.stdout + shown.stderr

    version = run_bot("records", "version", "KES", "11.6.0.394", url=database_url)
    assert "Kaspersky Endpoint Security for Windows 11.6" in version.stdout
    assert "rules: rules:4.3.2, kb101732:1.2" in version.stdout
    assert "Paid route: support_renewal" in version.stdout


def test_a_bad_file_exits_1_names_every_bad_line_and_imports_nothing(database_url, tmp_path):
    run_bot("import", "products", _file(tmp_path, "p.csv", PRODUCTS), url=database_url)
    before = records.records_version(database_url)

    bad = run_bot(
        "import", "licences", _file(tmp_path, "l.csv", BAD_LICENCES), url=database_url, check=False
    )

    assert bad.returncode == 1
    lines = bad.stderr.strip().splitlines()
    assert lines == [
        "line 4: valid_until '2025-13-01' is not a date (YYYY-MM-DD)",
        "line 5: licence key •••••-•••••-FFFFF is not four groups of five letters or digits "
        "joined by '-'",
        "line 6: unknown product 'Kaspersky Plsu' (not in the product records; did you mean "
        "'Kaspersky Plus'?); import it with `bot import products` first",
        "Nothing was imported.",
    ]
    assert bad.stdout == ""
    assert records.lookup_licence("AAAAA-BBBBB-CCCCC-DDDDD", url=database_url).status == "unknown"
    assert records.records_version(database_url) == before


def test_an_empty_file_and_a_missing_file(database_url, tmp_path):
    empty = run_bot(
        "import", "products", _file(tmp_path, "e.csv", ""), url=database_url, check=False
    )
    assert empty.returncode == 1
    assert empty.stderr.splitlines()[0].startswith("line 1: the file is empty")
    assert empty.stderr.splitlines()[-1] == "Nothing was imported."

    missing = run_bot(
        "import", "products", str(tmp_path / "nope.csv"), url=database_url, check=False
    )
    assert missing.returncode == 1
    assert "cannot read" in missing.stderr and "Nothing was imported." in missing.stderr


def test_an_unknown_licence_exits_1(database_url):
    result = run_bot("records", "licence", "ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ", url=database_url, check=False)
    assert result.returncode == 1
    assert "•••••-•••••-•••••-ZZZZZ: not on record" in result.stderr
