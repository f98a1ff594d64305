"""Why an e-mail address is not valid, in the user's words (instead of email-validator's English sentences)."""

from __future__ import annotations

import string

from ..i18n import _

# The ASCII characters allowed before and after the @; every character beyond ASCII is allowed too. Sets, not a
# regex: a character class up to U+10FFFF takes milliseconds to compile, on every command that imports the store.
_LOCAL_ASCII = frozenset(string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~.-")
_DOMAIN_ASCII = frozenset(string.ascii_letters + string.digits + ".-")
SPECIAL_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})


def invalid_reason(address: str, library_reason: str = "") -> str:
    """The first thing wrong with the address, as a short phrase; a general phrase when nothing plain is found."""
    if any(c.isspace() for c in address):
        return _("it has a space in it")
    if "@" not in address:
        return _("there is no @")
    if address.count("@") > 1 and not address.startswith('"'):
        return _("there is more than one @")
    local, _at, domain = address.rpartition("@")
    if not local:
        return _("nothing comes before the @")
    if not domain:
        return _("nothing comes after the @")
    if len(address) > 254 or len(local) > 64:
        return _("it is too long")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return _("a dot is misplaced before the @")
    bad = next((c for c in local if c not in _LOCAL_ASCII and c.isascii()), None)
    if bad and not local.startswith('"'):
        return _("the character {char} is not allowed before the @").format(char=bad)
    bad = next((c for c in domain if c not in _DOMAIN_ASCII and c.isascii()), None)
    if bad:
        return _("the character {char} is not allowed after the @").format(char=bad)
    if "." not in domain:
        return _("the domain {domain} has no dot (it should end in .se, .com or the like)").format(domain=domain)
    if domain.startswith(".") or domain.endswith(".") or ".." in domain:
        return _("a dot is misplaced after the @")
    if any(part.startswith("-") or part.endswith("-") for part in domain.split(".")):
        return _("a part of the domain {domain} starts or ends with a dash").format(domain=domain)
    if domain.rpartition(".")[2].lower() in SPECIAL_TLDS:
        return _("the domain {domain} cannot receive mail").format(domain=domain)
    if domain.rpartition(".")[2].isdigit():
        return _("the domain {domain} is a number, not a name").format(domain=domain)
    return _("the domain {domain} is not valid").format(domain=domain)
