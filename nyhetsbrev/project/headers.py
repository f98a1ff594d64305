"""Values bound for mail headers and the SMTP envelope: refused when they could inject, domains written in ASCII.

Free text (the subject, a recipient's name) is encoded on its way into a header, so only CR, LF and NUL
are refused there; values that go in as they are (addresses, List-Id) may not hold '=?' either.
"""

from __future__ import annotations

import re

from ..errors import HeaderInjection, SendError
from ..i18n import N_, _

_UNSAFE = ("\r", "\n", "\0", "=?")
_SHOWN = {"\r": N_("a carriage return"), "\n": N_("a line break"), "\0": N_("a NUL character"), "=?": "'=?'"}
_ADDRESS = re.compile(r"[^\s@<>()\[\],;:\"\\]+@[^\s@<>()\[\],;:\"\\]+\.[^\s@<>()\[\],;:\"\\]+")


def text_problem(value: str | None, what: str) -> str | None:
    """Why free text (subject, preheader) cannot go into a header: it holds CR, LF or NUL; None when it can.

    check and send both ask this, so what check passes, send accepts.
    """
    return _problem(value or "", what, _UNSAFE[:3])


def _problem(text: str, what: str, unsafe: tuple[str, ...]) -> str | None:
    for bad in unsafe:
        if bad in text:
            return _("the {what} contains {character}, which could add headers or recipients to the email").format(
                what=what, character=_(_SHOWN[bad]))
    return None


def check_header_text(value: str | None, what: str) -> str:
    """Return free text bound for an encoded header (the subject), or raise HeaderInjection for CR, LF or NUL."""
    problem = text_problem(value, what)
    if problem:
        raise HeaderInjection(problem, hint=_("remove it from the {what}").format(what=what))
    return value or ""


def check_header_value(value: str | None, what: str) -> str:
    """Return value, or raise HeaderInjection if it holds CR, LF, NUL or an encoded word ('=?')."""
    problem = _problem(value or "", what, _UNSAFE)
    if problem:
        raise HeaderInjection(problem, hint=_("remove it from the {what}").format(what=what))
    return value or ""


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
    local, _at, domain = address.rpartition("@")
    try:
        domain = ascii_domain(domain) if not domain.isascii() else domain
    except UnicodeError:
        raise SendError(_("the address {address} has a domain that cannot be written in ASCII").format(address=address)) from None
    if not local.isascii():
        raise SendError(
            _("the address {address} has non-ASCII characters before the @, which needs SMTPUTF8; nyhetsbrev sends without it, so it cannot deliver this address").format(address=address)
        )
    result = f"{local}@{domain}"
    if not _ADDRESS.fullmatch(result):
        raise SendError(_("'{address}' is not a deliverable email address").format(address=address))
    return result
