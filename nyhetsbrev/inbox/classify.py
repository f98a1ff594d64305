"""Sort one message that came back: bounce, unsubscribe request, complaint, auto-reply, a person writing, or unreadable (pure)."""

from __future__ import annotations

import datetime as dt
import email.errors
import email.parser
import email.policy
import hashlib
import re
from dataclasses import dataclass
from email.header import Header, decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from urllib.parse import unquote

from ..i18n import N_, _
from ..store.tokens import find_tokens, normalise_address
from . import reports
from .owntext import cut_quote, own_text_of_html
from .reports import clean_id, parse, text_of

BOUNCE, UNSUBSCRIBE, COMPLAINT, AUTO_REPLY, OTHER = "bounce", "unsubscribe", "complaint", "auto-reply", "other"
UNREADABLE = "unreadable"

_ASKS = re.compile(
    r"\b(avregistrera|avregistrering|unsubscribe|avsluta\s+(min\s+|mina\s+)?prenumeration(en)?|avprenumerera|"
    r"ta\s+bort\s+mig|remove\s+me)\b", re.I,
)
_AUTO_SUBJECT = re.compile(
    r"^\s*(automatiskt\s+svar|autosvar|frånvaro(meddelande)?|frånvarande|ej\s+på\s+plats|out\s+of\s+(the\s+)?office|"
    r"automatic\s+reply|auto[- ]?reply|autoreply|auto[- ]?response|away\s+from\s+the\s+office|on\s+vacation|"
    r"semester)\b", re.I,
)
_BOUNCE_SENDER = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon|bounce[s]?|no-?reply-?bounce)@", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"(undeliver|undelivered|delivery\s+(status\s+notification|failure|has\s+failed|failed|delayed)|"
    r"returned\s+mail|mail\s+delivery\s+failed|failure\s+notice|could\s+not\s+be\s+delivered|"
    r"olevererbar|kunde\s+inte\s+levereras|leveransfel|warning:\s+message\s+.*\s+delayed|"
    r"delayed\s+mail|det\s+gick\s+inte\s+att\s+leverera)", re.I,
)
# Content types that open a level of nesting; more than NESTING_LIMIT of them and the message is not parsed at all.
_NESTING = re.compile(rb"^content-type:[ \t]*(?:\r?\n[ \t]+)?(?:multipart|message)/", re.M)  # in lower case
PARSE_LIMIT = 256 * 1024  # bytes of a message read: reports and requests put what matters first
NESTING_LIMIT = 40
HEADER_LIMIT = 2000  # characters of a header value looked at
HEAD_LINES = 20  # lines of own text in which a request in words counts
TOKEN_LINES = 8  # lines of own text in which a token counts: a quoted newsletter's footer is far below


@dataclass(frozen=True)
class Verdict:
    """What a message is, and what it says: the facts apply() needs, nothing looked up yet."""

    kind: str
    key: str  # the Message-ID, or a hash of the bytes when there is none: remembered once handled
    message_id: str | None
    date: str | None  # the message's Date in UTC (ISO 8601), when it has a readable one
    sender: str  # the From address
    subject: str
    addresses: tuple[str, ...] = ()  # bounce: the failed addresses; complaint: the complaining recipient
    permanent: bool = False  # bounce: at least one permanent failure
    returned_ids: tuple[str, ...] = ()  # Message-IDs of the message we sent that came back
    recipients: tuple[str, ...] = ()  # bounce, complaint: every address the report names as that message's recipient
    tokens: tuple[str, ...] = ()  # unsubscribe: candidate tokens (not yet verified)
    asks: bool = False  # unsubscribe: the sender asks in words
    named: tuple[str, ...] = ()  # unsubscribe: other addresses the writer names in their own text
    detail: str = ""  # a status code and diagnostic, a feedback type, a reason


class Unreadable(Exception):
    """A message that is not parsed: nested too deeply (the reason is its text)."""


