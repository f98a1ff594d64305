"""Header lines written by hand, so that free text can never change a header's meaning.

The subject and a recipient's name go out as they are when they are plain ASCII words, otherwise as
RFC 2047 encoded words (UTF-8, base64) of at most 75 characters each, one per folded line: a name full of
quotes, commas or angle brackets stays one display name, and '=?' in a subject is text, not an encoding.
"""

from __future__ import annotations

import base64
import re

LINE = 78  # RFC 5322: lines SHOULD be at most 78 characters (and MUST be at most 998)
_WORD_BYTES = 45  # 45 bytes of UTF-8 → 60 base64 characters → an encoded word of 72
_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/^_`{|}~-]+)*")  # atoms: no specials
_PRINTABLE = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def single_line(text: str | None) -> str:
    """Text with every control character (line breaks too) made a space and runs of spaces made one."""
    return " ".join(_CONTROL.sub(" ", text or "").split())


def encoded_words(text: str) -> list[str]:
    """text as RFC 2047 encoded words, split between characters so that each decodes on its own."""
    whole = text.encode("utf-8")
    if len(whole) <= _WORD_BYTES:  # a name, nearly always: one word, without going through it character by character
        return [f"=?utf-8?b?{base64.b64encode(whole).decode('ascii')}?="] if whole else []
    words, chunk = [], b""
    for char in text:
        data = char.encode("utf-8")
        if len(chunk) + len(data) > _WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += data
    if chunk:
        words.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(word).decode('ascii')}?=" for word in words]


def _fold(name: str, pieces: list[str]) -> str:
    """'Name: ' and the pieces, a new folded line whenever the next one would pass 78 characters."""
    lines, current = [], f"{name}:"
    for piece in pieces:
        if len(current) + 1 + len(piece) > LINE and current != f"{name}:":
            lines.append(current)
            current = ""
        current += " " + piece
    lines.append(current)
    return "\r\n".join(lines) + "\r\n"


def subject_header(subject: str) -> str:
    """The Subject header line(s), ending in CRLF: plain when printable ASCII without '=?', else encoded words."""
    text = single_line(subject)
    words = text.split(" ")
    if _PRINTABLE.fullmatch(text) and "=?" not in text and max(len(w) for w in words) <= LINE - 10:
        return _fold("Subject", words)
    return _fold("Subject", encoded_words(text) if text else [])


def to_header(address: str, name: str | None) -> str:
    """The To header line(s) for one recipient, ending in CRLF: always exactly this one address.

    The address has been checked by envelope_address; the name, whatever it holds, becomes a display name.
    """
    name = single_line(name)
    if not name:
        return f"To: {address}\r\n"
    if _PHRASE.fullmatch(name) and len(f"To: {name} <{address}>") <= LINE:
        return f"To: {name} <{address}>\r\n"
    return _fold("To", encoded_words(name) + [f"<{address}>"])
