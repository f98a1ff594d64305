"""DNS questions for doctor: the system's resolver, or NYHETSBREV_DNS (host:port); a timeout per question, answers kept."""

from __future__ import annotations

import ipaddress
import os
import threading

from ..errors import DnsError
from ..i18n import _

DNS_ENV = "NYHETSBREV_DNS"
TIMEOUT = 5.0  # seconds for one question, retries included


def dns_server() -> tuple[str, int] | None:
    """NYHETSBREV_DNS as (address, port), None when unset; DnsError when it is not host:port."""
    value = (os.environ.get(DNS_ENV) or "").strip()
    if not value:
        return None
    if value.startswith("["):  # [IPv6]:port
        host, _bracket, port = value[1:].partition("]")
        port = port.removeprefix(":") or "53"
    elif value.count(":") == 1:
        host, port = value.split(":")
    else:  # an address alone (IPv4, or IPv6 without brackets): port 53
        host, port = value, "53"
    try:
        ipaddress.ip_address(host)
        number = int(port)
        if not 0 < number < 65536:
            raise ValueError
    except ValueError:
        raise DnsError(_("{name} is '{value}', not a DNS server's address and port").format(name=DNS_ENV, value=value),
                       hint=_("write it as 192.0.2.53:53 (an IP address, then the port), or remove it")) from None
    return host, number


class Lookup:
    """Asks one resolver; each (name, type) is asked once. None from ask() is a void answer (no such name, no record)."""

    def __init__(self, timeout: float | None = None) -> None:
        """timeout: seconds for one question (TIMEOUT when not given)."""
        import dns.resolver

        timeout = TIMEOUT if timeout is None else timeout

        server = dns_server()
        if server:
            self.resolver = dns.resolver.Resolver(configure=False)
            self.resolver.nameservers = [server[0]]
            self.resolver.port = server[1]
            self.where = f"{server[0]}:{server[1]}"
        else:
            try:
                self.resolver = dns.resolver.Resolver()
            except dns.resolver.NoResolverConfiguration:
                raise DnsError(_("this computer has no DNS resolver configured"),
                               hint=_("connect to the network, or set {name} to a DNS server (host:port)").format(
                                   name=DNS_ENV)) from None
            self.where = _("the system's resolver")
        # A question lost on the way (UDP) is asked again: each try gets a quarter of the time, at least 2 s.
        self.resolver.lifetime = timeout
        self.resolver.timeout = min(timeout, max(2.0, timeout / 4))
        self.timeout = timeout
        self._answers: dict[tuple[str, str], list | None] = {}
        self._lock = threading.Lock()
        self._silent: DnsError | None = None  # once the DNS has not answered in time, the next questions fail at once

    def ask(self, name: str, rdtype: str) -> list | None:
        """TXT: the texts; MX: (preference, host) pairs; A/AAAA: addresses. None when void; DnsError when DNS fails."""
        key = (name.lower().rstrip("."), rdtype)
        with self._lock:
            if key in self._answers:
                return self._answers[key]
        if self._silent is not None:
            raise self._silent
        answer = self._ask(key[0], rdtype)
        with self._lock:
            self._answers[key] = answer
        return answer

    def _ask(self, name: str, rdtype: str) -> list | None:
        import dns.exception
        import dns.name
        import dns.resolver

        try:
            answer = self.resolver.resolve(name + ".", rdtype, search=False, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return None
        except (dns.name.NameTooLong, dns.name.LabelTooLong, dns.name.EmptyLabel):
            return None  # no name that long can exist
        except dns.exception.Timeout:
            self._silent = DnsError(_("the DNS ({where}) did not answer for {name} within {seconds:g} s").format(
                where=self.where, name=name, seconds=self.timeout))
            raise self._silent from None
        except dns.exception.DNSException as exc:
            raise DnsError(_("the DNS ({where}) could not answer for {name}: {reason}").format(
                where=self.where, name=name, reason=" ".join(str(exc).split())[:200])) from None
        if answer.rrset is None:
            return None
        if rdtype == "TXT":
            return [b"".join(r.strings).decode("utf-8", "replace") for r in answer.rrset]
        if rdtype == "MX":
            return sorted((r.preference, r.exchange.to_text(omit_final_dot=True).lower()) for r in answer.rrset)
        return [r.to_text() for r in answer.rrset]

    def addresses(self, name: str, family: int = 4) -> list[str]:
        """The IPv4 (family 4) or IPv6 addresses of a name; [] when it has none."""
        return self.ask(name, "A" if family == 4 else "AAAA") or []
