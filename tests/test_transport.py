"""The SMTP transport against a real aiosmtpd server on 127.0.0.1: TLS, AUTH, replies classified by code."""

from __future__ import annotations

import pytest

from nyhetsbrev.mail import transport
from nyhetsbrev.errors import SmtpConfigError, SmtpUnavailable, TransportError
from nyhetsbrev.project.models import SmtpSettings
from tests.fixtures import assert_nowhere
from tests.send_helpers import certificate  # noqa: F401  (fixture)
from tests.smtp_server import PASSWORD, USERNAME, FaultServer

pytestmark = pytest.mark.timeout(30)
MESSAGE = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: prov\r\n\r\nHej!\r\n.En rad som b\xc3\xb6rjar med punkt\r\n"


def settings(server: FaultServer, security: str = "none", **kwargs) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=server.port, security=security, timeout=5, **kwargs)


@pytest.mark.parametrize(
    ("code", "text", "kind"),
    [(451, "4.7.1 later", "deferred"), (452, "4.2.2 full", "deferred"), (421, "4.3.2 bye", "reconnect"),
     (552, "5.3.4 too big", "deferred"), (550, "5.1.1 unknown", "failed"), (554, "5.7.1 spam", "failed"),
     (-1, "garbage", "reconnect")],
)
def test_replies_are_classified_by_code(code, text, kind):
    result = transport.classify(code, text)
    assert result.kind == kind
    assert result.policy == (code == 554)


# (code, text, data_sent) -> (kind, code kept, reply kept, the reply as the ledger records it and the report prints it)
EDGES = [
    ((421, "4.3.2 bye", False), ("reconnect", 421, "4.3.2 bye", "421 4.3.2 bye")),
    ((400, "4.0.0 wait", False), ("deferred", 400, "4.0.0 wait", "400 4.0.0 wait")),
    ((499, "4.9.9 wait", False), ("deferred", 499, "4.9.9 wait", "499 4.9.9 wait")),
    ((500, "5.5.0 no", False), ("failed", 500, "5.5.0 no", "500 5.5.0 no")),
    ((599, "5.9.9 no", False), ("failed", 599, "5.9.9 no", "599 5.9.9 no")),
    ((600, "odd", False), ("reconnect", 600, "odd", "600 odd")),
    ((600, "odd", True), ("unknown", 600, "odd", "600 odd")),
    ((1, "odd", True), ("unknown", 1, "odd", "1 odd")),
    ((-1, "garbage", False), ("reconnect", None, "garbage", "garbage")),
    ((-1, "", True), ("unknown", None, "unreadable reply", "unreadable reply")),
    ((0, "", False), ("reconnect", None, "unreadable reply", "unreadable reply")),
]


@pytest.mark.parametrize(("reply", "expected"), EDGES)
def test_every_reply_keeps_its_code_and_text_for_the_ledger(reply, expected):
    """What a person's row says went wrong is the server's own code and words; the edges of each class hold."""
    code, text, data_sent = reply
    result = transport.classify(code, text, data_sent=data_sent)
    assert (result.kind, result.code, result.reply, str(result)) == expected


SAME_REJECTION = [  # two replies to two recipients that a run of identical policy rejections (a pause) counts alike
    ("550 5.7.1 <anna@example.se>: Recipient address rejected: Access denied",
     "550 5.7.1 <bo@example.se>: Recipient address rejected: Access denied"),
    ("550 5.7.1 Message to anna@example.se rejected by policy (queue id 4A3F9C21B7)",
     "550 5.7.1 Message to bo@example.se rejected by policy (queue id 9E8D7C6B5A)"),
    ("554 5.7.1 Rejected by policy [id=a3f9c21b7e0d]", "554 5.7.1 Rejected by policy [id=0e8d7c6b5af1]"),
    ("550 5.7.1 Message rejected by policy <anna@example.se>", "550 5.7.1 Message rejected by policy"),
    ("550 5.7.1   Message rejected\tby policy", "550 5.7.1 Message rejected by policy"),
]
OTHER_REJECTION = [  # a different refusal ends the run
    ("550 5.7.1 Message rejected: sender domain not authorised (SPF)",
     "550 5.7.26 Unauthenticated mail is prohibited (DMARC)"),
    ("550 5.7.1 Message rejected by policy", "554 5.7.1 Message rejected by policy"),
    ("550 5.7.1 Rejected (see 4A3F9C2)", "550 5.7.1 Rejected (see 9E8D7C6)"),  # too short to be a queue id
]


