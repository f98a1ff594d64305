"""Read an issue folder (issue.toml, sections, own roster) and the email templates from disk."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from . import front_matter
from .config import ROSTER_FILE, load_roster
from .toml_file import TableChecker, control_character, read_toml
from ..errors import ConfigError, ContentError, IssueNotFound
from ..i18n import _
from .models import Issue, IssueId, Project, Section

ISSUE_FILE = "issue.toml"
LAYOUTS = ("text", "timeline")
MAX_SECTION_BYTES = 4 * 2**20  # far beyond any newsletter section; bounds the work of one build
BUILTIN_TEMPLATES = Path(__file__).resolve().parents[1] / "render" / "templates"


def read_issue(project: Project, issue_id: IssueId) -> Issue:
    """Read and validate one issue folder of the project."""
    folder = project.issue_dir(issue_id)
    if not folder.is_dir():
        raise issue_not_found(project, issue_id)
    data, text = read_toml(folder / ISSUE_FILE)
    check = TableChecker(folder / ISSUE_FILE, text)
    check.unknown(data, {"subject", "date", "preheader", "title", "draft"})
    draft = data.get("draft", False)
    if not isinstance(draft, bool):
        raise check.fail("'draft' must be true or false (no quotes)", "draft")
    date = data.get("date")
    if date is not None and not isinstance(date, dt.date):
        raise check.fail("'date' must be a date such as 2022-04-01 (no quotes)", "date")
    if isinstance(date, dt.datetime):
        date = date.date()
    sections = tuple(
        read_section(path, project.root) for path in sorted(folder.glob("*.md")) if not path.name.startswith(".")
    )
    own_roster = folder / ROSTER_FILE
    return Issue(
        id=issue_id,
        folder=folder,
        subject=check.text_value(data, "subject") or "",
        date=date,
        preheader=check.text_value(data, "preheader") or "",
        title=check.text_value(data, "title"),
        sections=sections,
        draft=draft,
        roster=load_roster(own_roster) if own_roster.is_file() else project.roster,
    )


def issue_not_found(project: Project, issue_id: IssueId) -> IssueNotFound:
    """The error for an issue id without a folder, naming the issues that exist."""
    known = ", ".join(str(i) for i in list_issues(project)) or "none yet"
    return IssueNotFound(
        f"issue {issue_id} not found: no folder {project.issue_dir(issue_id)}",
        hint=f"issues in this project: {known}; create one with 'nyhetsbrev new {issue_id}'",
    )


def list_issues(project: Project) -> list[IssueId]:
    """The ids of every issue folder, oldest first."""
    if not project.issues_dir.is_dir():
        return []
    found = (IssueId.from_folder(p.name) for p in project.issues_dir.iterdir() if p.is_dir())
    return sorted(i for i in found if i is not None)


def read_section(path: Path, root: Path | None = None) -> Section:
    """Read one section file: optional front matter (see front_matter), then Markdown.

    root: the project folder; a section that is a link to a file outside it is refused.
    """
    text = _read_section_text(path, root)
    found = control_character(text.lstrip("\ufeff"))  # front matter too: its title and audience reach the email
    if found:
        raise ContentError(_("the text holds {what}").format(what=found[1]), path=path, line=found[0],
                           hint=_("delete it and write that part again"))
    front = front_matter.split(text, path)
    meta = front.values
    layout = meta.get("layout") or "text"
    if layout not in LAYOUTS:
        what = "'layout' must be one word" if isinstance(layout, list) else f"unknown layout '{front_matter.shorten(layout)}'"
        raise ContentError(what, path=path, line=front.lines.get("layout"), hint=f"use one of: {', '.join(LAYOUTS)}")
    for key in ("title", "audience"):  # a YAML escape ("\u202e") can write what the file itself does not hold
        value = meta.get(key) or ""
        found = next(filter(None, map(control_character, value if isinstance(value, list) else [value])), None)
        if found:
            raise ContentError(_("'{key}' holds {what}").format(key=key, what=found[1]), path=path,
                               line=front.lines.get(key), hint=_("delete it and write that part again"))
    audience = meta.get("audience") or []
    if isinstance(audience, str):
        audience = [audience]
    if not all(a.strip() for a in audience):
        raise ContentError(
            "'audience' must be a list of list names", path=path, line=front.lines.get("audience"),
            hint="write it as audience: [politiker, profession]",
        )
    title = meta.get("title")
    if isinstance(title, list):
        raise ContentError("'title' must be text, not a list", path=path, line=front.lines.get("title"),
                           hint="write it as title: Vad händer nu?")
    return Section(
        path=path, body=front.body, body_line=front.body_line, layout=layout,
        audience=tuple(a.strip() for a in audience), title=title or None, key_lines=tuple(front.lines.items()),
    )


def _read_section_text(path: Path, root: Path | None) -> str:
    """The text of a section file: a regular file inside the project, UTF-8, at most MAX_SECTION_BYTES."""
    hint = "make it a readable .md file"
    try:
        target = path.resolve()
        if root is not None and not target.is_relative_to(root.resolve()):
            raise ContentError(f"the section is a link to a file outside the project ({target})", path=path,
                               hint="copy the file into the issue folder instead of linking to it")
        if not target.exists():
            raise ContentError("cannot read the section: it is a link to a missing file", path=path, hint=hint)
        if not target.is_file():
            raise ContentError("cannot read the section: it is a folder or a device, not a file", path=path, hint=hint)
        with open(target, "rb") as file:
            data = file.read(MAX_SECTION_BYTES + 1)
    except OSError as exc:
        raise ContentError(f"cannot read the section: {exc.strerror}", path=path, hint=hint) from None
    except RuntimeError:  # Path.resolve on a loop of links (Python < 3.13)
        raise ContentError("cannot read the section: it is a loop of links", path=path, hint=hint) from None
    if len(data) > MAX_SECTION_BYTES:
        size = target.stat().st_size
        raise ContentError(
            f"the section is {size / 2**20:.1f} MB; a section may be at most {MAX_SECTION_BYTES // 2**20} MB", path=path,
            hint="split it into several sections, or link to a long document instead of pasting it",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ContentError("not UTF-8 text", path=path, hint="save the file as UTF-8") from None


def read_templates(project: Project) -> dict[str, tuple[str, Path]]:
    """Template sources by name: the project's templates/ override the built-in ones."""
    found: dict[str, tuple[str, Path]] = {}
    for folder in (BUILTIN_TEMPLATES, project.templates_dir):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                try:
                    found[path.name] = (path.read_text(encoding="utf-8"), path)
                except UnicodeDecodeError:
                    raise ConfigError("template is not UTF-8 text", path=path) from None
    return found
