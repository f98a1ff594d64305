"""The recipients and lists commands as a user runs them (real SQLite file from NYHETSBREV_DB)."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from nyhetsbrev import store
from nyhetsbrev.store.tokens import make_token
from tests.recipient_helpers import QUIRKS_OK, QUIRKS_SKIPPED, all_text_in_db, database, quirks_csv, quirks_xlsx, simple_csv
from tests.fixtures import one_line_error as _error_line


def test_import_report_lists_rows_and_reasons(cli, tmp_path):
    result = cli("recipients", "import", quirks_csv(tmp_path), "--list", "Styrgrupp")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "cp1252" in out and "New list Styrgrupp created" in out
    for row in QUIRKS_SKIPPED:
        assert f"│ {row} " in out
    assert "duplicate of row 2" in out and "no e-mail address" in out and "line break" in out
    summary = out.split("imported")[1]
    assert [int(n) for n in summary.replace("│", " ").split() if n.isdigit()][:4] == [5, 0, 0, 5]
    again = cli("recipients", "import", quirks_csv(tmp_path), "-l", "Styrgrupp")
    numbers = [int(n) for n in again.stdout.split("imported")[1].replace("│", " ").split() if n.isdigit()]
    assert numbers[:4] == [0, 0, 5, 5]


def test_import_dry_run_writes_nothing(cli, tmp_path):
    result = cli("recipients", "import", quirks_xlsx(tmp_path), "--list", "A", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Dry run: nothing was written" in result.stdout and "would be created" in result.stdout
    with database() as db:
        assert all_text_in_db(db).count("@") == 0


def test_import_errors_are_one_line(cli, tmp_path):
    pdf = tmp_path / "lista.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    assert "not a CSV or XLSX file" in _error_line(cli("recipients", "import", pdf, "--list", "A"))
    nomail = tmp_path / "nomail.csv"
    nomail.write_text("Namn;Kommun\nOla;Flen\n", encoding="utf-8")
    line = _error_line(cli("recipients", "import", nomail, "--list", "A"))
    assert "no e-mail column" in line and "'Namn', 'Kommun'" in line and "nomail.csv" in line
    line = _error_line(cli("recipients", "import", tmp_path / "saknas.csv", "--list", "A"))
    assert "file not found" in line


def test_unknown_list_where_one_must_exist(cli, tmp_path):
    cli("recipients", "import", simple_csv(tmp_path, [("a@example.se", "A")]), "--list", "Styrgrupp")
    line = _error_line(cli("recipients", "list", "--list", "Styrgruppen"))
    assert "no list 'Styrgruppen'" in line and "Styrgrupp" in line
    assert "no list" in _error_line(cli("recipients", "remove", "a@example.se", "--list", "Nope"))
    assert "no list" in _error_line(cli("recipients", "export", "--list", "Nope"))


def test_list_formats(cli, tmp_path):
    cli("recipients", "import", quirks_csv(tmp_path), "--list", "Styrgrupp")
    cli("recipients", "add", "extra@example.org", "--list", "Annan", "--name", "Extra Person")
    as_json = json.loads(cli("recipients", "list", "--list", "Styrgrupp", "--format", "json").stdout)
    assert {p["email"] for p in as_json} == QUIRKS_OK
    as_csv = list(csv.DictReader(io.StringIO(cli("recipients", "list", "-l", "Styrgrupp", "-f", "csv").stdout)))
    assert {r["Email"] for r in as_csv} == QUIRKS_OK
    assert {r["Name"] for r in as_csv} >= {"Anna Andersson", "Björn Ek"}
    table = cli("recipients", "list").stdout
    assert "extra@example.org" in table and "6 people." in table


def test_lists_command_counts_members_and_suppressed(cli, tmp_path):
    assert "No lists yet" in cli("lists").stdout
    cli("recipients", "import", quirks_csv(tmp_path), "--list", "Styrgrupp")
    cli("recipients", "unsubscribe", "mia.berg@example.se")
    result = cli("lists")
    assert result.exit_code == 0
    row = next(line for line in result.stdout.splitlines() if "Styrgrupp" in line)
    assert [c.strip() for c in row.split("│") if c.strip()][:3] == ["Styrgrupp", "4", "1"]


def test_add_remove_unsubscribe_cycle(cli):
    result = cli("recipients", "add", "Eva@example.se", "--list", "A", "--list", "B", "--name", "Eva Ek")
    assert result.exit_code == 0 and "added" in result.stdout
    assert "removed from B" in cli("recipients", "remove", "eva@example.se", "--list", "B").stdout
    assert "unsubscribed" in cli("recipients", "unsubscribe", "eva@example.se").stdout
    assert "already" in cli("recipients", "unsubscribe", "EVA@example.se").stdout
    assert "--resubscribe" in _error_line(cli("recipients", "add", "eva@example.se", "--list", "A"))
    result = cli("recipients", "add", "eva@example.se", "--list", "A", "--resubscribe")
    assert result.exit_code == 0, result.output
    assert "status" in cli("recipients", "list").stdout and "active" in cli("recipients", "list").stdout


def test_unsubscribe_by_token(cli):
    cli("recipients", "add", "ola@example.se", "--list", "A")
    with database() as db:
        token = make_token(store.signing_key(db), "ola@example.se")
    result = cli("recipients", "unsubscribe", "--token", token)
    assert result.exit_code == 0 and "ola@example.se unsubscribed" in result.stdout
    with database() as db:
        assert store.is_suppressed(db, "ola@example.se") == "unsubscribed"
    assert "not valid" in _error_line(cli("recipients", "unsubscribe", "--token", token[:-3] + "AAA"))
    assert "either" in _error_line(cli("recipients", "unsubscribe"))


def test_forget_asks_then_erases(cli, tmp_path):
    cli("recipients", "import", quirks_csv(tmp_path), "--list", "Styrgrupp")
    result = cli("recipients", "forget", "anna.andersson@example.se", input="n\n")
    assert result.exit_code != 0
    with database() as db:
        assert store.find_recipient(db, "anna.andersson@example.se") is not None
    result = cli("recipients", "forget", "anna.andersson@example.se", "--yes")
    assert result.exit_code == 0 and "only a keyed hash remains" in result.stdout
    with database() as db:
        assert "anna.andersson" not in all_text_in_db(db)
    again = cli("recipients", "import", quirks_csv(tmp_path), "--list", "Styrgrupp")
    assert "forgotten on request" in again.stdout


def test_export_person_json_and_list_csv(cli, tmp_path):
    cli("recipients", "import", quirks_csv(tmp_path), "--list", "Styrgrupp")
    person = json.loads(cli("recipients", "export", "mia.berg@example.se").stdout)
    assert person["recipient"]["name"] == "Mia Berg"
    assert person["events"][0]["source_file"] == "kommun.csv" and person["events"][0]["source_row"] == 13
    out = tmp_path / "styrgrupp.csv"
    result = cli("recipients", "export", "--list", "Styrgrupp", "--output", out)
    assert result.exit_code == 0 and "5 people" in result.stderr
    rows = csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"), newline=""), delimiter=";")
    assert {r["E-mail"] for r in rows} == QUIRKS_OK
    assert "either" in _error_line(cli("recipients", "export"))


def test_export_to_files_in_a_new_folder(cli, tmp_path):
    cli("recipients", "import", quirks_csv(tmp_path), "--list", "Styrgrupp")
    folder = tmp_path / "utdrag" / "2024"  # does not exist yet
    person_file = folder / "mia.json"
    result = cli("recipients", "export", "mia.berg@example.se", "--output", person_file)
    assert result.exit_code == 0, result.output
    assert "Written to" in result.stderr and result.stdout == ""
    person = json.loads(person_file.read_text(encoding="utf-8"))
    assert person == {**json.loads(cli("recipients", "export", "mia.berg@example.se").stdout),
                      "exported_at": person["exported_at"]}
    assert person["recipient"]["name"] == "Mia Berg" and [e["list"] for e in person["lists"]] == ["Styrgrupp"]
    lists_file = folder / "styrgrupp.csv"
    result = cli("recipients", "export", "--list", "Styrgrupp", "--output", lists_file)
    assert result.exit_code == 0, result.output
    rows = csv.DictReader(io.StringIO(lists_file.read_text(encoding="utf-8-sig"), newline=""), delimiter=";")
    assert {r["E-mail"] for r in rows} == QUIRKS_OK
    assert sorted(p.name for p in folder.iterdir()) == ["mia.json", "styrgrupp.csv"]  # no temp files left behind


def test_reading_commands_create_nothing_before_the_first_import(cli, repo_project, monkeypatch):
    database = Path(os.environ["NYHETSBREV_DB"])
    result = cli("lists")
    assert result.exit_code == 0 and "No lists yet: no recipients yet" in result.stdout
    assert "no recipients yet" in _error_line(cli("recipients", "list"))
    assert "no recipients yet" in _error_line(cli("recipients", "list", "--format", "json"))
    assert "no recipients yet" in _error_line(cli("recipients", "export", "a@example.se"))
    assert "no recipients yet" in _error_line(cli("recipients", "export", "--list", "A"))
    assert list(database.parent.iterdir()) == []  # no database, no key file
    monkeypatch.delenv("NYHETSBREV_DB")
    assert "no recipients yet" in cli("--project", repo_project, "lists").stdout
    assert not (repo_project / "recipients").exists()


def test_database_from_the_environment_outside_a_project(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no nyhetsbrev.toml here or above
    assert cli("recipients", "add", "a@example.se", "--list", "A").exit_code == 0
    assert "a@example.se" in cli("recipients", "list").stdout


@pytest.mark.parametrize("command", ["import", "add", "list", "remove", "unsubscribe", "forget", "export"])
def test_every_command_has_help(cli, command):
    result = cli("recipients", command, "--help")
    assert result.exit_code == 0 and "Usage:" in result.stdout


def test_database_in_the_project_folder(cli, repo_project, monkeypatch, tmp_path):
    monkeypatch.delenv("NYHETSBREV_DB")
    result = cli("--project", repo_project, "recipients", "add", "a@example.se", "--list", "A")
    assert result.exit_code == 0, result.output
    assert (repo_project / "recipients" / "nyhetsbrev.db").is_file()
    monkeypatch.chdir(tmp_path)
    assert "nyhetsbrev.toml" in _error_line(cli("lists"))
