"""Render an issue: Markdown → Jinja2 MJML → HTML → inlined CSS, plus plain text (pure: text in, text out)."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import re
import unicodedata
from pathlib import Path
from typing import Iterable, Mapping

from . import images as image_step, markdown
from ..errors import TemplateError
from .. import i18n
from ..i18n import _
from ..project.toml_file import without_controls
from ..project.models import (
    UNSUBSCRIBE_PLACEHOLDER, WEB_PLACEHOLDER, EmailImage, Group, Issue, Member, Rendered, Roster, Section, Settings,
)

STRINGS = {
    "sv": {
        "issue_label": "Nyhetsbrev {issue}",
        "view_in_browser": "Visa i webbläsare",
        "unsubscribe": "Avregistrera",
        "unsubscribe_text": "Avregistrera dig",
        "sent_by": "Du får det här nyhetsbrevet från {name}.",
        "audience": "Endast till",
    },
    "en": {
        "issue_label": "Newsletter {issue}",
        "view_in_browser": "View in browser",
        "unsubscribe": "Unsubscribe",
        "unsubscribe_text": "Unsubscribe",
        "sent_by": "You receive this newsletter from {name}.",
        "audience": "Only for",
    },
}

MAIN_TEMPLATE = "email.mjml.j2"
# The width an image shows at: the 600 px body less the text's 24 px padding each side (email.mjml.j2),
# and in a timeline step less its number column and line (email.css).
TEXT_COLUMN = 552
STEP_COLUMN = 492
Templates = dict[str, tuple[str, Path]]


def render_issue(
    settings: Settings, issue: Issue, templates: Templates, audience: frozenset[str] | None = None,
    cache_dir: Path | None = None, image_cache: Path | None = None,
) -> Rendered:
    """The email (HTML with placeholders) and its text part for one audience (None: every section).

    Only the full rendering (audience None) carries a web rendering: every section, each marked with its
    audience, as the preview shows it. The web copies readers get are made by web_versions().
    Images are made fit for email (cached in image_cache) and carried with the rendering.
    """
    sections = [s for s in issue.sections if _included(s, audience)]
    env = environment(templates, cache_dir)
    made, refused = _email_images(issue, image_cache)
    email_html = render_html(settings, issue, sections, env, web=False, images=made)
    web_html = render_html(settings, issue, issue.sections, env, web=True, images=made) if audience is None else None
    shown = {made[src].name: made[src] for s in sections for src in _image_sources(s) if src in made}
    return Rendered(
        email_html=email_html,
        email_text=render_text(settings, issue, sections),
        web_html=web_html,
        subject=issue.subject,
        preheader=issue.preheader,
        images=tuple(shown[name] for name in sorted(shown)),
        audience=audience,
        image_errors=tuple(sorted(refused.items())),
    )


def _image_sources(section: Section) -> list[str]:
    """The section's images that are files of the issue, by src as written."""
    return [src for src, _, _ in markdown.document(section).findings.local_images()]


def _email_images(issue: Issue, image_cache: Path | None) -> tuple[dict[str, EmailImage], dict[Path, str]]:
    """Every image of the issue made fit for email (by src as written), and the files refused with why."""
    return image_step.prepare(issue.folder, [src for s in issue.sections for src in _image_sources(s)], image_cache)


def _included(section: Section, audience: frozenset[str] | None) -> bool:
    return audience is None or not section.audience or bool(audience.intersection(section.audience))


def audience_names(issue: Issue) -> frozenset[str]:
    """Every list name that some section of the issue is limited to."""
    return frozenset(name for section in issue.sections for name in section.audience)


def audience_only_images(issue: Issue, images: Iterable[EmailImage]) -> set[str]:
    """The names of the images that only sections limited to some lists show (not on the public web copy)."""
    public = {image_step.source_path(issue.folder, src) for s in issue.sections if not s.audience
              for src in _image_sources(s)}
    return {image.name for image in images if image.source not in public}


def version_key(audience: frozenset[str] | None) -> str:
    """The URL-safe name of an audience version: '' for the public one, else its sorted list names joined by '+'.

    A list name that is not already lower-case ASCII letters, digits, '-' and '_' is written that way,
    with a short hash of the name added so that two names never share a key ('Politiker Sörmland' →
    'politiker-sormland-1a2b3c').
    """
    return "+".join(_slug(name) for name in sorted(audience or ()))


def _slug(name: str) -> str:
    if re.fullmatch(r"[a-z0-9_-]+", name):
        return name
    plain = image_step.slug(name, keep="_", limit=None)
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:6]
    return f"{plain}-{digest}" if plain else digest


