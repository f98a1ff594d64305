"""Sort one message that came back: bounce, unsubscribe request, complaint, auto-reply, or a person writing (pure)."""

from __future__ import annotations

import datetime as dt
import email
import email.parser
import email.policy
import hashlib
import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from urllib.parse import unquote

from ..store.tokens import find_tokens, normalise_address

BOUNCE, UNSUBSCRIBE, COMPLAINT, AUTO_REPLY, OTHER = "bounce", "unsubscribe", "complaint", "auto-reply", "other"

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
_HEADER_MESSAGE_ID = re.compile(r"^Message-ID:[ \t]*(<[^<>\s]+>)", re.I | re.M)
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_QUOTE_START = re.compile(
    r"^\s*(>|-{2,}\s*(original message|ursprungligt meddelande|forwarded message|vidarebefordrat)|"
    r"(från|from|skickat|sent):\s|(den|on)\b.*(skrev|wrote):?\s*$|_{10,})", re.I,
)
OWN_TEXT_LIMIT = 4000
PARSE_LIMIT = 256 * 1024
HEAD_LINES = 20


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
    tokens: tuple[str, ...] = ()  # unsubscribe: candidate tokens (not yet verified)
    asks: bool = False  # unsubscribe: the sender asks in words
    detail: str = ""  # a status code and diagnostic, a feedback type, a reason


def parse(raw: bytes) -> Message:
    """The message object (compat32: fast, and what flufl.bounce expects)."""
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def classify(raw: bytes, *, unsubscribe_address: str | None = None) -> Verdict:
    """Sort one message (its bytes as received) into bounce, unsubscribe, complaint, auto-reply or other."""
    msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw, headersonly=True)
    if msg.get_content_maintype() == "multipart" or _looks_like_bounce(msg, parseaddr(_header(msg, "From"))[1], _header(msg, "Subject")):
        # The parts are needed (a single-part message's body is read from the headers-only parse). Reports put
        # what matters first; a returned newsletter of a megabyte adds nothing past PARSE_LIMIT.
        msg = parse(raw[:PARSE_LIMIT])
    message_id = _clean_id(msg.get("Message-ID"))
    base = dict(
        key=message_id or "sha256:" + hashlib.sha256(raw).hexdigest(),
        message_id=message_id,
        date=_date(msg.get("Date")),
        sender=parseaddr(_header(msg, "From"))[1],
        subject=_header(msg, "Subject"),
    )
    report = _report_type(msg)
    if report == "feedback-report":
        return _complaint(msg, base)
    if report == "disposition-notification":  # a read receipt (RFC 8098), which Outlook users send often
        return Verdict(AUTO_REPLY, **base, detail="read receipt")
    if report == "delivery-status" or _looks_like_bounce(msg, base["sender"], base["subject"]):
        verdict = _bounce(msg, raw[:PARSE_LIMIT], base)
        if verdict is not None:
            return verdict
    # A token in the subject is the mailto link used, also by a mail service that sends it on the reader's behalf
    # and marks its message Auto-Submitted: that is a request, not an auto-reply.
    if _is_auto_reply(msg, base["subject"]) and not find_tokens(unquote(base["subject"])):
        return Verdict(AUTO_REPLY, **base, detail="automatic reply")
    return _unsubscribe_or_other(msg, base, unsubscribe_address)


def _header(msg: Message, name: str) -> str:
    value = msg.get(name)
    if value is None:
        return ""
    try:
        text = str(make_header(decode_header(str(value))))
    except (UnicodeError, LookupError, ValueError, email.errors.HeaderParseError):
        text = str(value)
    return " ".join(text.split())


def _clean_id(value) -> str | None:
    if not value:
        return None
    match = re.search(r"<[^<>\s]+>", str(value))
    return match.group(0) if match else str(value).strip() or None


def _date(value) -> str | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
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
    temporary, permanent = set(), set()
    statuses, delivered = [], False
    for action, status, recipient, diagnostic in _dsn_fields(msg):
        if action == "failed" or status.startswith("5"):
            permanent.add(recipient)
        elif action == "delayed" or status.startswith("4"):
            temporary.add(recipient)
        elif action in ("delivered", "relayed", "expanded"):
            delivered = True
        statuses.append(" ".join(part for part in (status, diagnostic) if part))
    if not permanent and not temporary and not delivered:  # no RFC 3464 fields: a provider's own format
        temporary, permanent = _detected(msg)
    permanent.discard("")
    temporary.discard("")
    temporary -= permanent
    returned = _returned_ids(msg, raw, base["message_id"])
    if not permanent and not temporary:
        return Verdict(AUTO_REPLY, **base, detail="delivery report without failures") if delivered else None
    detail = "; ".join(dict.fromkeys(s for s in statuses if s)) or _status_in_text(msg) or ""
    return Verdict(
        BOUNCE, **base, addresses=tuple(sorted(permanent or temporary)), permanent=bool(permanent),
        returned_ids=returned, detail=detail[:300],
    )


def _detected(msg: Message) -> tuple[set[str], set[str]]:
    """(temporary, permanent) failed addresses by flufl.bounce's detectors (Mailman's), for non-standard reports too."""
    import logging

    from flufl.bounce import all_failures  # heavy: only for messages that look like bounces

    logging.getLogger("flufl.bounce").disabled = True  # it logs a traceback for odd messages; we fall back instead
    try:
        found = all_failures(msg)
    except Exception:  # a detector that trips over a malformed message: the DSN fields below still count
        return set(), set()
    return tuple({_address(a) for a in addresses} - {""} for addresses in found)


