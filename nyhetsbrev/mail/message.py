"""The email itself: MIME built once per audience, personalised per recipient at the byte level."""

from __future__ import annotations

import binascii
import datetime as dt
import email.policy
import html
import re
import secrets
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from urllib.parse import quote

from .header_lines import subject_header, to_header
from .wire import dot_stuffed, ended
from ..errors import SendError
from ..project.headers import check_header_text, envelope_address
from ..render.issue import version_key
from ..store.tokens import web_version_folder
from ..project.models import UNSUBSCRIBE_PLACEHOLDER, WEB_PLACEHOLDER, EmailImage, Issue, Rendered, Settings
from ..i18n import _

POLICY = email.policy.SMTP.clone(max_line_length=78)
if hasattr(POLICY, "verify_generated_headers"):  # Python 3.11.10+ / 3.12.5+ (CVE-2024-6923)
    POLICY = POLICY.clone(verify_generated_headers=True)

TEST_PREFIX = "[TEST] "
_URL_SAFE = re.compile(r"[A-Za-z0-9._~-]*")
_SRC = re.compile(r"""(\bsrc\s*=\s*)(["'])([^"']*)\2""", re.I)
_PERSONAL_MARK = "X-Nyhetsbrev-Personal"
_UNSUBSCRIBE_WORD = {"sv": "Avregistrera", "en": "Unsubscribe"}


def sender_address(settings: Settings) -> str:
    """The bare address of From (used as the envelope sender and for Message-IDs); checked when the settings were read."""
    return envelope_address(parseaddr(settings.sender)[1])


def subject_line(settings: Settings, issue: Issue, *, test: bool = False) -> str:
    """The subject from the settings' pattern ({name}, {issue}, {subject}, {date}); '[TEST] ' first for test copies."""
    date = (issue.date or dt.date.today()).isoformat()
    subject = settings.subject.format(name=settings.name, issue=str(issue.id), subject=issue.subject, date=date)
    subject = " ".join(check_header_text(subject, "subject").split())
    return (TEST_PREFIX + subject) if test else subject


def web_url(settings: Settings, issue: Issue, audience: frozenset[str] | None = None, key: bytes | None = None) -> str:
    """The web copy of the issue for an audience under archive_url: <archive_url>/YY-N/ for the public version,
    <archive_url>/YY-N/<version>-<HMAC>/ for an audience version (made with the newsletter's key, as publish
    names its page; without a key the public copy); '#' when no archive is configured."""
    if not settings.archive_url:
        return "#"
    version = version_key(audience)
    base = f"{settings.archive_url.rstrip('/')}/{issue.id.folder}/"
    return base + (f"{web_version_folder(key, issue.id.folder, version)}/" if version and key else "")


@dataclass(frozen=True)
class _Body:
    """A text part quoted-printable encoded once; per-recipient values are spliced in between soft line breaks."""

    segments: tuple[bytes, ...]

    def pieces(self, encoded_value: bytes) -> list[bytes]:
        """The part's pieces with the value (already made by _spliced) between them, in every place of the placeholder."""
        out = [self.segments[0]]
        for segment in self.segments[1:]:
            out += (encoded_value, segment)
        return out


def _spliced(value: str) -> bytes:
    return b"=\r\n" + _qp(value) + b"=\r\n"


