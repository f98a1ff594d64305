"""DMARC at the From domain or its organisational domain, the alignment the relay can meet, and MX of reply addresses."""

from __future__ import annotations

from email.utils import parseaddr

from ..i18n import _
from ..project.models import Settings
from .checks import Check, fail, ok
from .names import OFFICE365_SELECTORS, domain_of, is_office365, organisational_domain, tags, txt_record

POLICIES = ("none", "quarantine", "reject")


def find_dmarc(lookup, domain: str) -> tuple[str, list[str]]:
    """Where the DMARC record that governs domain lives (_dmarc.domain, else at its organisational domain) and the
    records found there (none: the organisational domain's name and [])."""
    organisation = organisational_domain(domain)
    for name in dict.fromkeys([domain, organisation]):
        records = [t for t in lookup.ask(f"_dmarc.{name}", "TXT") or []
                   if t.strip().lower().replace(" ", "").startswith("v=dmarc1")]
        if records:
            return name, records
    return organisation, []


def dmarc_checks(settings: Settings, lookup, domain: str) -> list[Check]:
    """A DMARC record with a policy, and alignment that the relay's DKIM signature and the envelope sender meet."""
    title = _("DMARC of {domain}").format(domain=domain)
    where, records = find_dmarc(lookup, domain)
    if not records:
        missing = _("no DMARC record at _dmarc.{domain}") if where == domain else _(
            "no DMARC record at _dmarc.{domain} nor at its organisational domain (_dmarc.{organisation})")
        return [fail("dmarc", title, missing.format(domain=domain, organisation=where), _(
            "Ask IT to publish a DMARC record for {organisation}: Gmail, Yahoo and Outlook.com turn away or junk bulk "
            "mail without one; p=none is enough to start").format(organisation=where),
            txt_record(f"_dmarc.{where}", "v=DMARC1; p=none"))]
    if len(records) > 1:
        return [fail("dmarc", title, _("_dmarc.{name} has {count} DMARC records, and receivers then use none").format(
            name=where, count=len(records)), _("Ask IT to keep one DMARC record at _dmarc.{name}").format(name=where))]
    record, found = records[0], tags(records[0])
    policy = (found.get("sp") if where != domain and found.get("sp") else found.get("p", "")).lower()
    if found.get("p", "").lower() not in POLICIES:
        fixed = "; ".join(["v=DMARC1", "p=none", *(p.strip() for p in record.split(";")[1:] if p.strip()
                                                    and not p.strip().lower().startswith("p="))])
        return [fail("dmarc", title, _("the DMARC record at _dmarc.{name} has no policy (p=none, p=quarantine or "
                                       "p=reject): {record}").format(name=where, record=record), _(
            "Ask IT to add a policy to the DMARC record of {name}").format(name=where),
            txt_record(f"_dmarc.{where}", fixed))]
    checks = [ok("dmarc", title, _("p={policy} at _dmarc.{name}").format(policy=policy, name=where))]
    return checks + [alignment_check(settings, domain, where, record)]


def alignment_check(settings: Settings, domain: str, where: str, record: str) -> Check:
    """adkim and aspf against the domain the relay signs as and the envelope sender (nyhetsbrev's: the From address)."""
    title = _("DMARC alignment of {domain}").format(domain=domain)
    found = tags(record)
    adkim, aspf = found.get("adkim", "r").lower(), found.get("aspf", "r").lower()
    signer = domain if is_office365(settings) else (settings.smtp.dkim_domain or domain)
    envelope = domain_of(settings.sender)  # send uses the From address as the envelope sender (Return-Path)
    if _aligned(signer, domain, adkim) and _aligned(envelope, domain, aspf):
        return ok("dmarc.alignment", title, _("the relay's signature (d={signer}) meets adkim={adkim} and the envelope "
                                             "sender ({envelope}) meets aspf={aspf}").format(
            signer=signer, adkim=adkim, envelope=envelope, aspf=aspf))
    selector = (OFFICE365_SELECTORS if is_office365(settings) else settings.smtp.dkim_selectors or ("…",))[0]
    if _aligned(signer, domain, "r"):
        relaxed = "; ".join("adkim=r" if p.strip().lower().startswith("adkim=") else p.strip()
                            for p in record.split(";") if p.strip())
        return fail("dmarc.alignment", title, _("the relay signs as {signer} and adkim=s asks for exactly {domain}, so "
                                                "DKIM does not count for DMARC").format(signer=signer, domain=domain), _(
            "Ask IT to change adkim=s to adkim=r in the DMARC record at _dmarc.{name}, or to have the relay sign as "
            "{domain} (its key at {selector}._domainkey.{domain})").format(name=where, domain=domain, selector=selector),
            txt_record(f"_dmarc.{where}", relaxed))
    return fail("dmarc.alignment", title, _("the relay signs as {signer}, which is not {domain} nor under {organisation}, "
                                            "so DKIM does not count for DMARC").format(
        signer=signer, domain=domain, organisation=organisational_domain(domain)), _(
        "Ask IT to have the relay sign {domain}'s mail as {domain} (d={domain}, its key at {selector}._domainkey.{domain}), "
        "then set dkim_domain in [smtp] to it").format(domain=domain, selector=selector))


def _aligned(actual: str, wanted: str, mode: str) -> bool:
    """DMARC identifier alignment: the same domain (s), or the same organisational domain (r)."""
    if mode == "s":
        return actual == wanted
    return organisational_domain(actual) == organisational_domain(wanted)


def mx_checks(settings: Settings, lookup) -> list[Check]:
    """An MX record for the domain of Reply-To (or From when there is none) and of unsubscribe_email."""
    reply = parseaddr(settings.reply_to or settings.sender)[1]
    addresses: dict[str, list[str]] = {}
    for address in (reply, settings.unsubscribe_email):
        if address:
            addresses.setdefault(domain_of(address), []).append(address.strip())
    checks = []
    for domain, named in addresses.items():
        title = _("MX of {domain}").format(domain=domain)
        hosts = [h for _pref, h in lookup.ask(domain, "MX") or []]
        who = ", ".join(dict.fromkeys(named))
        if hosts and any(hosts):
            checks.append(ok("mx", title, _("mail to {addresses} goes to {host}").format(addresses=who, host=hosts[0])))
            continue
        detail = (_("{domain} says it takes no mail (null MX)") if hosts else _("{domain} has no MX record")).format(
            domain=domain)
        checks.append(fail("mx", title, _("{detail}: replies and unsubscribe requests to {addresses} cannot arrive").format(
            detail=detail, addresses=who), _(
            "Ask IT to publish an MX record for {domain} naming the server that receives its mail (for Microsoft 365 "
            "the one the admin center shows under Settings, Domains)").format(domain=domain)))
    return checks
