"""What a delivery report or a feedback report says: failed addresses, status, and the Message-IDs it carries (pure)."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import Message
from email.utils import getaddresses, parseaddr

_HEADER_MESSAGE_ID = re.compile(r"^Message-ID:[ \t]*(<[^<>\s]{1,500}>)", re.I | re.M)
_ID = re.compile(r"<[^<>\s]{1,500}>")
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_STATUS_LINE = re.compile(r"\b[45]\d\d[ -][245]\.\d{1,3}\.\d{1,3}\b[^\n]{0,300}")
RETURNED_MESSAGE = ("message/rfc822", "message/global")  # the message that came back, whole
RETURNED_HEADERS = ("text/rfc822-headers", "message/rfc822-headers", "message/global-headers")  # or its headers only
DELIVERY_STATUS = ("message/delivery-status", "message/global-delivery-status")
RETURNED_IDS = 20  # Message-IDs looked up per report: a report is about one message
DETECT_LIMIT = 32 * 1024  # bytes flufl.bounce's detectors read (line by line, dozens of patterns): the failure is on top


def parse(raw: bytes) -> Message:
    """The message object (compat32: fast, and what flufl.bounce expects)."""
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def clean_id(value) -> str | None:
    """The <…> of a Message-ID header, or its stripped text, or None."""
    if not value:
        return None
    text = str(value)[:1000]
    match = _ID.search(text)
    return match.group(0) if match else text.strip() or None


def failures(msg: Message, raw: bytes) -> tuple[set[str], set[str], list[str], bool]:
    """(temporary, permanent, status lines, something was delivered) of a bounce, by its RFC 3464 fields or flufl.bounce."""
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
        temporary, permanent = _detected(msg if len(raw) <= DETECT_LIMIT else parse(raw[:DETECT_LIMIT]))
    permanent.discard("")
    temporary.discard("")
    return temporary - permanent, permanent, statuses, delivered


def _detected(msg: Message) -> tuple[set[str], set[str]]:
    """(temporary, permanent) failed addresses by flufl.bounce's detectors (Mailman's), for non-standard reports too."""
    import logging

    from flufl.bounce import all_failures  # heavy: only for messages that look like bounces

    logging.getLogger("flufl.bounce").disabled = True  # it logs a traceback for odd messages; we fall back instead
    try:
        found = all_failures(msg)
    except Exception:  # a detector that trips over a malformed message: the DSN fields still count
        return set(), set()
    return tuple({address(a) for a in addresses} - {""} for addresses in found)


def address(value) -> str:
    """An address as a report gives it (bytes or text, perhaps in <>), as plain text."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    text = text[:500]
    return parseaddr(text.strip().strip("<>"))[1].strip() or text.strip().strip("<>")


def _dsn_fields(msg: Message):
    """(action, status, recipient, diagnostic) for each recipient block of an RFC 3464 delivery-status part."""
    for part in msg.walk():
        if part.get_content_type() not in DELIVERY_STATUS:
            continue
        for block in _status_blocks(part):
            recipient = block.get("Final-Recipient") or block.get("Original-Recipient")
            if not recipient:
                continue
            found = address(str(recipient).partition(";")[2] or str(recipient))
            status = (_STATUS.search(str(block.get("Status", ""))[:100]) or [""])[0]
            diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).partition(";")[2].split())[:300]
            yield str(block.get("Action", "")).strip().lower(), status, found, diagnostic


def _status_blocks(part: Message) -> list[Message]:
    """The per-message and per-recipient header blocks of a delivery-status part."""
    payload = part.get_payload()
    return payload if isinstance(payload, list) else _blocks(str(payload))


def _feedback_fields(part: Message) -> Message:
    """The fields of a message/feedback-report part (RFC 5965), as headers."""
    payload = part.get_payload()
    return payload[0] if isinstance(payload, list) and payload else parse(str(payload).encode("utf-8", "replace"))


