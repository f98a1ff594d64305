"""The Swedish user guide (docs/sv/) shows real commands: each `nyhetsbrev …` in its command blocks names a command
and options that exist, and the pictures it shows are there."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
import typer

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "sv"
FENCE = re.compile(r"^\s*```[^\n]*\n(.*?)^\s*```", re.S | re.M)
CALL = re.compile(r"(?:^|(?<=[\s;&/(]))nyhetsbrev(?=\s|$)(.*)$")
END = re.compile(r";|&&|\*>|>>|\s>|\||2>&1")


def guide_commands() -> list[tuple[str, str]]:
    """(file:line, command line) for each nyhetsbrev call in the guide's command blocks."""
    found = []
    for page in sorted(GUIDE.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for block in FENCE.finditer(text):
            first = text.count("\n", 0, block.start(1)) + 1
            for offset, line in enumerate(block.group(1).splitlines()):
                for match in CALL.finditer(line):
                    rest = END.split(match.group(1), maxsplit=1)[0].rstrip()
                    if rest[-1:] in "\"'" and rest.count(rest[-1]) % 2:  # the end of a quoted command (Task Scheduler)
                        rest = rest[:-1]
                    found.append((f"{page.name}:{first + offset}", "nyhetsbrev" + rest))
    return found


def problems(line: str) -> list[str]:
    """What in one `nyhetsbrev …` line is not a command or option of the real program (empty: all of it is)."""
    from nyhetsbrev.cli import app

    command: click.Command = typer.main.get_command(app)
    words = shlex.split(line.replace("\\", "/"))[1:]
    wrong, index = [], 0
    while index < len(words):
        word = words[index]
        index += 1
        if word == "--":  # the end of the options: what follows are arguments (addresses)
            break
        if word.startswith("-"):
            name = word.split("=", 1)[0]
            option = next((p for p in command.params if isinstance(p, click.Option) and name in p.opts), None)
            if option is None:
                wrong.append(f"{command.name}: no option {name}")
            elif not option.is_flag and "=" not in word:
                index += 1  # its value
        elif isinstance(command, click.Group):
            sub = command.commands.get(word)
            if sub is None:
                wrong.append(f"no command {word!r}")
                break
            command = sub
    if isinstance(command, click.Group) and not wrong and not any(w in ("--help", "--version") for w in words):
        wrong.append(f"{line!r} names no command")
    return wrong


def test_the_checker_finds_a_made_up_command_and_option():
    assert problems("nyhetsbrev send 26:2 --list politiker --yes") == []
    assert problems("nyhetsbrev recipients unsubscribe -- --not-an-option@example.se") == []
    assert problems("nyhetsbrev --project 'C:/Users/Eva/Mitt nyhetsbrev' check 26:1") == []
    assert problems("nyhetsbrev send 26:2 --nope") == ["send: no option --nope"]
    assert problems("nyhetsbrev skicka 26:2") == ["no command 'skicka'"]


def test_every_command_in_the_guide_exists_with_its_options():
    commands = guide_commands()
    named = {line.split()[1] for _, line in commands if len(line.split()) > 1}
    assert len(commands) > 20 and {"init", "send", "publish", "serve", "doctor", "login", "inbox", "preview"} <= named
    wrong = [f"{where}: {line}: {', '.join(problems(line))}" for where, line in commands if problems(line)]
    assert wrong == []


@pytest.mark.parametrize("page", sorted(p.name for p in GUIDE.glob("*.md")))
def test_the_guide_links_pages_and_pictures_that_exist(page):
    text = (GUIDE / page).read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if not target.startswith(("http://", "https://", "mailto:", "images/")):
            assert (GUIDE / target).is_file(), f"{page}: {target}"
