"""Create a new project (init) or a new issue seeded from the last one (new)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from . import config, reader
from ..errors import IssueNotFound, ProjectExists
from .models import TEXT_PLACEHOLDER, IssueId
from ..writer import write_bytes, write_text
from ..i18n import _

STARTER = Path(__file__).parent / "starter"


@dataclass(frozen=True)
class Created:
    """What init or new made."""

    root: Path
    issue: IssueId
    folder: Path
    files: tuple[Path, ...]


def init_project(directory: Path, today: dt.date | None = None) -> Created:
    """Make a working project in directory: settings, roster, an example issue and .gitignore."""
    today = today or dt.date.today()
    root = Path(directory).expanduser().resolve()
    if (root / config.SETTINGS_FILE).exists():
        raise ProjectExists(
            _("{root} already holds a nyhetsbrev project").format(root=root), path=root / config.SETTINGS_FILE,
            hint=_("choose an empty folder, or work in the existing project"),
        )
    issue_id = IssueId(today.year % 100, 1)
    starter = (root / config.ROSTER_FILE, root / "issues" / issue_id.folder)
    existing = [path for path in starter if path.exists() or path.is_symlink()]
    if existing:
        names = " and ".join(str(path.relative_to(root)) for path in existing)
        raise ProjectExists(_("the folder already has {names}").format(names=names), path=root,
                            hint=_("choose an empty folder, or move the file away first; nothing was changed"))
    root.mkdir(parents=True, exist_ok=True)
    for name in (config.SETTINGS_FILE, config.ROSTER_FILE):
        _create(root / name, (STARTER / name).read_bytes())
    _extend_gitignore(root / ".gitignore")
    folder = root / "issues" / issue_id.folder
    files = []
    for source in sorted((STARTER / "issue").rglob("*")):
        if source.is_dir():
            continue
        dest = folder / source.relative_to(STARTER / "issue")
        dest.parent.mkdir(parents=True, exist_ok=True)
        data = source.read_bytes()
        if source.name == reader.ISSUE_FILE:
            text = data.decode("utf-8").replace("{issue}", str(issue_id)).replace("{date}", today.isoformat())
            data = text.encode("utf-8")
        _create(dest, data)
        files.append(dest)
    return Created(root=root, issue=issue_id, folder=folder, files=tuple(files))


def _create(path: Path, data: bytes) -> None:
    """Write a new file; an existing one is never overwritten (it may have appeared since the check)."""
    try:
        with open(path, "xb") as file:
            file.write(data)
    except FileExistsError:
        raise ProjectExists(_("{path} already exists").format(path=path), path=path, hint=_("choose an empty folder")) from None


def _extend_gitignore(path: Path) -> None:
    """Create .gitignore, or add the starter's lines it lacks (recipients are personal data and must stay out of git)."""
    wanted = (STARTER / "gitignore").read_text(encoding="utf-8")
    if not path.exists():
        _create(path, wanted.encode("utf-8"))
        return
    data = path.read_bytes()  # kept byte for byte, whatever its encoding
    have = {line.strip() for line in data.decode("utf-8", errors="replace").splitlines()}
    missing = [line for line in wanted.splitlines() if line.strip() and line.strip() not in have]
    if missing:
        ending = b"" if data.endswith(b"\n") or not data else b"\n"
        write_bytes(path, data + ending + ("\n".join(missing) + "\n").encode("utf-8"))


def next_issue_id(existing: list[IssueId], today: dt.date) -> IssueId:
    """The id after the newest issue: the next number this year, or YY:1 in a new year."""
    year = today.year % 100
    this_year = [i for i in existing if i.year == year]
    return IssueId(year, max(i.number for i in this_year) + 1) if this_year else IssueId(year, 1)


def new_issue(root: Path, issue: str | None = None, today: dt.date | None = None) -> Created:
    """Make issues/YY-N/ with the section files and front matter of the last issue, bodies to fill in."""
    today = today or dt.date.today()
    project = config.load_project(root)
    existing = reader.list_issues(project)
    issue_id = IssueId.parse(issue) if issue else next_issue_id(existing, today)
    folder = project.issue_dir(issue_id)
    if folder.exists():
        raise ProjectExists(
            _("issue {issue_id} already exists").format(issue_id=issue_id), path=folder,
            hint=_("edit it, or run 'nyhetsbrev new' for the next number").format(),
        )
    previous = [i for i in existing if i < issue_id] or existing
    if not previous:
        raise IssueNotFound(
            _("the project has no issue to take the shape from"), path=project.issues_dir,
            hint=_("run 'nyhetsbrev init' in a new folder to get an example issue"),
        )
    last = reader.read_issue(project, previous[-1])
    files = [folder / reader.ISSUE_FILE]
    subject = last.subject.replace(str(last.id), str(issue_id)) if last.subject else f"Nyhetsbrev {issue_id}"
    write_text(files[0], "\n".join([
        f"subject = {toml_string(subject)}",
        f"date = {today.isoformat()}",
        'preheader = ""  # the line an inbox shows after the subject',
        "",
    ]))
    for section in last.sections:
        dest = folder / section.path.name
        write_text(dest, _skeleton(section))
        files.append(dest)
    (folder / "images").mkdir(exist_ok=True)
    return Created(root=project.root, issue=issue_id, folder=folder, files=tuple(files))


def _skeleton(section) -> str:
    """A section file with the old front matter and headings, and a line to replace under each."""
    text = section.path.read_text(encoding="utf-8").lstrip("\ufeff")
    lines = text.split("\n")[: section.body_line - 1]  # the front matter block, as written
    for line in section.body.splitlines():
        if line.startswith("#"):
            lines.extend([line, "", TEXT_PLACEHOLDER, ""])
    if not any(line.startswith("#") for line in section.body.splitlines()):
        lines.extend([TEXT_PLACEHOLDER, ""])
    return "\n".join(lines).rstrip() + "\n"


_TOML_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_string(value: str) -> str:
    """A TOML basic string holding exactly value (quotes, backslashes, newlines and other controls escaped)."""
    return '"' + "".join(
        _TOML_ESCAPES.get(ch) or (f"\\u{ord(ch):04x}" if ord(ch) < 0x20 or ord(ch) == 0x7F else ch) for ch in value
    ) + '"'
