"""`publish`: every issue that is not a draft as a static site (index.html, YY-N/index.html, feed.xml).

Incremental: a manifest in the output folder holds, per issue, a hash of everything its pages are made
from and the files they became; an issue whose hash is unchanged (and whose files are still there) is
not rendered again. Files are written atomically, with the umask's mode, and only when their bytes change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import feed, pipeline
from .. import __version__, writer
from ..errors import ContentError
from ..project import config, reader
from ..project.models import IssueId, Problem, Project
from ..render import archive as pages

MANIFEST = ".nyhetsbrev-manifest.json"
MANIFEST_FORMAT = 1
_CODE_DIRS = ("render", "publish")  # the code that shapes the pages: a new version re-renders everything


@dataclass
class PublishResult:
    """What publish wrote and found."""

    out_dir: Path
    published: list[IssueId] = field(default_factory=list)  # newest first
    rendered: list[IssueId] = field(default_factory=list)
    drafts: list[IssueId] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # files of issues that are gone or became drafts
    problems: list[Problem] = field(default_factory=list)


def default_out_dir(project: Project) -> Path:
    """build/archive/ in the project."""
    return project.build_dir / "archive"


def publish(root: Path, out_dir: Path | None = None, progress: Callable[[int, int], None] | None = None) -> PublishResult:
    """Write the archive of the project at root into out_dir (default build/archive/); see the module docstring."""
    project = config.load_project(root)
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir(project)
    result = PublishResult(out_dir=out_dir, problems=pipeline.archive_problems(project))
    templates = reader.read_templates(project)
    shared = _shared_digest(project, templates)
    old = _read_manifest(out_dir)
    ids = sorted(reader.list_issues(project), reverse=True)
    known: dict[str, dict] = {}
    for done, issue_id in enumerate(ids, start=1):
        folder = project.issue_dir(issue_id)
        digest = _digest_folder(folder, shared)
        before = old.get(issue_id.folder)
        if before and before["inputs"] == digest and _still_there(out_dir, before["files"]):
            record = before
        else:
            record = _render_issue(project, issue_id, templates, out_dir, digest)
            if not record["draft"]:
                result.rendered.append(issue_id)
        if record["draft"]:  # the manifest is published too: a draft leaves no trace in it
            result.drafts.append(issue_id)
        else:
            known[issue_id.folder] = record
            result.published.append(issue_id)
        if progress:
            progress(done, len(ids))
    entries = [_entry(issue_id, known[issue_id.folder]) for issue_id in result.published]
    result.problems += [Problem("warning", f"issue {e.id} has no date: add date = … to its issue.toml",
                                project.issue_dir(e.id) / reader.ISSUE_FILE) for e in entries if e.date is None]
    site = {
        "index.html": pages.render_index(project.settings, project.roster, entries, templates).encode("utf-8"),
        "feed.xml": _feed(project, entries, out_dir),
    }
    files = {name: _write(out_dir, name, data) for name, data in site.items()}
    for record in known.values():
        files.update(record["files"])
    result.removed = _remove_stale(out_dir, old, files)
    manifest = {"format": MANIFEST_FORMAT, "issues": known, "site": {name: files[name] for name in site}}
    _write(out_dir, MANIFEST, (json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8"))
    return result


def _render_issue(project: Project, issue_id: IssueId, templates, out_dir: Path, digest: str) -> dict:
    """Render one issue's pages (nothing for a draft) and write them with their images; its manifest record."""
    issue = reader.read_issue(project, issue_id)
    if issue.draft:
        return {"draft": True}
    record = {"inputs": digest, "draft": False, "subject": issue.subject, "preheader": issue.preheader,
              "date": issue.date.isoformat() if issue.date else None, "files": {}}
    checked = pipeline.check_issue(project, issue)
    if checked.errors:
        first = checked.errors[0]
        raise ContentError(f"issue {issue.id} cannot be published: {first.message}", path=first.path, line=first.line,
                           hint=f"run 'nyhetsbrev check {issue.id}', fix it, or mark it draft = true")
    for key, web_html in sorted(pipeline.web_versions(project, issue, checked.rendered).items()):
        name = f"{issue.id.folder}/{key}/index.html" if key else f"{issue.id.folder}/index.html"
        page = pages.issue_page(web_html, project.settings, templates, version=bool(key))
        record["files"][name] = _write(out_dir, name, page.encode("utf-8"))
    for image in sorted(checked.rendered.images, key=lambda image: image.href):
        name = f"{issue.id.folder}/{image.href}"
        record["files"][name] = _write(out_dir, name, image.data)
    return record