def web_versions(settings: Settings, issue: Issue, templates: Templates, cache_dir: Path | None = None,
                 every_section: str | None = None, image_cache: Path | None = None) -> dict[str, str]:
    """Every web copy of the issue by version_key: '' holds only the sections for everyone, and each combination
    of audience lists gets its own copy with its extra sections (marked with their audience).

    every_section: the web rendering of all sections when it was already made (render_issue's web_html).
    """
    env = environment(templates, cache_dir)
    images = _email_images(issue, image_cache)[0]
    names = sorted(audience_names(issue))
    audiences = [frozenset()] + [frozenset(c) for n in range(1, len(names) + 1) for c in itertools.combinations(names, n)]
    made: dict[tuple[int, ...], str] = {}  # combinations with the same sections share one rendering
    if every_section is not None:
        made[tuple(range(len(issue.sections)))] = every_section
    versions = {}
    for audience in audiences:
        chosen = tuple(i for i, s in enumerate(issue.sections) if _included(s, audience))
        if chosen not in made:
            made[chosen] = render_html(settings, issue, [issue.sections[i] for i in chosen], env, web=True, images=images)
        versions[version_key(audience)] = made[chosen]
    return versions


def issue_label(settings: Settings, issue: Issue) -> str:
    """'Nyhetsbrev 22:1' in the newsletter's language."""
    return _strings(settings)["issue_label"].format(issue=issue.id)


def date_text(settings: Settings, date: dt.date | None) -> str:
    """A date written out: '1 april 2022'."""
    if date is None:
        return ""
    return i18n.format_date(date, i18n.DATE, lang=settings.language)  # the readers' language, not the interface's


def _strings(settings: Settings) -> dict:
    return STRINGS.get(settings.language, STRINGS["sv"])


def render_html(settings: Settings, issue: Issue, sections: Iterable[Section], env, *, web: bool,
                images: Mapping[str, EmailImage] | None = None) -> str:
    """Inlined HTML of the issue (web=True: the public web copy without personal links)."""
    mjml_source = render_mjml(settings, issue, sections, env, web=web, images=images)
    from mjml import mjml2html

    try:
        html = mjml2html(mjml_source, disable_comments=False, fonts={})
    except Exception as exc:  # mjml-python raises a bare exception type for MJML errors
        raise TemplateError(
            _("MJML could not be rendered: {value}").format(value=str(exc).splitlines()[0] if str(exc) else type(exc).__name__),
            path=env.get_template(MAIN_TEMPLATE).filename,
            hint=_("check the MJML tags in your templates"),
        ) from None
    return inline_css(_language_marks(_readable_labels(html), settings.language))


_LANG_TAG = re.compile(r'<html\b[^>]*>|<div\b[^>]*\brole="article"[^>]*>')


def _language_marks(html: str, language: str) -> str:
    """lang and dir on <html> and on the email's body wrapper (mail programs drop <html>), whatever a template says.

    MJML writes them from <mjml lang dir>; a project's own email.mjml.j2 without them would give lang="und".
    """
    def mark(match: re.Match) -> str:
        tag = match.group(0)
        for name, value, unset in (("lang", language, "und"), ("dir", "ltr", "auto")):
            found = re.search(rf'\s{name}="([^"]*)"', tag)
            if found is None:
                tag = tag[:-1] + f' {name}="{value}">'
            elif found.group(1) in ("", unset):
                tag = tag[:found.start()] + f' {name}="{value}"' + tag[found.end():]
        return tag

    return _LANG_TAG.sub(mark, html, count=2)


_RUST_ESCAPE = re.compile(r"\\(u\{([0-9a-fA-F]{1,6})\}|.)")
_RUST_CHARS = {"t": " ", "n": " ", "r": " ", "0": "", "\\": "\\", "'": "'", '"': "&quot;"}


def _readable_labels(html: str) -> str:
    """aria-label values as the reader should hear them.

    MJML writes the title into aria-label escaped the way Rust prints strings for debugging: a backslash
    doubled, 'å' typed as a + ring as 'a\\u{30a}', an emoji joiner as '\\u{200d}'. This turns them back into
    the characters, and drops those that cannot be shown.
    """
    def readable(match: re.Match) -> str:
        text = _RUST_ESCAPE.sub(lambda m: chr(int(m.group(2), 16)) if m.group(2) else _RUST_CHARS.get(m.group(1), m.group(1)),
                                match.group(1))
        text = unicodedata.normalize("NFC", without_controls(text)).replace('"', "&quot;").replace("<", "&lt;")
        return f'aria-label="{text}"'

    return re.sub(r'aria-label="([^"]*)"', readable, html)


def inline_css(html: str) -> str:
    """CSS from <style> inlined into elements; @media rules (and !important) kept in <style>."""
    import css_inline

    inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=True, keep_at_rules=True)
    return inliner.inline(html)


def environment(templates: Templates, cache_dir: Path | None = None):
    """A Jinja2 environment over the given template sources; compiled templates are cached in cache_dir."""
    import jinja2

    cache = None
    if cache_dir is not None:
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            cache = jinja2.FileSystemBytecodeCache(str(cache_dir))
        except OSError:  # a read-only project still builds, only slower
            cache = None

    def load(name: str):
        if name not in templates:
            return None
        source, path = templates[name]
        return source, str(path), lambda: True

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(load),
        autoescape=lambda name: bool(name and name.endswith(".j2")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        bytecode_cache=cache,
    )