def classify(raw: bytes, *, unsubscribe_address: str | None = None) -> Verdict:
    """Sort one message (its bytes as received) into bounce, unsubscribe, complaint, auto-reply, other or unreadable.

    Never raises for what a message holds: one that cannot be read is an UNREADABLE verdict with the reason.
    Only the first PARSE_LIMIT bytes are read, so time and memory stay bounded whatever the message's size.
    """
    raw = raw[:PARSE_LIMIT]
    try:
        return _classify(raw, unsubscribe_address)
    except Exception as exc:  # RecursionError, MemoryError, a decoding error, a detector's bug: this message only
        return unreadable(raw, reason(exc))


def reason(exc: BaseException) -> str:
    """Why a message could not be read, in words."""
    if isinstance(exc, Unreadable):
        return str(exc)
    if isinstance(exc, RecursionError):
        return _("nested too deeply to read")
    if isinstance(exc, MemoryError):
        return _("too large to read")
    if isinstance(exc, TimeoutError):
        return _("took too long to read")
    if isinstance(exc, (UnicodeError, LookupError, email.errors.MessageError)):
        return _("cannot be decoded ({kind})").format(kind=type(exc).__name__)
    return _("cannot be read ({kind})").format(kind=type(exc).__name__)


def unreadable(raw: bytes, why: str, *, key: str | None = None) -> Verdict:
    """The verdict for a message that cannot be read: what can be told of its sender and subject, and why."""
    message_id = date = None
    sender = subject = ""
    try:
        end = min((i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0), default=len(raw))
        head = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw[:min(end, 64 * 1024)])
        message_id, date = clean_id(head.get("Message-ID")), _date(head.get("Date"))
        sender, subject = printable(parseaddr(_header(head, "From"))[1]), _header(head, "Subject")
    except Exception:  # not even its headers: it is listed with what is known (its key)
        pass
    key = key or message_id or _hash_key(raw)
    return Verdict(UNREADABLE, key=key, message_id=message_id, date=date, sender=sender, subject=subject, detail=why)


def _nesting(lower: bytes) -> int:
    """How many parts open a level of nesting (multipart/…, message/…), counted up to one past NESTING_LIMIT."""
    return sum(1 for _ in zip(range(NESTING_LIMIT + 1), _NESTING.finditer(lower)))


def _hash_key(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw[:PARSE_LIMIT]).hexdigest()


def _classify(raw: bytes, unsubscribe_address: str | None) -> Verdict:
    lower = raw.lower()
    if lower.count(b"content-type:") > NESTING_LIMIT and _nesting(lower) > NESTING_LIMIT:
        raise Unreadable(_("more than {limit} nested parts").format(limit=NESTING_LIMIT))
    msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw, headersonly=True)
    if msg.get_content_maintype() == "multipart" or _looks_like_bounce(msg, parseaddr(_header(msg, "From"))[1], _header(msg, "Subject")):
        msg = parse(raw)  # the parts are needed (a single-part message's body is read from the headers-only parse)
    message_id = clean_id(msg.get("Message-ID"))
    base = dict(
        key=message_id or _hash_key(raw),
        message_id=message_id,
        date=_date(msg.get("Date")),
        sender=printable(parseaddr(_header(msg, "From"))[1]),
        subject=_header(msg, "Subject"),
    )
    report = _report_type(msg)
    if report == "feedback-report":
        return _complaint(msg, raw, base)
    if report == "disposition-notification":  # a read receipt (RFC 8098), which Outlook users send often
        return Verdict(AUTO_REPLY, **base, detail=N_("read receipt"))
    if report == "delivery-status" or _looks_like_bounce(msg, base["sender"], base["subject"]):
        verdict = _bounce(msg, raw, base)
        if verdict is not None:
            return verdict
    # A token in the subject is the mailto link used, also by a mail service that sends it on the reader's behalf
    # and marks its message Auto-Submitted: that is a request, not an auto-reply.
    if _is_auto_reply(msg, base["subject"]) and not find_tokens(unquote(base["subject"])):
        return Verdict(AUTO_REPLY, **base, detail=N_("automatic reply"))
    return _unsubscribe_or_other(msg, base, unsubscribe_address)


