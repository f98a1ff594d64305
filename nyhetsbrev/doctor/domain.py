"""The sender domain's DNS as receivers read it: SPF that allows the relay, DKIM keys, DMARC and its alignment, MX."""

from __future__ import annotations

import ipaddress
from email.utils import parseaddr

from ..errors import DnsError
from ..i18n import _
from ..project.models import Settings
from . import spf
from .dmarc import dmarc_checks, mx_checks
from .checks import Check, fail, ok
from .names import OFFICE365_SELECTORS, OFFICE365_SPF, domain_of, is_office365, tags, txt_record

def dns_checks(settings: Settings, lookup) -> list[Check]:
    """SPF, DKIM, DMARC with its alignment, and MX: a DNS that does not answer is one ✗ per part, saying so."""
    sender = domain_of(settings.sender)
    parts = [
        ("spf", _("SPF of {domain}").format(domain=sender), lambda: spf_checks(settings, lookup, sender)),
        ("dkim", _("DKIM of {domain}").format(domain=sender), lambda: dkim_checks(settings, lookup, sender)),
        ("dmarc", _("DMARC of {domain}").format(domain=sender), lambda: dmarc_checks(settings, lookup, sender)),
        ("mx", _("MX"), lambda: mx_checks(settings, lookup)),
    ]
    found = []
    for key, title, part in parts:
        try:
            found += part()
        except DnsError as exc:
            found.append(fail(key, title, exc.what, _(
                "Check this computer's network connection (or NYHETSBREV_DNS); if others can look the name up, "
                "ask IT whether the DNS servers of the domain answer")))
    return found


def relay_addresses(settings: Settings, lookup) -> list[str]:
    """The addresses of the relay's host: itself when it is an address, else its A and AAAA records."""
    host = (settings.smtp.host or "").strip("[]").rstrip(".")
    if host.lower() == "localhost":
        return ["127.0.0.1"]
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        return lookup.addresses(host, 4) + lookup.addresses(host, 6)


def spf_checks(settings: Settings, lookup, domain: str) -> list[Check]:
    """The SPF record: one, readable; its cost in look-ups; and that it allows the relay."""
    title = _("SPF of {domain}").format(domain=domain)
    office365 = is_office365(settings)
    addresses = [] if office365 else relay_addresses(settings, lookup)
    allow = [f"include:{OFFICE365_SPF}"] if office365 else [
        f"ip{ipaddress.ip_address(a).version}:{a}" for a in addresses]
    records = spf.spf_records(lookup.ask(domain, "TXT"))
    if not records:
        return [fail("spf.record", title, _("{domain} has no SPF record").format(domain=domain), _(
            "Ask IT to publish an SPF record for {domain} that allows the relay {relay}").format(
            domain=domain, relay=settings.smtp.host), txt_record(domain, " ".join(["v=spf1", *allow, "-all"])))]
    if len(records) > 1:
        return [fail("spf.record", title, _("{domain} has {count} SPF records, and receivers then use none").format(
            domain=domain, count=len(records)), _("Ask IT to merge them into one TXT record beginning v=spf1"))]
    record = records[0]
    try:
        spf.parse(record)
    except spf.SpfSyntax as exc:
        return [fail("spf.record", title, _("{record}: {problem}; receivers then ignore it").format(
            record=record, problem=exc), _("Ask IT to correct the SPF record of {domain}").format(domain=domain))]
    found = [ok("spf.record", title, record)]
    sender = parseaddr(settings.sender)[1]
    walks = [spf.Evaluator(lookup, address, sender).run(domain) for address in addresses] or [
        spf.Evaluator(lookup, None, sender).run(domain)]
    found.append(_cost(title, domain, walks[0]))
    if office365:
        if OFFICE365_SPF in walks[0].includes:
            found.append(ok("spf.relay", title, _("allows Microsoft 365 (include:{spf})").format(spf=OFFICE365_SPF)))
        else:
            found.append(fail("spf.relay", title, _("does not include {spf}: mail sent through Microsoft 365 fails "
                                                    "SPF").format(spf=OFFICE365_SPF),
                              _("Ask IT to add include:{spf} to the SPF record of {domain}").format(
                                  spf=OFFICE365_SPF, domain=domain), txt_record(domain, spf.with_term(record, allow[0]))))
        return found
    refused = [(address, walk.result) for address, walk in zip(addresses, walks) if walk.result != "pass"]
    if not addresses:
        found.append(fail("spf.relay", title, _("the relay {relay} has no address in the DNS").format(
            relay=settings.smtp.host), _("Check host in [smtp] of nyhetsbrev.toml; ask IT for the relay's name")))
    elif refused:
        terms = [term for term, address in zip(allow, addresses) if address in dict(refused)]
        fixed = record
        for term in terms:
            fixed = spf.with_term(fixed, term)
        found.append(fail("spf.relay", title, _("does not allow the relay's address {addresses} (SPF result: {result})").format(
            addresses=", ".join(a for a, _r in refused), result=refused[0][1]), _(
            "Ask IT to allow the relay {relay} in the SPF record of {domain} ({terms}, or the include its provider "
            "names)").format(relay=settings.smtp.host, domain=domain, terms=" ".join(terms)), txt_record(domain, fixed)))
    else:
        shown = settings.smtp.host if addresses == [settings.smtp.host] else \
            f"{settings.smtp.host} ({', '.join(addresses)})"
        found.append(ok("spf.relay", title, _("allows the relay {relay}").format(relay=shown)))
    return found