@pytest.mark.parametrize(("first", "second", "same"),
                         [(a, b, True) for a, b in SAME_REJECTION] + [(a, b, False) for a, b in OTHER_REJECTION])
def test_policy_rejections_differing_only_in_whom_they_name_are_one_rejection(first, second, same):
    """A send pauses after a run of identical 5.7.x refusals (about the sender, not the people): the recipient's
    address and a queue id in the server's words do not make a refusal another one."""
    from nyhetsbrev.mail.replies import policy_key

    keys = [policy_key(transport.classify(int(reply[:3]), reply[4:])) for reply in (first, second)]
    assert (keys[0] == keys[1]) is same, keys


@pytest.mark.parametrize("pipelining", [True, False])
def test_scripted_replies_on_a_live_server(pipelining):
    with FaultServer(pipelining=pipelining) as server:
        server.script("b@example.org", "data", "451 4.7.1 Try again later", "550 5.7.1 Rejected by policy", "552 5.3.4 Too big")
        with transport.Connection(settings(server)) as conn:
            results = [conn.send("a@example.org", "b@example.org", MESSAGE) for _ in range(4)]
    assert [r.kind for r in results] == ["deferred", "failed", "deferred", "sent"]
    assert results[1].policy and results[1].enhanced == "5.7.1" and "Rejected by policy" in results[1].reply
    assert len(server.received) == 1 and server.received[0].rcpt_tos == ["b@example.org"]
    assert b"\r\n.En rad" in server.received[0].data  # dot-stuffing undone by the server: the line is intact


@pytest.mark.parametrize("pipelining", [True, False])
def test_421_on_mail_asks_for_a_new_connection(pipelining):
    with FaultServer(pipelining=pipelining) as server:
        server.script_mail("421 4.3.2 Service shutting down")
        with transport.Connection(settings(server)) as conn:
            first = conn.send("a@example.org", "b@example.org", MESSAGE)
            assert first.kind == "reconnect" and not conn.is_open
            second = conn.send("a@example.org", "b@example.org", MESSAGE)
    assert second.kind == "sent" and server.connections == 2


@pytest.mark.parametrize("pipelining", [True, False])
def test_connection_dropped_after_data_is_unknown_and_does_not_hang(pipelining):
    with FaultServer(pipelining=pipelining) as server:
        server.script("b@example.org", "data", "drop")
        server.script("c@example.org", "rcpt", "drop")
        with transport.Connection(settings(server)) as conn:
            after_data = conn.send("a@example.org", "b@example.org", MESSAGE)
            before_data = conn.send("a@example.org", "c@example.org", MESSAGE)
    assert after_data.kind == "unknown"
    assert before_data.kind == "reconnect"


def test_starttls_with_a_trusted_certificate_logs_in_over_tls(certificate, monkeypatch):
    monkeypatch.setenv("NYHETSBREV_SMTP_PASSWORD", PASSWORD)  # not ASCII: sent as UTF-8
    with FaultServer(certificate=certificate, starttls=True, auth=True) as server:
        with transport.Connection(settings(server, "starttls", username=USERNAME), cafile=certificate[0]) as conn:
            assert conn.send("a@example.org", "b@example.org", MESSAGE).kind == "sent"
    assert server.auth_attempts == [("PLAIN", USERNAME, True)]
    assert server.received[0].tls and server.received[0].login == USERNAME


@pytest.mark.parametrize("password", [PASSWORD, "fel-lösen"])
def test_a_server_offering_only_auth_login_gets_the_login_with_it(certificate, monkeypatch, password):
    """Older relays offer AUTH LOGIN alone: user name and password each in their own step, as UTF-8."""
    monkeypatch.setenv("NYHETSBREV_SMTP_PASSWORD", password)
    with FaultServer(certificate=certificate, starttls=True, auth=True, auth_mechanisms=("LOGIN",)) as server:
        conn = transport.Connection(settings(server, "starttls", username=USERNAME), cafile=certificate[0])
        if password == PASSWORD:
            with conn:
                assert conn.send("a@example.org", "b@example.org", MESSAGE).kind == "sent"
                assert conn.offered_auth() == ["LOGIN"]
            assert server.received[0].login == USERNAME
        else:
            with pytest.raises(TransportError) as caught:
                conn.open()
            assert f"refused the login for {USERNAME}: 535" in str(caught.value)
            assert_nowhere(password, outputs=[caught.value])
            assert server.received == []
    assert server.auth_attempts == [("LOGIN", USERNAME, True)]