def _header(msg: Message, name: str) -> str:
    """A header's text: RFC 2047 words decoded, and raw 8-bit bytes read as UTF-8 (else Windows-1252)."""
    value = msg.get(name)
    if value is None:
        return ""
    if isinstance(value, Header):  # raw 8-bit bytes in the header, as some mail programs send
        text = _eight_bit(value)
    else:
        value = str(value)[:HEADER_LIMIT]
        try:
            text = str(make_header(decode_header(value)))
        except (UnicodeError, LookupError, ValueError, email.errors.HeaderParseError):
            text = value
    return printable(text[:HEADER_LIMIT])


def printable(text: str) -> str:
    """Text safe to show on a terminal: whitespace runs become one space, control characters (ESC …) are dropped."""
    return "".join(ch for ch in " ".join(text.split()) if ch.isprintable())


def _eight_bit(value: Header) -> str:
    # compat32 gives a header with raw 8-bit bytes as a Header of one chunk in the unknown-8bit charset: the bytes as
    # received, which are read as UTF-8, else as Windows-1252.
    [(chunk, _charset)] = decode_header(value)
    chunk = chunk[:HEADER_LIMIT]
    try:
        text = chunk.decode("utf-8")
    except UnicodeDecodeError:
        text = chunk.decode("cp1252", "replace")
    if "=?" in text:  # encoded words beside the raw bytes (decode_header gives the plain runs back as Latin-1 bytes)
        try:
            text = "".join(part.decode(charset or "raw-unicode-escape") if isinstance(part, bytes) else part
                           for part, charset in decode_header(text))
        except (UnicodeError, LookupError, ValueError, email.errors.HeaderParseError):
            pass
    return text


def _date(value) -> str | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(str(value)[:200])
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _report_type(msg: Message) -> str | None:
    if msg.get_content_type() == "multipart/report":
        return (msg.get_param("report-type") or "").lower() or None
    return None


def _looks_like_bounce(msg: Message, sender: str, subject: str) -> bool:
    """Non-standard reports: a mailer daemon, Exim's X-Failed-Recipients, or a delivery-failure subject."""
    if msg.get("X-Failed-Recipients"):
        return True
    if (msg.get("Return-Path") or "").strip() == "<>" or _BOUNCE_SENDER.match(sender):
        return True
    return bool(_BOUNCE_SUBJECT.search(subject))


def _bounce(msg: Message, raw: bytes, base: dict) -> Verdict | None:
    """A bounce with its failed addresses, or None when the report says nothing failed (or nothing can be found)."""
    temporary, permanent, statuses, delivered = reports.failures(msg, raw)
    if not permanent and not temporary:
        return Verdict(AUTO_REPLY, **base, detail=N_("delivery report without failures")) if delivered else None
    detail = "; ".join(dict.fromkeys(s for s in statuses if s)) or reports.status_in_text(msg) or ""
    return Verdict(
        BOUNCE, **base, addresses=tuple(sorted(printable(a) for a in permanent or temporary)), permanent=bool(permanent),
        returned_ids=reports.returned_ids(msg, raw, base["message_id"]), recipients=reports.recipients_named(msg),
        detail=printable(detail[:300]),
    )


def _complaint(msg: Message, raw: bytes, base: dict) -> Verdict:
    """An ARF feedback report (RFC 5965): who complained, about which message."""
    feedback, recipients = reports.feedback(msg)
    if feedback not in ("abuse", "fraud"):
        return Verdict(AUTO_REPLY, **base, detail=_("feedback report '{kind}' (not a complaint)").format(kind=printable(feedback) or "unknown"))
    return Verdict(COMPLAINT, **base, addresses=tuple(printable(a) for a in recipients),
                   returned_ids=reports.returned_ids(msg, raw, base["message_id"]), recipients=reports.recipients_named(msg),
                   detail=_("feedback report: {kind}").format(kind=feedback))


