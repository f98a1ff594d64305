"""Read an issue folder (issue.toml, sections, own roster) and the email templates from disk."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from .config import ROSTER_FILE, TableChecker, load_roster, read_toml
from ..errors import ConfigError, ContentError, IssueNotFound
from .models import Issue, IssueId, Project, Section

ISSUE_FILE = "issue.toml"
FRONT_MATTER_KEYS = ("layout", "audience", "title")
LAYOUTS = ("text", "timeline")
BUILTIN_TEMPLATES = Path(__file__).resolve().parents[1] / "render" / "templates"


def read_issue(project: Project, issue_id: IssueId) -> Issue:
    """Read and validate one issue folder of the project."""
    folder = project.issue_dir(issue_id)
    if not folder.is_dir():
        raise issue_not_found(project, issue_id)
    data, text = read_toml(folder / ISSUE_FILE)
    check = TableChecker(folder / ISSUE_FILE, text)
    check.unknown(data, {"subject", "date", "preheader", "title"})
    date = data.get("date")
    if date is not None and not isinstance(date, dt.date):
        raise check.fail("'date' must be a date such as 2022-04-01 (no quotes)", "date")
    if isinstance(date, dt.datetime):
        date = date.date()
    sections = tuple(read_section(path) for path in sorted(folder.glob("*.md")) if not path.name.startswith("."))
    own_roster = folder / ROSTER_FILE
    return Issue(
        id=issue_id,
        folder=folder,
        subject=check.text_value(data, "subject") or "",
        date=date,
        preheader=check.text_value(data, "preheader") or "",
        title=check.text_value(data, "title"),
        sections=sections,
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


def read_section(path: Path) -> Section:
    """Read one section file: optional YAML front matter, then Markdown."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ContentError("not UTF-8 text", path=path, hint="save the file as UTF-8") from None
    except OSError as exc:
        raise ContentError(f"cannot read the section: {exc.strerror}", path=path, hint="make it a readable .md file") from None
    meta, body, body_line = split_front_matter(text, path)
    unknown = [k for k in meta if k not in FRONT_MATTER_KEYS]
    layout = meta.get("layout", "text")
    if layout not in LAYOUTS:
        raise ContentError(
            f"unknown layout '{layout}'", path=path, line=_meta_line(text, "layout"),
            hint=f"use one of: {', '.join(LAYOUTS)}",
        )
    audience = meta.get("audience") or []
    if isinstance(audience, str):
        audience = [audience]
    if not isinstance(audience, list) or not all(isinstance(a, str) and a.strip() for a in audience):
        raise ContentError(
            "'audience' must be a list of list names", path=path, line=_meta_line(text, "audience"),
            hint="write it as audience: [politiker, profession]",
        )
    title = meta.get("title")
    return Section(
        path=path, body=body, body_line=body_line, layout=layout,
        audience=tuple(a.strip() for a in audience), title=str(title) if title else None,
        unknown_keys=tuple((k, _meta_line(text, k)) for k in unknown),
    )


def split_front_matter(text: str, path: Path) -> tuple[dict, str, int]:
    """(front matter, Markdown body, line where the body starts); YAML errors carry the file's line."""
    text = text.lstrip("\ufeff")
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text, 1
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() in ("---", "..."))
    except StopIteration:
        raise ContentError(
            "front matter is not closed", path=path, line=1,
            hint="end the front matter with a line of three dashes: ---",
        ) from None
    import yaml

    try:
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        # the construct that was left open (context) points nearer the mistake than where parsing stopped
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        raise ContentError(
            f"broken YAML front matter: {problem}", path=path, line=line,
            hint="fix the front matter between the --- lines (key: value)",
        ) from None
    if not isinstance(meta, dict):
        raise ContentError(
            "front matter must be key: value lines", path=path, line=2,
            hint="for example: layout: timeline",
        )
    return meta, "\n".join(lines[end + 1:]), end + 2


def _meta_line(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith(f"{key}:"):
            return number
    return None


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