def test_implicit_tls(certificate, monkeypatch):
    monkeypatch.setenv("NYHETSBREV_SMTP_CAFILE", str(certificate[0]))
    with FaultServer(certificate=certificate, implicit_tls=True) as server:
        with transport.Connection(settings(server, "tls")) as conn:
            assert conn.send("a@example.org", "b@example.org", MESSAGE).kind == "sent"
    assert server.received[0].tls


def test_a_server_without_starttls_aborts_before_auth(monkeypatch):
    monkeypatch.setenv("NYHETSBREV_SMTP_PASSWORD", PASSWORD)
    with FaultServer(auth=True) as server:  # offers AUTH in plain text, but no STARTTLS
        with pytest.raises(TransportError) as caught:
            transport.Connection(settings(server, "starttls", username=USERNAME)).open()
    assert "does not offer STARTTLS" in str(caught.value)
    assert server.auth_attempts == [] and server.received == []
    assert_nowhere(PASSWORD, outputs=[caught.value])


def test_a_self_signed_certificate_aborts(certificate, monkeypatch):
    monkeypatch.setenv("NYHETSBREV_SMTP_PASSWORD", PASSWORD)
    for starttls in (True, False):
        with FaultServer(certificate=certificate, starttls=starttls, implicit_tls=not starttls, auth=True) as server:
            security = "starttls" if starttls else "tls"
            with pytest.raises(TransportError) as caught:
                transport.Connection(settings(server, security, username=USERNAME)).open()
            assert "cannot be trusted" in str(caught.value) and "NYHETSBREV_SMTP_CAFILE" in str(caught.value)
            assert server.auth_attempts == [] and server.received == []


def test_security_none_only_towards_loopback():
    with pytest.raises(SmtpConfigError) as caught:
        transport.Connection(SmtpSettings(host="smtp.example.org", port=25, security="none"))
    assert "plain text" in str(caught.value)
    for host in ("localhost", "127.0.0.1", "::1", "[::1]", "127.1.2.3"):
        transport.check_settings(SmtpSettings(host=host, security="none"))


def test_missing_host_and_missing_password_say_what_to_set(monkeypatch):
    with pytest.raises(SmtpConfigError) as caught:
        transport.check_settings(SmtpSettings())
    assert "NYHETSBREV_SMTP_HOST" in str(caught.value)
    monkeypatch.delenv("NYHETSBREV_SMTP_PASSWORD", raising=False)
    with pytest.raises(SmtpConfigError) as caught:
        transport.check_settings(SmtpSettings(host="smtp.example.org", username=USERNAME))
    assert "NYHETSBREV_SMTP_PASSWORD" in str(caught.value)


def test_a_refused_connection_is_reported_as_unavailable():
    with FaultServer() as server:
        port = server.port
    with pytest.raises(SmtpUnavailable) as caught:
        transport.Connection(SmtpSettings(host="127.0.0.1", port=port, security="none", timeout=2)).open()
    assert f"127.0.0.1:{port}" in str(caught.value)


@pytest.mark.parametrize("pipelining", [True, False])
def test_a_rejected_sender_or_recipient_leaves_the_session_usable(pipelining):
    with FaultServer(pipelining=pipelining) as server:
        server.script_mail("553 5.7.1 Sender address rejected")
        server.script("c@example.org", "rcpt", "450 4.2.0 Mailbox busy")
        with transport.Connection(settings(server)) as conn:
            results = [conn.send("a@example.org", "b@example.org", MESSAGE), conn.send("a@example.org", "c@example.org", MESSAGE),
                       conn.send("a@example.org", "b@example.org", MESSAGE)]
    assert [(r.kind, r.code) for r in results] == [("failed", 553), ("deferred", 450), ("sent", 250)]
    assert server.connections == 1 and [r.rcpt_tos for r in server.received] == [["b@example.org"]]


@pytest.mark.parametrize("address", [
    "a@example.org", "First.Last+tag@example.se", "o'brien@example.org", "#!$%&*+/=?^_`{|}~-@example.org",
    "a..b@example.org", ".a@example.org", "a@example.org.", "a@-example.org", "=?utf-8?q?x?=@example.org",
    '"quoted local"@example.org', "user@[192.0.2.1]", "åsa@exempel.se", "Namn <a@example.org>", "<a@example.org>",
    "a@b@example.org", "no-at-sign", "",
])
def test_an_envelope_address_is_written_as_smtplib_writes_it(address):
    """MAIL FROM and RCPT TO: the quick way for plain addresses gives what smtplib.quoteaddr gives, for any address."""
    import smtplib

    from nyhetsbrev.mail.transport import _angled

    assert _angled(address) == smtplib.quoteaddr(address)