def _entry(issue_id: IssueId, record: dict) -> pages.ArchiveEntry:
    date = dt.date.fromisoformat(record["date"]) if record["date"] else None
    return pages.ArchiveEntry(id=issue_id, subject=record["subject"], preheader=record["preheader"], date=date,
                              folder=f"{issue_id.folder}/")


def _feed(project: Project, entries: list[pages.ArchiveEntry], out_dir: Path) -> bytes:
    """feed.xml: the newest issues with the HTML of their public pages as written; its id has the first year published."""
    items = []
    for entry in entries[:feed.FEED_ENTRIES]:
        page = (out_dir / entry.folder / "index.html").read_text(encoding="utf-8")
        items.append(feed.FeedEntry(entry, pages.feed_content(page, project.settings)))
    first_year = min((entry.id.year for entry in entries), default=dt.date.today().year % 100)
    return feed.atom_feed(project.settings, items, first_year)


def _file_record(data: bytes) -> list:
    return [hashlib.sha256(data).hexdigest(), len(data)]


def _write(out_dir: Path, name: str, data: bytes) -> list:
    """Write one file of the site unless it already holds these bytes; its manifest record."""
    writer.update_bytes(out_dir / name, data)
    return _file_record(data)


def _still_there(out_dir: Path, files: dict[str, list]) -> bool:
    """Every file an earlier run wrote for an issue is still in place, with its size."""
    for name, (_, size) in files.items():
        try:
            if (out_dir / name).stat().st_size != size:
                return False
        except OSError:
            return False
    return True


def _remove_stale(out_dir: Path, old: dict[str, dict], files: dict[str, list]) -> list[str]:
    """Delete the files an earlier run wrote that the site no longer has (never anything else)."""
    earlier = {name for record in old.values() for name in record["files"]}
    removed = sorted(earlier - set(files))
    for name in removed:
        path = out_dir / name
        path.unlink(missing_ok=True)
        for parent in path.parents:  # folders left empty go too
            if parent == out_dir or not parent.is_relative_to(out_dir) or any(parent.iterdir()):
                break
            parent.rmdir()
    return removed


def _read_manifest(out_dir: Path) -> dict[str, dict]:
    """The per-issue records of the last run that are whole; empty when there is none or it is from another version.

    A record that is damaged, or names a file outside the site, is left out: its issue is rendered again
    and nothing it names is ever removed.
    """
    try:
        data = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
        issues = data["issues"] if data.get("format") == MANIFEST_FORMAT else {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
    return {folder: record for folder, record in issues.items() if _whole(record)} if isinstance(issues, dict) else {}


def _whole(record) -> bool:
    """A manifest record as publish writes it, its files all inside the site."""
    try:
        if record["date"] is not None:
            dt.date.fromisoformat(record["date"])
        return (isinstance(record["inputs"], str) and record["draft"] is False and isinstance(record["subject"], str)
                and isinstance(record["preheader"], str)
                and all(_inside(name) and isinstance(size, int) for name, (_, size) in record["files"].items()))
    except (KeyError, TypeError, ValueError, AttributeError):
        return False


def _inside(name: str) -> bool:
    """A file name relative to the site that stays in it ('22-1/index.html'; never '../x', '/x' or 'C:x')."""
    return not any(mark in name for mark in ("\\", ":")) and all(part not in ("", ".", "..") for part in name.split("/"))


def _shared_digest(project: Project, templates) -> str:
    """A hash of what every page depends on: settings, roster, templates and the rendering code."""
    digest = hashlib.sha256(f"nyhetsbrev {__version__}\n".encode())
    for path in (project.root / config.SETTINGS_FILE, project.root / config.ROSTER_FILE):
        digest.update(path.name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"") + b"\0")
    for name, (source, _) in sorted(templates.items()):
        digest.update(name.encode() + b"\0" + source.encode("utf-8") + b"\0")
    package = Path(__file__).resolve().parents[1]
    for code in sorted(p for d in _CODE_DIRS for p in (package / d).glob("*.py")):
        digest.update(code.name.encode() + b"\0" + code.read_bytes() + b"\0")
    return digest.hexdigest()


def _digest_folder(folder: Path, shared: str) -> str:
    """A hash of every file in an issue folder (names and bytes) on top of the shared hash."""
    digest = hashlib.sha256(shared.encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
