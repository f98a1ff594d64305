"""Each bad input gives one line (what, where, what to do), a non-zero exit and no traceback."""

from __future__ import annotations

import pytest

from tests.fixtures import assert_nowhere, one_line_error


@pytest.mark.parametrize("bad", ["22:x", "../x", "22:0", "2022", "22:1:1", "x-1"])
def test_bad_issue_ids_are_refused(cli, repo_project, bad):
    line = one_line_error(cli("--project", repo_project, "build", bad))
    assert "is not an issue id" in line and "22:1" in line


@pytest.mark.parametrize("good", ["22:1", "22-1", "2022:1"])
def test_issue_id_spellings_are_accepted(cli, repo_project, good):
    result = cli("--project", repo_project, "build", good)
    assert result.exit_code == 0, result.output
    assert "22-1" in result.stdout


def test_missing_issue(cli, repo_project):
    line = one_line_error(cli("--project", repo_project, "build", "23:4"))
    assert "issue 23:4 not found" in line and "22:1" in line and "nyhetsbrev new 23:4" in line


def _edit(path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _broken_yaml(root):
    path = root / "issues" / "22-1" / "02-processen-2021.md"
    _edit(path, "layout: timeline", "layout: [timeline")
    return f"{path}:2", ["front matter"]


def _unclosed_front_matter(root):
    path = root / "issues" / "22-1" / "01-tillsammans.md"
    path.write_text("---\nlayout: text\n\n## Rubrik\n", encoding="utf-8")
    return f"{path}:1", ["not closed"]


def _broken_toml(root):
    path = root / "nyhetsbrev.toml"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(4, 'language = "sv')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f"{path}:5", ["TOML"]


def _broken_roster(root):
    path = root / "roster.toml"
    path.write_text(path.read_text(encoding="utf-8") + "\n[[group]\n", encoding="utf-8")
    return str(path), ["TOML"]


def _unknown_setting(root):
    path = root / "nyhetsbrev.toml"
    path.write_text('colour = "red"\n' + path.read_text(encoding="utf-8"), encoding="utf-8")
    return f"{path}:1", ["unknown setting 'colour'"]


def _server_setting_not_a_table(name):
    def edit(root):
        path = root / "nyhetsbrev.toml"
        text = path.read_text(encoding="utf-8").split(f"[{name}]")[0]  # the table (the last one) goes
        path.write_text(f'{name} = "mail.example.org"\n' + text, encoding="utf-8")
        return f"{path}:1", [f"'{name}' must be a table: [{name}]"]
    return edit


def _password_in_settings(root):
    path = root / "nyhetsbrev.toml"
    path.write_text(path.read_text(encoding="utf-8") + 'password = "hemligt123"\n', encoding="utf-8")
    return str(path), ["NYHETSBREV_SMTP_PASSWORD"]


# What goes wrong in a file -> the one line's place (file:line) and words; each by build and by check.
ONE_LINE_ERRORS = {
    "broken YAML front matter": _broken_yaml,
    "unclosed front matter": _unclosed_front_matter,
    "broken TOML settings": _broken_toml,
    "broken TOML roster": _broken_roster,
    "unknown setting": _unknown_setting,
    "smtp not a table": _server_setting_not_a_table("smtp"),
    "imap not a table": _server_setting_not_a_table("imap"),
    "password in the settings": _password_in_settings,
}


@pytest.mark.parametrize("command", ["build", "check"])
@pytest.mark.parametrize("case", ONE_LINE_ERRORS)
def test_a_mistake_in_a_file_is_one_line_with_its_place(cli, repo_project, case, command):
    where, words = ONE_LINE_ERRORS[case](repo_project)
    result = cli("--project", repo_project, command, "22:1")
    line = one_line_error(result, code=1, where=where)
    assert all(word in line for word in words), line
    assert_nowhere("hemligt123", outputs=[result], folders=[repo_project / "build"])


def test_jinja_syntax_error_in_a_template(cli, repo_project):
    templates = repo_project / "templates"
    templates.mkdir(exist_ok=True)
    (templates / "footer.mjml.j2").write_text(
        "<mj-section>\n  <mj-column>\n    <mj-text>{% if web %}oops</mj-text>\n  </mj-column>\n</mj-section>\n",
        encoding="utf-8")
    line = one_line_error(cli("--project", repo_project, "build", "22:1"))
    assert f"{templates / 'footer.mjml.j2'}:" in line and "template syntax error" in line


def test_missing_image_names_section_and_line(cli, repo_project):
    path = repo_project / "issues" / "22-1" / "01-tillsammans.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("### Summering av 2021", "![Processen](images/saknas.png)\n\n### Summering av 2021"),
                    encoding="utf-8")
    expected_line = path.read_text(encoding="utf-8").splitlines().index("![Processen](images/saknas.png)") + 1
    line = one_line_error(cli("--project", repo_project, "build", "22:1"))
    assert f"{path}:{expected_line}" in line and "images/saknas.png" in line and "not found" in line
    assert not (repo_project / "build" / "22-1" / "email.html").exists()


def test_not_a_project(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(cli("build", "22:1"))
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
    line = one_line_error(cli("--project", repo_project, "check", "22:1"))
    assert "05-x.md" in line and "cannot read the section" in line


def test_brackets_in_a_message_are_printed_as_written(cli, repo_project):
    path = repo_project / "nyhetsbrev.toml"
    path.write_text(path.read_text(encoding="utf-8") + 'colour = "red"\n', encoding="utf-8")
    line = one_line_error(cli("--project", repo_project, "build", "22:1"))
    assert "unknown setting 'colour' in [smtp]" in line


def test_a_file_where_the_build_folder_should_be(cli, repo_project):
    (repo_project / "build").write_text("not a folder", encoding="utf-8")
    line = one_line_error(cli("--project", repo_project, "build", "22:1"))
    assert "build" in line and "Check the path" in line


def test_an_unexpected_error_is_one_line_without_debug(runner, repo_project, monkeypatch):
    from nyhetsbrev.publish import pipeline
    from nyhetsbrev.cli import app

    def broken(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(pipeline, "build", broken)
    result = runner.invoke(app, ["--project", str(repo_project), "build", "22:1"])
    line = one_line_error(result)
    assert "unexpected ValueError: a bug" in line and "--debug" in line
    debug = runner.invoke(app, ["--debug", "--project", str(repo_project), "build", "22:1"])
    assert isinstance(debug.exception, ValueError)


def test_usage_errors_stay_typers_own(cli):
    result = cli("build")
    assert result.exit_code == 2 and "Missing argument" in result.output
