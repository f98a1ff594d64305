"""roster.toml values of the wrong kind, init into a folder that has files, new after an awkward subject."""

from __future__ import annotations

import datetime as dt
import tomllib

import pytest

from nyhetsbrev.project.scaffold import init_project, new_issue
from tests.fixtures import one_line_error

ROSTER_START = '[[group]]\nheading = "Styrgrupp"\nmembers = [{ name = "Tony Lööw" }]\n\n[[group]]\n'


@pytest.mark.parametrize("second_group, expected, line_no", [
    ('heading = "Uppdragsgivare"\nmembers = "Anna"\n', "'members' in group 'Uppdragsgivare' must be a list", 7),
    ('heading = ["x"]\nmembers = ["Anna"]\n', "'heading' must be text in quotes", 6),
    ('heading = "U"\nmembers = [{ name = "Anna", phone = 46701234567 }]\n', "'phone' must be text in quotes", 7),
    ('heading = "U"\nmembers = [["Anna"]]\n', "a member in group 'U' is neither text nor a table", 7),
    ('heading = "U"\nmembers = [{}]\n', "an empty member in group 'U'", 7),
    ('members = ["Anna"]\n', "group 2 has no heading", 5),
])
def test_roster_values_of_the_wrong_kind_are_errors_with_their_line(cli, repo_project, second_group, expected, line_no):
    """Finding 9: members = "Anna" rendered four members A, n, n, a; heading = ["x"] printed ['x']."""
    path = repo_project / "roster.toml"
    path.write_text(ROSTER_START + second_group, encoding="utf-8")
    line = one_line_error(cli("--project", repo_project, "check", "22:1"))
    assert f"{path}:{line_no}: {expected}" in line


def test_roster_contact_values_are_checked(cli, repo_project):
    path = repo_project / "roster.toml"
    path.write_text('[contact]\nheading = "Kontakt"\nemails = "a@example.se"\n', encoding="utf-8")
    line = one_line_error(cli("--project", repo_project, "check", "22:1"))
    assert f"{path}:3: 'emails' in [contact] must be a list of texts" in line
    path.write_text('[contact]\ntext = 12\n', encoding="utf-8")
    assert f"{path}:2: 'text' must be text in quotes" in one_line_error(cli("--project", repo_project, "check", "22:1"))


def test_a_good_roster_still_reads_as_before(repo_project):
    from nyhetsbrev.project.config import load_roster

    path = repo_project / "roster.toml"
    path.write_text(ROSTER_START + 'heading = "Uppdragsgivare"\nmembers = [" Strängnäs kommun ", { title = "Chef", phone = "" }]\n'
                    '[contact]\ntext = "Hör av er"\nemails = ["a@example.se"]\n', encoding="utf-8")
    roster = load_roster(path)
    assert [g.heading for g in roster.groups] == ["Styrgrupp", "Uppdragsgivare"]
    assert roster.groups[1].members[0].name == "Strängnäs kommun"
    assert roster.groups[1].members[1].title == "Chef" and roster.groups[1].members[1].phone is None
    assert roster.contact.heading == "Kontakt" and roster.contact.emails == ("a@example.se",)


@pytest.mark.parametrize("existing, named", [("roster.toml", "roster.toml"), ("issues/{year}-1/issue.toml", "issues/{year}-1")])
def test_init_refuses_a_folder_with_a_starter_file_and_changes_nothing(cli, tmp_path, existing, named):
    """Finding 9: init into a folder holding a roster.toml overwrote it."""
    target = tmp_path / "befintlig"
    path = target / existing.format(year=dt.date.today().year % 100)
    path.parent.mkdir(parents=True)
    path.write_text("# vår egen\n", encoding="utf-8")
    line = one_line_error(cli("init", target))
    assert f"already has {named.format(year=dt.date.today().year % 100)}." in line and "nothing was changed" in line
    assert path.read_text(encoding="utf-8") == "# vår egen\n"
    assert not (target / "nyhetsbrev.toml").exists()


def test_init_keeps_an_existing_gitignore_and_adds_what_keeps_recipients_out(tmp_path):
    target = tmp_path / "repo"
    target.mkdir()
    (target / ".gitignore").write_text("node_modules/\nbuild/", encoding="utf-8")
    init_project(target)
    lines = (target / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ["node_modules/", "build/"]
    assert "recipients/" in lines and "*.key" in lines and lines.count("build/") == 1


@pytest.mark.parametrize("subject", [
    'Rad ett\nrad två', 'Han sa "hej"', 'C:\\mapp\\fil', "tab\there", "windows\r\nrad", 'allt \\" på """en',
])
def test_new_writes_valid_toml_whatever_the_previous_subject(tmp_path, subject):
    """Finding 9: a newline or a quote in the previous subject made new write an issue.toml nobody could read."""
    from nyhetsbrev.project.scaffold import toml_string

    created = init_project(tmp_path / "p", today=dt.date(2026, 3, 1))
    (created.folder / "issue.toml").write_text(
        f"subject = {toml_string(subject + ' 26:1')}\ndate = 2026-03-01\npreheader = \"p\"\n", encoding="utf-8")
    made = new_issue(created.root, today=dt.date(2026, 9, 1))
    data = tomllib.loads((made.folder / "issue.toml").read_text(encoding="utf-8"))
    assert data["subject"] == subject + " 26:2"


def test_toml_string_writes_every_control_character_as_an_escape():
    from nyhetsbrev.project.scaffold import toml_string

    text = "".join(map(chr, range(0x20))) + "\x7f slut"
    assert tomllib.loads(f"s = {toml_string(text)}")["s"] == text


def test_new_after_a_multiline_toml_subject(tmp_path):
    created = init_project(tmp_path / "p", today=dt.date(2026, 3, 1))
    (created.folder / "issue.toml").write_text('subject = """Första "raden"\nandra \\\\ raden"""\n', encoding="utf-8")
    made = new_issue(created.root, today=dt.date(2026, 9, 1))
    data = tomllib.loads((made.folder / "issue.toml").read_text(encoding="utf-8"))
    assert data["subject"] == 'Första "raden"\nandra \\ raden'
