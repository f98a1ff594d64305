"""Preflight rules: what check and build report about an issue before it is sent."""

from __future__ import annotations

import binascii
import difflib
from pathlib import Path
from urllib.parse import unquote

from . import images as image_step, markdown
from ..i18n import _
from ..project.headers import text_problem
from ..project.front_matter import shorten
from ..project.toml_file import line_in_file
from ..project.models import TEXT_PLACEHOLDER, Issue, Problem, Rendered

GMAIL_CLIP_BYTES = 100 * 1024  # Gmail clips messages at about 102 KB
IMAGE_WARN_BYTES = 300 * 1024
MESSAGE_WARN_BYTES = 1024 * 1024
MESSAGE_MAX_BYTES = 10 * 1024 * 1024  # many receiving servers (and Exchange Online's default) refuse more
SUBJECT_MAX = 80


def inspect(issue: Issue, rendered: Rendered, *, images_linked: bool = False) -> list[Problem]:
    """Every error and warning found in an issue and its rendering (images_linked: image_base_url is set)."""
    problems: list[Problem] = []
    toml = issue.folder / "issue.toml"
    if not issue.subject:
        problems.append(Problem("error", _('the issue has no subject: add subject = "…"'), toml))
    elif len(issue.subject) > SUBJECT_MAX:
        problems.append(Problem(
            "warning", _("the subject is {count} characters; phones cut it after about {subject_max}").format(count=len(issue.subject), subject_max=SUBJECT_MAX), toml))
    if not issue.preheader:
        problems.append(Problem("warning", _("no preheader: inboxes will show the first words of the email instead"), toml))
    problems.extend(_header_problems(issue))
    if not issue.sections:
        problems.append(Problem("error", _("the issue has no sections: add a Markdown file such as 01-inledning.md"), issue.folder))
    for section in issue.sections:
        problems.extend(_section_problems(issue, section, rendered))
    problems.extend(unused_images(issue))
    size = len(rendered.email_html.encode("utf-8"))
    if size > GMAIL_CLIP_BYTES:
        problems.append(Problem(
            "warning", _("email.html is {value} KB; Gmail clips messages over about 102 KB: shorten the issue").format(value=size // 1024)))
    problems.extend(_message_problems(rendered, images_linked))
    return problems


def _header_problems(issue: Issue) -> list[Problem]:
    """Subject and preheader by the same rule that send applies to header values."""
    toml = issue.folder / "issue.toml"
    problems = []
    for key, value in (("subject", issue.subject), ("preheader", issue.preheader)):
        problem = text_problem(value, key)
        if problem:
            problems.append(Problem("error", _("{problem}: write it on one line").format(problem=problem), toml, line_in_file(toml, key)))
    return problems


def _message_problems(rendered: Rendered, images_linked: bool) -> list[Problem]:
    size = message_size(rendered, embedded=not images_linked)
    what = _("the message as sent") if images_linked or not rendered.images else _("the message as sent (images embedded)")
    fix = _("make the images smaller or fewer") if images_linked else _(
        "make the images smaller or fewer, or set image_base_url to link them instead")
    if size > MESSAGE_MAX_BYTES:
        return [Problem("error", _("{what} is {size_text}; mail servers refuse messages over 10 MB: {fix}").format(what=what, size_text=size_text(size), fix=fix))]
    if size > MESSAGE_WARN_BYTES:
        return [Problem("warning", _("{what} is {size_text}; over 1 MB is slow to send to a whole list and some servers refuse it: {fix}").format(what=what, size_text=size_text(size), fix=fix))]
    return []


def message_size(rendered: Rendered, *, embedded: bool = True) -> int:
    """About the bytes of the message as sent: headers, both parts quoted-printable, images in base64."""
    size = 2500  # headers and MIME part headers
    for text in (rendered.email_text, rendered.email_html):
        encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True)
        size += len(encoded) + encoded.count(b"\n")  # CRLF line ends
    if embedded:
        for image in rendered.images:
            base64_bytes = 4 * -(-len(image.data) // 3)
            size += base64_bytes + 2 * -(-base64_bytes // 76) + 250
    return size


def size_text(size: int) -> str:
    """A byte count for people: '412 KB', '1.4 MB'."""
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{max(1, round(size / 1024))} KB"


def _section_problems(issue: Issue, section, rendered: Rendered) -> list[Problem]:
    problems: list[Problem] = []
    path, offset = section.path, section.body_line - 1
    if not section.body.strip():
        problems.append(Problem("warning", _("the section is empty"), path))
    doc = markdown.document(section)
    found = doc.findings
    made = {image.source: image for image in rendered.images}
    refused = dict(rendered.image_errors)
    for src, alt, line in found.images:
        where = offset + line if line else None
        if not alt.strip():
            problems.append(Problem("warning", _("image '{src}' has no alt text: write ![what it shows]({src})").format(src=src), path, where))
        if not markdown.is_local(src):
            if src.startswith("http://"):
                problems.append(Problem("warning", _("image '{src}' uses http://; use https://").format(src=src), path, where))
            continue
        target, name = image_step.source_path(issue.folder, src), unquote(src)  # as the author wrote it
        if not target.is_relative_to(issue.folder.resolve()):
            problems.append(Problem("error", _("image '{name}' is outside the issue folder: put it in images/").format(name=name), path, where))
        elif not target.is_file():
            close = _close_file_name(issue.folder, target)
            missing = (_("image '{name}' not found: did you mean '{close}'?").format(name=name, close=close) if close
                       else _("image '{name}' not found: add the file or fix the path").format(name=name))
            problems.append(Problem("error", missing, path, where))
        elif target in refused:
            problems.append(Problem("error", _("image '{name}': {value}").format(name=name, value=refused[target]), path, where))
        elif target in made and len(made[target].data) > IMAGE_WARN_BYTES:
            photo = _("; it looks like a photo: save it as JPEG, which is far smaller") if made[target].photo_like else ""
            problems.append(Problem(
                "warning", _("image '{name}' is {size_text} after optimisation (over 300 KB): crop it or use a smaller picture{photo}").format(name=name, size_text=size_text(len(made[target].data)), photo=photo), path, where))
    for href, line in found.links:
        if href.startswith("http://"):
            problems.append(Problem(
                "warning", _("link '{href}' uses http://; use https:// if the site has it").format(href=href), path, offset + line if line else None))
    problems.extend(Problem("error", _literal_message(text), path, offset + line if line else None)
                    for text, line in found.literal)
    problems.extend(_authoring_problems(section, found))
    if section.layout == "timeline" and not doc.steps:
        problems.append(Problem("warning", _("timeline section has no steps: start each step with a ### heading"), path))
    return problems


def _literal_message(text: str) -> str:
    """Why Markdown left as text is an error, quoting it."""
    if text.startswith("!"):
        message = _("readers would see this Markdown as text, not as an image: {markdown} (check its brackets and "
                    "parentheses; a path with a line break or unmatched parentheses can be written between < and >)")
    else:
        message = _("readers would see this Markdown as text, not as a link: {markdown} (check its brackets and "
                    "parentheses; an address with a line break or unmatched parentheses can be written between < and >)")
    return message.format(markdown=_shorten(text))


def _shorten(text: str) -> str:
    """The Markdown left as text on one line, cut to fit in a message."""
    return shorten(" ".join(text.split()), 70)


def _close_file_name(folder: Path, target: Path) -> str | None:
    """The path, as an author would write it, of a file beside target whose name is close to target's (a typo)."""
    try:
        names = [p.name for p in target.parent.iterdir() if p.is_file() and not p.name.startswith(".")]
    except OSError:
        return None
    close = difflib.get_close_matches(target.name, names, n=1, cutoff=0.75)
    if not close:
        return None
    found = target.parent / close[0]
    return found.relative_to(folder.resolve()).as_posix() if found.is_relative_to(folder.resolve()) else None


_NOT_IMAGES = {"thumbs.db", "desktop.ini"}  # files that Windows puts in a folder of pictures


def unused_images(issue: Issue) -> list[Problem]:
    """Files in the issue's images/ that no section shows (a photo the author meant to use, or one left over)."""
    folder = issue.folder / "images"
    if not folder.is_dir():
        return []
    used = {image_step.source_path(issue.folder, src) for section in issue.sections
            for src, _, _ in markdown.document(section).findings.local_images()}
    problems = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(issue.folder)
        if (any(part.startswith(".") for part in relative.parts) or path.name.lower() in _NOT_IMAGES
                or not path.is_file() or path.resolve() in used):
            continue
        problems.append(Problem("warning", _("the image '{name}' is used by no section: show it with "
                                             "![what it shows]({name}) or remove it from images/").format(
                                               name=relative.as_posix()), path))
    return problems


def _authoring_problems(section, found: markdown.Findings) -> list[Problem]:
    """Text left unfinished, comments left open, and raw HTML (which readers would see as text)."""
    path, offset = section.path, section.body_line - 1
    problems = [
        Problem("error", _("placeholder text '{text_placeholder}' left by 'nyhetsbrev new': write the section's text here").format(text_placeholder=TEXT_PLACEHOLDER),
                path, offset + number)
        for number, line in enumerate(section.body.splitlines(), start=1) if line.strip() == TEXT_PLACEHOLDER
    ]
    problems.extend(
        Problem("error", _("an HTML comment '<!--' is not closed: end the note with '-->' (readers see no comment)"),
                path, offset + line)
        for line in found.open_comments)
    problems.extend(
        Problem("warning", _("raw HTML is shown to readers as text, not as HTML: {value} (write it in Markdown, or make it a comment <!-- … --> if it is a note)").format(value=snippet[:60]), path, offset + line)
        for snippet, line in found.raw_html)
    return problems


def audience_problems(issue: Issue, known_lists: set[str], level: str = "warning") -> list[Problem]:
    """Sections whose audience names a list that does not exist (they would reach nobody on it)."""
    problems = []
    for section in issue.sections:
        for name in section.audience:
            if name in known_lists:
                continue
            close = difflib.get_close_matches(name, sorted(known_lists), n=1, cutoff=0.6)
            hint = _("did you mean '{name}'? ").format(name=close[0]) if close else ""
            problems.append(Problem(
                level, _("audience names the list '{name}', which does not exist, so the section reaches nobody on it: {hint}lists: {value}").format(name=name, hint=hint, value=', '.join(sorted(known_lists)) or _('none yet')),
                section.path, section.line_of("audience")))
    return problems

