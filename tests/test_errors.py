"""Each bad input gives one line (what, where, what to do), a non-zero exit and no traceback."""

from __future__ import annotations

import pytest

from tests.fixtures import assert_nowhere
from tests.fixtures import one_line_error as _one_line_error


@pytest.mark.parametrize("bad", ["22:x", "../x", "22:0", "2022", "22:1:1", "x-1"])
def test_bad_issue_ids_are_refused(cli, repo_project, bad):
    line = _one_line_error(cli("--project", repo_project, "build", bad))
    assert "is not an issue id" in line and "22:1" in line


@pytest.mark.parametrize("good", ["22:1", "22-1", "2022:1"])
def test_issue_id_spellings_are_accepted(cli, repo_project, good):
    result = cli("--project", repo_project, "build", good)
    assert result.exit_code == 0, result.output
    assert "22-1" in result.stdout


def test_missing_issue(cli, repo_project):
    line = _one_line_error(cli("--project", repo_project, "build", "23:4"))
    assert "issue 23:4 not found" in line and "22:1" in line and "nyhetsbrev new 23:4" in line


def test_broken_yaml_front_matter_names_file_and_line(cli, repo_project):
    path = repo_project / "issues" / "22-1" / "02-processen-2021.md"
    path.write_text(path.read_text(encoding="utf-8").replace("layout: timeline", "layout: [timeline"), encoding="utf-8")
    line = _one_line_error(cli("--project", repo_project, "build", "22:1"))
    assert f"{path}:" in line and "front matter" in line
    assert line.split(f"{path}:")[1].split(":")[0] == "2"


def test_unclosed_front_matter(cli, repo_project):
    path = repo_project / "issues" / "22-1" / "01-tillsammans.md"
    path.write_text("---\nlayout: text\n\n## Rubrik\n", encoding="utf-8")
    line = _one_line_error(cli("--project", repo_project, "check", "22:1"))
    assert f"{path}:1" in line and "not closed" in line


def test_broken_toml_names_file_and_line(cli, repo_project):
    path = repo_project / "nyhetsbrev.toml"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(4, 'language = "sv')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    line = _one_line_error(cli("--project", repo_project, "build", "22:1"))
    assert f"{path}:5" in line and "TOML" in line


def test_broken_roster_toml(cli, repo_project):
    path = repo_project / "roster.toml"
    path.write_text(path.read_text(encoding="utf-8") + "\n[[group]\n", encoding="utf-8")
    line = _one_line_error(cli("--project", repo_project, "check", "22:1"))
    assert str(path) in line and "TOML" in line


def test_unknown_setting_is_named_with_its_line(cli, repo_project):
    path = repo_project / "nyhetsbrev.toml"
    path.write_text('colour = "red"\n' + path.read_text(encoding="utf-8"), encoding="utf-8")
    line = _one_line_error(cli("--project", repo_project, "build", "22:1"))
    assert f"{path}:1" in line and "unknown setting 'colour'" in line


def test_password_in_settings_is_refused(cli, repo_project):
    path = repo_project / "nyhetsbrev.toml"
    path.write_text(path.read_text(encoding="utf-8") + 'password = "hemligt123"\n', encoding="utf-8")
    result = cli("--project", repo_project, "build", "22:1")
    line = _one_line_error(result)
    assert "NYHETSBREV_SMTP_PASSWORD" in line
    assert_nowhere("hemligt123", outputs=[result], folders=[repo_project / "build"])


@pytest.mark.parametrize("name", ["smtp", "imap"])
def test_a_server_setting_that_is_not_a_table_is_refused_on_its_line(cli, repo_project, name):
    path = repo_project / "nyhetsbrev.toml"
    text = path.read_text(encoding="utf-8").split(f"[{name}]")[0]  # the table (the last one) goes
    path.write_text(f'{name} = "mail.example.org"\n' + text, encoding="utf-8")
    line = _one_line_error(cli("--project", repo_project, "build", "22:1"))
    assert f"{path}:1: '{name}' must be a table: [{name}]" in line


