"""Sending when things go wrong: a pause with messages still in flight, a bug in a connection thread, bad settings,
a bad name in the outbox, bounces; and what status needs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from nyhetsbrev.mail.dispatch import Options
from nyhetsbrev.errors import SendError, SendPaused
from tests.send_helpers import SETTINGS, add_people, ledger_rows, make_project, project, send, smtp  # noqa: F401

pytestmark = pytest.mark.timeout(60)

POLICY = "550 5.7.1 Message rejected: sender domain not authorised (SPF)"


def _open_db():
    from nyhetsbrev.store import open_db

    return open_db(Path(os.environ["NYHETSBREV_DB"]))


def test_a_pause_keeps_the_rejected_messages_pending_while_later_ones_arrive(project, smtp):
    people = add_people(12, ["politiker"])
    smtp.script_mail(*[POLICY] * 5)  # the first five messages are refused, every later one is accepted
    with pytest.raises(SendPaused) as caught:
        send(project, options=Options(connections=1, retry_base=0.05))
    assert str(caught.value) == (  # how many, the reply, that nothing is lost, and what to do about it
        f"the server rejected 5 messages in a row with the same policy reply ({POLICY}); the send is paused and those "
        "messages are pending again. Fix the cause with your mail provider (sender authentication such as SPF/DKIM, "
        "relay permission or content), then run the same command again to continue")
    rows = ledger_rows()
    assert len([a for a in smtp.attempts if a.stage == "mail" and a.reply == POLICY]) == 5
    rejected = {email: state for email, (state, _, reply) in rows.items() if "5.7.1" in (reply or "")}
    assert len(rejected) == 5 and set(rejected.values()) == {"pending"}  # not failed: they go out once fixed
    assert Counter(state for state, _, _ in rows.values())["failed"] == 0
    resumed = send(project, options=Options(connections=1, retry_base=0.05))
    assert resumed.tally.failed == 0
    assert Counter(smtp.recipients()) == Counter(people)  # everyone once, the rejected ones included


def test_a_bug_in_a_connection_thread_stops_the_send_and_is_raised(project, smtp, monkeypatch):
    from nyhetsbrev.mail import message

    people = add_people(10, ["politiker"])
    original = message.MessageTemplate._pieces  # what personalise() and wire() make a message of

    def pieces(self, address, *args, **kwargs):
        if address == people[4]:
            raise ValueError("a bug while making this message")
        return original(self, address, *args, **kwargs)

    monkeypatch.setattr(message.MessageTemplate, "_pieces", pieces)
    with pytest.raises(ValueError, match="a bug while making"):
        send(project, connections=2)
    rows = ledger_rows()
    assert "sending" not in {state for state, _, _ in rows.values()}  # nothing left half-way
    assert rows[people[4]][0] == "pending"  # its bytes were never made, so it never went out
    monkeypatch.setattr(message.MessageTemplate, "_pieces", original)
    rerun = send(project)
    assert rerun.recovered == 0
    assert Counter(smtp.recipients()) == Counter(people)


@pytest.mark.parametrize("key, value, shown", [
    ("from", '"FoU Sörmland"', "not an email address"),
    ("from", '"FoU <nyhetsbrev@example.org>\\r\\nBcc: victim@example.org"', "carriage return"),
    ("reply_to", '"redaktion@example.org\\nBcc: victim@example.org"', "line break"),
    ("unsubscribe_email", '"Avregistrera <avregistrera@example.org>"', "not a deliverable"),
    ("list_id", '"=?utf-8?q?x?= <nyhetsbrev.example.org>"', "'=?'"),
])
def test_a_bad_header_setting_is_reported_with_its_line_before_anything(tmp_path, smtp, cli, key, value, shown):
    settings = re.sub(rf"(?m)^{key} = .*$", lambda _: f"{key} = {value}", SETTINGS)
    root = make_project(tmp_path / "p", settings=settings)
    line = next(n for n, text in enumerate(settings.splitlines(), start=1) if text.startswith(f"{key} ="))
    add_people(2, ["politiker"])
    for command in (["send", "22:1", "--list", "politiker", "--dry-run"], ["send", "22:1", "--list", "politiker", "--yes"],
                    ["check", "22:1"], ["build", "22:1"]):
        result = cli("--project", root, *command)
        assert result.exit_code == (2 if command[0] == "send" else 1), (command, result.output)  # send: 2 on errors
        assert f"nyhetsbrev.toml:{line}:" in result.stderr and shown in result.stderr, (command, result.stderr)
        assert "Traceback" not in result.output
    assert ledger_rows() == {} and smtp.attempts == []


def test_a_message_that_cannot_be_built_stops_before_the_plan_and_the_ledger(project, smtp, monkeypatch):
    from nyhetsbrev.mail import message

    add_people(3, ["politiker"])

    def broken(*args, **kwargs):
        raise SendError("the message headers could not be built")

    monkeypatch.setattr(message, "build_template", broken)
    asked = []
    for dry_run in (True, False):
        with pytest.raises(SendError, match="could not be built"):
            send(project, dry_run=dry_run, confirm=lambda plan: asked.append(plan) or True)
    assert asked == [] and ledger_rows() == {} and smtp.attempts == []


def test_a_message_that_cannot_be_made_leaves_one_file_out_of_the_outbox_and_says_who(project, tmp_path, cli, monkeypatch):
    from nyhetsbrev.mail import message

    original = message.MessageTemplate.personalise

    def refuse_eve(self, address, name, **kwargs):  # as for an address the sender cannot put on the wire
        if address.startswith("eve"):
            raise SendError(f"the address {address} cannot be sent")
        return original(self, address, name, **kwargs)

    monkeypatch.setattr(message.MessageTemplate, "personalise", refuse_eve)
    add_people(1, ["politiker"], prefix="eve")
    people = add_people(3, ["politiker"])
    outbox = tmp_path / "utkorg"
    report = send(project, outbox=outbox)
    assert [address for address, _ in report.failed] == ["eve0@example.org"]
    assert "cannot be sent" in report.failed[0][1]
    files = sorted(outbox.iterdir())
    assert len(report.written) == 3 and sorted(report.written) == files  # no temporary files left behind
    assert not any("eve" in path.name for path in files)
    assert all(any(address in path.name for path in files) for address in people)
    result = cli("--project", project, "send", "22:1", "--list", "politiker", "--outbox", tmp_path / "again")
    assert result.exit_code == 1 and "Wrote 3 messages" in result.stdout and "eve0@example.org" in result.stdout


def test_a_bounce_is_suppressed_even_when_the_send_then_pauses(project, smtp):
    from nyhetsbrev.store import is_suppressed

    people = add_people(8, ["politiker"])
    smtp.script(people[0], "rcpt", f"550 5.1.1 <{people[0]}>: Recipient address rejected: User unknown")
    for address in people[1:6]:  # then five in a row are refused for the sender's sake
        smtp.script(address, "rcpt", POLICY)
    with pytest.raises(SendPaused):
        send(project, options=Options(connections=1, retry_base=0.05))
    assert ledger_rows()[people[0]][0] == "failed"
    db = _open_db()
    try:
        assert is_suppressed(db, people[0]) == "bounced"
    finally:
        db.close()


def test_only_this_runs_failures_are_suppressed(project, smtp):
    from nyhetsbrev.store import is_suppressed

    people = add_people(3, ["politiker"])
    smtp.script(people[0], "rcpt", "550 5.1.1 User unknown")
    assert send(project).bounced == [people[0]]
    db = _open_db()
    try:
        db.execute("DELETE FROM suppressions")  # as if the person had been let back in by hand
        db.conn.commit()
        add_people(1, ["politiker"], start=10)
        again = send(project)
        assert again.tally.sent == 1 and again.bounced == []
        assert is_suppressed(db, people[0]) is None  # an earlier run's failure is not suppressed again
    finally:
        db.close()


def test_status_loads_no_message_rendering_or_smtp_code(project, smtp):
    add_people(3, ["politiker"])
    smtp.script("person1@example.org", "rcpt", "550 5.1.1 User unknown")
    send(project)
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from nyhetsbrev.cli import app\n"
        f"result = CliRunner().invoke(app, ['--project', {str(project)!r}, 'status', '22:1'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(result.output)\n"
        "print('MODULES', *sorted(m for m in sys.modules if m.startswith('nyhetsbrev')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    output, _, modules = done.stdout.partition("MODULES")
    modules = modules.split()
    assert "person1@example.org" in output
    assert "nyhetsbrev.store.ledger" in modules
    for heavy in ("nyhetsbrev.mail.message", "nyhetsbrev.publish.pipeline", "nyhetsbrev.mail.transport", "nyhetsbrev.mail.dispatch",
                  "nyhetsbrev.mail.sender"):
        assert heavy not in modules


def test_an_isolated_policy_rejection_is_recorded_failed_never_sent(project, smtp):
    """A 5.7.x refusal that does not start a pause is a failure the user sees, wherever it falls in the run."""
    people = add_people(6, ["politiker"])
    refused = {people[1]: "550 5.7.1 Message rejected by policy",  # settled by the next accepted message
               people[2]: "554 5.7.26 Unauthenticated mail is prohibited (DMARC)",  # a different reply ends people[1]'s run
               people[5]: "550 5.7.1 Message rejected by policy"}  # the last message: settled when the send ends
    for address, reply in refused.items():
        smtp.script(address, "data", reply)
    report = send(project, options=Options(connections=1, retry_base=0.05))
    rows = ledger_rows()
    assert {address: rows[address][0] for address in refused} == dict.fromkeys(refused, "failed")
    assert report.tally.failed == 3 and report.tally.sent == 3
    assert sorted(address for address, _ in report.failed) == sorted(refused)
    assert not set(refused) & set(smtp.recipients())
    assert send(project, options=Options(connections=1, retry_base=0.05)).tally.total == 0  # nobody sent twice


def test_a_bug_after_a_message_was_made_leaves_that_person_unknown_and_a_rerun_never_sends_it_twice(project, smtp,
                                                                                                      monkeypatch):
    from nyhetsbrev.mail import transport

    people = add_people(3, ["politiker"])
    real = transport.deliver

    def deliver(conn, sender, recipient, data, *args, **kwargs):
        if recipient == people[1]:  # its bytes are made: it may be on the wire when the bug strikes
            raise ValueError("a bug while handing the message over")
        return real(conn, sender, recipient, data, *args, **kwargs)

    monkeypatch.setattr(transport, "deliver", deliver)
    with pytest.raises(ValueError, match="a bug while handing"):
        send(project, connections=1)
    state, _, reply = ledger_rows()[people[1]]
    assert (state, reply) == ("unknown", "the send stopped on an error: a bug while handing the message over")
    monkeypatch.setattr(transport, "deliver", real)
    rerun = send(project, connections=1)
    assert Counter(smtp.recipients()) == Counter([people[0], people[2]])  # the one it may have reached is not resent
    assert rerun.unknown == [(people[1], reply)] and ledger_rows()[people[1]][0] == "unknown"


def test_two_different_policy_rejections_in_a_row_are_two_failures_not_a_pause(project, smtp):
    people = add_people(3, ["politiker"])
    smtp.script(people[0], "data", POLICY)
    smtp.script(people[1], "data", "554 5.7.26 Unauthenticated mail is prohibited (DMARC)")
    report = send(project, options=Options(connections=1, retry_base=0.05, pause_after=2))
    rows = ledger_rows()
    assert [rows[address][0] for address in people] == ["failed", "failed", "sent"]
    assert report.tally.failed == 2 and report.tally.sent == 1


def test_a_deferral_between_two_identical_policy_rejections_does_not_end_their_run_so_the_send_pauses(project, smtp):
    """A temporary refusal says nothing about whether the server accepts the sender again: the run goes on."""
    people = add_people(4, ["politiker"])
    smtp.script(people[0], "data", POLICY)
    smtp.script(people[1], "data", "451 4.7.1 Try again later")
    smtp.script(people[2], "data", POLICY)
    with pytest.raises(SendPaused):
        send(project, options=Options(connections=1, retry_base=0.05, pause_after=2))
    rows = ledger_rows()
    assert rows[people[0]][0] == rows[people[2]][0] == "pending"  # not failed: they go out once the cause is fixed


def test_a_person_whose_address_cannot_be_sent_is_failed_with_why_and_everyone_after_is_still_sent(project, smtp, cli):
    """A database from before import refused such addresses: jöns@ needs SMTPUTF8, which nyhetsbrev does not use."""
    people = add_people(4, ["politiker"])
    db = _open_db()
    try:  # the first to be sent, so that one connection must go on after it
        db.execute("UPDATE recipients SET email = 'jöns@example.org', email_key = 'jöns@example.org',"
                   " email_ascii = 'jöns@example.org' WHERE email_key = ?", [people[0]])
        db.conn.commit()
    finally:
        db.close()
    result = cli("--project", project, "send", "22:1", "--list", "politiker", "--yes", "--connections", "1")
    assert result.exit_code == 1, result.output  # not everyone was sent the issue
    why = ("not sent: the address jöns@example.org has non-ASCII characters before the @, which needs SMTPUTF8; "
           "nyhetsbrev sends without it, so it cannot deliver this address")
    assert ledger_rows()["jöns@example.org"][::2] == ("failed", why)
    assert "jöns@example.org" in result.stdout and "SMTPUTF8" in result.stdout
    assert sorted(smtp.recipients()) == people[1:]  # each once, after the one that could not be sent
    assert {ledger_rows()[address][0] for address in people[1:]} == {"sent"}