class MessageTemplate:
    """One audience's message, encoded once; personalise() makes the bytes for one recipient."""

    def __init__(self, head: tuple[bytes, bytes], bodies: tuple[bytes, bytes, bytes], text: _Body, html_body: _Body,
                 settings: Settings, sender: str, domain: str) -> None:
        self._head = head
        self._bodies = bodies
        self._text = text
        self._html = html_body
        self.settings = settings
        self.sender = sender
        self.domain = domain
        self._links = _UnsubscribeLinks(settings)
        self._fixed: dict[int, tuple[bytes, bytes]] | None = None  # the fixed parts dot-stuffed, made by wire() once

    def personalise(self, address: str, name: str | None, *, message_id: str, token: str,
                    date: str | None = None) -> tuple[str, bytes]:
        """The envelope recipient and the complete message for them; SendError when address or name cannot be used."""
        address, pieces = self._pieces(address, name, message_id=message_id, token=token, date=date)
        return address, b"".join(pieces)

    def wire(self, address: str, name: str | None, *, message_id: str, token: str,
             date: str | None = None) -> tuple[str, bytes]:
        """As personalise(), with the message as SMTP's DATA sends it: dot-stuffed, ended by CRLF . CRLF.

        The fixed parts were stuffed once for the whole send (a style sheet has many lines that start with a dot),
        so only what is personal is gone through for each message.
        """
        address, pieces = self._pieces(address, name, message_id=message_id, token=token, date=date)
        fixed = self._fixed if self._fixed is not None else self._stuff_fixed()
        out, line_start, tail = [], True, b""
        for piece in pieces:
            stuffed = fixed[id(piece)][not line_start] if id(piece) in fixed else dot_stuffed(piece, line_start)
            if piece:
                out.append(stuffed)
                line_start, tail = piece.endswith(b"\n"), piece[-2:] if len(piece) > 1 else (tail + piece)[-2:]
        return address, ended(b"".join(out))

    def _stuff_fixed(self) -> dict[int, tuple[bytes, bytes]]:
        """Each fixed part stuffed as at the start of a line and as in the middle of one, by its identity."""
        parts = (*self._head, *self._bodies, *self._text.segments, *self._html.segments)
        self._fixed = {id(part): (dot_stuffed(part, True), dot_stuffed(part, False)) for part in parts}
        return self._fixed

    def _pieces(self, address: str, name: str | None, *, message_id: str, token: str,
                date: str | None) -> tuple[str, list[bytes]]:
        """The envelope recipient and the message's pieces in order: the fixed ones and what is personal between them."""
        address = envelope_address(address)
        to = to_header(address, name)
        https, mailto = self._links.make(token)
        listed = f"<{https}>,\r\n <{mailto}>" if https else f"<{mailto}>"
        personal = (
            f"{to}Date: {date or _now()}\r\nMessage-ID: {message_id}\r\n"
            f"List-Unsubscribe: {listed}\r\n"
        ).encode("ascii")
        link = https or mailto
        in_text = _spliced(link)
        escaped = html.escape(link, quote=True)
        in_html = in_text if escaped == link else _spliced(escaped)
        before, after = self._head
        top, middle, end = self._bodies
        return address, [before, personal, after, top, *self._text.pieces(in_text), middle,
                         *self._html.pieces(in_html), end]


_last_date: list = [0, ""]


def _now() -> str:
    """The Date header value, made once a second."""
    second = int(time.time())
    if _last_date[0] != second:
        _last_date[:] = [second, formatdate(second, localtime=True)]
    return _last_date[1]


def unsubscribe_mailbox(settings: Settings) -> str:
    """The address the mailto unsubscribe link writes to: unsubscribe_email, else Reply-To, else From."""
    return envelope_address(
        settings.unsubscribe_email or settings.reply_to and parseaddr(settings.reply_to)[1] or parseaddr(settings.sender)[1]
    )


class _UnsubscribeLinks:
    """The fixed parts of the unsubscribe links (their settings checked when read); make() adds a recipient's token."""

    def __init__(self, settings: Settings) -> None:
        mailbox = unsubscribe_mailbox(settings)
        word = _UNSUBSCRIBE_WORD.get(settings.language, "Unsubscribe")
        self.mailto = f"mailto:{mailbox}?subject={quote(word, safe='')}%20"
        self.https = None
        if settings.unsubscribe_url:
            base = settings.unsubscribe_url
            self.https = f"{base}{'&' if '?' in base else '?'}token="

    def make(self, token: str) -> tuple[str | None, str]:
        quoted = token if _URL_SAFE.fullmatch(token) else quote(token, safe="")
        return (self.https + quoted if self.https else None), self.mailto + quoted


