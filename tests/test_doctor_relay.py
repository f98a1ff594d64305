"""doctor's sign-in line against the suite's relay (aiosmtpd on 127.0.0.1): XOAUTH2 with the Microsoft 365 sign-in
stand-in, and the login mechanisms offered for a password. The relay is asked only: nobody logs in there."""

from __future__ import annotations

import pytest

from nyhetsbrev.doctor.network import relay_checks
from nyhetsbrev.project.config import load_settings
from tests.identity_server import CLIENT_ID, TENANT, authority_files, identity  # noqa: F401  (fixtures)
from tests.send_helpers import SETTINGS, certificate, make_project  # noqa: F401  (fixtures)
from tests.smtp_server import USERNAME, FaultServer

pytestmark = pytest.mark.timeout(60)

OAUTH_SMTP = f'\n[smtp]\nauth = "oauth2"\ntenant = "{TENANT}"\nclient_id = "{CLIENT_ID}"\nusername = "{USERNAME}"\n'


def offering(certificate, *excluded: str) -> FaultServer:
    """The suite's relay (STARTTLS, AUTH) with some SASL mechanisms taken out of what it offers."""
    relay = FaultServer(certificate=certificate, starttls=True, auth=True)
    relay.controller.SMTP_kwargs["auth_exclude_mechanism"] = list(excluded)
    return relay


def checks_for(project, relay, certificate, monkeypatch, *, username=False):
    for name, value in relay.env("starttls", cafile=certificate[0], username=username).items():
        monkeypatch.setenv(name, value)
    return {c.key: c for c in relay_checks(load_settings(project / "nyhetsbrev.toml"))}


def test_xoauth2_passes_once_someone_is_signed_in(tmp_path, identity, certificate, monkeypatch, cli):
    project = make_project(tmp_path / "project", settings=SETTINGS + OAUTH_SMTP, lists=())
    with FaultServer(certificate=certificate, starttls=True, auth=True) as relay:
        relay.bearer_tokens = identity.access_tokens
        before = checks_for(project, relay, certificate, monkeypatch)
        assert not before["relay"].failed
        assert before["relay.auth"].failed and "nyhetsbrev login" in before["relay.auth"].advice
        login = cli("--project", project, "login")
        assert login.exit_code == 0, login.output
        after = checks_for(project, relay, certificate, monkeypatch)
        assert not after["relay.auth"].failed
        assert after["relay.auth"].detail == f"offers XOAUTH2, and {USERNAME} is signed in"
        assert relay.auth_attempts == [] and relay.received == []  # asked, never logged in to, nothing sent


def test_a_relay_without_xoauth2_says_what_to_ask_for(tmp_path, certificate, monkeypatch):
    monkeypatch.setenv("NYHETSBREV_OAUTH_AUTHORITY", "https://127.0.0.1:9")  # were a sign-in tried, it stays here
    project = make_project(tmp_path / "project", settings=SETTINGS + OAUTH_SMTP, lists=())
    with offering(certificate, "XOAUTH2") as relay:
        checks = checks_for(project, relay, certificate, monkeypatch)
    assert checks["relay.auth"].failed
    assert "offers no OAuth 2.0 sign-in (XOAUTH2); it offers: LOGIN PLAIN" in checks["relay.auth"].detail
    assert "SMTP AUTH" in checks["relay.auth"].advice


@pytest.mark.parametrize("excluded, ok", [((), True), (("LOGIN",), True), (("PLAIN", "LOGIN"), False),
                                          (("PLAIN", "LOGIN", "XOAUTH2"), False)])
def test_a_password_login_needs_plain_or_login_offered(tmp_path, certificate, monkeypatch, excluded, ok):
    project = make_project(tmp_path / "project", lists=())
    with offering(certificate, *excluded) as relay:
        checks = checks_for(project, relay, certificate, monkeypatch, username=True)
        assert relay.auth_attempts == []
    assert checks["relay.auth"].failed is not ok
    if not ok:
        assert "offers no login nyhetsbrev can use (PLAIN or LOGIN)" in checks["relay.auth"].detail
