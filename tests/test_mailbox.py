"""The IMAP side of `inbox`, against a real Dovecot on 127.0.0.1 (verified TLS, login, streaming, moving, flagging)."""

from __future__ import annotations

import socket
import threading

import pytest

from nyhetsbrev.errors import InboxError, MailboxUnavailable
from nyhetsbrev.inbox import mailbox as imap
from nyhetsbrev.project.models import ImapSettings
from tests.fixtures import assert_nowhere
from tests.mailserver import MAILBOX_USER, PASSWORD, Dovecot, dovecot, numbered_message, require_dovecot  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(60)


def _settings(server: Dovecot, **changes) -> ImapSettings:
    values = dict(host="127.0.0.1", port=server.imaps_port, security="tls", username=MAILBOX_USER,
                  folder="INBOX", processed_folder="Behandlat", timeout=10.0)
    values.update(changes)
    return ImapSettings(**values)


@pytest.fixture
def logged_in(dovecot, monkeypatch):
    for name, value in dovecot.env(MAILBOX_USER).items():
        monkeypatch.setenv(name, value)
    return dovecot


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_reads_every_message_over_verified_tls_without_marking_it_seen(logged_in, security):
    server = logged_in
    for n in range(3):
        server.deliver(MAILBOX_USER, numbered_message(n))
    port = server.imaps_port if security == "tls" else server.imap_port
    with imap.Mailbox(_settings(server, security=security, port=port)) as box:
        got = [m.raw for m in box.messages()]
    assert [b"<m%d@example.se>" % n in raw for n, raw in enumerate(got)] == [True, True, True]
    assert all(flags == set() for flags in server.folder_state(MAILBOX_USER).values())  # still unread


def test_an_untrusted_certificate_stops_before_login(dovecot, monkeypatch):
    monkeypatch.setenv("NYHETSBREV_IMAP_PASSWORD", PASSWORD)  # no CA file: the test certificate is not trusted
    with pytest.raises(InboxError, match="cannot be trusted"):
        imap.Mailbox(_settings(dovecot)).open()
    assert "Logged in" not in dovecot.log.read_text() and "imap(" not in dovecot.log.read_text()


def test_a_wrong_password_is_one_clear_error(logged_in, monkeypatch):
    monkeypatch.setenv("NYHETSBREV_IMAP_PASSWORD", "fel-lösen")
    with pytest.raises(InboxError, match="refused the login") as caught:
        imap.Mailbox(_settings(logged_in)).open()
    assert_nowhere("fel-lösen", outputs=[caught.value])


def test_the_password_only_comes_from_the_environment(logged_in, monkeypatch):
    monkeypatch.delenv("NYHETSBREV_IMAP_PASSWORD")
    with pytest.raises(InboxError, match="NYHETSBREV_IMAP_PASSWORD is not set"):
        imap.Mailbox(_settings(logged_in))


def test_nothing_listens_is_unavailable(monkeypatch):
    monkeypatch.setenv("NYHETSBREV_IMAP_PASSWORD", PASSWORD)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(MailboxUnavailable):
        imap.Mailbox(ImapSettings(host="127.0.0.1", port=port, username=MAILBOX_USER, timeout=2.0)).open()


def test_starttls_is_never_skipped_when_the_server_does_not_offer_it(monkeypatch):
    """A local stand-in for an IMAP server without STARTTLS: nyhetsbrev must hang up without logging in."""
    monkeypatch.setenv("NYHETSBREV_IMAP_PASSWORD", PASSWORD)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    heard = []

    def serve():
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LOGIN] plain only\r\n")
            conn.settimeout(3)
            try:
                while data := conn.recv(4096):
                    heard.append(data)
                    tag, command = data.split()[:2]
                    answer = b"* CAPABILITY IMAP4rev1 AUTH=PLAIN LOGIN\r\n" if command.upper() == b"CAPABILITY" else b"* BYE\r\n"
                    conn.sendall(answer + tag + b" OK done\r\n")
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    settings = ImapSettings(host="127.0.0.1", port=listener.getsockname()[1], security="starttls",
                            username=MAILBOX_USER, timeout=3.0)
    with pytest.raises(InboxError, match="does not offer STARTTLS"):
        imap.Mailbox(settings).open()
    thread.join(5)
    listener.close()
    said = b"".join(heard).upper()
    assert b"AUTHENTICATE" not in said and b"LOGIN" not in said
    assert_nowhere(PASSWORD, outputs=[b"".join(heard)], data=False, repository=False)  # none of it went over the wire


