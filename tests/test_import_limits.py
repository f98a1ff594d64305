"""Hostile and huge recipients files: bounded memory and time, defused XML, one clear line for each."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nyhetsbrev import store
from nyhetsbrev.errors import RecipientFileError
from nyhetsbrev.store import importing, recipient_files
from tests.fixtures import assert_nowhere, one_line_error
from tests.xlsx_helpers import inflating_workbook, row_xml, workbook

BOMB = """<!DOCTYPE lolz [<!ENTITY a "aaaaaaaaaa">""" + "".join(
    f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)) + "]>"
SECRET = "HEMLIG-7f3a9c-inte-i-utdata"


@pytest.fixture
def db():
    database = store.open_db(Path(os.environ["NYHETSBREV_DB"]))
    yield database
    database.close()


def _people(n: int) -> list[str]:
    return [row_xml("E-post", "Namn")] + [row_xml(f"p{i}@example.se", f"P {i}") for i in range(n)]


def test_an_entity_bomb_is_refused_with_one_line(cli, tmp_path):
    path = workbook(tmp_path / "bomb.xlsx", [row_xml("E-post"), row_xml("&j;@example.se")], doctype=BOMB)
    result = cli("recipients", "import", path, "--list", "A", "--dry-run")
    line = one_line_error(result)
    assert result.exit_code == 1
    assert "not a readable XLSX workbook" in line and "XML entities" in line and "aaaaaaaaaa" not in result.output


def test_an_xxe_attempt_reads_no_file(cli, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    doctype = f'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{secret}">]>'
    path = workbook(tmp_path / "xxe.xlsx", [row_xml("E-post", "Namn"), row_xml("anna@example.se", "&xxe;")], doctype=doctype)
    result = cli("recipients", "import", path, "--list", "A")
    line = one_line_error(result)
    assert result.exit_code == 1 and "XML entities or external references" in line
    assert "0 people" in cli("recipients", "list").stdout
    assert Path(os.environ["NYHETSBREV_DB"]).exists()
    assert_nowhere(SECRET, outputs=[result])


def test_broken_xml_in_a_sheet_is_one_line(cli, tmp_path):
    path = workbook(tmp_path / "trasig.xlsx", [row_xml("E-post"), row_xml("anna@example.se"), "<row><c t="])
    result = cli("recipients", "import", path, "--list", "A")
    line = one_line_error(result)
    assert result.exit_code == 1 and "its XML is broken" in line and str(path) in line


def test_a_zip_that_is_not_named_xlsx(cli, tmp_path):
    named_zip = workbook(tmp_path / "lista.zip", _people(2))
    assert cli("recipients", "import", named_zip, "--list", "A").exit_code == 0  # a workbook, whatever its name
    plain = tmp_path / "arkiv.zip"
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("lista.txt", "anna@example.se\n")
    result = cli("recipients", "import", plain, "--list", "A")
    line = one_line_error(result)
    assert result.exit_code == 1 and "holds no Excel workbook" in line


def _import_limited(path: Path, tmp_path: Path, max_rows: int = recipient_files.MAX_ROWS) -> subprocess.CompletedProcess:
    """`recipients import --dry-run` in a child limited to 2 GB of address space, with a time-out (and a row cap)."""
    script = textwrap.dedent("""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
        from nyhetsbrev.cli import main
        from nyhetsbrev.store import recipient_files
        recipient_files.MAX_ROWS = int(sys.argv[2])
        sys.argv = ["nyhetsbrev", "recipients", "import", sys.argv[1], "--list", "A", "--dry-run"]
        main()
    """)
    env = {**os.environ, "NYHETSBREV_DB": str(tmp_path / "limited.db")}
    return subprocess.run([sys.executable, "-c", script, str(path), str(max_rows)], capture_output=True, text=True,
                          timeout=90, env=env)


def test_a_workbook_inflating_to_a_gigabyte_is_refused_from_its_zip_directory(tmp_path):
    path = inflating_workbook(tmp_path / "bomb.xlsx", 1024)
    assert path.stat().st_size < 6 << 20
    result = _import_limited(path, tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert "unpacks to 1 0" in line and "MB, more than the 400 MB" in line  # '1,024' reads as 1.024 in Swedish


def test_rows_past_the_cap_stop_with_one_line_in_bounded_memory(tmp_path):
    """The cap is lowered to 20 000 in the child so that the test streams a tenth of the real 200 000 rows."""
    path = workbook(tmp_path / "stor.xlsx", [row_xml("E-post", "Namn")] + [row_xml("", "x")] * 20_001)
    result = _import_limited(path, tmp_path, max_rows=20_000)
    assert result.returncode == 1, result.stderr[-2000:]
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert "more than 20 000 rows" in line and "Split it into files" in line


def test_a_csv_past_the_row_cap_is_refused_before_anything_is_written(db, tmp_path):
    path = tmp_path / "stor.csv"
    path.write_text("E-post\n" + "a@example.se\n" * (recipient_files.MAX_ROWS + 20), encoding="utf-8")
    with pytest.raises(RecipientFileError, match="more than 200 000 rows"):
        store.import_recipients(db, path, ["A"])
    assert db.execute("SELECT count(*) FROM lists").fetchone()[0] == 0


def test_bad_rows_are_counted_and_only_the_first_ones_kept(db, tmp_path, cli):
    path = tmp_path / "fel.csv"
    path.write_text("E-post\n" + "".join(f"fel{i}@\n" for i in range(3000)) + "anna@example.se\n", encoding="utf-8")
    report = store.import_recipients(db, path, ["A"], dry_run=True)
    assert report.skipped_total == 3000 and len(report.skipped) == importing.SKIPPED_KEPT and report.imported == 1
    assert [s.row for s in report.skipped[:2]] == [2, 3]
    result = cli("recipients", "import", path, "--list", "A", "--all")
    assert "… and 2000 more skipped rows (only the first 1000 are kept" in result.stdout


_CELL = st.text(st.characters(codec="utf-8", blacklist_categories=["Cs"]), max_size=30)


@given(rows=st.lists(st.lists(_CELL, min_size=0, max_size=4), max_size=8), delimiter=st.sampled_from([",", ";", "\t"]))
def test_any_csv_row_is_imported_or_skipped_with_a_reason_never_a_traceback(tmp_path_factory, rows, delimiter):
    import csv
    import io

    folder = tmp_path_factory.mktemp("csv")
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows([["E-post", "Namn", "Kommun", "Övrigt"], *rows])
    path = folder / "lista.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    db = store.open_db(folder / "p.db")
    try:
        report = store.import_recipients(db, path, ["A"])
    except RecipientFileError as exc:
        assert "\n" not in str(exc)
        return
    finally:
        db.close()
    assert all(s.reason and "\n" not in s.reason for s in report.skipped)
    assert report.imported + report.updated + report.unchanged + report.skipped_total <= len(rows)


def test_a_workbook_that_hides_its_size_stops_at_the_cap_and_says_what_was_imported(db, tmp_path, monkeypatch):
    """No <dimension> in the sheet: the cap is found while streaming, after some batches were committed."""
    monkeypatch.setattr(recipient_files, "MAX_ROWS", 250)
    monkeypatch.setattr(importing, "BATCH", 100)
    path = workbook(tmp_path / "dold.xlsx", _people(300))
    with pytest.raises(RecipientFileError) as caught:
        store.import_recipients(db, path, ["A"])
    message = str(caught.value)
    assert "more than 250 rows" in message and "the rows before row 202 were imported (200)" in message
    assert "import the same file again to finish" in message
    assert db.execute("SELECT count(*) FROM recipients").fetchone()[0] == 200
