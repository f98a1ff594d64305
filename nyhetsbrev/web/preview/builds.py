"""One preview build of an issue: everything the preview page shows, made complete before it is served."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path

from ... import i18n
from ...i18n import N_, _, ngettext
from ...render import issue as render
from ...mail import message
from ...publish import pipeline
from ...errors import NyhetsbrevError
from ...project.models import UNSUBSCRIBE_PLACEHOLDER, WEB_PLACEHOLDER, IssueId, Section
from ..unsubscribe.pages import Pages

# Where the per-recipient links point in the preview: the web copy, and a page that explains the link.
PREVIEW_WEB_URL = "/web.html"
PREVIEW_UNSUBSCRIBE_URL = "/link/unsubscribe"
TEXT_WEB_LINK = "<link to the web copy, filled in per recipient>"
TEXT_UNSUBSCRIBE_LINK = "<personal unsubscribe link, filled in per recipient>"

PREVIEW_MARK = "nyhetsbrev-preview"  # the preview's additions to the email are wrapped in comments with this name
ASSETS = Path(__file__).parent / "assets"


@dataclass(frozen=True)
class PreviewBuild:
    """A successful build as the preview shows it; two builds are equal when the page would show nothing new."""

    issue: str
    issue_folder: Path
    email_html: str  # exactly the email as sent, except the per-recipient links
    text: str
    web_html: str
    subject: str  # the Subject header as sent
    preheader: str
    sender: str
    date: str
    problems: tuple[dict, ...]
    sections: tuple[dict, ...]
    unsubscribe_page: bytes | None  # what the footer's link opens when unsubscribe_url is set (serve's page)
    seconds: float = field(compare=False)
    built_at: float = field(default_factory=time.time, compare=False)
    images: dict = field(default_factory=dict, compare=False)  # images/<name> → EmailImage; a change renames them

    def to_json(self) -> dict:
        """What the page needs to know about this build, without the HTML."""
        return {
            "issue": self.issue, "subject": self.subject, "preheader": self.preheader, "sender": self.sender,
            "date": self.date, "text": self.text, "problems": list(self.problems), "sections": list(self.sections),
            "build_ms": round(self.seconds * 1000, 1), "built_at": self.built_at,
            "built_time": i18n.format_time(dt.datetime.fromtimestamp(self.built_at), "HH:mm:ss"),
        }


@dataclass(frozen=True)
class BuildFailure:
    """A rebuild that failed: what, where and what to do, as the page shows it; equal when it is the same failure."""

    what: str
    file: str | None = None
    line: int | None = None
    hint: str | None = None
    unexpected: bool = False
    at: float = field(default_factory=time.time, compare=False)

    @property
    def message(self) -> str:
        """The failure in one line, as the terminal shows errors: 'file:line: what. Hint'."""
        return str(NyhetsbrevError(self.what, path=self.file, line=self.line, hint=self.hint))

    def as_problem(self) -> dict:
        """The failure as the check panel lists problems: an error, with its file and line."""
        return {"level": "error", "message": f"{self.what}. {self.hint}" if self.hint else self.what,
                "file": self.file, "line": self.line}

    def to_json(self) -> dict:
        """The failure as JSON for the page."""
        return {"what": self.what, "file": self.file, "line": self.line, "hint": self.hint,
                "message": self.message, "unexpected": self.unexpected, "at": self.at}


def make_build(root: Path, issue_id: IssueId) -> PreviewBuild:
    """Read, render and check the issue in memory (one read of the project) for the preview; raises NyhetsbrevError."""
    started = time.perf_counter()
    project, issue = pipeline.load(root, issue_id)
    checked = pipeline.check_issue(project, issue)  # what 'nyhetsbrev check' reports, from the same render
    rendered, problems = checked.rendered, checked.problems
    settings = project.settings
    unsubscribe_page = Pages(settings).example(settings.unsubscribe_url).body if settings.unsubscribe_url else None
    name, address = parseaddr(settings.sender)
    return PreviewBuild(
        issue=str(issue.id),
        issue_folder=issue.folder,
        email_html=rendered.email_html.replace(WEB_PLACEHOLDER, PREVIEW_WEB_URL)
        .replace(UNSUBSCRIBE_PLACEHOLDER, PREVIEW_UNSUBSCRIBE_URL),
        text=rendered.email_text.replace(WEB_PLACEHOLDER, TEXT_WEB_LINK)
        .replace(UNSUBSCRIBE_PLACEHOLDER, TEXT_UNSUBSCRIBE_LINK),
        web_html=rendered.web_html.replace(WEB_PLACEHOLDER, PREVIEW_WEB_URL)
        .replace(UNSUBSCRIBE_PLACEHOLDER, PREVIEW_UNSUBSCRIBE_URL),
        subject=message.subject_line(settings, issue),
        preheader=rendered.preheader,
        sender=name or address or settings.sender,
        date=render.date_text(settings, issue.date),
        problems=tuple(
            {"level": p.level, "message": p.message, "file": _relative(root, p.path) if p.path else None, "line": p.line}
            for p in problems
        ),
        sections=tuple(_section_info(root, s) for s in issue.sections),
        unsubscribe_page=unsubscribe_page,
        seconds=time.perf_counter() - started,
        images={image.href: image for image in rendered.images},
    )


def describe_failure(root: Path, exc: BaseException, issue: str = "ID") -> BuildFailure:
    """A failed rebuild as the page shows it: what, file (relative to the project), line and hint."""
    if isinstance(exc, NyhetsbrevError):
        return BuildFailure(
            what=exc.what.rstrip("."), file=_relative(root, exc.path) if exc.path is not None else None,
            line=exc.line, hint=_sentence(exc.hint) if exc.hint else None,
        )
    return BuildFailure(
        what=_("unexpected {kind}: {message}").format(kind=type(exc).__name__, message=exc),
        hint=_("This is a bug in nyhetsbrev: 'nyhetsbrev --debug check {issue}' shows the details").format(issue=issue),
        unexpected=True,
    )


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[:1].upper() + text[1:]


def frame_html(email_html: str, *, markers: bool = True, dark: bool = False) -> str:
    """The email for a preview frame: links open in a new tab, audience markers and dark view added in <head>."""
    parts = ['<base target="_blank">']
    if markers:
        css = read_asset("markers.css").decode("utf-8").replace('"Only for: "', json.dumps(_("Only for: ")))
        parts.append(f"<style>{css}</style>")
    if dark:
        parts.append(f"<style>{read_asset('dark.css').decode('utf-8')}</style>")
    block = f"<!--{PREVIEW_MARK}-->{''.join(parts)}<!--/{PREVIEW_MARK}-->"
    match = re.search(r"</head\s*>", email_html, re.I)
    if match is None:
        return block + email_html
    return email_html[: match.start()] + block + email_html[match.start():]


def strip_preview_additions(html: str) -> str:
    """The frame HTML without what frame_html added (to compare with the email as built)."""
    return re.sub(rf"<!--{PREVIEW_MARK}-->.*?<!--/{PREVIEW_MARK}-->", "", html, flags=re.S)


def read_asset(name: str) -> bytes | None:
    """A file of the preview page (from assets/), or None when there is no such file there."""
    try:
        target = (ASSETS / name).resolve()
        return target.read_bytes() if target.is_relative_to(ASSETS.resolve()) and target.is_file() else None
    except (OSError, ValueError):  # a NUL byte or an over-long name in the URL
        return None


def _section_info(root: Path, section: Section) -> dict:
    heading = section.title
    if not heading:
        first = next((line for line in section.body.splitlines() if line.startswith("#")), "")
        heading = first.lstrip("#").strip() or None
    return {"file": _relative(root, section.path), "title": heading, "layout": section.layout,
            "audience": list(section.audience)}


def _relative(root: Path, path: str | Path) -> str:
    """path relative to the project root, with / (as given when it is outside the project)."""
    path = Path(path)
    try:
        return path.resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


# The words page.js shows, in the interface language (it reads them from the page's #texts).
SCRIPT_TEXTS = (
    N_("Still showing the last good build ({time}). Fix the file and save it: the preview rebuilds by itself."),
    N_("Nothing to show yet. Fix the file and save it: the preview rebuilds by itself."),
    N_("(no subject)"), N_("(no preheader: the inbox shows the email's first words)"), N_("No errors or warnings."),
    N_("error:"), N_("warning:"), N_("(no heading)"), N_("Only for: "), N_("Everyone"), N_("Preview {issue}"),
    N_("{issue} – preview – nyhetsbrev"), N_("built {time} in {ms} ms"), N_("build failed"), N_("live"),
    N_("preview stopped – run nyhetsbrev preview again"), N_("cannot reach the preview server"),
)


def page_html(name: str) -> bytes | None:
    """A page of the preview (assets/page.html, unsubscribe.html) in the interface language; None when there is none."""
    source = read_asset(name)
    if source is None:
        return None
    import jinja2

    texts = {text: _(text) for text in SCRIPT_TEXTS}
    for one, many in (("{count} error", "{count} errors"), ("{count} warning", "{count} warnings")):
        texts[one], texts[many] = ngettext(one, many, 1), ngettext(one, many, 2)  # the catalog has them from 'check'
    template = jinja2.Environment(autoescape=True).from_string(source.decode("utf-8"))
    return template.render(_=_, lang=i18n.language(), texts=texts).encode("utf-8")