def _address(value) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return parseaddr(text.strip().strip("<>"))[1].strip() or text.strip().strip("<>")


def _dsn_fields(msg: Message):
    """(action, status, recipient, diagnostic) for each recipient block of an RFC 3464 delivery-status part."""
    for part in msg.walk():
        if part.get_content_type() not in ("message/delivery-status", "message/global-delivery-status"):
            continue
        payload = part.get_payload()
        blocks = payload if isinstance(payload, list) else _blocks(str(payload))
        for block in blocks:
            recipient = block.get("Final-Recipient") or block.get("Original-Recipient")
            if not recipient:
                continue
            address = _address(str(recipient).partition(";")[2] or str(recipient))
            status = (_STATUS.search(str(block.get("Status", ""))) or [""])[0]
            diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).partition(";")[2].split())
            yield str(block.get("Action", "")).strip().lower(), status, address, diagnostic


def _blocks(text: str) -> list[Message]:
    """The header blocks of a delivery-status body that was not parsed into parts."""
    return [parse(chunk.strip().encode("utf-8", "replace")) for chunk in re.split(r"\r?\n\s*\r?\n", text) if chunk.strip()]


def _status_in_text(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            match = re.search(r"\b[45]\d\d[ -][245]\.\d{1,3}\.\d{1,3}\b[^\n]*", _text_of(part))
            if match:
                return " ".join(match.group(0).split())
    return ""


def _returned_ids(msg: Message, raw: bytes, own_id: str | None) -> tuple[str, ...]:
    """Message-IDs of the message that came back: a returned message or its headers, In-Reply-To, References."""
    found: list[str] = []
    for part in msg.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message) and inner.get("Message-ID"):
                found.append(_clean_id(inner["Message-ID"]))
        elif kind in ("text/rfc822-headers", "message/rfc822-headers", "message/global-headers"):
            found += _HEADER_MESSAGE_ID.findall(_text_of(part))
    for name in ("In-Reply-To", "References"):
        found += re.findall(r"<[^<>\s]+>", str(msg.get(name, "")))
    # A copy of the message pasted into the text (Exim, older servers): its Message-ID header line.
    found += _HEADER_MESSAGE_ID.findall(raw.decode("utf-8", "replace"))
    return tuple(i for i in dict.fromkeys(found) if i and i != own_id)


def _complaint(msg: Message, base: dict) -> Verdict:
    """An ARF feedback report (RFC 5965): who complained, about which message."""
    feedback, recipients = "", []
    for part in msg.walk():
        if part.get_content_type() == "message/feedback-report":
            payload = part.get_payload()
            fields = payload[0] if isinstance(payload, list) and payload else parse(str(payload).encode("utf-8", "replace"))
            feedback = str(fields.get("Feedback-Type", "")).strip().lower()
            recipients = [_address(v) for v in fields.get_all("Original-Rcpt-To", []) or []]
    returned = _returned_ids(msg, b"", base["message_id"])
    if not recipients:  # the reported message's To, when the report does not name the recipient
        for part in msg.walk():
            if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
                inner = part.get_payload()
                inner = inner[0] if isinstance(inner, list) and inner else parse(_text_of(part).encode("utf-8", "replace"))
                recipients = [a for _n, a in getaddresses(inner.get_all("To", []) or []) if a]
                break
    if feedback not in ("abuse", "fraud"):
        return Verdict(AUTO_REPLY, **base, detail=f"feedback report '{feedback or 'unknown'}' (not a complaint)")
    return Verdict(COMPLAINT, **base, addresses=tuple(dict.fromkeys(recipients)), returned_ids=returned,
                   detail=f"feedback report: {feedback}")


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
    head = "\n".join([line for line in own_text(msg).splitlines() if line.strip()][:HEAD_LINES])
    to_unsubscribe = bool(unsubscribe_address) and _addressed_to(msg, unsubscribe_address)
    asks = bool(_ASKS.search(subject) or _ASKS.search(head))
    tokens = find_tokens(subject)
    if to_unsubscribe or asks:
        tokens += find_tokens(head)
    if tokens or asks:
        return Verdict(UNSUBSCRIBE, **base, tokens=tuple(dict.fromkeys(tokens)), asks=asks,
                       detail="token" if tokens else "asked in words")
    return Verdict(OTHER, **base)


def _addressed_to(msg: Message, address: str) -> bool:
    wanted = normalise_address(address)
    values = [str(v) for name in ("To", "Cc", "Delivered-To", "X-Original-To") for v in msg.get_all(name, []) or []]
    return any(normalise_address(a) == wanted for _n, a in getaddresses(values))


def own_text(msg: Message) -> str:
    """What the writer wrote: the first text part up to where a quoted earlier message starts."""
    part = next((p for p in msg.walk() if p.get_content_type() == "text/plain"), None)
    if part is None:
        part = next((p for p in msg.walk() if p.get_content_type() == "text/html"), None)
    if part is None:
        return ""
    text = _text_of(part)
    if part.get_content_type() == "text/html":
        text = re.sub(r"(?is)<(script|style)\b.*?</\1>|<blockquote\b.*", " ", text)
        text = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", text)
        text = re.sub(r"<[^>]+>", " ", text)
    lines = []
    for line in text.splitlines():
        if _QUOTE_START.match(line):
            break
        lines.append(line)
    return "\n".join(lines)[:OWN_TEXT_LIMIT]


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")
