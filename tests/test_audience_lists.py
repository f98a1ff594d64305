"""An audience naming a list that does not exist: a warning in check (when there is a database), and send
refuses before anything is written to the ledger (real SQLite file, real SMTP server)."""

from __future__ import annotations

import pytest

from tests.send_helpers import add_people, ledger_rows, make_project, smtp  # noqa: F401  (fixtures)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def project(tmp_path):
    """The send tests' project without a database: the lists come with the people added."""
    return make_project(tmp_path / "project", lists=())


@pytest.fixture
def misspelt(project):
    path = project / "issues/22-1/02-politiker.md"
    path.write_text(path.read_text(encoding="utf-8").replace("audience: [politiker]", "audience: [politikerna]"),
                    encoding="utf-8")
    return path


def test_check_warns_with_the_line_and_the_list_probably_meant(project, misspelt, cli):
    assert "politikerna" not in cli("--project", project, "check", "22:1").stderr  # no database yet: nothing to ask
    add_people(2, ["politiker"])
    add_people(1, ["profession"], prefix="prof")
    result = cli("--project", project, "check", "22:1")
    assert result.exit_code == 0, result.output
    assert f"warning: {misspelt}:2: audience names the list 'politikerna', which does not exist" in result.stderr
    assert "did you mean 'politiker'?" in result.stderr


@pytest.mark.parametrize("extra", [["--yes"], ["--dry-run"], ["--outbox", "utkorg"]])
def test_send_refuses_and_writes_nothing(project, misspelt, smtp, cli, tmp_path, extra):
    add_people(3, ["politiker"])
    extra = [str(tmp_path / e) if e == "utkorg" else e for e in extra]
    result = cli("--project", project, "send", "22:1", "--list", "politiker", *extra)
    assert result.exit_code == 2, result.output
    assert f"{misspelt}:2: audience names the list 'politikerna'" in result.stderr
    assert smtp.attempts == [] and ledger_rows() == {} and not (tmp_path / "utkorg").exists()


def test_the_preview_lists_the_same_warning_as_check(project, misspelt):
    from nyhetsbrev.project.models import IssueId
    from nyhetsbrev.web.preview.builds import make_build

    add_people(2, ["politiker"])
    problems = make_build(project, IssueId(22, 1)).problems
    (found,) = [p for p in problems if "politikerna" in p["message"]]
    assert found["level"] == "warning" and found["line"] == 2 and found["file"].endswith("02-politiker.md")
