"""Lists that follow reality: import --replace, the changed fields of every import, --from-file, and exports
that Swedish Excel opens and that import back without a change (real SQLite file from NYHETSBREV_DB)."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from openpyxl import load_workbook

from nyhetsbrev import store
from nyhetsbrev.cli import recipients_import
from tests.fixtures import one_line_error
from tests.recipient_helpers import database
from tests.recipient_helpers import members as _members
from tests.recipient_helpers import person_row as _person
from tests.recipient_helpers import rows_csv as _csv


def _election(cli, tmp_path):
    """399 on politiker (the first 100 also on profession); the new file keeps 30 (5 with a new organisation) and adds 19."""
    cli("recipients", "import", _csv(tmp_path / "gamla.csv", [_person(n) for n in range(399)]), "--list", "politiker")
    cli("recipients", "import", _csv(tmp_path / "prof.csv", [_person(n) for n in range(100)]), "--list", "profession")
    kept = [_person(n, "Region Sörmland" if n < 5 else "Flens kommun") for n in range(30)]
    new = [_person(n) for n in range(1000, 1019)]
    return _csv(tmp_path / "politiker.csv", kept + new)


def test_replace_dry_run_shows_added_changed_and_taken_off_and_writes_nothing(cli, tmp_path):
    new_file = _election(cli, tmp_path)
    result = cli("recipients", "import", new_file, "--list", "politiker", "--replace", "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["replace"]["added"] == 19 and report["replace"]["taken_off"] == 369
    assert report["replace"]["changed"] == 5 and report["replace"]["members_before"] == 399
    changes = {(c["email"], c["field"], c["old"], c["new"]) for c in report["changes"]}
    assert ("politiker000@example.se", "organisation", "Flens kommun", "Region Sörmland") in changes
    assert len(changes) == 5
    assert "politiker398@example.se" in report["replace"]["taken_off_addresses"]
    table = cli("recipients", "import", new_file, "--list", "politiker", "--replace", "--dry-run")
    assert "19 added, 5 changed, 369 taken off" in table.stdout
    assert "Region Sörmland" in table.stdout and "politiker030@example.se" in table.stdout
    assert len(_members("politiker")) == 399


def test_replace_leaves_exactly_the_file_and_unsubscribes_no_one(cli, tmp_path):
    new_file = _election(cli, tmp_path)
    result = cli("recipients", "import", new_file, "--list", "politiker", "--replace", "--yes", "--allow-large-removal")
    assert result.exit_code == 0, result.output
    assert "19 added, 5 changed, 369 taken off" in result.stdout
    assert _members("politiker") == {f"politiker{n:03d}@example.se" for n in [*range(30), *range(1000, 1019)]}
    # the 369 are not suppressed, stay on their other lists, and keep their history
    assert len(_members("profession")) == 100
    with database() as db:
        assert not store.is_suppressed(db, "politiker398@example.se")
        events = db.execute("SELECT event FROM subscription_events se JOIN recipients r ON r.id = se.recipient_id"
                            " WHERE r.email = 'politiker398@example.se' ORDER BY se.id").fetchall()
    assert [e[0] for e in events] == ["subscribed", "removed"]
    # a later import into another list adds them there, no resubscribe flag needed
    again = cli("recipients", "import", _csv(tmp_path / "k.csv", [_person(398)]), "--list", "kultur")
    assert again.exit_code == 0 and _members("kultur") == {"politiker398@example.se"}


def test_a_file_that_takes_most_of_the_list_off_needs_the_explicit_flag(cli, tmp_path):
    new_file = _election(cli, tmp_path)  # takes 369 of 399 off (92 %)
    for flags in ([], ["--yes"]):
        result = cli("recipients", "import", new_file, "--list", "politiker", "--replace", *flags)
        line = one_line_error(result)
        assert "369 of the 399" in line and "--allow-large-removal" in line
        assert len(_members("politiker")) == 399
    lone = cli("recipients", "import", new_file, "--list", "politiker", "--allow-large-removal")
    assert lone.exit_code != 0 and len(_members("politiker")) == 399


def test_replace_asks_and_a_no_changes_nothing(cli, tmp_path, monkeypatch):
    cli("recipients", "import", _csv(tmp_path / "a.csv", [_person(n) for n in range(4)]), "--list", "styrgrupp")
    smaller = _csv(tmp_path / "b.csv", [_person(n) for n in range(3)])
    refused = cli("recipients", "import", smaller, "--list", "styrgrupp", "--replace")  # CliRunner: no terminal
    assert "no terminal" in one_line_error(refused) and len(_members("styrgrupp")) == 4
    monkeypatch.setattr(recipients_import, "_terminal", lambda: True)
    no = cli("recipients", "import", smaller, "--list", "styrgrupp", "--replace", input="n\n")
    assert no.exit_code == 1 and len(_members("styrgrupp")) == 4
    assert no.stdout.count("politiker003@example.se") == 1  # the plan is shown once
    yes = cli("recipients", "import", smaller, "--list", "styrgrupp", "--replace", input="j\n")
    assert yes.exit_code == 0, yes.output
    assert _members("styrgrupp") == {f"politiker{n:03d}@example.se" for n in range(3)}


def test_every_import_names_the_changed_fields(cli, tmp_path):
    cli("recipients", "import", _csv(tmp_path / "a.csv", [_person(1)]), "--list", "politiker")
    moved = _csv(tmp_path / "b.csv", [["politiker001@example.se", "Politiker Ett", "Region Sörmland", "Flen"]])
    result = cli("recipients", "import", moved, "--list", "profession", "--format", "json")
    report = json.loads(result.stdout)
    assert {(c["field"], c["old"], c["new"]) for c in report["changes"]} == {
        ("name", "Politiker 1", "Politiker Ett"), ("organisation", "Flens kommun", "Region Sörmland")}
    table = cli("recipients", "import", moved, "--list", "kultur")
    assert "Changed fields" not in table.stdout  # nothing changes the second time
    back = cli("recipients", "import", _csv(tmp_path / "c.csv", [_person(1)]), "--list", "kultur")
    assert "Changed fields" in back.stdout and "Region Sörmland" in back.stdout and "Flens kommun" in back.stdout


def test_remove_and_unsubscribe_from_file(cli, tmp_path):
    cli("recipients", "import", _csv(tmp_path / "a.csv", [_person(n) for n in range(6)]), "--list", "politiker")
    sheet = _csv(tmp_path / "bort.csv", [_person(0), _person(1)])
    lines = tmp_path / "bort.txt"
    lines.write_text("politiker002@example.se\n# a comment\n\nokand@example.se\n", encoding="utf-8")
    assert cli("recipients", "remove", "--from-file", sheet, "--list", "politiker").exit_code == 0
    result = cli("recipients", "remove", "--from-file", lines)
    assert result.exit_code == 0 and "okand@example.se is not in the recipients database" in result.stdout
    assert _members("politiker") == {f"politiker{n:03d}@example.se" for n in range(3, 6)}
    with database() as db:
        assert not store.is_suppressed(db, "politiker000@example.se")
    unsub = _csv(tmp_path / "avreg.csv", [_person(3)])
    assert cli("recipients", "unsubscribe", "--from-file", unsub).exit_code == 0
    with database() as db:
        assert store.is_suppressed(db, "politiker003@example.se")
    assert "--from-file" in one_line_error(cli("recipients", "remove"))


def _round_trip_people(cli, tmp_path):
    rows = [_person(n) for n in range(5)] + [["elin@example.org", "=HYPERLINK(\"x\")", "-Org", "+46 155 12 34"]]
    cli("recipients", "import", _csv(tmp_path / "a.csv", rows), "--list", "politiker")


def test_export_csv_is_what_swedish_excel_opens_and_imports_back_unchanged(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("NYHETSBREV_LANGUAGE", "sv")
    _round_trip_people(cli, tmp_path)
    out = tmp_path / "politiker.csv"
    assert cli("recipients", "export", "--list", "politiker", "-o", out).exit_code == 0
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0] == ["E-post", "Namn", "Organisation", "Kommun", "Titel"]
    elin = next(r for r in rows if r[0] == "elin@example.org")
    assert elin[1].startswith("'=") and elin[2] == "'-Org" and elin[3] == "+46 155 12 34"  # no formula runs in Excel
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    monkeypatch.setenv("NYHETSBREV_LANGUAGE", "en")
    result = cli("recipients", "import", out, "--list", "politiker", "--replace", "--yes", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["replace"]
    assert (report["added"], report["changed"], report["taken_off"]) == (0, 0, 0)
    again = cli("recipients", "import", out, "--list", "politiker", "--replace", "--dry-run")
    assert "0 added, 0 changed, 0 taken off" in again.stdout
    with database() as db:
        assert store.find_recipient(db, "elin@example.org")["name"] == '=HYPERLINK("x")'


@pytest.mark.parametrize(("language", "headers"), [
    ("en", ["E-mail", "Name", "Organisation", "Municipality", "Title"]),
    ("sv", ["E-post", "Namn", "Organisation", "Kommun", "Titel"]),
])
def test_export_xlsx_opens_with_openpyxl_and_imports_back_unchanged(cli, tmp_path, monkeypatch, language, headers):
    _round_trip_people(cli, tmp_path)
    out = tmp_path / "politiker.xlsx"
    monkeypatch.setenv("NYHETSBREV_LANGUAGE", language)
    assert cli("recipients", "export", "--list", "politiker", "-o", out).exit_code == 0
    monkeypatch.setenv("NYHETSBREV_LANGUAGE", "sv" if language == "en" else "en")  # read back in the other language
    sheet = load_workbook(out).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == headers
    elin = next(r for r in rows if r[0] == "elin@example.org")
    assert elin[1] == '=HYPERLINK("x")' and sheet.cell(row=rows.index(elin) + 1, column=2).data_type == "s"
    result = cli("recipients", "import", out, "--list", "politiker", "--replace", "--dry-run", "--format", "json")
    report = json.loads(result.stdout)["replace"]
    assert (report["added"], report["changed"], report["taken_off"]) == (0, 0, 0), result.stdout


def test_a_csv_whose_address_column_has_another_name_is_refused_and_changes_nothing(cli, tmp_path):
    cli("recipients", "import", _csv(tmp_path / "a.csv", [_person(n) for n in range(3)]), "--list", "politiker")
    other = tmp_path / "avreg.csv"
    other.write_text("Adress;Namn\npolitiker000@example.se;Politiker 0\npolitiker001@example.se;Politiker 1\n", encoding="utf-8")
    for command in ("unsubscribe", "remove"):
        line = one_line_error(cli("recipients", command, "--from-file", other), where=str(other))
        assert "no e-mail column" in line and "'Adress'" in line
    with database() as db:
        assert db.execute("SELECT count(*) FROM suppressions").fetchone()[0] == 0
        assert not store.is_suppressed(db, "politiker000@example.se")
    assert _members("politiker") == {f"politiker{n:03d}@example.se" for n in range(3)}


def test_a_line_that_is_no_address_refuses_the_file_with_its_line(cli, tmp_path):
    cli("recipients", "import", _csv(tmp_path / "a.csv", [_person(n) for n in range(3)]), "--list", "politiker")
    lines = tmp_path / "sluta.txt"
    lines.write_text("politiker000@example.se\n# from the meeting\npolitiker001 at example.se\n", encoding="utf-8")
    for command in ("unsubscribe", "remove"):
        line = one_line_error(cli("recipients", command, "--from-file", lines), where=f"{lines}:3")
        assert "politiker001 at example.se" in line
    bad_cell = _csv(tmp_path / "b.csv", [_person(0), ["politiker001@@example.se", "X", "Y", "Z"]])
    one_line_error(cli("recipients", "unsubscribe", "--from-file", bad_cell), where=f"{bad_cell}:3")
    with database() as db:
        assert db.execute("SELECT count(*) FROM suppressions").fetchone()[0] == 0
    assert _members("politiker") == {f"politiker{n:03d}@example.se" for n in range(3)}


def test_unsubscribe_and_remove_from_an_xlsx_file(cli, tmp_path):
    from openpyxl import Workbook

    cli("recipients", "import", _csv(tmp_path / "a.csv", [_person(n) for n in range(4)]), "--list", "politiker")
    book = Workbook()
    book.active.append(["Namn", "E-post"])
    book.active.append(["Politiker 0", "politiker000@example.se"])
    book.active.append(["Politiker 1", "politiker001@example.se"])
    sheet = tmp_path / "bort.xlsx"
    book.save(sheet)
    assert cli("recipients", "remove", "--from-file", sheet, "--list", "politiker").exit_code == 0
    assert _members("politiker") == {"politiker002@example.se", "politiker003@example.se"}
    result = cli("recipients", "unsubscribe", "--from-file", sheet)
    assert result.exit_code == 0 and "politiker001@example.se unsubscribed" in result.stdout
    with database() as db:
        assert store.is_suppressed(db, "politiker000@example.se") and not store.is_suppressed(db, "politiker002@example.se")


def test_remove_with_a_bad_list_name_is_one_error_not_a_person_not_found(cli, tmp_path):
    cli("recipients", "import", _csv(tmp_path / "a.csv", [_person(n) for n in range(2)]), "--list", "politiker")
    listing = tmp_path / "bort.txt"
    listing.write_text("politiker000@example.se\npolitiker001@example.se\n", encoding="utf-8")
    for given in (["--from-file", listing], ["politiker000@example.se"]):
        result = cli("recipients", "remove", *given, "--list", "bad\x01name")
        line = one_line_error(result)
        assert "cannot be a list name" in line
        assert "not in the recipients database" not in result.output
    unknown = one_line_error(cli("recipients", "remove", "--from-file", listing, "--list", "finns-inte"))
    assert "there is no list 'finns-inte'" in unknown
    assert _members("politiker") == {"politiker000@example.se", "politiker001@example.se"}


def test_a_name_excel_would_run_as_a_formula_is_inert_in_every_export(cli, tmp_path):
    formula = '=HYPERLINK("http://x.example")'
    cli("recipients", "import", _csv(tmp_path / "a.csv", [_person(0), ["elin@example.org", formula, "@Org", "Flen"]]),
        "--list", "politiker")
    cli("recipients", "import", _csv(tmp_path / "b.csv", [_person(1)]), "--list", "kultur")
    streams = {
        "export --list": cli("recipients", "export", "--list", "politiker").stdout,
        "export two lists": cli("recipients", "export", "--list", "politiker", "--list", "kultur").stdout,
        "list --format csv": cli("recipients", "list", "--format", "csv").stdout,
        "list --list --format csv": cli("recipients", "list", "--list", "politiker", "--format", "csv").stdout,
    }
    for name, text in streams.items():
        elin = next(r for r in csv.reader(io.StringIO(text)) if r and r[0] == "elin@example.org")
        assert elin[1] == "'" + formula and elin[2] == "'@Org", (name, elin)
    for suffix in (".csv", ".xlsx"):
        out = tmp_path / f"politiker{suffix}"
        assert cli("recipients", "export", "--list", "politiker", "-o", out).exit_code == 0
        if suffix == ".csv":
            rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"), newline=""), delimiter=";"))
            assert next(r for r in rows if r[0] == "elin@example.org")[1] == "'" + formula
        else:
            sheet = load_workbook(out).active
            cell = next(row[1] for row in sheet.iter_rows() if row[0].value == "elin@example.org")
            assert cell.value == formula and cell.data_type == "s"  # text, never a formula
    again = cli("recipients", "import", out, "--list", "politiker", "--replace", "--dry-run")
    assert "0 added, 0 changed, 0 taken off" in again.stdout


def test_a_refused_replace_of_two_lists_creates_no_database(cli, tmp_path):
    people = _csv(tmp_path / "a.csv", [_person(0)])
    line = one_line_error(cli("recipients", "import", people, "--list", "politiker", "--list", "kultur", "--replace"))
    assert "exactly one --list" in line
    assert not Path(os.environ["NYHETSBREV_DB"]).exists()


def test_the_lines_past_those_shown_say_truly_where_to_see_them(cli, tmp_path):
    many = 1002  # more than a report keeps
    cli("recipients", "import", _csv(tmp_path / "a.csv", [_person(n) for n in range(many)]), "--list", "politiker")
    moved = _csv(tmp_path / "b.csv", [_person(n, "Region Sörmland") for n in range(many)])
    table = cli("recipients", "import", moved, "--list", "politiker", "--dry-run").stdout
    assert "… and 902 more changed fields (--all or --format json shows the first 1000)" in table
    every = cli("recipients", "import", moved, "--list", "politiker", "--dry-run", "--all").stdout
    assert "… and 2 more changed fields (only the first 1000 are kept)" in every
    report = json.loads(cli("recipients", "import", moved, "--list", "politiker", "--dry-run", "--format", "json").stdout)
    assert (len(report["changes"]), report["changes_total"]) == (1000, many)
    one = _csv(tmp_path / "c.csv", [_person(0)])
    plan = cli("recipients", "import", one, "--list", "politiker", "--replace", "--dry-run").stdout
    assert "… and 901 more (--format json shows the first 1000)" in plan
    few = _csv(tmp_path / "d.csv", [_person(n) for n in range(850)])
    assert "… and 52 more (see them with --format json)" in cli(
        "recipients", "import", few, "--list", "politiker", "--replace", "--dry-run").stdout