def build_template(settings: Settings, issue: Issue, rendered: Rendered, *, test: bool = False,
                   key: bytes | None = None) -> MessageTemplate:
    """Encode the message of one rendering once: headers, both parts and embedded images.

    key: the newsletter's key, which makes the address of an audience version's web copy (see web_url).
    """
    sender = sender_address(settings)
    domain = sender.rpartition("@")[2]
    msg = EmailMessage(policy=POLICY)
    msg["From"] = settings.sender  # from, reply_to, list_id, name and the unsubscribe settings are checked by config
    if settings.reply_to:
        msg["Reply-To"] = settings.reply_to
    msg[_PERSONAL_MARK] = "here"  # where the subject (written by hand) and the personal headers go
    msg["List-Id"] = _list_id(settings, domain)
    if (settings.unsubscribe_url or "").startswith("https://"):  # RFC 8058: one-click only with an https link
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg["Precedence"] = "bulk"
    web = web_url(settings, issue, rendered.audience, key)
    text_src = rendered.email_text.replace(WEB_PLACEHOLDER, web)
    html_src = _image_sources(settings, issue, rendered, domain).replace(WEB_PLACEHOLDER, html.escape(web, quote=True))
    mark = secrets.token_hex(12)
    text_mark, html_mark = f"NBTEXT{mark}", f"NBHTML{mark}"
    msg.set_content(text_mark + "\n", cte="quoted-printable")
    msg.add_alternative(html_mark + "\n", subtype="html", cte="quoted-printable")
    if not settings.image_base_url:
        _embed_images(msg.get_payload()[1], rendered.images, domain)
    raw = msg.as_bytes(policy=POLICY)
    head, sep, body = raw.partition(b"\r\n\r\n")
    before, marker_line, after = head.partition(f"{_PERSONAL_MARK}: here\r\n".encode("ascii"))
    if not marker_line:
        raise SendError(_("the message headers could not be built"), hint=_("report this as a bug in nyhetsbrev"))
    top, _sep, rest = body.partition(f"{text_mark}\r\n".encode("ascii"))
    middle, _sep, end = rest.partition(f"{html_mark}\r\n".encode("ascii"))
    subject = subject_header(subject_line(settings, issue, test=test)).encode("ascii")
    return MessageTemplate(
        (before + subject, after + sep), (top, middle, end),
        _encode_body(text_src), _encode_body(html_src),
        settings, sender, domain,
    )


def _list_id(settings: Settings, domain: str) -> str:
    list_id = settings.list_id or f"nyhetsbrev.{domain}"
    if "<" in list_id:
        return list_id
    name = settings.name.replace('"', "'")
    return f'"{name}" <{list_id}>'


def _crlf(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    return text.replace("\n", "\r\n")


def _qp(text: str) -> bytes:
    """Quoted-printable of text that starts at the beginning of a line, CRLF line ends, lines of at most 76."""
    encoded = binascii.b2a_qp(b"\r\n" + text.encode("utf-8"), istext=True)[2:]
    last = encoded.rfind(b"\n") + 1
    if len(encoded) - last >= 76:  # room for the soft line break that follows
        cut = last + 70
        while encoded[cut - 1:cut] == b"=" or encoded[cut - 2:cut - 1] == b"=":
            cut -= 1
        encoded = encoded[:cut] + b"=\r\n" + encoded[cut:]
    return encoded


def _encode_body(text: str) -> _Body:
    pieces = _crlf(text).split(UNSUBSCRIBE_PLACEHOLDER)
    return _Body(tuple(_qp(piece) for piece in pieces))


def _image_sources(settings: Settings, issue: Issue, rendered: Rendered, domain: str) -> str:
    """The HTML with its images (images/<name>) pointing at embedded parts (cid:) or at image_base_url."""
    known = {image.href: image for image in rendered.images}

    def replace(match: re.Match) -> str:
        image = known.get(html.unescape(match.group(3)))
        if image is None:
            return match.group(0)
        if settings.image_base_url:
            target = f"{settings.image_base_url.rstrip('/')}/{issue.id.folder}/{image.href}"
        else:
            target = f"cid:{_content_id(image, domain)}"
        return f"{match.group(1)}{match.group(2)}{html.escape(target, quote=True)}{match.group(2)}"

    return _SRC.sub(replace, rendered.email_html)


def _content_id(image: EmailImage, domain: str) -> str:
    return f"{image.name}@{domain}"  # the name is URL-safe and carries a hash of the bytes


def _embed_images(html_part: EmailMessage, images: tuple[EmailImage, ...], domain: str) -> None:
    for image in images:
        html_part.add_related(
            image.data, "image", image.kind, cid=f"<{_content_id(image, domain)}>", disposition="inline", filename=image.name
        )