def test_jinja_syntax_error_in_a_template(cli, repo_project):
    templates = repo_project / "templates"
    templates.mkdir(exist_ok=True)
    (templates / "footer.mjml.j2").write_text(
        "<mj-section>\n  <mj-column>\n    <mj-text>{% if web %}oops</mj-text>\n  </mj-column>\n</mj-section>\n",
        encoding="utf-8")
    line = _one_line_error(cli("--project", repo_project, "build", "22:1"))
    assert f"{templates / 'footer.mjml.j2'}:" in line and "template syntax error" in line


def test_missing_image_names_section_and_line(cli, repo_project):
    path = repo_project / "issues" / "22-1" / "01-tillsammans.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("### Summering av 2021", "![Processen](images/saknas.png)\n\n### Summering av 2021"),
                    encoding="utf-8")
    expected_line = path.read_text(encoding="utf-8").splitlines().index("![Processen](images/saknas.png)") + 1
    line = _one_line_error(cli("--project", repo_project, "build", "22:1"))
    assert f"{path}:{expected_line}" in line and "images/saknas.png" in line and "not found" in line
    assert not (repo_project / "build" / "22-1" / "email.html").exists()


def test_not_a_project(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = _one_line_error(cli("build", "22:1"))
    assert "nyhetsbrev.toml" in line and "nyhetsbrev init" in line


def test_debug_shows_the_traceback(runner, repo_project):
    from nyhetsbrev.cli import app

    result = runner.invoke(app, ["--debug", "--project", str(repo_project), "build", "22:x"])
    assert result.exit_code != 0
    assert type(result.exception).__name__ == "IssueIdError"


def test_a_failed_build_keeps_the_last_good_output(cli, repo_project):
    assert cli("--project", repo_project, "build", "22:1").exit_code == 0
    good = (repo_project / "build" / "22-1" / "email.html").read_bytes()
    path = repo_project / "issues" / "22-1" / "03-vad-hander-nu.md"
    path.write_text("---\naudience: [a\n---\ntext\n", encoding="utf-8")
    assert cli("--project", repo_project, "build", "22:1").exit_code != 0
    assert (repo_project / "build" / "22-1" / "email.html").read_bytes() == good


def test_a_folder_named_like_a_section(cli, repo_project):
    (repo_project / "issues" / "22-1" / "05-x.md").mkdir()
    line = _one_line_error(cli("--project", repo_project, "check", "22:1"))
    assert "05-x.md" in line and "cannot read the section" in line


def test_brackets_in_a_message_are_printed_as_written(cli, repo_project):
    path = repo_project / "nyhetsbrev.toml"
    path.write_text(path.read_text(encoding="utf-8") + 'colour = "red"\n', encoding="utf-8")
    line = _one_line_error(cli("--project", repo_project, "build", "22:1"))
    assert "unknown setting 'colour' in [smtp]" in line


def test_a_file_where_the_build_folder_should_be(cli, repo_project):
    (repo_project / "build").write_text("not a folder", encoding="utf-8")
    line = _one_line_error(cli("--project", repo_project, "build", "22:1"))
    assert "build" in line and "Check the path" in line


def test_an_unexpected_error_is_one_line_without_debug(runner, repo_project, monkeypatch):
    from nyhetsbrev.publish import pipeline
    from nyhetsbrev.cli import app

    def broken(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(pipeline, "build", broken)
    result = runner.invoke(app, ["--project", str(repo_project), "build", "22:1"])
    line = _one_line_error(result)
    assert "unexpected ValueError: a bug" in line and "--debug" in line
    debug = runner.invoke(app, ["--debug", "--project", str(repo_project), "build", "22:1"])
    assert isinstance(debug.exception, ValueError)


def test_usage_errors_stay_typers_own(cli):
    result = cli("build")
    assert result.exit_code == 2 and "Missing argument" in result.output