def test_set_aside_moves_into_a_processed_folder_it_creates(logged_in):
    server = logged_in
    for n in range(4):
        server.deliver(MAILBOX_USER, numbered_message(n))
    settings = _settings(server, processed_folder="Återkommet & klart")
    with imap.Mailbox(settings) as box:
        assert box.can_move
        fetched = list(box.messages())
        box.set_aside([m.key for m in fetched[:3]])
    assert set(server.folder_state(MAILBOX_USER)) == {"<m3@example.se>"}
    assert set(server.folder_state(MAILBOX_USER, "Återkommet & klart")) == {f"<m{n}@example.se>" for n in range(3)}


def test_without_move_messages_are_flagged_seen_and_handled_and_not_read_again():
    server = Dovecot(binary=require_dovecot(), extra_config="imap_capability = IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE UIDPLUS\n")
    server.start()
    try:
        server.add_user(MAILBOX_USER)
        for n in range(3):
            server.deliver(MAILBOX_USER, numbered_message(n))
        with pytest.MonkeyPatch.context() as patch:
            for name, value in server.env(MAILBOX_USER).items():
                patch.setenv(name, value)
            with imap.Mailbox(_settings(server)) as box:
                assert not box.can_move
                box.set_aside([m.key for m in box.messages()][:2])
            with imap.Mailbox(_settings(server)) as box:
                left = [m.raw for m in box.messages()]
        state = server.folder_state(MAILBOX_USER)
        assert state["<m0@example.se>"] == state["<m1@example.se>"] == {"\\Seen", imap.HANDLED_KEYWORD}
        assert state["<m2@example.se>"] == set()
        assert len(left) == 1 and b"<m2@example.se>" in left[0]
        assert server.folder_state(MAILBOX_USER, "Behandlat") == {}  # nothing copied, nothing deleted
    finally:
        server.stop()


def test_read_only_changes_nothing_on_the_server(logged_in):
    server = logged_in
    server.deliver(MAILBOX_USER, numbered_message(1))
    with imap.Mailbox(_settings(server), read_only=True) as box:
        keys = [m.key for m in box.messages()]
        box.set_aside(keys)
    assert server.folder_state(MAILBOX_USER) == {"<m1@example.se>": set()}
    assert server.folder_state(MAILBOX_USER, "Behandlat") == {}


def test_large_mailboxes_are_fetched_in_bounded_batches(logged_in, monkeypatch):
    server = logged_in
    server.put(MAILBOX_USER, (numbered_message(n) for n in range(30)))
    monkeypatch.setattr(imap, "BATCH_COUNT", 7)
    sizes = []
    original = imap.Mailbox._fetch

    def counting(self, uids):
        sizes.append(len(uids))
        return original(self, uids)

    monkeypatch.setattr(imap.Mailbox, "_fetch", counting)
    with imap.Mailbox(_settings(server)) as box:
        got = [m.raw for m in box.messages()]
    assert len(got) == 30 and max(sizes) == 7 and sum(sizes) == 30


def test_folder_names_are_modified_utf7():
    assert imap.encode_folder("INBOX") == '"INBOX"'
    assert imap.encode_folder("Återkommet & klart") == '"&AMU-terkommet &- klart"'


@pytest.mark.parametrize(
    "table, message",
    [
        ('security = "none"', "IMAP security 'none' is not known"),
        ('password = "x"', "the IMAP password must not be written"),
        ('port = "993"', "'port' in [imap] must be a whole number from 1 to 65535, not \"993\""),
        ('processed_folder = "INBOX"', "must differ from 'folder'"),
        ('colour = "blue"', "unknown setting 'colour' in [imap]"),
    ],
)
def test_imap_settings_are_checked_with_their_line(tmp_path, table, message):
    from nyhetsbrev.errors import ConfigError
    from nyhetsbrev.project.config import load_settings
    from tests.send_helpers import SETTINGS

    path = tmp_path / "nyhetsbrev.toml"
    path.write_text(SETTINGS + f'\n[imap]\nhost = "imap.example.org"\n{table}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert message in str(caught.value)
    if "unknown" not in message:
        assert caught.value.line == len(SETTINGS.splitlines()) + 4


def test_imap_defaults_are_tls_on_993_and_inbox(tmp_path):
    from nyhetsbrev.project.config import load_settings
    from tests.send_helpers import SETTINGS

    path = tmp_path / "nyhetsbrev.toml"
    path.write_text(SETTINGS + '\n[imap]\nhost = "imap.example.org"\nusername = "brev@example.org"\n', encoding="utf-8")
    settings = load_settings(path).imap
    assert (settings.security, settings.port, settings.folder, settings.auth) == ("tls", 993, "INBOX", "password")
    path.write_text(SETTINGS + '\n[imap]\nhost = "imap.example.org"\nsecurity = "starttls"\n', encoding="utf-8")
    assert load_settings(path).imap.port == 143
