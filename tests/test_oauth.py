"""Microsoft 365 sign-in: MSAL's device-code flow, silent renewal and XOAUTH2, all on loopback.

Microsoft cannot be reached from the tests. Its sign-in service is stood in for by tests/identity_server.py (HTTPS
with a certificate authority made here, MSAL pointed at it with instance_discovery=False and that CA as `verify`),
and Exchange Online's SMTP by the aiosmtpd server of tests/smtp_server.py with an XOAUTH2 mechanism that accepts
exactly the SASL string for the access token the stand-in issued last.
"""

from __future__ import annotations

import base64
import logging
import os
import stat
from pathlib import Path

import pytest

from nyhetsbrev.mail.limits import local_time
from tests.identity_server import CLIENT_ID, TENANT, authority_files, identity  # noqa: F401  (fixtures)
from tests.send_helpers import SETTINGS, add_people, certificate, ledger_rows, make_project  # noqa: F401  (fixtures)
from tests.smtp_server import USERNAME, FaultServer

pytestmark = pytest.mark.timeout(60)

OAUTH_SMTP = f'\n[smtp]\nauth = "oauth2"\ntenant = "{TENANT}"\nclient_id = "{CLIENT_ID}"\nusername = "{USERNAME}"\n'


@pytest.fixture
def mailserver(identity, certificate, monkeypatch):
    """The SMTP stand-in (STARTTLS, XOAUTH2 accepting the stand-in's newest access token)."""
    with FaultServer(certificate=certificate, starttls=True, auth=True) as server:
        server.bearer_tokens = identity.access_tokens  # the same set: what the sign-in issues, the server accepts
        for name, value in server.env("starttls", cafile=certificate[0]).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("NYHETSBREV_RETRY_BASE", "0.05")
        yield server


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "project", settings=SETTINGS + OAUTH_SMTP)


def _cache_file() -> Path:
    return next((Path(os.environ["XDG_CACHE_HOME"]) / "nyhetsbrev").glob("msal-*.bin"))


def test_device_code_login_then_send_over_xoauth2(project, identity, mailserver, cli):
    add_people(3, ["politiker"])
    login = cli("--project", project, "login")
    assert login.exit_code == 0, login.output
    assert "https://microsoft.com/devicelogin" in login.stdout and identity.user_code in login.stdout
    assert f"Signed in as {USERNAME}" in login.stdout
    assert identity.grants("device_code") == 2  # once 'authorization_pending', then the tokens
    assert stat.S_IMODE(_cache_file().stat().st_mode) == 0o600
    assert "file only you can read (mode 0600)" in " ".join(login.stderr.split())  # no keyring on this machine

    status = cli("--project", project, "login", "--status")
    assert status.exit_code == 0, status.output
    assert f"Signed in as {USERNAME}" in status.stdout and "access valid until" in status.stdout

    sent = cli("--project", project, "send", "22:1", "--list", "politiker", "--yes")
    assert sent.exit_code == 0, sent.output
    assert len(mailserver.received) == 3 and all(r.tls for r in mailserver.received)
    assert mailserver.auth_attempts and all(a == ("XOAUTH2", USERNAME, True) for a in mailserver.auth_attempts)
    assert identity.grants("refresh_token") == 0  # the stored access token was still good: no renewal needed


def test_silent_refresh_then_a_failed_refresh_stops_before_sending(project, identity, mailserver, cli, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    identity.expires_in = 60  # MSAL renews any token that runs out within 5 minutes: every use renews it
    first = add_people(2, ["politiker"])
    outputs = [cli("--project", project, "login")]
    assert outputs[0].exit_code == 0, outputs[0].output
    outputs.append(cli("--project", project, "send", "22:1", "--list", "politiker", "--yes"))
    assert outputs[-1].exit_code == 0, outputs[-1].output
    assert identity.grants("refresh_token") >= 1 and sorted(mailserver.recipients()) == sorted(first)

    identity.refresh_ok = False  # the sign-in was revoked, or unused for too long
    later = add_people(2, ["politiker"], start=10)
    attempts = len(mailserver.auth_attempts)
    outputs.append(cli("--project", project, "send", "22:1", "--list", "politiker", "--yes"))
    refused = outputs[-1]
    assert refused.exit_code != 0
    assert "run 'nyhetsbrev login'" in refused.stderr.lower() and "invalid_grant" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.output
    assert sorted(mailserver.recipients()) == sorted(first)  # nothing sent
    assert len(mailserver.auth_attempts) == attempts  # not even a connection tried to log in
    assert not any(email in ledger_rows() for email in later)  # nothing claimed either
    outputs.append(cli("--project", project, "send", "22:1", "--list", "politiker", "--outbox", tmp_path / "outbox"))
    outputs.append(cli("--project", project, "login", "--status"))

    tokens = identity.issued
    assert len(tokens) >= 4
    files = [p for p in Path(os.environ["NYHETSBREV_DB"]).parent.iterdir() if p.is_file()]
    files += [p for p in project.rglob("*") if p.is_file()] + list((tmp_path / "outbox").iterdir())
    assert any(p.name.endswith(".db") for p in files) and any(p.suffix == ".eml" for p in files)
    for token in tokens:
        for result in outputs:
            assert token not in result.stdout and token not in result.stderr
        assert token not in caplog.text
        for path in files:
            data = path.read_bytes()
            assert token.encode() not in data and base64.b64encode(token.encode()) not in data, path


def test_a_refused_token_says_to_sign_in_again_and_sends_nothing(project, identity, mailserver, cli):
    add_people(2, ["politiker"])
    assert cli("--project", project, "login").exit_code == 0
    mailserver.bearer_tokens = set()  # the server takes no token any more (e.g. SMTP AUTH turned off for the mailbox)
    result = cli("--project", project, "send", "22:1", "--list", "politiker", "--yes")
    assert result.exit_code != 0
    shown = " ".join(result.stderr.split())
    assert "refused the Microsoft 365 sign-in for nyhetsbrev@example.org: 535 5.7.3" in shown, shown
    assert "run 'nyhetsbrev login'" in shown.lower()
    assert mailserver.received == [] and mailserver.auth_attempts == [("XOAUTH2", "?", True)]
    assert {state for state, _, _ in ledger_rows().values()} <= {"pending"}


def test_xoauth2_initial_response_is_the_exact_sasl_string():
    from nyhetsbrev.mail.oauth import xoauth2

    assert xoauth2("a@example.org", "tok") == "user=a@example.org\x01auth=Bearer tok\x01\x01"


def test_login_status_when_nobody_is_signed_in(project, identity, cli):
    result = cli("--project", project, "login", "--status")
    assert result.exit_code == 1 and f"Nobody is signed in for {USERNAME}" in result.stdout


def test_login_needs_oauth_settings(tmp_path, cli):
    project = make_project(tmp_path / "plain")
    result = cli("--project", project, "login")
    assert result.exit_code != 0 and "does not use the Microsoft 365 sign-in" in result.stderr
    assert 'auth = "oauth2"' in result.stderr


def test_login_refused_by_the_service_is_one_line(project, identity, cli, monkeypatch):
    (project / "nyhetsbrev.toml").write_text(
        SETTINGS + OAUTH_SMTP.replace(CLIENT_ID, "11111111-2222-4333-8444-555555555555"), encoding="utf-8")
    result = cli("--project", project, "login")
    assert result.exit_code != 0 and "refused to start the sign-in" in result.stderr and "AADSTS700016" in result.stderr
    assert "Traceback" not in result.output
    assert local_time(0)  # the helper the status line uses works for any time
