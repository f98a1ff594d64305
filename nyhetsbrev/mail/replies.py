"""What became of one message: SMTP replies classified by their codes (sent, deferred, failed, unknown)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# What became of one message.
SENT = "sent"            # the server replied 250 to the end of DATA
DEFERRED = "deferred"    # 4xx (or 552): try again later
FAILED = "failed"        # other 5xx: permanent for this recipient
UNKNOWN = "unknown"      # the connection was lost after the whole message was sent
RECONNECT = "reconnect"  # 421 or a connection lost before the message was complete: retry on a new connection

_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b")


@dataclass(frozen=True)
class Result:
    """The outcome of one message: its kind, the SMTP code and the server's reply text."""

    kind: str
    code: int | None = None
    reply: str = ""

    @property
    def enhanced(self) -> str | None:
        """The enhanced status code (RFC 3463) at the start of the reply, e.g. '5.7.1'."""
        match = _ENHANCED.match(self.reply)
        return ".".join(match.groups()) if match else None

    @property
    def policy(self) -> bool:
        """True for a permanent policy rejection (5.7.x): usually about the sender, not the recipient."""
        return self.kind == FAILED and (self.enhanced or "").startswith("5.7.")

    def __str__(self) -> str:
        return f"{self.code} {self.reply}".strip() if self.code else self.reply


def classify(code: int, text: str, *, data_sent: bool = False) -> Result:
    """Turn an SMTP reply into a Result by its code (smtplib raises one exception for 451 and 550 alike)."""
    if code == 421:
        return Result(RECONNECT, code, text)
    if 400 <= code < 500 or code == 552:
        return Result(DEFERRED, code, text)
    if 500 <= code < 600:
        return Result(FAILED, code, text)
    return Result(UNKNOWN if data_sent else RECONNECT, code if code > 0 else None, text or "unreadable reply")


def is_bad_address(reply: str) -> bool:
    """True for a permanent rejection of the address itself (5.1.1 no such user, 5.1.2 no such domain, 5.1.10 null MX)."""
    return bool(re.match(r"^5\d\d 5\.1\.(1|2|3|10)\b", reply or ""))


def policy_key(result: Result) -> str:
    """A policy reply without the parts that name the recipient, to see whether rejections are identical."""
    text = re.sub(r"<[^>]*>|\S+@\S+|\b[0-9A-Fa-f]{8,}\b", "", result.reply)
    return f"{result.code} {' '.join(text.split())}"
