"""`publish`: every issue that is not a draft as a static site (index.html, YY-N/index.html, feed.xml).

Incremental: a manifest in the output folder holds, per issue, a hash of everything its pages are made
from and the files they became; an issue whose hash is unchanged (and whose files are still there) is
not rendered again. Files are written atomically, with the umask's mode, and only when their bytes change.

An audience version's page lives at YY-N/<version>-<HMAC>/ (store.tokens.web_version_folder, with the key next
to the recipients database): linked from no other page, and named in the manifest only by a keyed hash, as are
the images only such versions show. Without a key yet, those pages are left out with a warning. Nothing outside
the output folder is written or removed (site_folder).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import feed, pipeline, site_folder
from .. import __version__
from ..errors import ConfigError, ContentError, PublishError, StoreError
from ..i18n import _
from ..project import config, leftovers, reader
from ..project.models import IssueId, Problem, Project
from ..render import archive as pages
from ..render.issue import audience_only_images
from ..store.db import default_db_path
from ..store.tokens import default_key_path, read_key, web_version_folder

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
    db_path = default_db_path(project.root)
    key_path = default_key_path(db_path)
    out_dir = site_folder.checked_out_dir(project, Path(out_dir) if out_dir is not None else default_out_dir(project),
                                          private=[db_path, key_path])
    site_folder.target(out_dir, MANIFEST)  # a link or a device in its place is refused before anything is written
    result = PublishResult(out_dir=out_dir, problems=pipeline.archive_problems(project) + leftovers.problems(project)
                           + leftovers.roster_problems(project.roster) + pipeline.accessibility_problems(project))
    for problem in (p for p in result.problems if p.level == "error"):  # an archive_url no link could use
        raise ConfigError(problem.message, path=problem.path, line=problem.line)
    key = _key(key_path)
    templates = reader.read_templates(project)
    shared = _shared_digest(project, templates, key)
    old = _read_manifest(out_dir)
    old_names = {folder: _located(out_dir, folder, record, key) for folder, record in old.items()}
    ids = sorted(reader.list_issues(project), reverse=True)
    known: dict[str, dict] = {}
    for done, issue_id in enumerate(ids, start=1):
        folder = project.issue_dir(issue_id)
        digest = _digest_folder(folder, shared)
        before = old.get(issue_id.folder)
        if before and before["inputs"] == digest and _still_there(out_dir, before, old_names[issue_id.folder]):
            record = {**before, "files": old_names[issue_id.folder][0], "hidden": old_names[issue_id.folder][1]}
        else:
            record = _render_issue(project, issue_id, templates, out_dir, digest, key)
            if not record["draft"]:
                result.rendered.append(issue_id)
        if record["draft"]:  # the manifest is published too: a draft leaves no trace in it
            result.drafts.append(issue_id)
        else:
            known[issue_id.folder] = record
            result.published.append(issue_id)
            if record.get("left_out"):
                result.problems.append(_no_key_yet(issue_id, key_path))
        if progress:
            progress(done, len(ids))
    entries = [_entry(issue_id, known[issue_id.folder]) for issue_id in result.published]
    result.problems += [Problem("warning", _("issue {id} has no date: add date = … to its issue.toml").format(id=e.id),
                                project.issue_dir(e.id) / reader.ISSUE_FILE) for e in entries if e.date is None]
    site = {
        "index.html": pages.render_index(project.settings, project.roster, entries, templates).encode("utf-8"),
        "feed.xml": _feed(project, entries, out_dir),
        pages.STATEMENT_PAGE: pages.render_statement(project.settings, templates).encode("utf-8"),
    }
    files = {name: site_folder.write(out_dir, name, data) for name, data in site.items()}
    for record in known.values():
        files.update(record["files"])
    earlier = {name for public, hidden in old_names.values() for name in (*public, *hidden)}
    result.removed = [name for name in sorted(earlier - set(files)) if site_folder.remove(out_dir, name)]
    manifest = {"format": MANIFEST_FORMAT, "issues": {folder: _stored(record, key) for folder, record in known.items()},
                "site": {name: files[name] for name in site}}
    site_folder.write(out_dir, MANIFEST,
                      (json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8"))
    return result


def _key(path: Path) -> bytes | None:
    """The newsletter's key when there is one; publish never makes it (that would write outside its folder)."""
    try:
        return read_key(path)
    except OSError as exc:
        raise StoreError(_("cannot read the key file: {reason}").format(reason=exc.strerror), path=path,
                         hint=_("restore it from your backup, or point NYHETSBREV_KEY_FILE at it")) from None


