"""End to end with real servers: `send` through Postfix, which bounces an unknown user with a real DSN into the
Dovecot mailbox; `inbox` then suppresses exactly that person."""

from __future__ import annotations

import pytest

from tests.inbox_helpers import inbox_project, mailbox_events, suppressed
from tests.mailserver import MAILBOX_USER, dovecot, postfix  # noqa: F401  (fixtures)
from tests.send_helpers import add_people, send

pytestmark = pytest.mark.timeout(120)


def test_a_real_postfix_bounce_suppresses_exactly_the_unknown_user(cli, dovecot, postfix, tmp_path, monkeypatch):
    for name, value in {**dovecot.env(MAILBOX_USER), "NYHETSBREV_SMTP_HOST": "127.0.0.1",
                        "NYHETSBREV_SMTP_PORT": str(postfix.smtp_port), "NYHETSBREV_SMTP_SECURITY": "none"}.items():
        monkeypatch.setenv(name, value)
    project = inbox_project(tmp_path / "project", dovecot.imap_settings(MAILBOX_USER))
    known = add_people(2, ["politiker"], prefix="kand")          # kand0@, kand1@example.org have mailboxes
    unknown = add_people(1, ["politiker"], prefix="okand")[0]   # okand0@example.org does not
    for address in known:
        dovecot.add_user(address)

    report = send(project, lists=("politiker",))
    assert report.tally.sent == 3  # Postfix accepted all three; the bounce comes later, as a message
    log = postfix.wait_for("sender non-delivery notification")
    postfix.wait_for(f"to=<{MAILBOX_USER}>, relay=127.0.0.1")
    assert f"to=<{unknown}>" in log and "status=bounced" in log

    result = cli("--project", project, "inbox")
    assert result.exit_code == 0, result.output
    assert suppressed() == {unknown: "bounced"}
    [(who, event, issue, _mid)] = mailbox_events()
    assert (who, event, issue) == (unknown, "bounced", "22:1")
    for address in known:  # the others got the newsletter, and nothing happened to them
        assert dovecot.folder_state(address)
