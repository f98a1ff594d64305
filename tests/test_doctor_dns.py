"""doctor's DNS reasoning against a real DNS server (dnsmasq on 127.0.0.1): SPF's cost as RFC 7208 counts it,
Microsoft 365's SPF include and DKIM selectors, and SPF records a receiver cannot read."""

from __future__ import annotations

import pytest

from nyhetsbrev.doctor import spf
from nyhetsbrev.doctor.domain import dns_checks
from nyhetsbrev.doctor.lookup import Lookup
from nyhetsbrev.project.config import load_settings
from tests.dns_server import DnsServer, Zone, require_dnsmasq

KEY = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDdoctorTestKeyOnlyForTheseTestsAQAB"


@pytest.fixture
def serve_zone(monkeypatch):
    """Start dnsmasq with a zone and point NYHETSBREV_DNS at it; stopped after the test."""
    started = []

    def serve(zone: Zone) -> Lookup:
        server = DnsServer(zone, binary=require_dnsmasq()).start()
        started.append(server)
        monkeypatch.setenv("NYHETSBREV_DNS", server.address)
        return Lookup()

    yield serve
    for server in started:
        server.stop()


def test_lookups_are_counted_through_includes_and_void_ones_apart(serve_zone):
    zone = (Zone("example.se")
            .txt("example.se", "v=spf1 a mx include:inc.example.se a:none1.example.se exists:none2.example.se "
                               "mx:none3.example.se ptr -all include:after.example.se")
            .txt("inc.example.se", "v=spf1 a:host.example.se mx:example.se ?all")
            .a("example.se", "192.0.2.1").a("host.example.se", "192.0.2.2").mx("example.se", "host.example.se"))
    walk = spf.Evaluator(serve_zone(zone), "198.51.100.7", "nyhetsbrev@example.se").run("example.se")
    # a, mx, include, (a:host, mx inside the include), a:none1, exists:none2, mx:none3, ptr; nothing after -all
    assert walk.lookups == 9
    assert walk.voids == ["none1.example.se", "none2.example.se", "none3.example.se"]
    assert walk.result == "fail"
    assert walk.includes == {"inc.example.se"}


def test_a_match_inside_an_include_or_a_redirect_passes(serve_zone):
    zone = (Zone("example.se")
            .txt("example.se", "v=spf1 include:inc.example.se redirect=_spf.example.se")
            .txt("inc.example.se", "v=spf1 ip4:192.0.2.0/24 -all")
            .txt("_spf.example.se", "v=spf1 a:relay.example.se/30 -all").a("relay.example.se", "198.51.100.5"))
    lookup = serve_zone(zone)
    assert spf.Evaluator(lookup, "192.0.2.77", "a@example.se").run("example.se").result == "pass"
    walk = spf.Evaluator(lookup, "198.51.100.6", "a@example.se").run("example.se")
    assert (walk.result, walk.lookups) == ("pass", 3)
    assert spf.Evaluator(lookup, "203.0.113.1", "a@example.se").run("example.se").result == "fail"


@pytest.mark.parametrize("record", [
    "v=spf1 ip4:300.1.1.1 -all", "v=spf1 include -all", "v=spf1 foo:example.se -all", "v=spf1 a/33 -all",
    "v=spf1 include:com -all", "v=spf1 redirect=a.example.se redirect=b.example.se", "v=spf1 -all/24",
])
def test_records_a_receiver_cannot_read_are_refused(record):
    with pytest.raises(spf.SpfSyntax):
        spf.parse(record)


def test_records_that_are_fine_are_read():
    terms = spf.parse("v=spf1 +a mx:example.se/24//64 ip6:2001:db8::/32 exists:%{i}._spf.example.se ~all exp=x.example.se")
    assert [t.name for t in terms] == ["a", "mx", "ip6", "exists", "all", "exp"]
    assert spf.with_term("v=spf1 ip4:192.0.2.1 ~all", "ip4:127.0.0.1") == "v=spf1 ip4:192.0.2.1 ip4:127.0.0.1 ~all"


