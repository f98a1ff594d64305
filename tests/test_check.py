"""check: preflight findings, exit 1 on errors and 0 with warnings, nothing written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nyhetsbrev.project.scaffold import init_project
from tests.fixtures import error_lines
from tests.starter_helpers import make_own


@pytest.fixture
def project(tmp_path) -> tuple[Path, str, Path]:
    created = init_project(tmp_path / "p")
    return make_own(created.root), str(created.issue), created.folder


def _check(cli, root, issue):
    return cli("--project", root, "check", issue)


def test_a_project_made_ones_own_passes(cli, project):
    root, issue, _ = project
    result = _check(cli, root, issue)
    # a new project has no archive address yet: the only warning says so
    assert result.exit_code == 0 and "no errors, 1 warning." in result.stdout
    assert "archive_url is not set" in result.stderr
    assert not (root / "build").exists()


@pytest.mark.parametrize("line, expected", [
    ('archive_url = "http://www.example.org/nyhetsbrev"', "is not https://"),
    ('archive_url = "https://www.example.org/nyhetsbrev"', None),
])
def test_archive_url_unset_or_not_https_is_a_warning(cli, project, line, expected):
    root, issue, _ = project
    settings = root / "nyhetsbrev.toml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(re.sub(r"(?m)^# archive_url = .*$", line, text), encoding="utf-8")
    result = _check(cli, root, issue)
    assert result.exit_code == 0
    if expected:
        assert "1 warning." in result.stdout and expected in result.stderr
    else:
        assert "0 warnings." in result.stdout and "archive_url" not in result.stderr


@pytest.mark.parametrize("edit, expected", [
    (lambda f: (f / "01-inledning.md").write_text("## Rubrik\n\n![](images/exempel.png)\n", encoding="utf-8"), "has no alt text"),
    (lambda f: (f / "01-inledning.md").write_text("Se [sidan](http://example.se/).\n", encoding="utf-8"), "uses http://"),
    (lambda f: (f / "04-tom.md").write_text("\n", encoding="utf-8"), "the section is empty"),
    (lambda f: (f / "issue.toml").write_text('subject = "' + "Lång " * 20 + '"\npreheader = "p"\n', encoding="utf-8"), "phones cut it"),
    (lambda f: (f / "issue.toml").write_text('subject = "Ämne"\n', encoding="utf-8"), "no preheader"),
    (lambda f: (f / "01-inledning.md").write_text("Text.\n\n" + "Ett långt stycke med mycket text. " * 3500, encoding="utf-8"), "Gmail clips"),
])
def test_warnings(cli, project, edit, expected):
    root, issue, folder = project
    edit(folder)
    result = _check(cli, root, issue)
    assert result.exit_code == 0, result.output
    assert expected in result.stderr and "warning:" in result.stderr


def test_an_unsubscribe_url_that_is_not_https_is_a_warning_with_its_line(cli, project):
    root, issue, _ = project
    settings = root / "nyhetsbrev.toml"
    text = settings.read_text(encoding="utf-8")
    commented = '# unsubscribe_url = "https://www.example.org/avregistrera"'
    line = text.splitlines().index(commented) + 1  # the starter's commented-out setting
    assert "unsubscribe_url" not in _check(cli, root, issue).stderr
    settings.write_text(text.replace(commented, 'unsubscribe_url = "http://www.example.org/avregistrera"'), encoding="utf-8")
    result = _check(cli, root, issue)
    assert result.exit_code == 0, result.output
    assert f"warning: {settings}:{line}: unsubscribe_url is not https" in result.stderr
    settings.write_text(text.replace(commented, 'unsubscribe_url = "https://www.example.org/avregistrera"'), encoding="utf-8")
    assert "unsubscribe_url" not in _check(cli, root, issue).stderr


def test_missing_subject_is_an_error(cli, project):
    root, issue, folder = project
    (folder / "issue.toml").write_text('preheader = "p"\n', encoding="utf-8")
    (error,) = error_lines(_check(cli, root, issue))
    assert f"error: {folder / 'issue.toml'}: the issue has no subject" in error


def test_missing_image_is_an_error_with_line(cli, project):
    root, issue, folder = project
    (folder / "01-inledning.md").write_text("## A\n\nText\n\n![Bild](images/borta.png)\n", encoding="utf-8")
    (error,) = error_lines(_check(cli, root, issue))
    assert f"error: {folder / '01-inledning.md'}:5: image 'images/borta.png' not found" in error


def test_front_matter_line_numbers_are_file_lines(cli, project):
    root, issue, folder = project
    (folder / "01-inledning.md").write_text("---\ntitle: T\n---\n\nSe [x](http://example.se)\n", encoding="utf-8")
    result = _check(cli, root, issue)
    assert f"{folder / '01-inledning.md'}:5:" in result.stderr
