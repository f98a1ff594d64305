"""SPF (RFC 7208) as a receiver reads it: one record, its syntax, the DNS look-ups it costs, and what it allows."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from ..i18n import _

LOOKUP_LIMIT = 10  # terms that ask the DNS: include, a, mx, ptr, exists and redirect (RFC 7208 4.6.4)
VOID_LIMIT = 2  # look-ups that find nothing (no such name, or no record of the type asked)
MX_HOST_LIMIT = 10  # hosts one mx term may name
MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
_MACRO = re.compile(r"%(?:\{([slodiphcrtv])(\d*)(r?)([.\-+,/_=]*)\}|([%_-]))", re.IGNORECASE)
_CIDR = re.compile(r"^(?::([^/]+))?(?:/(\d+))?(?://(\d+))?$")


class SpfSyntax(ValueError):
    """A record a receiver cannot read (permerror); the message names the term."""


@dataclass(frozen=True)
class Term:
    """One mechanism (ip4:…, include:…, -all …) or modifier (redirect=…) of a record, as written."""

    text: str
    name: str
    qualifier: str = "+"
    value: str | None = None  # the domain-spec or network
    cidr4: int = 32
    cidr6: int = 128
    modifier: bool = False


def spf_records(texts: list[str] | None) -> list[str]:
    """The SPF records among a name's TXT texts (v=spf1, alone or followed by a space)."""
    return [t for t in texts or [] if t.lower() == "v=spf1" or t.lower().startswith("v=spf1 ")]


def parse(record: str) -> list[Term]:
    """The terms of an SPF record; SpfSyntax naming the first term a receiver cannot read."""
    words = [w for w in record.split(" ") if w]
    terms, modifiers = [], set()
    for word in words[1:]:
        modifier = re.fullmatch(r"([A-Za-z][A-Za-z0-9_.-]*)=(.*)", word)
        if modifier:
            name = modifier.group(1).lower()
            if name in ("redirect", "exp"):
                if name in modifiers:
                    raise SpfSyntax(_("'{name}=' appears twice").format(name=name))
                modifiers.add(name)
                _domain_spec(modifier.group(2), word)
            terms.append(Term(word, name, value=modifier.group(2), modifier=True))
            continue
        terms.append(_mechanism(word))
    return terms


def _mechanism(word: str) -> Term:
    qualifier = word[0] if word[0] in "+-~?" else "+"
    rest = word[1:] if word[0] in "+-~?" else word
    name = re.match(r"[A-Za-z0-9]*", rest).group().lower()
    args = rest[len(name):]
    if name not in MECHANISMS:
        raise SpfSyntax(_("'{term}' is not an SPF mechanism").format(term=word))
    bad = SpfSyntax(_("'{term}' is not written as SPF requires").format(term=word))
    if name == "all":
        if args:
            raise bad
        return Term(word, name, qualifier)
    if name in ("ip4", "ip6"):
        try:
            network = (ipaddress.IPv4Network if name == "ip4" else ipaddress.IPv6Network)(args[1:], strict=False)
        except ValueError:
            raise bad from None
        if not args.startswith(":"):
            raise bad
        return Term(word, name, qualifier, str(network))
    if name in ("include", "exists"):
        if not args.startswith(":"):
            raise bad
        return Term(word, name, qualifier, _domain_spec(args[1:], word))
    match = _CIDR.match(args)
    if not match or (name == "ptr" and (match.group(2) or match.group(3))):
        raise bad
    spec, cidr4, cidr6 = match.group(1), int(match.group(2) or 32), int(match.group(3) or 128)
    if cidr4 > 32 or cidr6 > 128:
        raise bad
    return Term(word, name, qualifier, _domain_spec(spec, word) if spec else None, cidr4, cidr6)


def _domain_spec(spec: str, word: str) -> str:
    """A domain-spec (a domain name, macros allowed); SpfSyntax when it is none."""
    bare = _MACRO.sub("", spec)
    if not spec or "%" in bare or any(ord(ch) < 0x21 or ord(ch) > 0x7E for ch in bare):
        raise SpfSyntax(_("'{term}' does not name a domain").format(term=word))
    if "%" not in spec:
        labels = spec.rstrip(".").split(".")
        if len(labels) < 2 or not all(labels) or labels[-1].isdigit():
            raise SpfSyntax(_("'{term}' does not name a domain").format(term=word))
    return spec


@dataclass
class Walk:
    """What evaluating a domain's SPF found: its record, the look-ups it cost, the look-ups that found nothing."""

    record: str | None = None
    result: str = "none"  # for the address asked about: pass, fail, softfail, neutral, none, permerror
    lookups: int = 0
    voids: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what makes receivers give up (permerror), in included records too
    includes: set[str] = field(default_factory=set)  # every domain included or redirected to, at any depth


