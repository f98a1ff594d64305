"""Values from files and the database reach the terminal with their control characters replaced (finding 7)."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys

import pytest

from nyhetsbrev.cli.app import escape, terminal_json, terminal_lines
from tests.fixtures import REPO, one_line_error

HOSTILE = "\x1b]0;pwned\x07Anna\x1b[2J\x9b31m\x7f Berg\ttab"
CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def test_escape_replaces_every_control_character_except_tab():
    shown = escape(HOSTILE)
    assert not CONTROLS.search(shown)
    assert shown == "␛]0;pwned␇Anna␛[2J�31m␡ Berg\ttab"
    assert escape("[bold]Åsa Öberg[/]") == "\\[bold]Åsa Öberg\\[/]"


def test_terminal_json_keeps_the_data_and_drops_raw_controls():
    text = terminal_json(json.dumps({"name": HOSTILE}, ensure_ascii=False))
    assert not CONTROLS.search(text) and json.loads(text) == {"name": HOSTILE}


def test_terminal_lines_keeps_line_breaks():
    assert terminal_lines("a\x1b[2J;b\r\nc\n") == "a␛[2J;b\nc\n"


def _add_hostile_person(cli):
    result = cli("recipients", "add", "anna@example.org", "--list", "Styrgrupp", "--name", HOSTILE,
                 "--organisation", "Kommun\x1b[8m")
    assert result.exit_code == 0, result.output


def test_recipients_list_shows_a_hostile_name_harmlessly(cli):
    _add_hostile_person(cli)
    table = cli("recipients", "list", env={"COLUMNS": "250"})
    assert table.exit_code == 0 and not CONTROLS.search(table.stdout.replace("\n", ""))
    assert "␛]0;pwned␇Anna" in table.stdout
    as_json = cli("recipients", "list", "--format", "json")
    assert not CONTROLS.search(as_json.stdout.replace("\n", ""))
    assert json.loads(as_json.stdout)[0]["name"] == HOSTILE  # the data itself is untouched
    export = cli("recipients", "export", "anna@example.org")
    assert export.exit_code == 0 and not CONTROLS.search(export.stdout.replace("\n", ""))


def test_csv_to_a_terminal_is_made_harmless_and_to_a_file_stays_exact(cli):
    _add_hostile_person(cli)
    main, child = pty.openpty()
    try:
        process = subprocess.run([sys.executable, "-m", "nyhetsbrev", "recipients", "list", "--format", "csv"],
                                 stdout=child, stderr=subprocess.PIPE, timeout=60, cwd=REPO)
        os.close(child)
        child = None
        assert process.returncode == 0, process.stderr
        shown = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the terminal closed
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(main)
        if child is not None:
            os.close(child)
    text = shown.decode("utf-8").replace("\r\n", "\n")
    assert "␛]0;pwned␇Anna" in text and not CONTROLS.search(text.replace("\n", ""))
    piped = subprocess.run([sys.executable, "-m", "nyhetsbrev", "recipients", "list", "--format", "csv"],
                           capture_output=True, text=True, timeout=60, cwd=REPO)
    assert HOSTILE.replace("\t", "") in piped.stdout.replace("\t", "")  # redirected output is data: exact


@pytest.mark.parametrize("where", ["issue.toml", "layout", "body"])
def test_messages_quoting_a_file_show_no_control_characters(cli, repo_project, where):
    folder = repo_project / "issues" / "22-1"
    if where == "issue.toml":
        with open(folder / "issue.toml", "a", encoding="utf-8") as file:
            file.write('"\\u001b]0;pwned\\u0007" = 1\n')
    elif where == "layout":
        (folder / "04-x.md").write_text('---\nlayout: "tid\\e[2Jlinje"\n---\nText.\n', encoding="utf-8")
    else:
        (folder / "04-x.md").write_text("---\ntitle: T\n---\nText.\n\nOch\x1b[2J\n", encoding="utf-8")
    result = cli("--project", repo_project, "check", "22:1")
    assert "Traceback" not in result.output and not CONTROLS.search(result.output.replace("\n", ""))
    if where == "issue.toml":
        assert "unknown setting '␛]0;pwned␇'" in one_line_error(result)
    elif where == "layout":
        assert "unknown layout 'tid␛[2Jlinje'" in one_line_error(result)
    else:
        assert f"{folder / '04-x.md'}:6: the text holds an invisible control character (U+001B)" in one_line_error(result)


@pytest.mark.parametrize("output", ["csv", "table"])
def test_output_into_a_pipe_closed_early_ends_quietly(output):
    """`nyhetsbrev recipients list -f csv | head`: the reader stops after one line; no error line, status 0 or 141."""
    from tests.send_helpers import add_people

    add_people(2500, ["politiker"])  # far more than a pipe holds: the writing goes on after the reader has gone
    process = subprocess.Popen([sys.executable, "-m", "nyhetsbrev", "recipients", "list", "--format", output],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    try:
        first = process.stdout.readline()
        process.stdout.close()  # as head does once it has its lines
        errors = process.stderr.read().decode("utf-8", "replace")
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert first.strip(), "nothing was written"
    assert errors == "" and code in (0, 141), (code, errors)
