"""Characters that cannot be shown (U+FFFE, direction overrides, line separators, C1 controls) are an error at their
file and line, never blamed on a built-in template; the email's aria-label shows the subject as written."""

from __future__ import annotations

import html
import re
import unicodedata

import pytest

from tests.fixtures import one_line_error

UNSHOWABLE = {
    "\ufffe": "a character that is not text (U+FFFE)",
    "\U0010ffff": "a character that is not text (U+10FFFF)",
    "\u202e": "an invisible direction override (U+202E)",
    "\u2067": "an invisible direction isolate (U+2067)",
    "\u2028": "a line separator (U+2028)",
    "\u2029": "a paragraph separator (U+2029)",
    "\u0085": "an invisible control character (U+0085)",
}


def _check(cli, root):
    result = cli("--project", root, "check", "22:1")
    assert "Traceback" not in result.output and "email.mjml.j2" not in result.output and "template" not in result.output
    return one_line_error(result)


@pytest.mark.parametrize("char", UNSHOWABLE, ids=[f"U+{ord(c):04X}" for c in UNSHOWABLE])
def test_in_a_section_it_is_an_error_at_the_section_line(cli, repo_project, char):
    section = repo_project / "issues/22-1/04-extra.md"
    section.write_text(f"---\ntitle: Extra\n---\n## Rubrik\n\nEn rad med{char}tecken.\n", encoding="utf-8")
    assert f"{section}:6: the text holds {UNSHOWABLE[char]}" in _check(cli, repo_project)


def test_in_a_front_matter_value_written_as_an_escape_it_is_an_error_at_its_line(cli, repo_project):
    section = repo_project / "issues/22-1/04-extra.md"
    section.write_text('---\nlayout: text\ntitle: "Till \\u202Epolitiker"\n---\nText.\n', encoding="utf-8")
    assert f"{section}:3: 'title' holds an invisible direction override (U+202E)" in _check(cli, repo_project)


@pytest.mark.parametrize("key", ["subject", "preheader"])
@pytest.mark.parametrize("char", ["\u202e", "\u2028", "\u2066", "\ufffe"])
def test_in_the_subject_or_preheader_it_is_an_error_at_its_line(cli, repo_project, key, char):
    toml = repo_project / "issues/22-1/issue.toml"
    lines = toml.read_text(encoding="utf-8").splitlines()
    number = next(n for n, line in enumerate(lines, start=1) if line.startswith(f"{key} ="))
    lines[number - 1] = f'{key} = "Nyhetsbrev \\u{ord(char):04x}22:1"'
    toml.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert f"{toml}:{number}: '{key}' holds" in _check(cli, repo_project)


@pytest.mark.parametrize("value, down, expected", [
    ('{ name = "Anna \u202eLund", title = "Rektor" }', 5, "'name' holds an invisible direction override (U+202E)"),
    ('"Lunds \u2028kommun"', 4, "a member in group 'Extra' holds a line separator (U+2028)"),
])
def test_in_the_roster_it_is_an_error_at_its_line(cli, repo_project, value, down, expected):
    roster = repo_project / "roster.toml"
    text = roster.read_text(encoding="utf-8").rstrip("\n")
    roster.write_text(text + f'\n\n[[group]]\nheading = "Extra"\nmembers = [\n  {value},\n]\n', encoding="utf-8")
    line = text.count("\n") + 1 + down
    assert f"{roster}:{line}: {expected}" in _check(cli, repo_project)


def test_in_the_roster_contact_addresses_it_is_an_error(cli, repo_project):
    roster = repo_project / "roster.toml"
    text = roster.read_text(encoding="utf-8")
    assert "emails = [" in text
    roster.write_text(text.replace('emails = [', 'emails = ["nils\\u2066@example.se", ', 1), encoding="utf-8")
    line = next(n for n, row in enumerate(roster.read_text(encoding="utf-8").splitlines(), start=1) if "emails" in row)
    assert f"{roster}:{line}: 'emails' holds an invisible direction isolate (U+2066)" in _check(cli, repo_project)


def test_the_aria_label_reads_the_subject_as_written(cli, repo_project):
    subject = "Nyhetsbrev 22:1 – Förskola\\skola, fa\u0308der och ma\u030ar 👨\u200d👩\u200d👧 ­mjuk"
    toml = repo_project / "issues/22-1/issue.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(re.sub(r'(?m)^subject = .*$', lambda _: 'subject = "' + subject.replace("\\", "\\\\") + '"', text),
                    encoding="utf-8")
    assert cli("--project", repo_project, "build", "22:1").exit_code == 0
    page = (repo_project / "build/22-1/email.html").read_text(encoding="utf-8")
    [label] = re.findall(r'aria-label="([^"]*)"', page)
    assert "\\u{" not in label and "\\\\" not in label
    assert html.unescape(label) == unicodedata.normalize("NFC", subject)
