"""Issue folders named unlike YY-N or twice for one issue, and settings addresses with a query or a fragment."""

from __future__ import annotations

import shutil

import pytest

from tests.fixtures import one_line_error


def _copy_issue(repo_project, name: str) -> None:
    shutil.copytree(repo_project / "issues/22-1", repo_project / "issues" / name)


@pytest.mark.parametrize("command", [("check", "22:1"), ("build", "22:1"), ("publish",), ("new",)])
def test_two_folders_naming_one_issue_are_an_error_naming_both(cli, repo_project, command):
    _copy_issue(repo_project, "22-01")
    line = one_line_error(cli("--project", repo_project, *command))
    assert "'22-01' and '22-1' both name issue 22:1" in line and "named '22-1'" in line
    assert not (repo_project / "build/archive").exists() and not (repo_project / "issues/22-2").exists()


@pytest.mark.parametrize("name, issue, canonical", [("26-006", "26:6", "26-6"), ("2026-3", "26:3", "26-3")])
def test_a_folder_not_named_yy_n_is_an_error_naming_the_canonical_name(cli, repo_project, name, issue, canonical):
    _copy_issue(repo_project, name)
    for command in (("check", issue), ("status", issue), ("publish",)):
        line = one_line_error(cli("--project", repo_project, *command))
        assert f"the folder '{name}' is named unlike issue folders: issue {issue}'s folder is named '{canonical}'" in line
        assert f"Rename it to '{canonical}'" in line and "not found" not in line


def test_other_folders_in_issues_are_left_alone(cli, repo_project):
    (repo_project / "issues/utkast").mkdir()
    (repo_project / "issues/22-1-gammal").mkdir()
    assert cli("--project", repo_project, "check", "22:1").exit_code == 0


def _settings(repo_project, key: str, value: str):
    settings = repo_project / "nyhetsbrev.toml"
    lines = [line for line in settings.read_text(encoding="utf-8").splitlines() if not line.startswith(f"{key} =")]
    lines.insert(1, f'{key} = "{value}"')
    settings.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return settings


@pytest.mark.parametrize("key", ["unsubscribe_url", "archive_url"])
@pytest.mark.parametrize("tail", ["#top", "?lang=sv", "/?a=1#b"])
def test_an_address_with_a_query_or_fragment_is_a_check_error_at_its_line(cli, repo_project, key, tail):
    settings = _settings(repo_project, key, f"https://www.example.se/nyhetsbrev{tail}")
    result = cli("--project", repo_project, "check", "22:1")
    assert result.exit_code == 1
    part = tail[tail.index("?") if "?" in tail else tail.index("#"):]
    assert f"error: {settings}:2: {key} must have no query or fragment ('{part}')" in result.stderr
    if key == "archive_url":
        line = one_line_error(cli("--project", repo_project, "publish"))
        assert f"{settings}:2: archive_url must have no query or fragment" in line
        assert not (repo_project / "build/archive").exists()


@pytest.mark.parametrize("key", ["unsubscribe_url", "archive_url"])
def test_http_stays_a_warning(cli, repo_project, key):
    _settings(repo_project, key, "http://www.example.se/nyhetsbrev")
    result = cli("--project", repo_project, "check", "22:1")
    assert result.exit_code == 0 and "not https" in result.stderr
