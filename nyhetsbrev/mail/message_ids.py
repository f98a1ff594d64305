"""Message-IDs that cannot be guessed from one another, and telling them from the counter kind sent before (light)."""

from __future__ import annotations

import re
import secrets
import string

MESSAGE_ID_BYTES = 16  # random bytes in each Message-ID (the contract asks for at least 96 bits)
_FORM = "<{folder}.{random}@{domain}>"  # the issue's folder (22-1), random hex, the sender's domain
_PIECES = {"folder": r"\d{2}-\d{1,4}", "random": "[0-9a-f]{%d}" % (2 * MESSAGE_ID_BYTES), "domain": r"[^<>\s]+"}
_RANDOM_ID = re.compile("".join(re.escape(literal) + (_PIECES[name] if name else "")
                                for literal, name, _spec, _conversion in string.Formatter().parse(_FORM)))


def is_unguessable_id(message_id: str) -> bool:
    """True for a Message-ID of the random kind MessageIds makes; False for the counter kind sent before
    (`<22-1.<16 hex>.<n>@…>`, where one reader's Message-ID tells the next reader's) and anything else."""
    return bool(_RANDOM_ID.fullmatch(message_id or ""))


class MessageIds:
    """Message-IDs that cannot be guessed from one another: 128 random bits each (no counter, no time).

    A bounce or complaint is believed only when it carries the Message-ID of a sent message, so knowing one
    recipient's must not tell another's. Drawing 16 bytes from the OS costs about a microsecond a message.
    """

    def __init__(self, domain: str, issue) -> None:
        self._prefix, self._suffix = _FORM.format(folder=issue.id.folder, random="\0", domain=domain).split("\0")

    def __call__(self) -> str:
        return f"{self._prefix}{secrets.token_hex(MESSAGE_ID_BYTES)}{self._suffix}"