OFFICE365 = """\
name = "Nyhetsbrevet"
from = "Nyhetsbrevet <nyhetsbrev@example.se>"
unsubscribe_email = "avregistrera@example.se"

[smtp]
host = "smtp.office365.com"
username = "nyhetsbrev@example.se"
"""


def office365_zone(spf_record: str, dkim: bool) -> Zone:
    zone = (Zone("example.se", "outlook.com", "onmicrosoft.com")
            .txt("example.se", spf_record)
            .txt("spf.protection.outlook.com", "v=spf1 ip4:192.0.2.0/24 include:spfd.protection.outlook.com -all")
            .txt("spfd.protection.outlook.com", "v=spf1 ip4:198.51.100.0/24 -all")
            .txt("_dmarc.example.se", "v=DMARC1; p=none").mx("example.se", "example-se.mail.protection.outlook.com"))
    if dkim:
        zone.cname("selector1._domainkey.example.se", "selector1-example-se._domainkey.example.onmicrosoft.com")
        zone.txt("selector1-example-se._domainkey.example.onmicrosoft.com", f"v=DKIM1; k=rsa; p={KEY}")
    return zone


def test_microsoft_365_needs_its_include_and_a_key_at_selector1_or_selector2(serve_zone, tmp_path):
    (tmp_path / "nyhetsbrev.toml").write_text(OFFICE365, encoding="utf-8")
    settings = load_settings(tmp_path / "nyhetsbrev.toml")
    good = dns_checks(settings, serve_zone(office365_zone("v=spf1 include:spf.protection.outlook.com -all", True)))
    assert [c.key for c in good if c.failed] == []
    assert {c.key: c.detail for c in good}["spf.lookups"].startswith("2 of 10")
    bad = dns_checks(settings, serve_zone(office365_zone("v=spf1 ip4:192.0.2.1 -all", False)))
    failures = {c.key: c for c in bad if c.failed}
    assert set(failures) == {"spf.relay", "dkim"}
    assert failures["spf.relay"].record == 'example.se. TXT "v=spf1 ip4:192.0.2.1 include:spf.protection.outlook.com -all"'
    assert "turn on DKIM signing for example.se in Microsoft 365" in failures["dkim"].advice


def test_two_spf_records_and_a_broken_include_are_crosses(serve_zone, tmp_path):
    (tmp_path / "nyhetsbrev.toml").write_text(OFFICE365, encoding="utf-8")
    settings = load_settings(tmp_path / "nyhetsbrev.toml")
    zone = Zone("example.se", "outlook.com").txt("example.se", "v=spf1 -all", "v=spf1 ~all")
    [record] = [c for c in dns_checks(settings, serve_zone(zone)) if c.key == "spf.record"]
    assert record.failed and "has 2 SPF records" in record.detail
    zone = Zone("example.se", "outlook.com").txt("example.se", "v=spf1 include:spf.protection.outlook.com -all")
    checks = {c.key: c for c in dns_checks(settings, serve_zone(zone))}
    assert checks["spf.lookups"].failed and "spf.protection.outlook.com has no SPF record" in checks["spf.lookups"].detail


def test_a_dns_server_that_never_answers_is_a_cross_per_part_and_is_waited_for_once(monkeypatch, tmp_path):
    import socket

    (tmp_path / "nyhetsbrev.toml").write_text(OFFICE365, encoding="utf-8")
    settings = load_settings(tmp_path / "nyhetsbrev.toml")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # takes questions, answers none
        silent.bind(("127.0.0.1", 0))
        monkeypatch.setenv("NYHETSBREV_DNS", f"127.0.0.1:{silent.getsockname()[1]}")
        lookup = Lookup(timeout=1.0)
        asked = []
        original = lookup._ask
        monkeypatch.setattr(lookup, "_ask", lambda *args: asked.append(args) or original(*args))
        checks = dns_checks(settings, lookup)
    assert [c.key for c in checks] == ["spf", "dkim", "dmarc", "mx"]
    assert all(c.failed and "did not answer for example.se within 1 s" in c.detail for c in checks)
    assert len(asked) == 1  # the first silence ends the waiting: one timeout, not one per question
