"""init makes a working project; new makes the next issue in the shape of the last one."""

from __future__ import annotations

import datetime as dt

import pytest

from nyhetsbrev.project.models import IssueId
from nyhetsbrev.project.scaffold import init_project, new_issue, next_issue_id
from tests.starter_helpers import make_own


def test_init_makes_a_project_that_builds_and_whose_examples_check_lists(cli, tmp_path):
    target = tmp_path / "nytt"
    result = cli("init", target)
    assert result.exit_code == 0, result.output
    year = dt.date.today().year % 100
    assert (target / "issues" / f"{year}-1" / "images" / "exempel.png").is_file()
    assert "recipients/" in (target / ".gitignore").read_text(encoding="utf-8")
    check = cli("--project", target, "check", f"{year}:1")
    assert check.exit_code == 0 and "5 warnings." in check.stdout and "archive_url is not set" in check.stderr
    assert "accessibility statement" in check.stderr  # [accessibility] is there, commented out, to fill in
    assert f"{target / 'nyhetsbrev.toml'}:6: nyhetsbrev.toml still has the examples that 'nyhetsbrev init' wrote in " \
           "from, reply_to," in check.stderr
    assert f"{target / 'roster.toml'}:6: roster.toml still has the example people of 'nyhetsbrev init' (Anna Exempel, " \
           in check.stderr and "anna.exempel@example.se)" in check.stderr
    assert "this is still the example issue that 'nyhetsbrev init' wrote (01-inledning.md, 02-tidslinje.md" in check.stderr
    assert cli("--project", target, "build", f"{year}:1").exit_code == 0
    html = (target / "build" / f"{year}-1" / "email.html").read_text(encoding="utf-8")
    assert "Välkommen till nyhetsbrevet" in html and "example.se" in html
    make_own(target)
    check = cli("--project", target, "check", f"{year}:1")
    assert check.exit_code == 0 and "1 warning." in check.stdout and "archive_url is not set" in check.stderr


def test_init_then_publish_makes_nothing_public(cli, tmp_path):
    target = tmp_path / "nytt"
    created = init_project(target)
    issue_toml = (created.folder / "issue.toml").read_text(encoding="utf-8")
    assert "draft = true" in issue_toml and "delete the line below to publish it" in issue_toml
    result = cli("--project", target, "publish")
    assert result.exit_code == 0, result.output
    assert "roster.toml still has the example people" in result.stderr
    archive = target / "build" / "archive"
    assert not (archive / created.issue.folder).exists()
    assert created.issue.folder not in (archive / "index.html").read_text(encoding="utf-8")
    assert "<entry>" not in (archive / "feed.xml").read_text(encoding="utf-8")
    assert "Nyhetsbrev" not in (archive / ".nyhetsbrev-manifest.json").read_text(encoding="utf-8")


def test_init_adds_its_lines_to_a_gitignore_there_and_keeps_every_byte_of_it(tmp_path):
    target = tmp_path / "mapp"
    target.mkdir()
    own = "# åtgärder\r\n*.tmp".encode("latin-1")  # not UTF-8, no line end at the close
    (target / ".gitignore").write_bytes(own)
    init_project(target)
    data = (target / ".gitignore").read_bytes()
    assert data.startswith(own + b"\n") and b"recipients/" in data


def test_init_refuses_an_existing_project(cli, tmp_path):
    init_project(tmp_path / "p")
    result = cli("init", tmp_path / "p")
    assert result.exit_code == 1 and "already holds a nyhetsbrev project" in result.stderr


def test_new_takes_the_next_number_and_the_shape_of_the_last_issue(tmp_path):
    created = init_project(tmp_path / "p", today=dt.date(2026, 3, 1))
    made = new_issue(created.root, today=dt.date(2026, 9, 1))
    assert made.issue == IssueId(26, 2)
    names = sorted(p.name for p in made.files)
    assert names == ["01-inledning.md", "02-tidslinje.md", "03-politiker.md", "issue.toml"]
    timeline = (made.folder / "02-tidslinje.md").read_text(encoding="utf-8")
    assert timeline.startswith("---\nlayout: timeline") and "### Planera" in timeline
    assert "Vi bestämmer" not in timeline  # the old text is not carried over
    assert "audience: [politiker]" in (made.folder / "03-politiker.md").read_text(encoding="utf-8")
    toml = (made.folder / "issue.toml").read_text(encoding="utf-8")
    assert 'subject = "Nyhetsbrev 26:2' in toml and "date = 2026-09-01" in toml


def test_new_with_an_explicit_id_and_refusing_an_existing_one(cli, tmp_path):
    created = init_project(tmp_path / "p", today=dt.date(2026, 3, 1))
    assert cli("--project", created.root, "new", "27:1").exit_code == 0
    assert (created.root / "issues" / "27-1" / "issue.toml").is_file()
    again = cli("--project", created.root, "new", "27:1")
    assert again.exit_code == 1 and "already exists" in again.stderr


@pytest.mark.parametrize("existing, today, expected", [
    ([], dt.date(2022, 5, 1), IssueId(22, 1)),
    ([IssueId(22, 1), IssueId(22, 2)], dt.date(2022, 9, 1), IssueId(22, 3)),
    ([IssueId(22, 3)], dt.date(2023, 1, 10), IssueId(23, 1)),
])
def test_next_issue_id(existing, today, expected):
    assert next_issue_id(existing, today) == expected


def test_a_new_issue_is_refused_until_its_placeholders_are_written_then_it_builds(cli, repo_project):
    result = cli("--project", repo_project, "new", "22:2")
    assert result.exit_code == 0, result.output
    folder = repo_project / "issues" / "22-2"
    check = cli("--project", repo_project, "check", "22:2")
    assert check.exit_code == 1, check.output
    first = next(p for p in sorted(folder.glob("*.md")) if "Skriv texten här." in p.read_text(encoding="utf-8"))
    line = first.read_text(encoding="utf-8").splitlines().index("Skriv texten här.") + 1
    assert f"{first}:{line}: placeholder text 'Skriv texten här.'" in check.stderr
    assert cli("--project", repo_project, "build", "22:2").exit_code == 1  # nor can it be built (or sent)
    for path in folder.glob("*.md"):
        path.write_text(path.read_text(encoding="utf-8").replace("Skriv texten här.", "Ny text."), encoding="utf-8")
    check = cli("--project", repo_project, "check", "22:2")
    assert check.exit_code == 0, check.output