def _no_key_yet(issue_id: IssueId, key_path: Path) -> Problem:
    return Problem("warning", _(
        "issue {issue} has sections for some lists only, but there is no key yet ({path}): the web pages of those "
        "versions are left out, since their addresses are made with it; the first 'nyhetsbrev send' (also with "
        "--dry-run) makes the key, then run publish again").format(issue=issue_id, path=key_path))


def _render_issue(project: Project, issue_id: IssueId, templates, out_dir: Path, digest: str, key: bytes | None) -> dict:
    """Render one issue's pages (nothing for a draft) and write them with their images; its record for this run.

    "files" maps every name written to its [sha256, size]; "hidden" holds the names the manifest must not show.
    """
    issue = reader.read_issue(project, issue_id)
    if issue.draft:
        return {"draft": True}
    record = {"inputs": digest, "draft": False, "subject": issue.subject, "preheader": issue.preheader,
              "date": issue.date.isoformat() if issue.date else None, "files": {}, "hidden": set(), "left_out": False}
    checked = pipeline.check_issue(project, issue)
    if checked.errors:
        first = checked.errors[0]
        raise ContentError(_("issue {id} cannot be published: {message}").format(id=issue.id, message=first.message), path=first.path, line=first.line,
                           hint=_("run 'nyhetsbrev check {id}', fix it, or mark it draft = true").format(id=issue.id))
    for version, web_html in sorted(pipeline.web_versions(project, issue, checked.rendered).items()):
        if version and key is None:
            record["left_out"] = True
            continue
        name = (f"{issue.id.folder}/{web_version_folder(key, issue.id.folder, version)}/index.html" if version
                else f"{issue.id.folder}/index.html")
        page = pages.issue_page(web_html, project.settings, templates, version=bool(version))
        record["files"][name] = site_folder.write(out_dir, name, page.encode("utf-8"))
        if version:
            record["hidden"].add(name)
    private = audience_only_images(issue, checked.rendered.images)
    for image in sorted(checked.rendered.images, key=lambda image: image.href):
        if image.name in private and key is None:
            continue
        name = f"{issue.id.folder}/{image.href}"
        record["files"][name] = site_folder.write(out_dir, name, image.data)
        if image.name in private:
            record["hidden"].add(name)
    return record


def _stored(record: dict, key: bytes | None) -> dict:
    """A record as the manifest keeps it: hidden files only by their keyed hash."""
    stored = {k: v for k, v in record.items() if k not in ("files", "hidden")}
    stored["files"] = {name: value for name, value in record["files"].items() if name not in record["hidden"]}
    if record["hidden"] and key is not None:
        stored["hidden"] = {site_folder.hidden_name(key, name): record["files"][name] for name in record["hidden"]}
    return stored


def _entry(issue_id: IssueId, record: dict) -> pages.ArchiveEntry:
    date = dt.date.fromisoformat(record["date"]) if record["date"] else None
    return pages.ArchiveEntry(id=issue_id, subject=record["subject"], preheader=record["preheader"], date=date,
                              folder=f"{issue_id.folder}/")