class Evaluator:
    """check_host() of RFC 7208 for one address, walking every term (also after a match) to count the whole cost."""

    def __init__(self, lookup, ip: str | None, sender: str) -> None:
        self.lookup = lookup
        self.ip = ipaddress.ip_address(ip) if ip else None
        self.family = self.ip.version if self.ip else 4
        self.sender = sender
        self.walk = Walk()

    def run(self, domain: str) -> Walk:
        """Evaluate domain's SPF for the address; the Walk with the result and the cost."""
        texts = self.lookup.ask(domain, "TXT")
        records = spf_records(texts)
        self.walk.record = records[0] if len(records) == 1 else None
        self.walk.result = self._check(domain, (), top=True)
        return self.walk

    def _check(self, domain: str, path: tuple[str, ...], top: bool = False) -> str:
        walk = self.walk
        texts = self.lookup.ask(domain, "TXT")
        records = spf_records(texts)
        if len(records) != 1:
            if not top:
                walk.problems.append(_("{domain} has {count} SPF records, not one").format(domain=domain, count=len(records))
                                     if records else _("{domain} has no SPF record").format(domain=domain))
            return "none" if not records else "permerror"
        try:
            terms = parse(records[0])
        except SpfSyntax as exc:
            walk.problems.append(f"{domain}: {exc}")
            return "permerror"
        result, path = None, path + (domain.lower(),)
        has_all = any(t.name == "all" and not t.modifier for t in terms)
        for term in terms:
            if term.modifier:
                continue
            if term.name == "all":  # the terms after it are never evaluated, so they cost nothing
                result = result or {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}[term.qualifier]
                break
            matched = self._mechanism(term, domain, path)
            if result is None and matched in (True, "permerror"):
                result = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}[term.qualifier] \
                    if matched is True else "permerror"
        redirect = next((t for t in terms if t.modifier and t.name == "redirect"), None)
        if redirect is not None and not has_all:
            walk.lookups += 1
            target = self._expand(redirect.value, domain)
            if target and target.lower() not in path:
                walk.includes.add(target.lower())
                if self.lookup.ask(target, "TXT") is None:
                    walk.voids.append(target)
                after = self._check(target, path)
                if result is None:
                    result = "permerror" if after == "none" else after
        return result or "neutral"

    def _mechanism(self, term: Term, domain: str, path: tuple[str, ...]):
        """True when the term matches the address, False when not, "permerror" when it cannot be evaluated."""
        walk, name = self.walk, term.name
        if name == "all":
            return True
        if name in ("ip4", "ip6"):
            return self.ip is not None and self.ip in ipaddress.ip_network(term.value)
        walk.lookups += 1
        target = self._expand(term.value, domain) if term.value else domain
        if walk.lookups > 3 * LOOKUP_LIMIT or target is None:
            return False  # far past the limit (a loop): reported as too many look-ups; or a macro that needs the address
        if name == "include":
            walk.includes.add(target.lower())
            if target.lower() in path:
                walk.problems.append(_("{domain} includes itself").format(domain=target))
                return "permerror"
            if self.lookup.ask(target, "TXT") is None:
                walk.voids.append(target)
            result = self._check(target, path)
            return "permerror" if result in ("none", "permerror") else result == "pass"
        if name == "ptr":
            return False  # deprecated; receivers are not required to follow it
        if name == "mx":
            hosts = self.lookup.ask(target, "MX")
            if hosts is None:
                walk.voids.append(target)
                return False
            if len(hosts) > MX_HOST_LIMIT:
                walk.problems.append(_("mx:{domain} names more than 10 mail servers").format(domain=target))
                return "permerror"
            return any(self._within(self.lookup.addresses(host, self.family), term) for _pref, host in hosts if host)
        addresses = self.lookup.ask(target, "A" if name == "exists" or self.family == 4 else "AAAA")
        if addresses is None:
            walk.voids.append(target)
            return False
        return True if name == "exists" else self._within(addresses, term)

    def _within(self, addresses: list[str], term: Term) -> bool:
        if self.ip is None:
            return False
        prefix = term.cidr4 if self.ip.version == 4 else term.cidr6
        return any(self.ip in ipaddress.ip_network(f"{a}/{prefix}", strict=False) for a in addresses
                   if ipaddress.ip_address(a).version == self.ip.version)

    def _expand(self, spec: str, domain: str) -> str | None:
        """A domain-spec with its macros filled in (RFC 7208 7); None when it needs the address and there is none."""
        local, _at, sender_domain = self.sender.rpartition("@")
        values = {"s": self.sender, "l": local or "postmaster", "o": sender_domain, "d": domain, "h": sender_domain,
                  "p": "unknown", "r": "unknown", "c": str(self.ip or ""), "t": "0"}
        if self.ip is not None:
            values["i"] = str(self.ip) if self.ip.version == 4 else ".".join(self.ip.exploded.replace(":", ""))
            values["v"] = "in-addr" if self.ip.version == 4 else "ip6"
        missing = []

        def fill(match: re.Match) -> str:
            if match.group(5):
                return {"%": "%", "_": " ", "-": "%20"}[match.group(5)]
            letter, digits, reverse, delimiters = match.groups()[:4]
            if letter.lower() not in values:
                missing.append(letter)
                return ""
            parts = re.split("[" + re.escape(delimiters or ".") + "]", values[letter.lower()])
            parts = parts[::-1] if reverse else parts
            return ".".join(parts[-int(digits):] if digits and int(digits) else parts)

        expanded = _MACRO.sub(fill, spec)
        return None if missing else expanded


def with_term(record: str, term: str) -> str:
    """The record with a term added before its 'all' (or its redirect=), else at its end."""
    words = record.split()
    for index, word in enumerate(words):
        if re.fullmatch(r"[+\-~?]?all", word, re.IGNORECASE) or word.lower().startswith("redirect="):
            return " ".join(words[:index] + [term] + words[index:])
    return " ".join(words + [term])
