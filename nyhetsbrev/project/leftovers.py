"""What is still the starter's that `nyhetsbrev init` wrote: its example people and addresses, its example issue.

check warns of each, so that "Anna Exempel" and nyhetsbrev@example.se do not reach readers unnoticed;
send refuses to mail lists while From or Reply-To is still the starter's. The examples are read from
the starter files themselves, so this stays true when the starter changes.
"""

from __future__ import annotations

import re
import tomllib
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path

from . import front_matter
from .config import SETTINGS_FILE
from .models import Issue, Problem, Project, Roster, Settings
from .toml_file import line_in_file
from ..i18n import _

STARTER = Path(__file__).parent / "starter"
# nyhetsbrev.toml keys and the Settings fields that hold them
_SETTINGS = (("from", "sender"), ("reply_to", "reply_to"), ("unsubscribe_email", "unsubscribe_email"),
             ("name", "name"), ("organisation", "organisation"), ("list_id", "list_id"),
             ("archive_url", "archive_url"), ("unsubscribe_url", "unsubscribe_url"))
SENDER_KEYS = ("from", "reply_to")


@lru_cache(maxsize=1)
def _starter() -> tuple[dict[str, str], tuple[str, ...], frozenset[str], str]:
    """The starter's settings (commented-out examples too), roster values, section texts and subject pattern."""
    text = (STARTER / SETTINGS_FILE).read_text(encoding="utf-8")
    settings = {key: value for key, value in tomllib.loads(text).items() if isinstance(value, str)}
    for key, value in re.findall(r'(?m)^#\s*(\w+)\s*=\s*"([^"]*)"', text):  # '# archive_url = "…"' uncommented as it is
        settings.setdefault(key, value)
    roster = tomllib.loads((STARTER / "roster.toml").read_text(encoding="utf-8"))
    values = [value for group in roster.get("group", []) for member in group.get("members", [])
              for value in ((member,) if isinstance(member, str) else member.values())]
    values += roster.get("contact", {}).get("emails", [])
    sections = frozenset(_plain(front_matter.split(path.read_text(encoding="utf-8"), path).body)
                         for path in (STARTER / "issue").glob("*.md"))
    issue = tomllib.loads((STARTER / "issue" / "issue.toml").read_text(encoding="utf-8").replace("{date}", "2000-01-01"))
    return settings, tuple(dict.fromkeys(values)), sections, issue.get("subject", "")


def _plain(text: str) -> str:
    return " ".join(text.split())


def _same(key: str, value: str | None, example: str | None) -> bool:
    if not value or not example:
        return False
    if key in ("from", "reply_to", "unsubscribe_email"):  # the address counts, whatever name goes with it
        return parseaddr(value)[1].lower() == parseaddr(example)[1].lower()
    return value.strip().lower() == example.strip().lower()


def settings_leftovers(settings: Settings, keys=tuple(key for key, field in _SETTINGS)) -> list[str]:
    """The nyhetsbrev.toml keys (among `keys`) that still hold the starter's example."""
    examples = _starter()[0]
    fields = dict(_SETTINGS)
    return [key for key in keys if _same(key, getattr(settings, fields[key]), examples.get(key))]


def problems(project: Project) -> list[Problem]:
    """A warning about the starter's examples still in nyhetsbrev.toml."""
    keys = settings_leftovers(project.settings)
    if not keys:
        return []
    path = Path(project.root) / SETTINGS_FILE
    return [Problem("warning", _(
        "{file} still has the examples that 'nyhetsbrev init' wrote in {keys}: write your newsletter's own "
        "(sending to lists is refused while from or reply_to is the example)").format(
            file=SETTINGS_FILE, keys=", ".join(keys)), path, line_in_file(path, keys[0]))]


def issue_problems(issue: Issue) -> list[Problem]:
    """Warnings about the starter's example people in the issue's roster, and about the example issue itself."""
    return roster_problems(issue.roster) + _issue(issue)


def roster_problems(roster: Roster) -> list[Problem]:
    """A warning naming the starter's example people and addresses still in a roster."""
    examples = {value.lower() for value in _starter()[1]}
    values = [member_value for group in roster.groups for member in group.members
              for member_value in (member.name, member.organisation, member.email)]
    values += list(roster.contact.emails) if roster.contact else []
    left = list(dict.fromkeys(value for value in values if value and value.lower() in examples))
    if not left or roster.path is None:
        return []
    try:
        lines = roster.path.read_text(encoding="utf-8").splitlines()
        line = next((n for n, text in enumerate(lines, start=1) if left[0] in text), None)
    except (OSError, UnicodeDecodeError):
        line = None
    return [Problem("warning", _(
        "{file} still has the example people of 'nyhetsbrev init' ({names}): write the people behind your "
        "newsletter instead; every email shows them").format(file=roster.path.name, names=", ".join(left)),
        roster.path, line)]


def _issue(issue: Issue) -> list[Problem]:
    sections, subject = _starter()[2:]
    same = [section for section in issue.sections if _plain(section.body) in sections]
    starter_subject = subject.replace("{issue}", str(issue.id))
    if not same and issue.subject != starter_subject:
        return []
    where = same[0].path if same else issue.folder / "issue.toml"
    what = ", ".join(section.path.name for section in same) or "issue.toml"
    return [Problem("warning", _(
        "this is still the example issue that 'nyhetsbrev init' wrote ({what}): write your own text, "
        "or delete the folder").format(what=what), where, same[0].body_line if same else None)]
