"""nyhetsbrev doctor against real servers on 127.0.0.1: dnsmasq with the zone each test writes, the suite's SMTP
relay (aiosmtpd), Dovecot, nyhetsbrev serve behind TLS and a static archive site."""

from __future__ import annotations

import json
import socket

import pytest

from tests.dns_server import DnsServer, Zone, require_dnsmasq
from tests.mailserver import Dovecot, free_port, require_dovecot
from tests.send_helpers import make_project
from tests.serve_helpers import start_serve
from tests.smtp_server import FaultServer, make_certificate
from tests.tls_front import StaticSite, TlsFront

DOMAIN = "example.se"
KEY = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDdoctorTestKeyOnlyForTheseTestsAQAB"
SETTINGS = """\
name = "Nyhetsbrevet"
language = "sv"
from = "Nyhetsbrevet <nyhetsbrev@{domain}>"
reply_to = "redaktion@{domain}"
unsubscribe_email = "avregistrera@{domain}"
unsubscribe_url = "{unsubscribe_url}"
archive_url = "{archive_url}"

[smtp]
timeout = 3
dkim_selectors = ["s1"]
{dkim_domain}
"""


def good_zone(domain: str = DOMAIN, spf: str = "v=spf1 ip4:127.0.0.1 -all") -> Zone:
    """Everything right for mail from domain through the relay on 127.0.0.1."""
    return (Zone("example.se", "example.net")
            .txt(domain, spf)
            .txt(f"s1._domainkey.{domain}", f"v=DKIM1; k=rsa; p={KEY}")
            .txt(f"_dmarc.{domain}", "v=DMARC1; p=quarantine; adkim=r; aspf=r")
            .mx(domain, f"mx.{domain}"))


@pytest.fixture(autouse=True)
def _patient_dns(monkeypatch):
    """The test's dnsmasq shares a busy machine with the whole suite: doctor waits up to a minute for each answer
    here. Its own 5 s for a real resolver stays as it is (and a DNS that never answers is tested in test_doctor_dns)."""
    from nyhetsbrev.doctor import lookup

    monkeypatch.setattr(lookup, "TIMEOUT", 60.0)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """The relay (STARTTLS, login), the mailbox, serve behind TLS and the archive: everything right, for every test."""
    require_dnsmasq()
    folder = tmp_path_factory.mktemp("doctor")
    certificate = make_certificate(folder / "tls")
    relay = FaultServer(certificate=certificate, starttls=True, auth=True).start()
    mailbox = Dovecot(binary=require_dovecot()).start()
    user = mailbox.add_user("nyhetsbrev@example.org")
    database = folder / "serve.db"
    from nyhetsbrev.store import open_db

    open_db(database).close()
    project = make_project(folder / "serve-project", lists=())
    served = start_serve(project, env={"NYHETSBREV_DB": str(database)})
    archive = folder / "archive"
    archive.mkdir()
    (archive / "index.html").write_text("<!doctype html><title>Arkiv</title>", encoding="utf-8")
    site = StaticSite(archive).start()
    fronts = [TlsFront(certificate, served.port).start(), TlsFront(certificate, site.port).start()]
    env = {**relay.env("starttls", cafile=certificate[0], username=True), **mailbox.env(user),
           "SSL_CERT_FILE": str(certificate[0])}
    yield {"env": env, "imap": mailbox.imap_settings(user), "unsubscribe_url": fronts[0].url("/avregistrera"),
           "archive_url": fronts[1].url("/"), "relay": relay}
    for front in fronts:
        front.stop()
    site.stop()
    served.stop()
    mailbox.stop()
    relay.stop()


def write_project(root, servers, *, domain=DOMAIN, dkim_domain=None, extra=""):
    """A project whose settings point at the module's servers."""
    settings = SETTINGS.format(domain=domain, unsubscribe_url=servers["unsubscribe_url"],
                               archive_url=servers["archive_url"],
                               dkim_domain=f'dkim_domain = "{dkim_domain}"' if dkim_domain else "")
    return make_project(root, settings=settings + extra + servers["imap"], lists=())


def doctor(cli, root, zone, env, *args):
    """Run nyhetsbrev doctor --format json with the zone served; (exit code, checks by status, the result)."""
    with DnsServer(zone, binary=require_dnsmasq()) as dns:
        result = cli("--project", root, "doctor", "--format", "json", *args, env={**env, "NYHETSBREV_DNS": dns.address})
    assert result.stdout.startswith("{"), result.output
    report = json.loads(result.stdout)
    return result.exit_code, report["checks"], result


