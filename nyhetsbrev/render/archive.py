"""Render the archive's pages: the front page and each issue's page around its web copy (pure: text in, text out)."""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass

from .issue import Templates, date_text, environment, issue_label
from ..errors import TemplateError
from ..project.models import IssueId, Roster, Settings
from ..i18n import N_, _

INDEX_TEMPLATE = "archive-index.html.j2"
STATEMENT_TEMPLATE = "archive-accessibility.html.j2"
STATEMENT_PAGE = "tillganglighet/index.html"  # the accessibility statement, linked from every page of the archive
PRINT_CSS = "archive-print.css"

STRINGS = {
    "sv": {
        "all_issues": "Alla nummer",
        "archive_lead": "Alla utgåvor av nyhetsbrevet, den senaste först.",
        "no_issues": "Inga nummer är publicerade ännu.",
        "feed": "Följ nyhetsbrevet i en flödesläsare (Atom)",
        "archive": "Arkivet",
        "statement": "Tillgänglighetsredogörelse",
        "intro": "{organisation} står bakom webbplatsen {name}, arkivet med nyhetsbrevets alla nummer. Vi vill att så "
                 "många som möjligt ska kunna använda den. Här beskriver vi hur webbplatsen uppfyller lagen (2018:1937) "
                 "om tillgänglighet till digital offentlig service, vilka brister vi känner till och hur du rapporterar "
                 "problem till oss.",
        "how_accessible": "Hur tillgänglig är webbplatsen?",
        "status_full": "Webbplatsen är helt förenlig med lagen om tillgänglighet till digital offentlig service.",
        "status_partial": "Webbplatsen är delvis förenlig med lagen om tillgänglighet till digital offentlig service, "
                          "på grund av de brister som beskrivs nedan.",
        "status_not": "Webbplatsen är inte förenlig med lagen om tillgänglighet till digital offentlig service. De brister "
                      "vi känner till beskrivs nedan.",
        "status_unknown": "Vi har ännu inte bedömt hur väl webbplatsen uppfyller lagen om tillgänglighet till digital "
                          "offentlig service.",
        "not_accessible": "Innehåll som inte är tillgängligt",
        "no_shortcomings": "Vi känner inte till några brister.",
        "shortcomings_unknown": "Vi har ännu inte beskrivit vilka brister som finns.",
        "report": "Rapportera brister i webbplatsens tillgänglighet",
        "report_text": "Om du inte kan använda delar av webbplatsen, behöver innehållet i ett annat format eller hittar "
                       "brister som inte står här, berätta det för oss så att vi kan rätta till dem.",
        "contact_us": "Kontakta oss:",
        "contact_organisation": "Kontakta {organisation}.",
        "supervision": "Tillsyn",
        "supervision_text": "Myndigheten för digital förvaltning (Digg) har ansvaret för tillsyn över lagen om "
                            "tillgänglighet till digital offentlig service. Om du inte är nöjd med hur vi hanterar dina "
                            "synpunkter kan du kontakta Digg och påtala det.",
        "supervision_link": "Anmäl bristande tillgänglighet till Digg",
        "review": "Hur vi har granskat webbplatsen",
        "reviewed": "Vi granskade webbplatsen senast den {date}.",
        "not_reviewed": "Webbplatsen har ännu inte granskats.",
        "tested": "Varje sidtyp prövas dessutom automatiskt mot WCAG 2.1 nivå AA med verktyget axe-core.",
    },
    "en": {
        "all_issues": "All issues",
        "archive_lead": "Every issue of the newsletter, the latest first.",
        "no_issues": "No issues have been published yet.",
        "feed": "Follow the newsletter in a feed reader (Atom)",
        "archive": "The archive",
        "statement": "Accessibility statement",
        "intro": "{organisation} is responsible for the website {name}, the archive of every issue of the newsletter. "
                 "We want as many people as possible to be able to use it. This statement describes how the website "
                 "meets the Swedish law on accessible digital public services (2018:1937), the shortcomings we know "
                 "of, and how to report a problem to us.",
        "how_accessible": "How accessible is the website?",
        "status_full": "The website fully complies with the law on accessible digital public services.",
        "status_partial": "The website partially complies with the law on accessible digital public services, because "
                          "of the shortcomings described below.",
        "status_not": "The website does not comply with the law on accessible digital public services. The shortcomings "
                      "we know of are described below.",
        "status_unknown": "We have not yet assessed how well the website meets the law on accessible digital public "
                          "services.",
        "not_accessible": "Content that is not accessible",
        "no_shortcomings": "We know of no shortcomings.",
        "shortcomings_unknown": "We have not yet described the shortcomings.",
        "report": "Report a problem with the website's accessibility",
        "report_text": "If you cannot use parts of the website, need its content in another format, or find a "
                       "shortcoming not described here, tell us so that we can fix it.",
        "contact_us": "Contact us:",
        "contact_organisation": "Contact {organisation}.",
        "supervision": "Supervision",
        "supervision_text": "The Agency for Digital Government (Digg) supervises the law on accessible digital public "
                            "services. If you are not satisfied with how we handle your report, you can contact Digg.",
        "supervision_link": "Report a lack of accessibility to Digg",
        "review": "How we reviewed the website",
        "reviewed": "We last reviewed the website on {date}.",
        "not_reviewed": "The website has not been reviewed yet.",
        "tested": "Every kind of page is also tested automatically against WCAG 2.1 level AA with the axe-core tool.",
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
        "statement_href": STATEMENT_PAGE,
    }
    return _render(templates, INDEX_TEMPLATE, context, N_("the archive's front page"))


def render_statement(settings: Settings, templates: Templates) -> str:
    """The accessibility statement (tillganglighet/index.html) from [accessibility], in the newsletter's language."""
    a11y = settings.accessibility
    contact = a11y.contact
    context = {
        "lang": settings.language, "s": strings(settings), "name": settings.name,
        "organisation": a11y.organisation or settings.organisation or settings.name,
        "site_organisation": settings.organisation, "status": a11y.status, "shortcomings": a11y.shortcomings,
        "contact": contact, "contact_href": contact if contact and contact.startswith("https://") else f"mailto:{contact}",
        "supervisory_url": a11y.supervisory_url, "reviewed_text": date_text(settings, a11y.reviewed),
    }
    return _render(templates, STATEMENT_TEMPLATE, context, N_("the accessibility statement"))


def _render(templates: Templates, name: str, context: dict, what: str) -> str:
    import jinja2

    env = environment(templates)
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateError as exc:
        raise TemplateError(
            _("{what} could not be rendered: {message}").format(what=_(what), message=exc.message),
            path=getattr(exc, "filename", None) or templates.get(name, ("", None))[1],
            line=getattr(exc, "lineno", None), hint=_("check {name} in templates/").format(name=name),
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


def _statement_footer_html(settings: Settings, depth: int) -> str:
    """The link to the accessibility statement at the foot of every issue page (hidden on paper)."""
    return (
        '<footer class="nba-nav nba-statement-link" style="max-width:600px;margin:0 auto;padding:12px 24px 24px;'
        'font-family:Helvetica, Arial, sans-serif;font-size:15px;line-height:1.4;text-align:center">'
        f'<a href="{"../" * depth}{STATEMENT_PAGE}" style="color:#0b5c7d">{html.escape(strings(settings)["statement"])}</a>'
        '</footer>'
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
    page = _insert_before(page, "</body>", _page_end(settings, depth))
    return _insert_after_body_tag(page, _page_start(settings, depth))


def _page_start(settings: Settings, depth: int) -> str:
    """Before the web copy: the link back, and the page's main landmark opened (the copy is its content)."""
    return _nav_html(settings, depth) + "<main>"


def _page_end(settings: Settings, depth: int) -> str:
    """After the web copy: the main landmark closed, and the link to the accessibility statement."""
    return "</main>" + _statement_footer_html(settings, depth)


def feed_content(page_html: str, settings: Settings) -> str:
    """The inside of a listed issue page's body without the archive's navigation: the entry's content in the feed."""
    match = re.search(r"<body\b[^>]*>(.*)</body>", page_html, re.S)
    body = match.group(1) if match else page_html
    body = body.replace(_page_start(settings, 1), "", 1).replace(_page_end(settings, 1), "", 1)
    body = re.sub(r"<!--.*?-->", "", body, flags=re.S)  # Outlook's conditional tables: feed readers ignore them
    # the inbox preview line is hidden with CSS, which feed readers drop: it would show as a stray first line
    body = re.sub(r'^\s*<div style="display:none;[^"]*">[^<]*</div>', "", body)
    return body.strip()


def _insert_before(page: str, marker: str, text: str) -> str:
    at = page.find(marker)
    if at < 0:
        raise TemplateError(_("the web copy has no {marker}").format(marker=marker), hint=_("keep <mj-head> and <mj-body> in your templates"))
    return page[:at] + text + page[at:]


def _insert_after_body_tag(page: str, text: str) -> str:
    match = re.search(r"<body\b[^>]*>", page)
    if not match:
        raise TemplateError(_("the web copy has no <body>"), hint=_("keep <mj-body> in your templates"))
    return page[:match.end()] + text + page[match.end():]
