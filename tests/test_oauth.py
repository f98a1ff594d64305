"""Microsoft 365 sign-in: MSAL's device-code flow, silent renewal and XOAUTH2, all on loopback.

Microsoft cannot be reached from the tests. Its sign-in service is stood in for by tests/identity_server.py (HTTPS
with a certificate authority made here, MSAL pointed at it with instance_discovery=False and that CA as `verify`),
and Exchange Online's SMTP by the aiosmtpd server of tests/smtp_server.py with an XOAUTH2 mechanism that accepts
exactly the SASL string for the access token the stand-in issued last.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from pathlib import Path

import pytest

from nyhetsbrev.mail.limits import local_time
from tests.fixtures import assert_nowhere, one_line_error
from tests.identity_server import CLIENT_ID, TENANT, authority_files, identity  # noqa: F401  (fixtures)
from tests.language_helpers import swedish  # noqa: F401  (fixture)
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
    assert Path(os.environ["NYHETSBREV_DB"]).exists() and any((tmp_path / "outbox").glob("*.eml"))
    data = [p for p in Path(os.environ["NYHETSBREV_DB"]).parent.iterdir() if p.is_file()]  # not the sign-in cache
    for token in tokens:
        assert_nowhere(token, outputs=outputs, logs=[caplog.text], folders=[project, tmp_path / "outbox"], files=data,
                       data=False, repository=False)  # issued at run time: no committed file can hold it


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


def offline(monkeypatch) -> list:
    """A new process's view (no sign-in service contacted yet) with no network: every connection attempt fails."""
    import socket

    from nyhetsbrev.mail import oauth

    monkeypatch.setattr(oauth, "_apps", {})
    monkeypatch.setenv("NYHETSBREV_OAUTH_AUTHORITY", "https://127.0.0.1:9")  # nothing listens on the discard port
    tried = []

    def refuse(sock, address, *args):
        tried.append(address)
        raise OSError(101, "Network is unreachable (the test forbids connections)")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return tried  # the addresses a connection was tried to


def test_login_status_reads_only_the_local_cache_without_the_network(project, identity, cli, monkeypatch):
    """The sign-in is made with the local stand-in of Microsoft's service; the status is then asked offline."""
    assert cli("--project", project, "login").exit_code == 0
    granted = time.time()
    requests = len(identity.requests)
    tried = offline(monkeypatch)
    status = cli("--project", project, "login", "--status")
    assert status.exit_code == 0, status.output
    shown = " ".join(status.stdout.split())
    assert f"Signed in as {USERNAME}." in shown
    until = {local_time(granted + identity.expires_in + s) for s in (-60, 0, 60)}  # the stand-in's token lifetime
    assert any(f"access valid until {t};" in shown for t in until), shown
    assert f"stored in {_cache_file()}" in shown
    assert tried == [] and len(identity.requests) == requests  # not even an attempt to connect


def test_login_status_says_when_the_access_ran_out(project, identity, cli, monkeypatch):
    """Signed in with the local stand-in of Microsoft's sign-in service; an hour later the access has run out."""
    import json

    assert cli("--project", project, "login").exit_code == 0
    stored = json.loads(_cache_file().read_text(encoding="utf-8"))
    for token in stored["AccessToken"].values():
        token["expires_on"] = str(int(time.time()) - 600)
    _cache_file().write_text(json.dumps(stored), encoding="utf-8")
    before = _cache_file().read_bytes()
    offline(monkeypatch)
    shown = " ".join(cli("--project", project, "login", "--status").stdout.split())
    assert "access ran out at" in shown and "renewed by itself at the next send or inbox" in shown, shown
    assert "valid until" not in shown
    assert _cache_file().read_bytes() == before  # only read: the run-out token is still there for the next send


DAMAGED = {
    "cut short": b'{"AccessToken": {"k": {"secret": "at-',
    "binary": b"\x80\x9c\xff\x00\x13binary\xfe",
    "a list": b"[]",
    "entries not objects": b'{"Account": ["nyhetsbrev@example.org"]}',
    "token without expiry": b'{"AccessToken": {"k": {"home_account_id": "x", "secret": "at-x"}}}',
}


@pytest.mark.parametrize("content", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_token_cache_is_one_line_naming_it_and_login_replaces_it(project, identity, mailserver, cli,
                                                                            monkeypatch, content):
    """Signed in with the local stand-in of Microsoft's sign-in service; then the cache file is damaged."""
    add_people(2, ["politiker"])
    assert cli("--project", project, "login").exit_code == 0
    cache = _cache_file()
    cache.write_bytes(content)
    from nyhetsbrev.mail import oauth

    monkeypatch.setattr(oauth, "_apps", {})  # as a new process: nothing of the sign-in in memory
    for command in (["login", "--status"], ["send", "22:1", "--list", "politiker", "--yes"]):
        line = one_line_error(cli("--project", project, *command))
        assert f"{cache}: the stored Microsoft 365 sign-in cannot be read" in line, line
        assert "run 'nyhetsbrev login' again" in line.lower() and "unexpected" not in line, line
    assert mailserver.received == [] and mailserver.auth_attempts == []
    login = cli("--project", project, "login")
    assert login.exit_code == 0 and f"Signed in as {USERNAME}" in login.stdout, login.output
    assert f"the sign-in stored in {cache} could not be read; this sign-in replaces it" in " ".join(login.stderr.split())
    assert cli("--project", project, "login", "--status").exit_code == 0
    assert cli("--project", project, "send", "22:1", "--list", "politiker", "--yes").exit_code == 0
    assert len(mailserver.received) == 2


def test_a_damaged_token_cache_is_said_in_swedish(project, identity, cli, monkeypatch, swedish):
    """Signed in with the local stand-in of Microsoft's sign-in service; the interface is Swedish by default."""
    from tests.language_helpers import assert_swedish

    assert cli("--project", project, "login").exit_code == 0
    cache = _cache_file()
    cache.write_bytes(DAMAGED["cut short"])
    result = cli("--project", project, "login", "--status")
    assert result.exit_code != 0 and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith(f"fel: {cache}: den sparade inloggningen till Microsoft 365 går inte att läsa"), line
    assert "'nyhetsbrev login'" in line
    assert_swedish(line.replace(str(cache), ""), allowed=("Microsoft",))


def test_a_key_store_that_refuses_the_sign_in_is_one_line(project, cli, monkeypatch, tmp_path):
    """On Windows and macOS the sign-in is only ever kept by the operating system's key store: when that refuses,
    one line says so and what to do, and nothing is written in plain text."""
    import types

    import msal_extensions

    from nyhetsbrev.mail import oauth

    def refuse(path):
        raise RuntimeError("the keychain is locked")

    monkeypatch.setattr(msal_extensions, "build_encrypted_persistence", refuse)
    monkeypatch.setattr(oauth, "sys", types.SimpleNamespace(platform="darwin"))
    monkeypatch.setattr(oauth, "_apps", {})
    monkeypatch.setenv("NYHETSBREV_TOKEN_CACHE", str(tmp_path / "tokens"))
    line = one_line_error(cli("--project", project, "login", "--status"))
    assert "the Microsoft 365 sign-in cannot be kept safe: the macOS Keychain refused it (RuntimeError)" in line, line
    assert "run 'nyhetsbrev login' again" in line and "unexpected" not in line.lower(), line
    assert list((tmp_path / "tokens").glob("msal-*")) == []