def _is_auto_reply(msg: Message, subject: str) -> bool:
    submitted = str(msg.get("Auto-Submitted", "")).strip().lower()
    if submitted and submitted != "no":
        return True
    if msg.get("X-Autoreply") or msg.get("X-Autorespond") or msg.get("X-Autoresponder"):
        return True
    if str(msg.get("Precedence", "")).strip().lower() in ("auto_reply", "auto-reply"):
        return True
    return bool(_AUTO_SUBJECT.search(subject))


def _unsubscribe_or_other(msg: Message, base: dict, unsubscribe_address: str | None) -> Verdict:
    subject = unquote(base["subject"])
    # A request is written at the top; further down may be a quoted newsletter with its own unsubscribe link.
    lines = [line for line in own_text(msg).splitlines() if line.strip()]
    head = "\n".join(lines[:HEAD_LINES])
    to_unsubscribe = bool(unsubscribe_address) and _addressed_to(msg, unsubscribe_address)
    asks = bool(_ASKS.search(subject) or _ASKS.search(head))
    tokens = find_tokens(subject)
    if to_unsubscribe or asks:
        tokens += find_tokens("\n".join(lines[:TOKEN_LINES]))
    if tokens or asks:
        named = _named(head, {base["sender"], unsubscribe_address or ""})
        return Verdict(UNSUBSCRIBE, **base, tokens=tuple(dict.fromkeys(tokens)), asks=asks, named=named,
                       detail=N_("token") if tokens else N_("asked in words"))
    return Verdict(OTHER, **base)


def _named(text: str, besides: set[str]) -> tuple[str, ...]:
    """Addresses written in the text, other than the writer's own and ours.

    A word starting with '-' is never one: in the command listed for a person it would be read as an option
    (`--from-file=…@…`), whatever the writer meant.
    """
    skip = {normalise_address(a) for a in besides if a}
    found = []
    for word in re.split(r"[\s<>,;:()\[\]\"']+", text):
        word = word.strip(".!?")
        if word.startswith("-"):
            continue
        if len(word) <= 254 and "@" in word.strip("@") and normalise_address(word) not in skip:  # so x@y at least
            found.append(printable(word))
    return tuple(dict.fromkeys(found))[:10]


def _addressed_to(msg: Message, address: str) -> bool:
    wanted = normalise_address(address)
    values = [str(v)[:HEADER_LIMIT] for name in ("To", "Cc", "Delivered-To", "X-Original-To") for v in msg.get_all(name, []) or []]
    return any(normalise_address(a) == wanted for _n, a in getaddresses(values))


def own_text(msg: Message) -> str:
    """What the writer wrote: the first text part up to where a quoted earlier message starts."""
    part = next((p for p in _own_parts(msg) if p.get_content_type() == "text/plain"), None)
    if part is not None:
        return cut_quote(text_of(part)[:PARSE_LIMIT])
    part = next((p for p in _own_parts(msg) if p.get_content_type() == "text/html"), None)
    return own_text_of_html(text_of(part)) if part is not None else ""


def _own_parts(msg: Message):
    """The parts of the message itself, in order: never those of a message attached to it (a newsletter forwarded
    as an attachment carries someone else's token near the top of its text) nor attached files. Only multipart parts
    are opened, so an attached message (message/…) is never entered; it is not a text part itself."""
    stack = [msg]
    while stack:
        part = stack.pop()
        if part is not msg and part.get_content_disposition() == "attachment":
            continue
        yield part
        if part.get_content_maintype() == "multipart" and isinstance(part.get_payload(), list):
            stack.extend(reversed(part.get_payload()))