def render_mjml(settings: Settings, issue: Issue, sections: Iterable[Section], env, *, web: bool,
                images: Mapping[str, EmailImage] | None = None) -> str:
    """The MJML source of the issue, from the Jinja2 templates."""
    import jinja2

    strings = _strings(settings)
    context = {
        "lang": settings.language,
        "s": strings,
        "name": settings.name,
        "organisation": settings.organisation,
        "subject": issue.subject,
        "preheader": issue.preheader,
        "issue_label": issue_label(settings, issue),
        "date_text": date_text(settings, issue.date),
        "sections": [_section_context(s, images or {}) for s in sections],
        "roster_columns": roster_columns(issue.roster),
        "contact": issue.roster.contact,
        "web": web,
        "has_web_copy": bool(settings.archive_url),  # without an archive the web copy has no address to link to
        "web_url": WEB_PLACEHOLDER,
        "unsubscribe_url": UNSUBSCRIBE_PLACEHOLDER,
    }
    try:
        return env.get_template(MAIN_TEMPLATE).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            _("template syntax error: {message}").format(message=exc.message), path=exc.filename or exc.name, line=exc.lineno,
            hint=_("fix the Jinja2 tag on that line"),
        ) from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(_("template '{name}' not found").format(name=exc.name), hint=_("add it to templates/ or remove the include")) from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(_("template uses an unknown value: {message}").format(message=exc.message), hint=_("check the names used in templates/")) from None


def _section_context(section: Section, images: Mapping[str, EmailImage]) -> dict:
    from markupsafe import Markup

    doc = markdown.document(section)
    context = {
        "layout": section.layout,
        "title": section.title,
        "audience": list(section.audience),
        "html": Markup(doc.lead.html(images, TEXT_COLUMN)),
    }
    if section.layout == "timeline":
        context["steps"] = [{"title": step.title, "html": Markup(step.html(images, STEP_COLUMN))} for step in doc.steps]
    return context


def roster_columns(roster: Roster) -> list[list[Group]]:
    """The roster groups split into two columns of about equal height, order kept."""
    groups = list(roster.groups)
    if len(groups) < 2:
        return [groups] if groups else []
    weights = [2 + sum(_member_lines(m) for m in g.members) for g in groups]
    total, running, split = sum(weights), 0, 1
    best = None
    for index in range(1, len(groups)):
        running += weights[index - 1]
        diff = abs(total - 2 * running)
        if best is None or diff < best:
            best, split = diff, index
    return [groups[:split], groups[split:]]


def _member_lines(member: Member) -> int:
    return 1 + bool(member.organisation and (member.name or member.title)) + bool(member.email) + bool(member.phone)


def render_text(settings: Settings, issue: Issue, sections: Iterable[Section]) -> str:
    """The text/plain part: masthead, sections, timeline, roster, contact and footer links."""
    strings = _strings(settings)
    label = issue_label(settings, issue)
    head = [settings.name, label]
    if issue.date:
        head.append(date_text(settings, issue.date))
    parts = ["\n".join(head) + "\n" + "=" * max(len(line) for line in head)]
    for section in sections:
        if section.title:
            parts.append(f"{section.title}\n{'-' * len(section.title)}")
        doc = markdown.document(section)
        parts.append(doc.lead.text.rstrip())
        for number, step in enumerate(doc.steps, start=1):
            indented = "\n".join(("   " + line) if line else "" for line in step.text.rstrip().splitlines())
            parts.append(f"{number}. {step.title}\n{indented}")
    parts.extend(_roster_text(issue.roster))
    parts.append("-" * 20)
    links = [f"{strings['unsubscribe']}: {UNSUBSCRIBE_PLACEHOLDER}"]
    if settings.archive_url:
        links.insert(0, f"{strings['view_in_browser']}: {WEB_PLACEHOLDER}")
    parts.append("\n".join(links))
    footer = strings["sent_by"].format(name=settings.name)
    if settings.organisation:
        footer += f"\n{settings.organisation}"
    parts.append(footer)
    return "\n\n".join(p for p in parts if p.strip()) + "\n"


def _roster_text(roster: Roster) -> list[str]:
    parts = []
    for group in roster.groups:
        lines = [group.heading, "-" * len(group.heading)]
        for member in group.members:
            first = ", ".join(x for x in (member.name, member.title) if x)
            entry = [x for x in (first, member.organisation, member.email, member.phone) if x]
            lines.append("\n".join(entry))
            if len(entry) > 1:
                lines.append("")
        parts.append("\n".join(lines).rstrip())
    if roster.contact:
        c = roster.contact
        lines = [c.heading, "-" * len(c.heading)]
        if c.text:
            lines.append(c.text)
        lines.extend(c.emails)
        lines.extend(c.phones)
        parts.append("\n".join(lines))
    return parts
