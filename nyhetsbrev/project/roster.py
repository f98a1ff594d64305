"""Read roster.toml: the groups and people shown at the foot of an issue, and its contact box."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..i18n import _
from .front_matter import shorten
from .models import Contact, Group, Member, Roster
from .toml_file import TableChecker, control_character, line_of, read_toml

ROSTER_FILE = "roster.toml"
_MEMBER_KEYS = {"name", "title", "organisation", "email", "phone"}


def load_roster(path: Path) -> Roster:
    """Read a roster.toml; a missing file is an empty roster. Every value is checked to be text where text is meant."""
    if not path.is_file():
        return Roster(path=None)
    data, text = read_toml(path)
    check = TableChecker(path, text)
    check.unknown(data, {"group", "contact"})
    groups_raw = data.get("group", [])
    if not isinstance(groups_raw, list):
        raise check.fail(_("'group' must be written as [[group]] tables"), "group")
    starts = [n for n, line in enumerate(text.split("\n"), start=1) if re.match(r"\s*\[\[\s*group\s*\]\]", line)]
    groups = [_group(raw, index, check, starts[index - 1] - 1 if index <= len(starts) else 0)
              for index, raw in enumerate(groups_raw, start=1)]
    contact = None
    if "contact" in data:
        raw = data["contact"]
        if not isinstance(raw, dict):
            raise check.fail(_("'contact' must be a table: [contact]"), "contact")
        check.unknown(raw, {"heading", "text", "emails", "phones"}, " in [contact]")
        after = (line_of(text, "contact") or 1) - 1
        contact = Contact(
            heading=check.text_value(raw, "heading", after=after) or "Kontakt",
            text=check.text_value(raw, "text", after=after) or "",
            emails=check.text_list(raw, "emails", " in [contact]", after=after),
            phones=check.text_list(raw, "phones", " in [contact]", after=after),
        )
    return Roster(groups=tuple(groups), contact=contact, path=path)


def _group(raw: Any, index: int, check: TableChecker, after: int) -> Group:
    """One [[group]] of a roster; `after` is the line before its header, so errors point into it."""
    if not isinstance(raw, dict):
        raise check.fail(_("group {index} is not a table").format(index=index), "group", after=after, hint=_("write each group as [[group]]"))
    heading = raw.get("heading")
    if heading is None or heading == "":
        raise check.fail(_("group {index} has no heading").format(index=index), "group", after=after, hint=_('add heading = "…" to each [[group]]'))
    heading = check.text_value(raw, "heading", after=after)
    where = _(" in group '{heading}'").format(heading=shorten(heading))
    check.unknown(raw, {"heading", "members"}, where, after=after)
    members_raw = raw.get("members", [])
    if not isinstance(members_raw, list):
        raise check.fail(_("'members'{where} must be a list").format(where=where), "members", after=after,
                         hint=_('write members = ["Strängnäs kommun"] or members = [{ name = "…", title = "…" }]'))
    members = []
    for member in members_raw:
        if isinstance(member, str):
            found = control_character(member)
            if found:  # a plain name has no 'name =' of its own to point at: the members line does
                raise check.fail(_("a member in group '{group}' holds {what}").format(group=shorten(heading), what=found[1]),
                                 "members", after=after, hint=_("delete it and write that part again"))
            member = {"name": member}
        if not isinstance(member, dict):
            raise check.fail(_("a member{where} is neither text nor a table").format(where=where), "members", after=after,
                             hint=_('write it as "Name" or { name = "…", title = "…" }'))
        check.unknown(member, _MEMBER_KEYS, f" for a member{where}", after=after)
        fields = {key: check.text_value(member, key, after=after) for key in _MEMBER_KEYS}
        if not any(fields.values()):
            raise check.fail(_("an empty member{where}").format(where=where), "members", after=after, hint=_("give it a name or remove it"))
        members.append(Member(**fields))
    return Group(heading=heading, members=tuple(members))
