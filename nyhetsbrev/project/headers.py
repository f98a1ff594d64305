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


def _plain_ascii(domain: str) -> bool:
    return domain.isascii() and "xn--" not in domain


def ascii_domain(domain: str) -> str:
    """A domain in ASCII (IDNA 2008 with UTS 46 mapping, as email-validator does: straße.de -> xn--strae-oqa.de).

    UnicodeError when the domain cannot be written in ASCII.
    """
    domain = domain.rstrip(".").lower()
    if _plain_ascii(domain):
        return domain
    import idna

    try:
        return idna.encode(domain, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise UnicodeError(str(exc)) from None


def unicode_domain(domain: str) -> str:
    """A domain in lower-case Unicode by IDNA 2008 / UTS 46 (ß stays ß, xn-- labels decoded); as given when invalid."""
    domain = domain.rstrip(".").lower()
    if _plain_ascii(domain):
        return domain
    import idna

    try:
        return idna.decode(idna.encode(domain, uts46=True, transitional=False))
    except (idna.IDNAError, UnicodeError, ValueError):
        return domain


def envelope_address(address: str) -> str:
    """The address as it goes on the wire: checked, IDN domain in ASCII; SendError when it cannot be sent."""
    check_header_value(address, "address")
    address = address.strip()
    local, _, domain = address.rpartition("@")
    try:
        domain = ascii_domain(domain) if not domain.isascii() else domain
    except UnicodeError:
        raise SendError(f"the address {address} has a domain that cannot be written in ASCII") from None
    if not local.isascii():
        raise SendError(
            f"the address {address} has non-ASCII characters before the @, which needs SMTPUTF8; nyhetsbrev sends "
            "without it, so it cannot deliver this address"
        )
    result = f"{local}@{domain}"
    if not _ADDRESS.fullmatch(result):
        raise SendError(f"'{address}' is not a deliverable email address")
    return result
