"""Build and check an issue: read → render → write."""

from __future__ import annotations

import os
from pathlib import Path

from ..render import checks, issue as renderer
from ..project import config, reader
from .. import writer
from ..errors import ContentError
from ..project.models import BuildResult, Issue, IssueId, Project, Rendered

OUTPUT_FILES = ("email.html", "email.txt", "web.html")


def load(root: Path, issue_id: IssueId | str) -> tuple[Project, Issue]:
    """Read the project at root and one of its issues."""
    if not isinstance(issue_id, IssueId):
        issue_id = IssueId.parse(issue_id)
    project = config.load_project(root)
    return project, reader.read_issue(project, issue_id)


def render(project: Project, issue: Issue, audience: frozenset[str] | None = None) -> Rendered:
    """Render the issue for one audience (a set of list names; None renders every section)."""
    templates = reader.read_templates(project)
    return renderer.render_issue(project.settings, issue, templates, audience, cache_dir=_cache_dir())


def _cache_dir() -> Path:
    """Where compiled templates are kept between runs (outside the project, so check writes nothing there)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nyhetsbrev" / "templates"


def audience_lists(issue: Issue) -> set[str]:
    """Every list name that some section is limited to."""
    return {name for section in issue.sections for name in section.audience}


def check(root: Path, issue_id: IssueId | str) -> BuildResult:
    """Render in memory and report problems; writes nothing."""
    project, issue = load(root, issue_id)
    rendered = render(project, issue)
    return BuildResult(issue=issue, rendered=rendered, problems=tuple(checks.inspect(issue, rendered)))


def build(root: Path, issue_id: IssueId | str) -> BuildResult:
    """Render the issue and write build/YY-N/{email.html,email.txt,web.html} and its images."""
    result = check(root, issue_id)
    if result.errors:
        first = result.errors[0]
        more = f" (and {len(result.errors) - 1} more: run 'nyhetsbrev check {result.issue.id}')" if len(result.errors) > 1 else ""
        raise ContentError(first.message + more, path=first.path, line=first.line)
    out_dir = Path(root) / "build" / result.issue.id.folder
    rendered = result.rendered
    folder = result.issue.folder.resolve()
    writer.write_output(
        out_dir,
        {"email.html": rendered.email_html, "email.txt": rendered.email_text, "web.html": rendered.web_html},
        {path.relative_to(folder).as_posix(): path for path in rendered.images},
    )
    return BuildResult(issue=result.issue, rendered=rendered, problems=result.problems, out_dir=out_dir)
