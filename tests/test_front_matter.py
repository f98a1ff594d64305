"""Section files from careless or hostile authors: front matter, size, links out of the project, one parse per build."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import REPO, one_line_error

MEMORY_LIMIT = 2 * 2**30  # address space of the checked process; the alias bomb below needs more than twice this


def _alias_bomb(levels: int = 9, repeats: int = 9) -> str:
    """A few hundred bytes of YAML whose alias graph expands to repeats**levels strings."""
    lines = ["a: &a [" + ",".join(["x"] * repeats) + "]"]
    names = "abcdefghijklmnop"
    for level in range(1, levels):
        here, below = names[level], names[level - 1]
        lines.append(f"{here}: &{here} [{','.join([f'*{below}'] * repeats)}]")
    lines.append(f"title: *{names[levels - 1]}")
    return "---\n" + "\n".join(lines) + "\n---\n\nText.\n"


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _check_in_bounded_process(project: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """`nyhetsbrev check 22:1` in its own process with 2 GB of address space and a timeout."""
    env = {k: v for k, v in os.environ.items() if k != "NYHETSBREV_DEBUG"}
    env["MALLOC_ARENA_MAX"] = "2"  # glibc reserves 64 MB of address space per thread's arena; many cores add up
    return subprocess.run(
        [sys.executable, "-m", "nyhetsbrev", "--project", str(project), "check", "22:1"],
        capture_output=True, text=True, timeout=timeout, preexec_fn=_limit_memory, env=env, cwd=REPO,
    )


def test_alias_bomb_is_refused_in_bounded_memory(repo_project):
    """Finding 1: 364 bytes of aliases made check run 100 s and take 5.4 GB; now one line, at once."""
    path = repo_project / "issues" / "22-1" / "01-tillsammans.md"
    bomb = _alias_bomb()
    assert len(bomb) < 400
    path.write_text(bomb, encoding="utf-8")
    line = one_line_error(_check_in_bounded_process(repo_project), code=1, where=f"{path}:3")
    assert "aliases" in line


def test_unbounded_check_stays_within_the_limit(repo_project):
    """The limit leaves room for an ordinary check, so the test above fails only through the bomb."""
    result = _check_in_bounded_process(repo_project)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("key, meant", [
    ("målgrupp", "audience"), ("Målgrupp", "audience"), ("mottagare", "audience"), ("audince", "audience"),
    ("titel", "title"), ("rubrik", "title"), ("Title", "title"),
    ("mall", "layout"), ("typ", "layout"), ("layuot", "layout"),
])
def test_unknown_key_is_an_error_with_line_and_suggestion(cli, repo_project, key, meant):
    path = repo_project / "issues" / "22-1" / "01-tillsammans.md"
    path.write_text(f"---\ntitle: Rubrik\n{key}: [politiker]\n---\n\nText.\n", encoding="utf-8")
    line = one_line_error(cli("--project", repo_project, "check", "22:1"), code=1, where=f"{path}:3")
    assert f"{path}:3: unknown front-matter key '{key}'" in line
    assert f"Did you mean '{meant}'?" in line


def test_malgrupp_stops_build_and_send(cli, repo_project):
    """Issue 10: a misspelled key once only warned, and the politicians' section went to everyone."""
    path = repo_project / "issues" / "22-1" / "01-tillsammans.md"
    path.write_text("---\nmålgrupp: [politiker]\n---\n\nText.\n", encoding="utf-8")
    for command in (["check", "22:1"], ["build", "22:1"], ["send", "22:1", "--dry-run", "--list", "alla"]):
        line = one_line_error(cli("--project", repo_project, *command), code=2 if command[0] == "send" else 1,
                              where=f"{path}:2")
        assert "'audience'" in line, command
    assert not (repo_project / "build").exists()


def test_unknown_key_without_a_near_one_lists_the_keys(cli, repo_project):
    path = repo_project / "issues" / "22-1" / "01-tillsammans.md"
    path.write_text("---\nxyzzy: 1\n---\n\nText.\n", encoding="utf-8")
    line = one_line_error(cli("--project", repo_project, "check", "22:1"))
    assert "Did you mean" not in line and "layout, audience and title" in line


