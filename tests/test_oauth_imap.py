"""XOAUTH2 for the mailbox: a real Dovecot on 127.0.0.1 with an oauth2 passdb, tokens from MSAL.

Exchange Online cannot be reached from the tests. Dovecot stands in for its IMAP side: its oauth2 passdb checks each
bearer token at an introspection URL, here a small token-check server on loopback that accepts the access tokens the
sign-in stand-in (tests/identity_server.py) issued last, for the mailbox they were issued to.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from nyhetsbrev.errors import InboxError, SignInRequired
from nyhetsbrev.inbox import mailbox
from nyhetsbrev.mail import oauth
from nyhetsbrev.project.models import ImapSettings
from tests.fixtures import assert_nowhere
from tests.identity_server import CLIENT_ID, TENANT, authority_files, identity  # noqa: F401  (fixtures)
from tests.mailserver import MAILBOX_USER, Dovecot, numbered_message, require_dovecot

pytestmark = pytest.mark.timeout(60)


class TokenCheck:
    """OAuth 2.0 token introspection (RFC 7662, POST token=…) answering from a set of good tokens."""

    def __init__(self, tokens: set[str], username: str) -> None:
        self.tokens, self.username, self.checked = tokens, username, []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()))
                token = form.get("token", "")
                owner.checked.append(token)
                body = {"active": True, "username": owner.username} if token in owner.tokens else {"active": False}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/introspect"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def oauth_dovecot(identity, monkeypatch):
    """Dovecot whose XOAUTH2 logins are checked at the token-check server; (dovecot, token check)."""
    check = TokenCheck(identity.access_tokens, MAILBOX_USER)
    server = Dovecot(binary=require_dovecot())
    (server.folder / "oauth2.conf.ext").write_text(
        f"introspection_mode = post\nintrospection_url = {check.url}\nusername_attribute = username\n"
        "active_attribute = active\nactive_value = true\nforce_introspection = yes\n", encoding="utf-8")
    (server.folder / "oauth2.conf.ext").chmod(0o644)
    server.extra_passdb = (f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
                           f"  args = {server.folder}/oauth2.conf.ext\n}}\n")
    server.extra_config = "auth_mechanisms = plain login xoauth2 oauthbearer\n"
    server.start()
    server.add_user(MAILBOX_USER)
    monkeypatch.setenv("NYHETSBREV_IMAP_CAFILE", str(server.cert))
    yield server, check
    server.stop()
    check.stop()


def _settings(server: Dovecot) -> ImapSettings:
    return ImapSettings(host="127.0.0.1", port=server.imaps_port, security="tls", username=MAILBOX_USER,
                        auth="oauth2", tenant=TENANT, client_id=CLIENT_ID, timeout=10.0)


def _deliver(server: Dovecot, n: int) -> None:
    server.deliver(MAILBOX_USER, numbered_message(n, "Avregistrera", "Ta bort mig från listan.\n"))


def test_the_mailbox_is_read_with_xoauth2_and_a_silently_renewed_token(oauth_dovecot, identity):
    server, check = oauth_dovecot
    identity.expires_in = 60  # MSAL renews a token that runs out within 5 minutes: the mailbox gets a renewed one
    settings = _settings(server)
    for n in range(2):
        _deliver(server, n)
    signed_in = oauth.login(settings, ["imap"], show=lambda device: None)
    assert signed_in.username == MAILBOX_USER
    with mailbox.Mailbox(settings, read_only=True) as box:
        got = [m.raw for m in box.messages()]
    assert len(got) == 2 and all(b"Avregistrera" in raw for raw in got)
    assert "method=XOAUTH2" in server.log.read_text()
    assert check.checked and check.checked[-1] in identity.access_tokens  # Dovecot asked about the newest token
    assert identity.grants("refresh_token") == 1  # renewed silently on the way


def test_a_failed_renewal_stops_before_the_mailbox_is_opened(oauth_dovecot, identity):
    server, check = oauth_dovecot
    identity.expires_in = 60  # the stored token is about to run out: it must be renewed, and that fails
    settings = _settings(server)
    _deliver(server, 1)
    oauth.login(settings, ["imap"], show=lambda device: None)
    identity.refresh_ok = False
    with pytest.raises(SignInRequired) as caught:
        mailbox.Mailbox(settings).open()
    assert "run 'nyhetsbrev login'" in str(caught.value).lower()
    assert "Login:" not in server.log.read_text() and check.checked == []  # no login was even tried
    assert all(flags == set() for flags in server.folder_state(MAILBOX_USER).values())  # nothing touched


def test_a_token_the_server_refuses_is_one_clear_error(oauth_dovecot, identity):
    server, check = oauth_dovecot
    settings = _settings(server)
    oauth.login(settings, ["imap"], show=lambda device: None)
    check.tokens = set()  # the mailbox no longer accepts this sign-in
    with pytest.raises(InboxError, match="refused the Microsoft 365 sign-in for nyhetsbrev@example.org"):
        mailbox.Mailbox(settings).open()
    assert check.checked  # Dovecot did ask, and got 'not active'


def test_imap_oauth_settings_are_checked_and_read(tmp_path):
    from nyhetsbrev.errors import ConfigError
    from nyhetsbrev.project.config import load_settings
    from tests.send_helpers import SETTINGS

    path = tmp_path / "nyhetsbrev.toml"
    imap = f'\n[imap]\nhost = "outlook.office365.com"\nusername = "{MAILBOX_USER}"\nauth = "oauth2"\n'
    path.write_text(SETTINGS + imap, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"auth = \"oauth2\" in \[imap\] needs tenant") as caught:
        load_settings(path)
    assert caught.value.line == len((SETTINGS + imap).splitlines())
    path.write_text(SETTINGS + imap + f'tenant = "{TENANT}"\nclient_id = "{CLIENT_ID}"\n', encoding="utf-8")
    read = load_settings(path).imap
    assert (read.auth, read.tenant, read.client_id) == ("oauth2", TENANT, CLIENT_ID)


def test_login_covers_the_mailbox_and_inbox_stops_when_the_sign_in_cannot_be_renewed(oauth_dovecot, identity, cli, tmp_path):
    from tests.send_helpers import SETTINGS, make_project

    server, check = oauth_dovecot
    identity.expires_in = 60  # every use renews the token
    imap = (f'\n[imap]\nhost = "127.0.0.1"\nport = {server.imaps_port}\nsecurity = "tls"\nusername = "{MAILBOX_USER}"\n'
            f'auth = "oauth2"\ntenant = "{TENANT}"\nclient_id = "{CLIENT_ID}"\n')
    project = make_project(tmp_path / "project", settings=SETTINGS + imap)
    _deliver(server, 7)
    login = cli("--project", project, "login")
    assert login.exit_code == 0 and f"Signed in as {MAILBOX_USER}" in login.stdout, login.output
    assert "https://outlook.office.com/IMAP.AccessAsUser.All" in identity.requests[0][1]["scope"]
    read = cli("--project", project, "inbox", "--dry-run")
    assert read.exit_code == 0, read.output
    assert "method=XOAUTH2" in server.log.read_text()
    identity.refresh_ok = False
    logins = server.log.read_text().count("Login:")
    stopped = cli("--project", project, "inbox")
    assert stopped.exit_code != 0 and "run 'nyhetsbrev login'" in stopped.stderr.lower(), stopped.output
    assert "Traceback" not in stopped.output and server.log.read_text().count("Login:") == logins
    assert all(flags == set() for flags in server.folder_state(MAILBOX_USER).values())  # nothing read or moved
    for token in identity.issued:
        # the sign-in cache holds it, as it must; issued at run time, so no committed file can hold it
        assert_nowhere(token, outputs=[login, read, stopped], data=False, repository=False)


def test_a_damaged_token_cache_stops_inbox_in_one_line_naming_it(oauth_dovecot, identity, cli, tmp_path, monkeypatch):
    """Signed in with the local stand-in of Microsoft's sign-in service; then the token cache file is cut short."""
    from tests.fixtures import one_line_error
    from tests.send_helpers import SETTINGS, make_project

    server, check = oauth_dovecot
    imap = (f'\n[imap]\nhost = "127.0.0.1"\nport = {server.imaps_port}\nsecurity = "tls"\nusername = "{MAILBOX_USER}"\n'
            f'auth = "oauth2"\ntenant = "{TENANT}"\nclient_id = "{CLIENT_ID}"\n')
    project = make_project(tmp_path / "project", settings=SETTINGS + imap)
    _deliver(server, 3)
    assert cli("--project", project, "login").exit_code == 0
    cache = next(oauth.cache_folder().glob("msal-*.bin"))
    cache.write_bytes(cache.read_bytes()[:40])
    monkeypatch.setattr(oauth, "_apps", {})  # as a new process: nothing of the sign-in in memory
    line = one_line_error(cli("--project", project, "inbox"))
    assert f"{cache}: the stored Microsoft 365 sign-in cannot be read" in line, line
    assert "run 'nyhetsbrev login' again" in line.lower() and "unexpected" not in line, line
    assert "Login:" not in server.log.read_text() and check.checked == []  # no login was even tried
    assert all(flags == set() for flags in server.folder_state(MAILBOX_USER).values())  # nothing read or moved