def _inner_message(part: Message) -> Message:
    """The message (or only its headers) that a returned-message part carries."""
    inner = part.get_payload()
    inner = inner[0] if isinstance(inner, list) and inner else inner
    return inner if isinstance(inner, Message) else parse(text_of(part).encode("utf-8", "replace"))


def _to_addresses(inner: Message) -> list[str]:
    """The addresses in the To of a returned message."""
    return [a for _n, a in getaddresses([str(v)[:2000] for v in inner.get_all("To", []) or []]) if a]


def _blocks(text: str) -> list[Message]:
    """The header blocks of a delivery-status body that was not parsed into parts (split at empty lines)."""
    blocks, current = [], []
    for line in text.splitlines():
        if line.strip():
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return [parse("\n".join(block).encode("utf-8", "replace")) for block in blocks]


def status_in_text(msg: Message) -> str:
    """An SMTP reply with its enhanced status code written in a text part ("550 5.1.1 …"), or ""."""
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            match = _STATUS_LINE.search(text_of(part))
            if match:
                return " ".join(match.group(0).split())
    return ""


def returned_ids(msg: Message, raw: bytes, own_id: str | None) -> tuple[str, ...]:
    """Message-IDs of the message that came back: a returned message or its headers, In-Reply-To, References."""
    found: list[str] = []
    for part in msg.walk():
        kind = part.get_content_type()
        if kind in RETURNED_MESSAGE:
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message) and inner.get("Message-ID"):
                found.append(clean_id(inner["Message-ID"]))
        elif kind in RETURNED_HEADERS:
            found += _HEADER_MESSAGE_ID.findall(text_of(part))
    for name in ("In-Reply-To", "References"):
        found += _ID.findall(str(msg.get(name, ""))[:10000])
    # A copy of the message pasted into the text (Exim, older servers): its Message-ID header line.
    found += _HEADER_MESSAGE_ID.findall(raw.decode("utf-8", "replace"))
    return tuple(i for i in dict.fromkeys(found) if i and i != own_id)[:RETURNED_IDS]


def recipients_named(msg: Message) -> tuple[str, ...]:
    """Every address a report names as the recipient of the message that came back: the DSN's Final-Recipient and
    Original-Recipient, the feedback report's Original-Rcpt-To, and the To of the returned message or its headers."""
    found: list[str] = []
    for part in msg.walk():
        kind = part.get_content_type()
        if kind in DELIVERY_STATUS:
            for block in _status_blocks(part):
                for name in ("Final-Recipient", "Original-Recipient"):
                    found += [address(str(v).partition(";")[2] or str(v)) for v in block.get_all(name, []) or []]
        elif kind == "message/feedback-report":
            found += [address(v) for v in _feedback_fields(part).get_all("Original-Rcpt-To", []) or []]
        elif kind in RETURNED_MESSAGE + RETURNED_HEADERS:
            found += _to_addresses(_inner_message(part))
        if len(found) > 100:
            break
    return tuple(dict.fromkeys(a for a in found if a))[:100]


def feedback(msg: Message) -> tuple[str, list[str]]:
    """(feedback type, the complaining recipients) of an ARF report (RFC 5965)."""
    kind, recipients = "", []
    for part in msg.walk():
        if part.get_content_type() == "message/feedback-report":
            fields = _feedback_fields(part)
            kind = str(fields.get("Feedback-Type", "")).strip().lower()[:100]
            recipients = [address(v) for v in fields.get_all("Original-Rcpt-To", []) or []]
    if not recipients:  # the reported message's To, when the report does not name the recipient
        for part in msg.walk():
            if part.get_content_type() in RETURNED_MESSAGE + RETURNED_HEADERS:
                recipients = _to_addresses(_inner_message(part))
                break
    return kind, list(dict.fromkeys(recipients))


def text_of(part: Message) -> str:
    """A text part's content as text (its charset, else UTF-8; undecodable bytes replaced)."""
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, TypeError, LookupError, UnicodeError):
        payload = None
    if payload is None:
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except (LookupError, ValueError):
        return payload.decode("utf-8", "replace")