def failed(checks):
    return [c for c in checks if c["status"] == "fail"]


def test_a_domain_with_everything_right_passes_every_check(cli, tmp_path, servers):
    code, checks, result = doctor(cli, write_project(tmp_path / "p", servers), good_zone(), servers["env"])
    assert failed(checks) == [], result.stdout
    assert code == 0
    keys = {c["key"] for c in checks if c["status"] == "ok"}
    assert {"settings", "relay.settings", "mailbox.settings", "spf.record", "spf.lookups", "spf.relay", "dkim", "dmarc",
            "dmarc.alignment", "mx", "relay", "relay.auth", "mailbox", "unsubscribe_url", "archive_url"} <= keys
    assert servers["relay"].received == []  # nothing was sent


def test_the_text_report_has_one_line_per_check_and_exits_0(cli, tmp_path, servers):
    root = write_project(tmp_path / "p", servers)
    with DnsServer(good_zone(), binary=require_dnsmasq()) as dns:
        result = cli("--project", root, "doctor", env={**servers["env"], "NYHETSBREV_DNS": dns.address})
    assert result.exit_code == 0, result.stdout
    lines = result.stdout.splitlines()
    assert all(line.startswith(("✓ ", "– ")) for line in lines[:-1]), result.stdout
    assert any(line.startswith("✓ SPF of example.se: allows the relay 127.0.0.1") for line in lines)
    assert "✗" not in result.stdout


def eleven_lookups() -> Zone:
    """SPF that allows the relay first, then includes eleven records: 11 look-ups, one past the limit."""
    includes = [f"i{n}.example.se" for n in range(1, 12)]
    zone = good_zone(spf=" ".join(["v=spf1 ip4:127.0.0.1", *(f"include:{name}" for name in includes), "-all"]))
    for n, name in enumerate(includes, start=1):
        zone.txt(name, f"v=spf1 ip4:192.0.2.{n} -all")
    return zone


def without(kind: str, name: str) -> Zone:
    """The good zone less one record (kind as dnsmasq names it: txt-record, mx-host)."""
    zone = good_zone()
    zone.lines = [line for line in zone.lines if not line.startswith(f"{kind}={name},")]
    return zone


@pytest.mark.parametrize("zone, key, detail, advice, record", [
    pytest.param(good_zone(spf="v=spf1 ip4:192.0.2.10 -all"), "spf.relay",
                 "does not allow the relay's address 127.0.0.1 (SPF result: fail)", "allow the relay 127.0.0.1",
                 'example.se. TXT "v=spf1 ip4:192.0.2.10 ip4:127.0.0.1 -all"', id="SPF without the relay"),
    pytest.param(eleven_lookups(), "spf.lookups", "it needs 11 DNS look-ups and receivers stop at 10",
                 "within the limits", None, id="SPF with 11 look-ups"),
    pytest.param(without("txt-record", "s1._domainkey.example.se"), "dkim", "no DKIM key at s1._domainkey.example.se",
                 "publish the relay's DKIM public key", None, id="no DKIM key"),
    pytest.param(without("txt-record", "_dmarc.example.se"), "dmarc", "no DMARC record at _dmarc.example.se",
                 "publish a DMARC record for example.se", '_dmarc.example.se. TXT "v=DMARC1; p=none"', id="DMARC missing"),
    pytest.param(without("mx-host", "example.se"), "mx", "example.se has no MX record: replies and unsubscribe requests to "
                 "redaktion@example.se, avregistrera@example.se cannot arrive", "publish an MX record for example.se",
                 None, id="no MX"),
])
def test_each_dns_fault_is_one_cross_with_its_advice(cli, tmp_path, servers, zone, key, detail, advice, record):
    code, checks, result = doctor(cli, write_project(tmp_path / "p", servers), zone, servers["env"])
    assert code == 1
    [bad] = failed(checks)
    assert bad["key"] == key, bad
    assert detail in bad["detail"]
    assert advice in bad["advice"]
    assert bad["record"] == record


