"""Names doctor reasons about: domains of addresses, organisational domains (Public Suffix List), Microsoft 365's."""

from __future__ import annotations

from email.utils import parseaddr

from ..project.config import is_office365_host
from ..project.models import Settings

OFFICE365_SPF = "spf.protection.outlook.com"
OFFICE365_SELECTORS = ("selector1", "selector2")


def domain_of(address: str | None) -> str | None:
    """The domain of an address (lower case, no final dot), or None."""
    return parseaddr(address or "")[1].rpartition("@")[2].lower().rstrip(".") or None


def organisational_domain(domain: str) -> str:
    """The organisational domain by the Public Suffix List (kommun.se for nyheter.kommun.se), as DMARC defines it."""
    from publicsuffixlist import PublicSuffixList

    global _psl
    if _psl is None:
        _psl = PublicSuffixList()  # the list shipped with the package; nothing is downloaded
    return _psl.privatesuffix(domain.lower()) or domain.lower()


_psl = None


def is_office365(settings: Settings) -> bool:
    """True when the relay is Microsoft 365's (smtp.office365.com)."""
    return is_office365_host(settings.smtp.host)


def tags(text: str) -> dict[str, str]:
    """The tag=value pairs of a DKIM key or DMARC record (tags lower case, whitespace removed from values)."""
    pairs = (part.split("=", 1) for part in text.split(";") if "=" in part)
    return {name.strip().lower(): "".join(value.split()) for name, value in pairs}


def txt_record(name: str, text: str) -> str:
    """A TXT record as a zone file line."""
    return f'{name}. TXT "{text}"'