@pytest.mark.parametrize("front, expected, line_no", [
    ("title: [a, b]", "'title' must be text, not a list", 2),
    ("layout: [timeline]", "'layout' must be one word", 2),
    ("audience: [[politiker]]", "must be a list of words", 2),
    ("audience: {politiker: ja}", "must be text or a list, not a table", 2),
    ("audience: ['']", "'audience' must be a list of list names", 2),
    ("? [a, b]\n: c", "a front-matter key must be a plain word", 2),
    ("title: A\ntitle: B", "'title' is written twice", 3),
    ("- title\n- layout", "front matter must be key: value lines", 2),
    ("title: " + "[" * 5000, "nested too deeply", 2),
    ("title: &t A\nlayout: *t", "aliases", 3),
])
def test_front_matter_values_are_checked_before_use(cli, repo_project, front, expected, line_no):
    path = repo_project / "issues" / "22-1" / "01-tillsammans.md"
    path.write_text(f"---\n{front}\n---\n\nText.\n", encoding="utf-8")
    line = one_line_error(cli("--project", repo_project, "check", "22:1"), code=1, where=f"{path}:{line_no}")
    assert expected in line


@pytest.mark.parametrize("written, title", [("yes", "yes"), ("2022-02-30", "2022-02-30"), ("1e3", "1e3"), ("'null'", "null")])
def test_values_stay_text_as_written(repo_project, written, title):
    """YAML's yes/no, numbers and dates are not converted (2022-02-30 once raised a bare ValueError)."""
    from nyhetsbrev.project.reader import read_section

    path = repo_project / "issues" / "22-1" / "01-tillsammans.md"
    path.write_text(f"---\ntitle: {written}\naudience: [no, 1]\n---\n\nText.\n", encoding="utf-8")
    section = read_section(path)
    assert section.title == title and section.audience == ("no", "1")


def test_a_section_over_the_size_limit_is_an_error_with_its_size(cli, repo_project):
    path = repo_project / "issues" / "22-1" / "04-stor.md"
    path.write_text("Text. " * (5 * 2**20 // 6 + 100), encoding="utf-8")
    line = one_line_error(cli("--project", repo_project, "check", "22:1"))
    assert str(path) in line and "the section is 5.0 MB" in line and "at most 4 MB" in line


def test_a_section_linked_from_outside_the_project_is_refused(cli, repo_project, tmp_path):
    secret = tmp_path / "elsewhere" / "anteckningar.md"
    secret.parent.mkdir()
    secret.write_text("Hemligt.\n", encoding="utf-8")
    link = repo_project / "issues" / "22-1" / "04-lank.md"
    link.symlink_to(secret)
    line = one_line_error(cli("--project", repo_project, "build", "22:1"))
    assert str(link) in line and "outside the project" in line
    assert not (repo_project / "build").exists()


def test_a_section_linked_inside_the_project_is_read(cli, repo_project):
    shared = repo_project / "gemensamt.md"
    shared.write_text("## Gemensam text\n\nSamma i varje nummer.\n", encoding="utf-8")
    (repo_project / "issues" / "22-1" / "04-gemensamt.md").symlink_to(shared)
    result = cli("--project", repo_project, "build", "22:1")
    assert result.exit_code == 0, result.output
    assert "Samma i varje nummer." in (repo_project / "build" / "22-1" / "email.txt").read_text(encoding="utf-8")


def test_each_section_is_parsed_once_per_build(repo_project, monkeypatch):
    """Finding 9: each section was parsed about seven times (render, text, images, checks, web copy …)."""
    from markdown_it import MarkdownIt

    from nyhetsbrev.publish import pipeline
    from nyhetsbrev.render import checks

    from PIL import Image

    (repo_project / "issues" / "22-1" / "images").mkdir(exist_ok=True)
    Image.new("RGB", (40, 30), (200, 80, 40)).save(repo_project / "issues" / "22-1" / "images" / "liten.png")
    (repo_project / "issues" / "22-1" / "04-politiker.md").write_text(
        "---\naudience: [politiker]\n---\n\n## Till politiker\n\nText med ![bild](images/liten.png) och "
        "![extern](https://example.org/b.png).\n", encoding="utf-8")
    parsed: list[str] = []
    real_parse = MarkdownIt.parse

    def counting_parse(self, src, env=None):
        parsed.append(src)
        return real_parse(self, src, env)

    monkeypatch.setattr(MarkdownIt, "parse", counting_parse)
    result = pipeline.build(repo_project, "22:1")
    assert len(parsed) == len(result.issue.sections) == 4
    assert list((result.out_dir / "images").iterdir())  # the image step ran, on the same parse
    parsed.clear()
    (repo_project / "issues" / "22-1" / "04-politiker.md").write_text("Ändrad.\n", encoding="utf-8")  # a new parse
    project, issue = pipeline.load(repo_project, "22:1")
    for audience in (None, frozenset({"politiker"}), frozenset({"profession"})):
        checks.inspect(issue, pipeline.render(project, issue, audience))
    assert parsed == ["Ändrad.\n"]