def _feed(project: Project, entries: list[pages.ArchiveEntry], out_dir: Path) -> bytes:
    """feed.xml: the newest issues with the HTML of their public pages as written; its id has the first year published."""
    items = []
    for entry in entries[:feed.FEED_ENTRIES]:
        page = site_folder.target(out_dir, f"{entry.folder}index.html").read_text(encoding="utf-8")
        items.append(feed.FeedEntry(entry, pages.feed_content(page, project.settings)))
    first_year = min((entry.id.year for entry in entries), default=dt.date.today().year % 100)
    return feed.atom_feed(project.settings, items, first_year)


def _located(out_dir: Path, folder: str, record: dict, key: bytes | None) -> tuple[dict[str, list], set[str]]:
    """An earlier record's files by name: the public ones as named, the hidden ones found by their keyed hash."""
    files = dict(record["files"])
    hidden = record.get("hidden", {})
    found = site_folder.locate(out_dir, folder, key, set(hidden)) if key is not None else {}
    files.update({name: hidden[mac] for mac, name in found.items()})
    return files, set(found.values())


def _still_there(out_dir: Path, record: dict, located: tuple[dict[str, list], set[str]]) -> bool:
    """Every file an earlier run wrote for an issue is still in place, a plain file with its size."""
    files, hidden = located
    if len(hidden) != len(record.get("hidden", {})):
        return False
    return all(site_folder.intact(out_dir, name, size) for name, (_, size) in files.items())


def _read_manifest(out_dir: Path) -> dict[str, dict]:
    """The per-issue records of the last run that are whole; empty when there is none or it is from another version.

    A record that is damaged, or names a file outside the site, is left out: its issue is rendered again
    and nothing it names is ever removed. Any shape of file gives a dict; the one exception is an issue folder
    named outside the site ('..', '/etc', '../x'), which no run of publish writes: a one-line error.
    """
    raw = site_folder.read_manifest(out_dir, MANIFEST)
    try:
        data = json.loads(raw.decode("utf-8")) if raw is not None else {}
        issues = data["issues"] if data.get("format") == MANIFEST_FORMAT else {}
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return {}
    if not isinstance(issues, dict):
        return {}
    outside = next((folder for folder in issues if not site_folder.inside(folder)), None)
    if outside is not None:
        raise PublishError(
            _("the archive's bookkeeping names the folder '{folder}', which is outside the site: publish never looks "
              "there").format(folder="".join(ch if ch.isprintable() else "?" for ch in outside[:100])),
            path=out_dir / MANIFEST,
            hint=_("someone changed this file: check the site folder, then delete the file (publish then writes "
                   "every page again)"))
    return {folder: record for folder, record in issues.items() if _whole(record)}


def _whole(record) -> bool:
    """A manifest record as publish writes it, its files all inside the site."""
    try:
        if record["date"] is not None:
            dt.date.fromisoformat(record["date"])
        hidden = record.get("hidden", {})
        return (isinstance(record["inputs"], str) and record["draft"] is False and isinstance(record["subject"], str)
                and isinstance(record["preheader"], str) and isinstance(record.get("left_out", False), bool)
                and all(site_folder.inside(name) and _file_value(value) for name, value in record["files"].items())
                and all(isinstance(mac, str) and _file_value(value) for mac, value in hidden.items()))
    except (KeyError, TypeError, ValueError, AttributeError):
        return False


def _file_value(value) -> bool:
    """[sha256 hex, size] as site_folder.write records it."""
    return (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)
            and type(value[1]) is int and value[1] >= 0)


def _shared_digest(project: Project, templates, key: bytes | None) -> str:
    """A hash of what every page depends on: settings, roster, templates, the rendering code and the key (the
    addresses of audience versions are made with it), the key only through an HMAC."""
    digest = hashlib.sha256(f"nyhetsbrev {__version__}\n".encode())
    digest.update((hmac.new(key, b"publish", hashlib.sha256).hexdigest() if key else "no key").encode() + b"\0")
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