def _cost(title: str, domain: str, walk: spf.Walk) -> Check:
    """The look-ups the record costs receivers: at most 10, at most 2 that find nothing, included records readable."""
    problems = []
    if walk.lookups > spf.LOOKUP_LIMIT:
        problems.append(_("it needs {count} DNS look-ups and receivers stop at {limit} (RFC 7208 4.6.4), so SPF fails "
                          "for every message").format(count=walk.lookups, limit=spf.LOOKUP_LIMIT))
    if len(walk.voids) > spf.VOID_LIMIT:
        problems.append(_("{count} of its look-ups find nothing ({names}) and receivers allow {limit}").format(
            count=len(walk.voids), names=", ".join(walk.voids), limit=spf.VOID_LIMIT))
    problems += walk.problems
    if not problems:
        return ok("spf.lookups", title, _("{count} of {limit} DNS look-ups, {voids} of {void_limit} that find nothing").format(
            count=walk.lookups, limit=spf.LOOKUP_LIMIT, voids=len(walk.voids), void_limit=spf.VOID_LIMIT))
    return fail("spf.lookups", title, "; ".join(problems), _(
        "Ask IT to bring the SPF record of {domain} within the limits: remove include: and a/mx terms of services no "
        "longer used, or write their addresses as ip4:/ip6: ranges").format(domain=domain))


def dkim_selectors(settings: Settings, domain: str) -> tuple[tuple[str, ...], str]:
    """The selectors to look up and the domain the relay signs as (Microsoft 365: selector1/2 at the From domain)."""
    if is_office365(settings):
        return OFFICE365_SELECTORS, domain
    return settings.smtp.dkim_selectors, settings.smtp.dkim_domain or domain


def dkim_settings_check(settings: Settings) -> list[Check]:
    """A ✗ when the relay is not Microsoft 365's and dkim_selectors does not say which keys to look up."""
    domain = domain_of(settings.sender)
    if is_office365(settings) or settings.smtp.dkim_selectors:
        return []
    return [fail("dkim", _("DKIM of {domain}").format(domain=domain), _(
        "dkim_selectors is not set in [smtp], so the relay's DKIM key cannot be looked up"), _(
        "Ask IT which selector and domain the relay signs {domain}'s mail with (s= and d= in the DKIM-Signature of a "
        "mail it sent), then add dkim_selectors = [\"…\"] to [smtp] (and dkim_domain when d= is not {domain})").format(
        domain=domain))]


def dkim_checks(settings: Settings, lookup, domain: str) -> list[Check]:
    """That the relay's DKIM public key is published (Microsoft 365: at selector1 or selector2)."""
    selectors, signer = dkim_selectors(settings, domain)
    if not selectors:
        return []  # reported by dkim_settings_check
    title = _("DKIM of {domain}").format(domain=domain)
    keys = {s: _dkim_key(lookup.ask(f"{s}._domainkey.{signer}", "TXT")) for s in selectors}
    published = [s for s, key in keys.items() if key == "key"]
    if is_office365(settings):
        if published:
            return [ok("dkim", title, _("a key is published at {names}").format(names=f"{published[0]}._domainkey.{signer}"))]
        return [fail("dkim", title, _("no DKIM key at selector1._domainkey.{domain} or selector2._domainkey.{domain}: "
                                      "Microsoft 365 does not sign as {domain}").format(domain=signer), _(
            "Ask IT to turn on DKIM signing for {domain} in Microsoft 365 (Microsoft Defender portal, Email "
            "authentication settings, DKIM) and to publish the two CNAME records it shows, selector1._domainkey.{domain} "
            "and selector2._domainkey.{domain}").format(domain=signer))]
    missing = [s for s in selectors if keys[s] != "key"]
    if not missing:
        return [ok("dkim", title, _("a key is published at {names}").format(
            names=", ".join(f"{s}._domainkey.{signer}" for s in selectors)))]
    names = ", ".join(f"{s}._domainkey.{signer}" for s in missing)
    revoked = any(keys[s] == "revoked" for s in missing)
    return [fail("dkim", title, (_("the key at {names} is revoked (p= is empty)") if revoked else
                                 _("no DKIM key at {names}")).format(names=names), _(
        "Ask IT to publish the relay's DKIM public key as a TXT record at {names} (v=DKIM1; k=rsa; p=…, from the "
        "relay's administrator), or correct dkim_selectors in [smtp]").format(names=names))]


def _dkim_key(texts: list[str] | None) -> str:
    """"key" when the TXT texts hold a DKIM public key, "revoked" for an empty p=, "none" otherwise."""
    for text in texts or []:
        found = tags(text)
        if found.get("v", "DKIM1") == "DKIM1" and "p" in found:
            return "key" if found["p"] else "revoked"
    return "none"
