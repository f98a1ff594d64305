"""Read an issue folder (issue.toml, sections, own roster) and the email templates from disk."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from . import front_matter
from .roster import ROSTER_FILE, load_roster
from .toml_file import TableChecker, control_character, read_toml
from ..errors import ConfigError, ContentError, IssueFolderError, IssueNotFound
from ..i18n import _
from .models import Issue, IssueId, Project, Section

ISSUE_FILE = "issue.toml"
LAYOUTS = ("text", "timeline")
MAX_SECTION_BYTES = 4 * 2**20  # far beyond any newsletter section; bounds the work of one build
BUILTIN_TEMPLATES = Path(__file__).resolve().parents[1] / "render" / "templates"


def read_issue(project: Project, issue_id: IssueId) -> Issue:
    """Read and validate one issue folder of the project."""
    folder = project.issue_dir(issue_id)
    problem = _folder_problem(project, issue_id, issue_folders(project).get(issue_id, []))
    if problem is not None:
        raise problem
    if not folder.is_dir():
        raise issue_not_found(project, issue_id)
    data, text = read_toml(folder / ISSUE_FILE)
    check = TableChecker(folder / ISSUE_FILE, text)
    check.unknown(data, {"subject", "date", "preheader", "title", "draft"})
    draft = data.get("draft", False)
    if not isinstance(draft, bool):
        raise check.fail(_("'draft' must be true or false (no quotes)"), "draft")
    date = data.get("date")
    if date is not None and not isinstance(date, dt.date):
        raise check.fail(_("'date' must be a date such as 2022-04-01 (no quotes)"), "date")
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


def issue_not_found(project: Project, issue_id: IssueId) -> IssueNotFound | IssueFolderError:
    """The error for an issue id without a folder, naming the issues that exist (or the folder misnamed for it)."""
    folders = issue_folders(project)
    problem = _folder_problem(project, issue_id, folders.get(issue_id, []))
    if problem is not None:
        return problem
    known = ", ".join(str(i) for i, found in sorted(folders.items()) if _folder_problem(project, i, found) is None)
    return IssueNotFound(
        _("issue {issue_id} not found: no folder {issue_dir}").format(issue_id=issue_id, issue_dir=project.issue_dir(issue_id)),
        hint=_("issues in this project: {value}; create one with 'nyhetsbrev new {issue_id}'").format(value=known or _('none yet'), issue_id=issue_id),
    )


def list_issues(project: Project) -> list[IssueId]:
    """The ids of every issue folder, oldest first; a folder misnamed or naming an issue twice is an error."""
    folders = issue_folders(project)
    for issue_id, found in sorted(folders.items()):
        problem = _folder_problem(project, issue_id, found)
        if problem is not None:
            raise problem
    return sorted(folders)


_FOLDER_NAME = re.compile(r"(?:20)?(\d{2})-(\d{1,6})")  # 26-1, and as people also write it: 26-01, 2026-1


def issue_folders(project: Project) -> dict[IssueId, list[Path]]:
    """Each issue and the folders in issues/ that name it, canonical (26-1) or not (26-01, 2026-1)."""
    found: dict[IssueId, list[Path]] = {}
    if not project.issues_dir.is_dir():
        return found
    for path in sorted(project.issues_dir.iterdir()):
        match = _FOLDER_NAME.fullmatch(path.name)
        if match and 0 < int(match.group(2)) < 1000 and path.is_dir():
            found.setdefault(IssueId(int(match.group(1)), int(match.group(2))), []).append(path)
    return found


def _folder_problem(project: Project, issue_id: IssueId, folders: list[Path]) -> IssueFolderError | None:
    """Why the folders naming one issue cannot be read as it: two of them, or one not named YY-N; None when fine."""
    if len(folders) > 1:
        names = " and ".join(f"'{path.name}'" for path in folders)
        return IssueFolderError(
            _("the folders {names} both name issue {issue}, so one of them would be left out").format(
                names=names, issue=issue_id),
            path=project.issues_dir,
            hint=_("keep one folder for the issue, named '{folder}': move what the other holds into it").format(
                folder=issue_id.folder))
    if folders and folders[0].name != issue_id.folder:
        return IssueFolderError(
            _("the folder '{name}' is named unlike issue folders: issue {issue}'s folder is named '{folder}'").format(
                name=folders[0].name, issue=issue_id, folder=issue_id.folder),
            path=folders[0], hint=_("rename it to '{folder}'").format(folder=issue_id.folder))
    return None


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
        what = _("'layout' must be one word") if isinstance(layout, list) else _("unknown layout '{layout}'").format(
            layout=front_matter.shorten(layout))
        raise ContentError(what, path=path, line=front.lines.get("layout"), hint=_("use one of: {join}").format(join=', '.join(LAYOUTS)))
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
            _("'audience' must be a list of list names"), path=path, line=front.lines.get("audience"),
            hint=_("write it as audience: [politiker, profession]"),
        )
    title = meta.get("title")
    if isinstance(title, list):
        raise ContentError(_("'title' must be text, not a list"), path=path, line=front.lines.get("title"),
                           hint=_("write it as title: Vad händer nu?"))
    return Section(
        path=path, body=front.body, body_line=front.body_line, layout=layout,
        audience=tuple(a.strip() for a in audience), title=title or None, key_lines=tuple(front.lines.items()),
    )


def _read_section_text(path: Path, root: Path | None) -> str:
    """The text of a section file: a regular file inside the project, UTF-8, at most MAX_SECTION_BYTES."""
    hint = _("make it a readable .md file")
    try:
        target = path.resolve()
        if root is not None and not target.is_relative_to(root.resolve()):
            raise ContentError(_("the section is a link to a file outside the project ({target})").format(target=target), path=path,
                               hint=_("copy the file into the issue folder instead of linking to it"))
        if not target.exists():
            raise ContentError(_("cannot read the section: it is a link to a missing file"), path=path, hint=hint)
        if not target.is_file():
            raise ContentError(_("cannot read the section: it is a folder or a device, not a file"), path=path, hint=hint)
        with open(target, "rb") as file:
            data = file.read(MAX_SECTION_BYTES + 1)
    except OSError as exc:
        raise ContentError(_("cannot read the section: {strerror}").format(strerror=exc.strerror), path=path, hint=hint) from None
    except RuntimeError:  # Path.resolve on a loop of links (Python < 3.13)
        raise ContentError(_("cannot read the section: it is a loop of links"), path=path, hint=hint) from None
    if len(data) > MAX_SECTION_BYTES:
        size = target.stat().st_size
        raise ContentError(
            _("the section is {value:.1f} MB; a section may be at most {value2} MB").format(value=size / 2**20, value2=MAX_SECTION_BYTES // 2**20), path=path,
            hint=_("split it into several sections, or link to a long document instead of pasting it"),
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ContentError(_("not UTF-8 text"), path=path, hint=_("save the file as UTF-8")) from None


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
                    raise ConfigError(_("template is not UTF-8 text"), path=path) from None
    return found
