"""Build and check an issue: read → render → write."""

from __future__ import annotations

import os
from pathlib import Path

from ..render import checks, issue as renderer
from ..project import config, leftovers, reader
from ..project.toml_file import line_in_file
from .. import writer
from ..errors import ContentError, StoreError
from ..project.models import BuildResult, Issue, IssueId, Problem, Project, Rendered
from ..i18n import _, ngettext

def load(root: Path, issue_id: IssueId | str) -> tuple[Project, Issue]:
    """Read the project at root and one of its issues."""
    if not isinstance(issue_id, IssueId):
        issue_id = IssueId.parse(issue_id)
    project = config.load_project(root)
    return project, reader.read_issue(project, issue_id)


def render(project: Project, issue: Issue, audience: frozenset[str] | None = None) -> Rendered:
    """Render the issue for one audience (a set of list names; None renders every section)."""
    templates = reader.read_templates(project)
    return renderer.render_issue(project.settings, issue, templates, audience,
                                 cache_dir=_cache_dir("templates"), image_cache=_cache_dir("images"))


def _cache_dir(kind: str) -> Path:
    """Where compiled templates or images fit for email are kept between runs (outside the project, so check writes nothing there)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nyhetsbrev" / kind


def web_file_name(key: str) -> str:
    """The file a web copy is built into: web.html for the public one, web-<key>.html for an audience version."""
    return f"web-{key}.html" if key else "web.html"


def web_versions(project: Project, issue: Issue, full: Rendered | None = None) -> dict[str, str]:
    """Every web copy of an issue by version key ('' is the public one; see render.issue.version_key).

    full: the rendering of every section when already made, so that its web rendering is not made twice.
    """
    templates = reader.read_templates(project)
    return renderer.web_versions(project.settings, issue, templates, cache_dir=_cache_dir("templates"),
                                 every_section=full.web_html if full is not None else None,
                                 image_cache=_cache_dir("images"))


def check(root: Path, issue_id: IssueId | str) -> BuildResult:
    """Render in memory and report problems (also the archive's accessibility statement's settings); writes nothing."""
    import dataclasses

    project, issue = load(root, issue_id)
    result = check_issue(project, issue)
    return dataclasses.replace(result, problems=result.problems + tuple(accessibility_problems(project)))


def accessibility_problems(project: Project) -> list[Problem]:
    """A warning while [accessibility] lacks what the archive's accessibility statement must say (check, publish)."""
    missing = project.settings.accessibility.missing()
    if not missing:
        return []
    where = _settings_line(project, "accessibility") if "accessibility" in _table_names(project) else ()
    return [Problem("warning", _("the accessibility statement the archive must have (lag 2018:1937) lacks {keys}: "
                                 "add them under [accessibility] in nyhetsbrev.toml").format(keys=", ".join(missing)),
                    *where)]


def _table_names(project: Project) -> set[str]:
    """The [tables] written (not commented out) in nyhetsbrev.toml."""
    import re

    try:
        text = (Path(project.root) / config.SETTINGS_FILE).read_text(encoding="utf-8")
    except OSError:
        return set()
    return set(re.findall(r"(?m)^\s*\[\s*([A-Za-z_]+)\s*\]", text))


def check_issue(project: Project, issue: Issue) -> BuildResult:
    """Render an issue already read (every section) and report its problems; writes nothing."""
    rendered = render(project, issue)
    linked = bool(project.settings.image_base_url)
    problems = (checks.inspect(issue, rendered, images_linked=linked) + settings_problems(project)
                + leftovers.problems(project) + leftovers.issue_problems(issue) + _audience(project, issue))
    return BuildResult(issue=issue, rendered=rendered, problems=tuple(problems))


