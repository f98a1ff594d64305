"""Preflight rules: what check and build report about an issue before it is sent."""

from __future__ import annotations

from . import markdown
from ..project.config import line_of
from ..project.headers import text_problem
from ..project.models import Issue, Problem, Rendered

GMAIL_CLIP_BYTES = 100 * 1024  # Gmail clips messages at about 102 KB
SUBJECT_MAX = 80


def inspect(issue: Issue, rendered: Rendered) -> list[Problem]:
    """Every error and warning found in an issue and its rendering."""
    problems: list[Problem] = []
    toml = issue.folder / "issue.toml"
    if not issue.subject:
        problems.append(Problem("error", "the issue has no subject: add subject = \"…\"", toml))
    elif len(issue.subject) > SUBJECT_MAX:
        problems.append(Problem(
            "warning", f"the subject is {len(issue.subject)} characters; phones cut it after about {SUBJECT_MAX}", toml))
    if not issue.preheader:
        problems.append(Problem("warning", "no preheader: inboxes will show the first words of the email instead", toml))
    problems.extend(_header_problems(issue))
    if not issue.sections:
        problems.append(Problem("error", "the issue has no sections: add a Markdown file such as 01-inledning.md", issue.folder))
    for section in issue.sections:
        problems.extend(_section_problems(issue, section))
    size = len(rendered.email_html.encode("utf-8"))
    if size > GMAIL_CLIP_BYTES:
        problems.append(Problem(
            "warning", f"email.html is {size // 1024} KB; Gmail clips messages over about 102 KB: shorten the issue"))
    return problems


def _header_problems(issue: Issue) -> list[Problem]:
    """Subject and preheader by the same rule that send applies to header values."""
    toml, text = issue.folder / "issue.toml", None
    problems = []
    for key, value in (("subject", issue.subject), ("preheader", issue.preheader)):
        problem = text_problem(value, key)
        if problem:
            if text is None:
                try:
                    text = toml.read_text(encoding="utf-8")
                except OSError:
                    text = ""
            problems.append(Problem("error", f"{problem}: write it on one line", toml, line_of(text, key)))
    return problems


def _section_problems(issue: Issue, section) -> list[Problem]:
    problems: list[Problem] = []
    path, offset = section.path, section.body_line - 1
    if not section.body.strip():
        problems.append(Problem("warning", "the section is empty", path))
    for key, line in section.unknown_keys:
        problems.append(Problem(
            "warning", f"unknown front-matter key '{key}' (known: layout, audience, title)", path, line))
    found = markdown.findings(section.body)
    for src, alt, line in found.images:
        where = offset + line if line else None
        if not alt.strip():
            problems.append(Problem("warning", f"image '{src}' has no alt text: write ![what it shows]({src})", path, where))
        if not markdown.is_local(src):
            if src.startswith("http://"):
                problems.append(Problem("warning", f"image '{src}' uses http://; use https://", path, where))
            continue
        target = (issue.folder / src).resolve()
        if not target.is_relative_to(issue.folder.resolve()):
            problems.append(Problem("error", f"image '{src}' is outside the issue folder: put it in images/", path, where))
        elif not target.is_file():
            problems.append(Problem("error", f"image '{src}' not found: add the file or fix the path", path, where))
    for href, line in found.links:
        if href.startswith("http://"):
            problems.append(Problem(
                "warning", f"link '{href}' uses http://; use https:// if the site has it", path, offset + line if line else None))
    if section.layout == "timeline" and not markdown.split_steps(section.body)[1]:
        problems.append(Problem("warning", "timeline section has no steps: start each step with a ### heading", path))
    return problems