@pytest.mark.parametrize("signer, detail, record", [
    ("example.se", "the relay signs as example.se and adkim=s asks for exactly nyheter.example.se",
     '_dmarc.example.se. TXT "v=DMARC1; p=reject; adkim=r"'),
    ("example.net", "the relay signs as example.net, which is not nyheter.example.se nor under example.se", None),
])
def test_dmarc_alignment_the_relays_signature_cannot_meet(cli, tmp_path, servers, signer, detail, record):
    """From a subdomain: DMARC is found at the organisational domain, and its adkim decides whether d= counts."""
    zone = (Zone("example.se", "example.net").txt("nyheter.example.se", "v=spf1 ip4:127.0.0.1 -all")
            .txt(f"s1._domainkey.{signer}", f"v=DKIM1; k=rsa; p={KEY}")
            .txt("_dmarc.example.se", "v=DMARC1; p=reject; adkim=s" if record else "v=DMARC1; p=reject")
            .mx("nyheter.example.se", "mx.example.se"))
    root = write_project(tmp_path / "p", servers, domain="nyheter.example.se", dkim_domain=signer)
    code, checks, _result = doctor(cli, root, zone, servers["env"])
    assert code == 1
    [bad] = failed(checks)
    assert bad["key"] == "dmarc.alignment"
    assert detail in bad["detail"]
    assert "Ask IT" in bad["advice"]
    assert bad["record"] == record
    assert [c["detail"] for c in checks if c["key"] == "dmarc"] == ["p=reject at _dmarc.example.se"]


class SilentServer:
    """Takes connections and never says a word (a relay that hangs, or a firewall that swallows the greeting)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]

    def close(self) -> None:
        self.listener.close()


@pytest.mark.parametrize("relay", ["nothing listens", "no STARTTLS", "never answers"])
def test_a_relay_that_cannot_be_used_is_one_cross_with_a_one_line_reason(cli, tmp_path, servers, relay):
    env = dict(servers["env"])
    plain = silent = None
    if relay == "nothing listens":
        env["NYHETSBREV_SMTP_PORT"] = str(free_port())
        expected = "cannot connect to the SMTP server"
    elif relay == "no STARTTLS":
        plain = FaultServer(auth=True).start()
        env["NYHETSBREV_SMTP_PORT"] = str(plain.port)
        expected = "does not offer STARTTLS; nothing was sent in plain text"
    else:
        silent = SilentServer()
        env["NYHETSBREV_SMTP_PORT"] = str(silent.port)
        expected = "timed out"  # after [smtp] timeout = 3 s; the test waits as long as pytest's own timeout
    try:
        code, checks, _result = doctor(cli, write_project(tmp_path / "p", servers), good_zone(), env)
    finally:
        if plain:
            assert plain.received == []
            plain.stop()
        if silent:
            silent.close()
    assert code == 1
    [bad] = failed(checks)
    assert bad["key"] == "relay"
    assert expected in bad["detail"] and "\n" not in bad["detail"]
    assert bad["advice"]
    assert "relay.auth" not in {c["key"] for c in checks}


def test_a_dns_server_that_cannot_be_named_is_one_cross(cli, tmp_path, servers):
    root = write_project(tmp_path / "p", servers)
    result = cli("--project", root, "doctor", "--format", "json", env={**servers["env"], "NYHETSBREV_DNS": "dns.example"})
    assert result.exit_code == 1
    [bad] = failed(json.loads(result.stdout)["checks"])
    assert bad["key"] == "dns" and "NYHETSBREV_DNS is 'dns.example'" in bad["detail"]


class NetworkGuard:
    """Records every attempt to reach the network (connect, send to, name look-up) and refuses it."""

    def __init__(self, monkeypatch) -> None:
        self.attempts: list[str] = []
        guard = self

        def refuse(what):
            def refused(*args, **kwargs):
                guard.attempts.append(f"{what}{args[1:2] or args[:1]}")
                raise OSError(f"network guard: {what}")
            return refused

        for name in ("connect", "connect_ex", "sendto", "sendmsg"):
            monkeypatch.setattr(socket.socket, name, refuse(name))
        monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
        monkeypatch.setattr(socket, "gethostbyname", refuse("gethostbyname"))


@pytest.mark.parametrize("offline", [True, False])
def test_offline_makes_no_network_request_at_all(cli, tmp_path, servers, monkeypatch, offline):
    """The guard sees a run without --offline reach out, so it would see an --offline run do it too."""
    root = write_project(tmp_path / "p", servers)
    env = {**servers["env"], "NYHETSBREV_DNS": "127.0.0.1:53"}
    guard = NetworkGuard(monkeypatch)
    result = cli("--project", root, "doctor", "--format", "json", *(["--offline"] if offline else []), env=env)
    monkeypatch.undo()
    report = json.loads(result.stdout)
    if offline:
        assert guard.attempts == []
        assert result.exit_code == 0, result.stdout
        assert report["offline"] is True
        assert [c["key"] for c in report["checks"] if c["status"] == "skipped"] == ["network"]
    else:
        assert guard.attempts, "the guard saw nothing: it could not have caught --offline either"
        assert result.exit_code == 1