def _audience(project: Project, issue: Issue) -> list[Problem]:
    """Audience lists that the recipients database does not have (only when there is a database to ask)."""
    if not renderer.audience_names(issue):
        return []
    from ..store.db import default_db_path, open_db  # the store (sqlite_utils) only for an issue with audiences
    from ..store.recipients import list_names

    path = default_db_path(project.root)
    if not path.is_file():
        return []
    try:
        db = open_db(path, create=False)
    except StoreError:
        return []  # a database that cannot be read is reported by the commands that need it
    try:
        return checks.audience_problems(issue, list_names(db))
    finally:
        db.close()


def settings_problems(project: Project) -> list[Problem]:
    """What check reports about nyhetsbrev.toml itself: an unsubscribe_url that is not https; see archive_problems
    (and leftovers.problems for the starter's examples left in it)."""
    problems = archive_problems(project)
    url = project.settings.unsubscribe_url
    if url and _query_or_fragment(url):
        problems.append(Problem("error", _(
            "unsubscribe_url must have no query or fragment ('{part}'): each recipient's token is added to its end, "
            "so one-click unsubscribe could not work").format(part=_query_or_fragment(url)),
            *_settings_line(project, "unsubscribe_url")))
    elif url and not url.startswith("https://"):
        problems.append(Problem(
            "warning", _("unsubscribe_url is not https: mail clients offer one-click unsubscribe only for an https address (Gmail requires it of bulk senders), so the emails go without it"), *_settings_line(project, "unsubscribe_url")))
    return problems


def archive_problems(project: Project) -> list[Problem]:
    """Warnings about archive_url, the address of the web copies and of the archive's feed (check, send, publish)."""
    url = project.settings.archive_url
    if not url:
        return [Problem("warning", _("archive_url is not set in nyhetsbrev.toml: the email has no 'view in browser' link and the archive's feed has no address of its own"))]
    if _query_or_fragment(url):
        return [Problem("error", _(
            "archive_url must have no query or fragment ('{part}'): each issue's address is made by adding /YY-N/ "
            "to its end, so the 'view in browser' links and the archive's feed could not work").format(
                part=_query_or_fragment(url)), *_settings_line(project, "archive_url"))]
    if not url.startswith("https://"):
        return [Problem("warning", _("archive_url '{url}' is not https://: browsers mark the web copies as not secure").format(url=url),
                        *_settings_line(project, "archive_url"))]
    return []


def _query_or_fragment(url: str) -> str:
    """The '?…' or '#…' part of an address ('' when it has neither)."""
    cut = min((url.find(mark) for mark in "?#" if mark in url), default=-1)
    return url[cut:] if cut >= 0 else ""


def _settings_line(project: Project, key: str) -> tuple[Path, int | None]:
    path = Path(project.root) / config.SETTINGS_FILE
    return path, line_in_file(path, key)


def build(root: Path, issue_id: IssueId | str) -> BuildResult:
    """Render the issue and write build/YY-N/{email.html,email.txt,web.html}, web-<key>.html and its images."""
    project, issue = load(root, issue_id)
    result = check_issue(project, issue)
    if result.errors:
        first = result.errors[0]
        more = " " + ngettext("(and {count} more: run 'nyhetsbrev check {id}')", "(and {count} more: run 'nyhetsbrev check {id}')",
                              len(result.errors) - 1).format(count=len(result.errors) - 1, id=result.issue.id) if len(result.errors) > 1 else ""
        raise ContentError(first.message + more, path=first.path, line=first.line)
    out_dir = Path(root) / "build" / result.issue.id.folder
    rendered = result.rendered
    webs = {web_file_name(key): html for key, html in web_versions(project, issue, rendered).items()}
    writer.write_output(
        out_dir,
        {"email.html": rendered.email_html, "email.txt": rendered.email_text, **webs},
        {image.name: image.data for image in rendered.images},
    )
    for stale in out_dir.glob("web-*.html"):  # versions of an earlier build whose audience is gone
        if stale.name not in webs:
            stale.unlink()
    return BuildResult(issue=result.issue, rendered=rendered, problems=result.problems, out_dir=out_dir)
