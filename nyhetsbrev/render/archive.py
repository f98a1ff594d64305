"""Render the archive's pages: the front page and each issue's page around its web copy (pure: text in, text out)."""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass

from .issue import Templates, date_text, environment, issue_label
from ..errors import TemplateError
from ..project.models import IssueId, Roster, Settings

INDEX_TEMPLATE = "archive-index.html.j2"
PRINT_CSS = "archive-print.css"

STRINGS = {
    "sv": {
        "all_issues": "Alla nummer",
        "archive_lead": "Alla utgåvor av nyhetsbrevet, den senaste först.",
        "no_issues": "Inga nummer är publicerade ännu.",
        "feed": "Följ nyhetsbrevet i en flödesläsare (Atom)",
        "archive": "Arkivet",
    },
    "en": {
        "all_issues": "All issues",
        "archive_lead": "Every issue of the newsletter, the latest first.",
        "no_issues": "No issues have been published yet.",
        "feed": "Follow the newsletter in a feed reader (Atom)",
        "archive": "The archive",
    },
}

# A link or image address that leads somewhere else: a scheme (https:, mailto:), the site root, or a fragment.
_NOT_RELATIVE = r"(?![a-zA-Z][a-zA-Z0-9+.-]*:|/|#)"
_RELATIVE_ATTR = re.compile(r'(\s(?:src|href)=")' + _NOT_RELATIVE)


@dataclass(frozen=True)
class ArchiveEntry:
    """One published issue as the front page and the feed list it."""

    id: IssueId
    subject: str
    preheader: str
    date: dt.date | None
    folder: str  # "22-1/": its page's folder, relative to the front page


def strings(settings: Settings) -> dict[str, str]:
    """The archive's words in the newsletter's language."""
    return STRINGS.get(settings.language, STRINGS["sv"])


def render_index(settings: Settings, roster: Roster, entries: list[ArchiveEntry], templates: Templates) -> str:
    """The front page: every entry (already newest first) with number, date, subject and preheader."""
    import jinja2

    issues = [{
        "href": entry.folder + "index.html",  # explicit, so the site also works opened from disk
        "subject": entry.subject,
        "preheader": entry.preheader,
        "label": issue_label(settings, entry),
        "date_text": date_text(settings, entry.date),
        "date_iso": entry.date.isoformat() if entry.date else "",
    } for entry in entries]
    context = {
        "lang": settings.language, "s": strings(settings), "name": settings.name,
        "organisation": settings.organisation, "contact": roster.contact, "issues": issues,
    }
    env = environment(templates)
    try:
        return env.get_template(INDEX_TEMPLATE).render(context)
    except jinja2.TemplateError as exc:
        raise TemplateError(
            f"the archive's front page could not be rendered: {exc.message}",
            path=getattr(exc, "filename", None) or templates.get(INDEX_TEMPLATE, ("", None))[1],
            line=getattr(exc, "lineno", None), hint=f"check {INDEX_TEMPLATE} in templates/",
        ) from None


def _nav_html(settings: Settings, depth: int) -> str:
    """The link back to the front page that heads every issue page (hidden on paper)."""
    words = strings(settings)
    return (
        f'<nav class="nba-nav" aria-label="{html.escape(words["archive"])}" style="max-width:600px;margin:0 auto;'
        'padding:12px 24px;font-family:Helvetica, Arial, sans-serif;font-size:15px;line-height:1.4">'
        f'<a href="{"../" * depth}index.html" style="color:#0b5c7d"><span aria-hidden="true">← </span>'
        f'{html.escape(words["all_issues"])}</a></nav>'
    )


def issue_page(web_html: str, settings: Settings, templates: Templates, *, version: bool = False) -> str:
    """An issue's web copy made into an archive page: YY-N/index.html, or YY-N/<key>/index.html for an audience version.

    Adds the link back, the feed link and the A4 print stylesheet; an audience version is one folder
    deeper (its relative addresses are moved down) and asks search engines not to index it.
    """
    depth = 2 if version else 1
    up = "../" * depth
    if version:
        web_html = _RELATIVE_ATTR.sub(lambda m: m.group(1) + "../", web_html)
    head = [f'<link rel="alternate" type="application/atom+xml" title="{html.escape(settings.name)}" href="{up}feed.xml">']
    if version:
        head.append('<meta name="robots" content="noindex">')
    head.append(f'<style media="print">\n{templates[PRINT_CSS][0].strip()}\n</style>')
    page = _insert_before(web_html, "</head>", "".join(head))
    return _insert_after_body_tag(page, _nav_html(settings, depth))


def feed_content(page_html: str, settings: Settings) -> str:
    """The inside of a listed issue page's body without the archive's navigation: the entry's content in the feed."""
    match = re.search(r"<body\b[^>]*>(.*)</body>", page_html, re.S)
    body = match.group(1) if match else page_html
    body = body.replace(_nav_html(settings, 1), "", 1)
    body = re.sub(r"<!--.*?-->", "", body, flags=re.S)  # Outlook's conditional tables: feed readers ignore them
    # the inbox preview line is hidden with CSS, which feed readers drop: it would show as a stray first line
    body = re.sub(r'^\s*<div style="display:none;[^"]*">[^<]*</div>', "", body)
    return body.strip()


def _insert_before(page: str, marker: str, text: str) -> str:
    at = page.find(marker)
    if at < 0:
        raise TemplateError(f"the web copy has no {marker}", hint="keep <mj-head> and <mj-body> in your templates")
    return page[:at] + text + page[at:]


def _insert_after_body_tag(page: str, text: str) -> str:
    match = re.search(r"<body\b[^>]*>", page)
    if not match:
        raise TemplateError("the web copy has no <body>", hint="keep <mj-body> in your templates")
    return page[:match.end()] + text + page[match.end():]
