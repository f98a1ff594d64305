"""Values bound for mail headers and the SMTP envelope: refused when they could inject, domains written in ASCII."""

from __future__ import annotations

import re

from ..errors import HeaderInjection, SendError

_UNSAFE = ("\r", "\n", "\0", "=?")
_ADDRESS = re.compile(r"[^\s@<>()\[\],;:\"\\]+@[^\s@<>()\[\],;:\"\\]+\.[^\s@<>()\[\],;:\"\\]+")


def check_header_value(value: str | None, what: str) -> str:
    """Return value, or raise HeaderInjection if it holds CR, LF, NUL or an encoded word ('=?')."""
    text = value or ""
    for bad in _UNSAFE:
        if bad in text:
            shown = {"\r": "a carriage return", "\n": "a line break", "\0": "a NUL character"}.get(bad, "'=?'")
            raise HeaderInjection(
                f"the {what} contains {shown}, which could add headers or recipients to the email",
                hint=f"remove it from the {what}",
            )
    return text


def envelope_address(address: str) -> str:
    """The address as it goes on the wire: checked, IDN domain in ASCII; SendError when it cannot be sent."""
    check_header_value(address, "address")
    address = address.strip()
    local, _, domain = address.rpartition("@")
    try:
        domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        raise SendError(f"the address {address} has a domain that cannot be written in ASCII") from None
    if not local.isascii():
        raise SendError(f"the address {address} has non-ASCII characters before the @, which this sender cannot deliver")
    result = f"{local}@{domain}"
    if not _ADDRESS.fullmatch(result):
        raise SendError(f"'{address}' is not a deliverable email address")
    return result
