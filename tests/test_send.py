"""Sending, against a real aiosmtpd server on 127.0.0.1 and a real SQLite file (issue 5's acceptance list)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from collections import Counter
from pathlib import Path

import pytest

from nyhetsbrev.errors import SendPaused
from tests.fixtures import assert_nowhere
from tests.header_helpers import display_name
from tests.smtp_server import FaultServer
from tests.send_helpers import add_people, certificate, ledger_rows, project, quick_reconnects, send, smtp  # noqa: F401  (fixtures)

pytestmark = pytest.mark.timeout(60)


def test_every_message_has_the_required_headers_and_a_unique_message_id(project, smtp):
    add_people(12, ["politiker"])
    send(project)
    assert len(smtp.received) == 12
    ids = []
    for received in smtp.received:
        msg = received.message
        for name in ("Message-ID", "Date", "From", "To", "Subject", "List-Id", "List-Unsubscribe",
                     "List-Unsubscribe-Post", "Reply-To", "Auto-Submitted", "Precedence"):
            assert msg[name], f"{name} missing"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg["Auto-Submitted"] == "auto-generated"
        assert msg["Precedence"] == "bulk"
        assert msg.get_content_type() == "multipart/alternative"
        assert msg.get_body(("plain",)) is not None and msg.get_body(("html",)) is not None
        assert msg["Message-ID"].endswith("@example.org>")
        links = re.findall(r"<([^>]+)>", msg["List-Unsubscribe"])
        assert links[0].startswith("https://www.example.org/avregistrera?token=")
        assert links[1].startswith("mailto:avregistrera@example.org?subject=")
        assert links[0] in msg.get_body(("html",)).get_content()  # the footer link is the personal one
        ids.append(msg["Message-ID"])
    assert len(set(ids)) == len(ids)
    assert ledger_rows() and sorted(row[1] for row in ledger_rows().values()) == sorted(ids)  # the ledger keeps them
    # None can be guessed from another: each carries 128 random bits (32 hex digits), no counter, no time.
    secrets = [re.fullmatch(r"<22-1\.([0-9a-f]{32})@example\.org>", mid).group(1) for mid in ids]
    for n, one in enumerate(secrets):
        for other in secrets[n + 1:]:
            same_start = len(os.path.commonprefix([one, other]))
            same_end = len(os.path.commonprefix([one[::-1], other[::-1]]))
            assert same_start < 8 and same_end < 8, (one, other)


def test_one_rcpt_per_message_equal_to_to(project, smtp):
    add_people(10, ["politiker"])
    send(project)
    assert smtp.received
    for received in smtp.received:
        assert len(received.rcpt_tos) == 1
        assert received.message["To"].addresses[0].addr_spec == received.rcpt_tos[0]
        assert received.mail_from == "nyhetsbrev@example.org"
    rcpts = [a for a in smtp.attempts if a.stage == "rcpt"]
    assert len(rcpts) == len(smtp.received)


def test_union_of_lists_without_duplicates_and_audience_sections(project, smtp):
    both = add_people(5, ["politiker"], start=0)
    add_people(5, ["profession"], start=0)  # the same five people are on both lists
    only_politiker = add_people(3, ["politiker"], start=10)
    only_profession = add_people(4, ["profession"], start=20)
    report = send(project, ("politiker", "profession"))
    counts = Counter(smtp.recipients())
    assert set(counts) == set(both + only_politiker + only_profession)
    assert max(counts.values()) == 1
    assert report.tally.sent == 12 and report.plan.variants == 3
    for received in smtp.received:
        text = received.message.get_body(("plain",)).get_content()
        address = received.rcpt_tos[0]
        assert ("Endast för politikerlistan" in text) == (address not in only_profession)
        assert ("Endast för professionslistan" in text) == (address not in only_politiker)


def test_suppressed_addresses_are_never_mailed(project, smtp):
    from nyhetsbrev.store import forget, open_db, suppress, unsubscribe

    people = add_people(8, ["politiker"])
    db = open_db(Path(os.environ["NYHETSBREV_DB"]))
    unsubscribe(db, people[1])
    suppress(db, people[2], "bounced", "test")
    forget(db, people[3])
    db.close()
    send(project)
    assert sorted(smtp.recipients()) == sorted(set(people) - set(people[1:4]))


def test_a_rerun_sends_nothing(project, smtp):
    add_people(15, ["politiker"])
    first = send(project)
    assert first.tally.sent == 15
    second = send(project)
    assert second.tally.total == 0
    assert len(smtp.received) == 15


def test_451_twice_then_delivered_once(project, smtp):
    people = add_people(3, ["politiker"])
    smtp.script(people[1], "data", "451 4.7.1 Greylisted, try again", "451 4.7.1 Greylisted, try again")
    report = send(project)
    assert Counter(smtp.recipients())[people[1]] == 1
    assert [a.reply[:3] for a in smtp.attempts if a.stage == "data" and a.address == people[1]] == ["451", "451", "250"]
    assert report.tally.sent == 3 and report.tally.deferred == 0
    assert ledger_rows()[people[1]][0] == "sent"


@pytest.mark.parametrize("status", ["5.1.1", "5.1.2", "5.1.10"])  # no such user, no such domain, null MX
def test_550_is_failed_and_not_retried_by_a_rerun(project, smtp, status):
    people = add_people(4, ["politiker"])
    smtp.script(people[2], "rcpt", f"550 {status} <{people[2]}>: Recipient address rejected")
    smtp.script(people[0], "rcpt", f"550 5.2.1 <{people[0]}>: Mailbox disabled")  # failed, but the address exists
    report = send(project)
    assert report.tally.failed == 2 and report.tally.sent == 2
    assert sorted(report.failed) == sorted([(people[2], f"550 {status} <{people[2]}>: Recipient address rejected"),
                                            (people[0], f"550 5.2.1 <{people[0]}>: Mailbox disabled")])
    attempts = len(smtp.attempts)
    rerun = send(project)
    assert rerun.tally.total == 0 and len(smtp.attempts) == attempts
    assert ledger_rows()[people[2]][0] == "failed"
    from nyhetsbrev.store import is_suppressed, open_db

    db = open_db(Path(os.environ["NYHETSBREV_DB"]))
    assert is_suppressed(db, people[2]) == "bounced"  # the address or its domain does not exist
    assert is_suppressed(db, people[0]) is None  # a failure that says nothing about the address suppresses no one
    assert is_suppressed(db, people[1]) is None
    db.close()
    assert report.bounced == [people[2]]


def test_421_on_mail_reconnects_and_nobody_fails(project, smtp):
    people = add_people(6, ["politiker"])
    smtp.script_mail("421 4.3.2 Service shutting down", "421 4.3.2 Service shutting down")
    report = send(project, connections=2)
    assert report.tally.sent == 6 and report.tally.failed == 0
    assert sorted(smtp.recipients()) == sorted(people)
    assert smtp.connections >= 4  # two connections, each reopened after its 421


def test_552_is_deferred_with_a_next_attempt_time(project, smtp):
    people = add_people(3, ["politiker"])
    smtp.script(people[0], "data", *["552 5.3.4 Mailbox full"] * 10)
    report = send(project)
    assert report.tally.deferred == 1 and report.tally.failed == 0 and report.tally.sent == 2
    state, _, reply = ledger_rows()[people[0]]
    assert state == "deferred" and reply.startswith("552")
    from nyhetsbrev.store.ledger import issue_status

    assert issue_status(project, "22:1").next_attempt is not None
    smtp.scripts.clear()
    rerun = send(project)  # picked up by the next run
    assert rerun.tally.sent == 1 and ledger_rows()[people[0]][0] == "sent"


def test_without_a_back_off_set_a_deferred_message_is_due_again_a_minute_later(project, smtp, monkeypatch):
    """Nothing sets the back-off (NYHETSBREV_RETRY_BASE): a message deferred with no retries left in this run is due
    again, as status shows, after twice the default half minute."""
    import time

    from nyhetsbrev.mail.dispatch import Options
    from nyhetsbrev.store.db import utc_epoch
    from nyhetsbrev.store.ledger import issue_status

    monkeypatch.delenv("NYHETSBREV_RETRY_BASE")
    person = add_people(1, ["politiker"])[0]
    smtp.script(person, "rcpt", "451 4.7.1 Try again later")
    before = int(time.time())
    report = send(project, options=Options(retries=0))
    after = time.time()
    assert report.tally.total == 1 and report.tally.deferred == 1 and smtp.received == []
    assert ledger_rows()[person][::2] == ("deferred", "451 4.7.1 Try again later")
    assert before + 60 <= utc_epoch(issue_status(project, "22:1").next_attempt) <= after + 60


def test_a_deferred_message_is_retried_after_half_a_minute_then_one_then_two_and_is_then_due_in_eight(
        project, smtp, monkeypatch):
    """The default back-off, on a clock the test moves on whenever the send only waits for a retry (nothing real is
    waited for): a message deferred again and again is tried four times in the run, 30 s, 60 s and 120 s apart, each
    wait shown with the one message it is for; then it is left deferred, due again 8 minutes later (each deferral is
    recorded with the time of the next attempt after the one the run makes itself)."""
    from nyhetsbrev.mail import dispatch
    from nyhetsbrev.store import ledger

    monkeypatch.delenv("NYHETSBREV_RETRY_BASE")
    person = add_people(1, ["politiker"])[0]
    smtp.script(person, "rcpt", *["451 4.7.1 Greylisted, try again later"] * 10)
    clock = {"now": 1_000_000.0}

    def monotonic() -> float:
        clock["now"] += 1e-6  # a real clock never stands still
        return clock["now"]

    monkeypatch.setattr(dispatch, "time", types.SimpleNamespace(monotonic=monotonic))
    waits = []

    def progress(tally) -> None:
        if tally.waiting_until is not None and (not waits or waits[-1][1] != tally.waiting_until):
            assert tally.waiting_until > clock["now"], "a retry shown as due already"
            waits.append((tally.waiting_until - clock["now"], tally.waiting_until, tally.retrying))
            clock["now"] = tally.waiting_until  # the wait is over at once
    due_in = []
    real_later = ledger.later
    monkeypatch.setattr(ledger, "later", lambda seconds: due_in.append(seconds) or real_later(seconds))
    report = send(project, options=dispatch.Options(), progress=progress)
    assert [round(wait) for wait, _, _ in waits] == [30, 60, 120] and {n for _, _, n in waits} == {1}
    assert [a.stage for a in smtp.attempts if a.address == person] == ["rcpt"] * 4
    assert due_in == [60, 120, 240, 480]  # each deferral is recorded with the time of the attempt after the next
    assert (report.tally.deferred, report.tally.retrying, report.tally.sent) == (1, 0, 0)
    assert ledger_rows()[person][::2] == ("deferred", "451 4.7.1 Greylisted, try again later")


def test_two_people_deferred_in_the_same_tick_of_a_coarse_clock_are_both_retried_in_turn(project, smtp, monkeypatch):
    """On a clock as coarse as Windows' (a tick of 1/64 s), two messages deferred in the same tick are due at the same
    moment: both are retried, in the order they were deferred. The clock ticks by the questions asked (a thousand a
    tick) and is moved on when the send only waits for its retries, so nothing real is waited for."""
    from nyhetsbrev.mail import dispatch

    first, second = add_people(2, ["politiker"])
    smtp.script(first, "rcpt", "451 4.7.1 Greylisted, try again later")
    smtp.script(second, "rcpt", "451 4.7.1 Greylisted, try again later")
    clock = {"now": 1_000_000.0, "asked": 0}

    def monotonic() -> float:
        clock["asked"] += 1
        if clock["asked"] % 1000 == 0:
            clock["now"] += 1 / 64
        return clock["now"]

    monkeypatch.setattr(dispatch, "time", types.SimpleNamespace(monotonic=monotonic))
    waited_for = []

    def progress(tally) -> None:
        if tally.waiting_until is not None:
            waited_for.append(tally.retrying)
            clock["now"] = max(clock["now"], tally.waiting_until)

    report = send(project, options=dispatch.Options(connections=1, retry_base=30.0), progress=progress)
    assert (report.tally.sent, report.tally.deferred) == (2, 0) and waited_for[:1] == [2]
    assert [a.address for a in smtp.attempts if a.stage == "rcpt"] == [first, second, first, second]
    assert {state for state, _, _ in ledger_rows().values()} == {"sent"}


def test_a_run_of_identical_policy_rejections_pauses_the_send(project, smtp):
    add_people(30, ["politiker"])
    smtp.always_reply("data", "550 5.7.1 Message rejected: sender domain not authorised (SPF)")
    with pytest.raises(SendPaused) as caught:
        send(project)
    assert "5.7.1" in str(caught.value) and "paused" in str(caught.value)
    states = Counter(state for state, _, _ in ledger_rows().values())
    assert states["failed"] == 0 and states["sent"] == 0
    assert len([a for a in smtp.attempts if a.stage == "data"]) < 30  # stopped early, not the whole list
    smtp.always_reply("data", None)
    resumed = send(project)
    assert resumed.tally.sent == 30 and len(set(smtp.recipients())) == 30


def test_connection_dropped_after_data_is_unknown_without_hanging(project, smtp):
    people = add_people(4, ["politiker"])
    smtp.script(people[1], "data", "drop")
    report = send(project)
    assert report.tally.unknown == 1 and report.tally.sent == 3
    state, message_id, _ = ledger_rows()[people[1]]
    assert state == "unknown"
    assert send(project).tally.total == 0  # not resent without --resend-unknown
    again = send(project, resend_unknown=True)
    assert again.tally.sent == 1
    assert smtp.received[-1].message["Message-ID"] == message_id  # the same message, so clients can drop a duplicate


def test_a_server_gone_mid_send_loses_no_one_and_the_rerun_sends_the_rest_once(project, smtp, cli, monkeypatch):
    """The relay goes away after 10 messages: those on the wire finish, the rest stay pending, nothing is unknown."""
    people = add_people(30, ["politiker"])
    smtp.gone_after(10)
    quick_reconnects(monkeypatch)  # it stays gone: waiting seconds for it to come back shows nothing more
    result = cli("--project", project, "send", "22:1", "--list", "politiker", "--yes", "--connections", "3")
    first = sorted(smtp.recipients())
    line = result.stderr.strip().splitlines()[-1]  # after the progress line: how far it came and how to go on
    assert result.exit_code == 2 and "Traceback" not in result.output and line.startswith("error: ")
    assert "cannot connect to the SMTP server 127.0.0.1" in line
    assert f"the send stopped after {len(first)} messages in this run" in line
    assert line.endswith(f". The other {30 - len(first)} are not yet sent and nothing is lost: when the server can be "
                         "reached again, run the same command again to continue")  # not the hint to check the settings
    assert 10 <= len(first) < 10 + 3  # the tenth, and at most one more already past MAIL on each other connection
    states = {email: state for email, (state, _, _) in ledger_rows().items()}
    assert sorted(e for e, s in states.items() if s == "sent") == first
    assert Counter(states.values()) == {"sent": len(first), "pending": 30 - len(first)}

    with FaultServer() as back:
        for name, value in back.env().items():
            monkeypatch.setenv(name, value)
        rerun = send(project)
    assert rerun.tally.sent == 30 - len(first) and rerun.tally.total == 30 - len(first)
    assert Counter(first + back.recipients()) == Counter(people)  # everyone exactly once
    assert set(state for state, _, _ in ledger_rows().values()) == {"sent"}


def test_a_server_gone_with_only_the_last_message_left_is_no_finished_send(project, smtp, cli, monkeypatch):
    """The relay goes away as the last message is on its way: the send does not say 'Sent' with exit 0 while that
    person is still pending; it says the one left is not yet sent and how to go on, and the rerun sends it."""
    people = add_people(3, ["politiker"])
    smtp.gone_after(2)
    quick_reconnects(monkeypatch)
    result = cli("--project", project, "send", "22:1", "--list", "politiker", "--yes", "--connections", "1")
    line = result.stderr.strip().splitlines()[-1]
    assert result.exit_code == 2 and "Sent 22:1" not in result.stdout, result.output
    assert line.startswith("error: the send stopped after 2 messages in this run: cannot connect to the SMTP server")
    assert line.endswith(". The other 1 are not yet sent and nothing is lost: when the server can be reached again, "
                         "run the same command again to continue")
    assert {email: state for email, (state, _, _) in ledger_rows().items()} == {
        people[0]: "sent", people[1]: "sent", people[2]: "pending"}
    with FaultServer() as back:
        for name, value in back.env().items():
            monkeypatch.setenv(name, value)
        assert send(project).tally.sent == 1 and back.recipients() == [people[2]]


def test_a_sign_in_that_runs_out_mid_send_still_says_to_sign_in_again(project, smtp, monkeypatch, tmp_path):
    """A connection that must log in again mid-send and finds the sign-in gone: the error says how far the send came,
    keeps the file it is about and its own hint (run 'nyhetsbrev login'), not only 'run the same command again'."""
    from nyhetsbrev.errors import SignInRequired
    from nyhetsbrev.mail import transport
    from nyhetsbrev.mail.dispatch import Options

    add_people(30, ["politiker"])
    smtp.gone_after(10)  # every connection has to log in again
    opened = []
    real_open = transport.Connection.open
    stored = tmp_path / "msal_token_cache.json"

    def open_once(self) -> None:
        opened.append(self)
        if len(opened) > 1:
            raise SignInRequired("the stored Microsoft 365 sign-in cannot be read: it is not complete JSON",
                                 path=stored, line=3, hint="run 'nyhetsbrev login' again")
        real_open(self)

    monkeypatch.setattr(transport.Connection, "open", open_once)
    with pytest.raises(SignInRequired) as raised:
        send(project, options=Options(retry_base=0.05, connections=1))
    sent = len(smtp.recipients())
    assert 10 <= sent < 30 and ledger_rows()  # one connection: the tenth, or one more already past MAIL
    assert str(raised.value) == (
        f"{stored}:3: the send stopped after {sent} messages in this run: the stored Microsoft 365 sign-in cannot be "
        f"read: it is not complete JSON. Run 'nyhetsbrev login' again; the other {30 - sent} are not yet sent and "
        "nothing is lost: then run the same command again to continue")
    assert Counter(state for state, _, _ in ledger_rows().values()) == {"sent": sent, "pending": 30 - sent}


def test_injection_in_a_name_adds_no_header_or_recipient(project, smtp):
    from nyhetsbrev.store import add_recipient, open_db

    db = open_db(Path(os.environ["NYHETSBREV_DB"]))
    add_recipient(db, "eve@example.org", ["politiker"], details={"name": "Eve =?utf-8?q?x=0D=0ABcc:_victim@example.org?="})
    add_recipient(db, "adam@example.org", ["politiker"], details={"name": "Adam Åberg"})
    db.close()
    report = send(project)
    assert sorted(smtp.recipients()) == ["adam@example.org", "eve@example.org"]
    for received in smtp.received:
        head = received.data.partition(b"\r\n\r\n")[0]
        assert received.message["Bcc"] is None and b"victim" not in head
        assert [a.addr_spec for a in received.message["To"].addresses] == received.rcpt_tos
    eve = next(r for r in smtp.received if r.rcpt_tos == ["eve@example.org"])
    assert display_name(eve.data) == "Eve =?utf-8?q?x=0D=0ABcc:_victim@example.org?="
    assert report.tally.sent == 2 and report.tally.failed == 0


def test_injection_in_the_subject_stops_the_send(tmp_path, smtp, cli):
    from tests.send_helpers import ISSUE, make_project

    root = make_project(tmp_path / "p", issue=ISSUE.replace("våren", 'våren\\r\\nBcc: victim@example.org'))
    add_people(2, ["politiker"])
    result = cli("--project", root, "send", "22:1", "--list", "politiker", "--yes")
    assert result.exit_code != 0 and "subject" in result.stderr and "Traceback" not in result.output
    assert smtp.received == [] and smtp.attempts == []


def test_second_concurrent_send_is_refused(project, smtp):
    from nyhetsbrev.errors import SendLocked
    from nyhetsbrev.store import open_db
    from nyhetsbrev.store.ledger import SendLock

    add_people(2, ["politiker"])
    db = open_db(Path(os.environ["NYHETSBREV_DB"]))
    with SendLock(db, "22:1"):  # as a running send holds it
        with pytest.raises(SendLocked) as caught:
            send(project)
    assert "already being sent" in str(caught.value)
    assert smtp.received == []
    assert send(project).tally.sent == 2  # free again once the other send ends
    db.close()


# -- the command line ------------------------------------------------------------------------------


def test_the_password_appears_in_no_output_log_or_database_byte(project, certificate, cli, caplog, tmp_path):
    import logging

    from tests.smtp_server import PASSWORD, FaultServer

    caplog.set_level(logging.INFO)
    add_people(5, ["politiker"])
    with FaultServer(certificate=certificate, starttls=True, auth=True) as server:
        env = server.env("starttls", cafile=certificate[0], username=True)
        ok = cli("--project", project, "send", "22:1", "--list", "politiker", "--yes", env=env)
        status = cli("--project", project, "status", "22:1", env=env)
        wrong_env = {**env, "NYHETSBREV_SMTP_USERNAME": "someone-else@example.org"}
        wrong = cli("--project", project, "send", "22:1", "--test", "me@example.org", env=wrong_env)
        traced = subprocess.run(  # with --debug the error comes with a full traceback
            [sys.executable, "-m", "nyhetsbrev", "--project", str(project), "--debug", "send", "22:1", "--test", "me@example.org"],
            env={**os.environ, **wrong_env}, capture_output=True, timeout=60,
        )
        assert [login for _, login, _ in server.auth_attempts][:1] == ["nyhetsbrev@example.org"]
        assert all(tls for _, _, tls in server.auth_attempts)
        assert len(server.received) == 5 and all(r.tls for r in server.received)
    assert ok.exit_code == 0, ok.output
    assert wrong.exit_code != 0 and "refused the login" in wrong.stderr
    assert traced.returncode != 0 and b"Traceback" in traced.stderr
    assert Path(os.environ["NYHETSBREV_DB"]).exists()
    assert_nowhere(PASSWORD, outputs=[ok, status, wrong, traced], logs=[caplog.text], folders=[project])


def test_without_a_terminal_and_without_yes_it_refuses(project, smtp, cli):
    add_people(3, ["politiker"])
    result = cli("--project", project, "send", "22:1", "--list", "politiker")
    assert result.exit_code != 0
    assert "no terminal" in result.stderr and "--yes" in result.stderr
    assert "recipients" in result.stdout and "3" in result.stdout  # it showed what would happen first
    assert smtp.received == [] and ledger_rows() == {}


def test_dry_run_shows_the_plan_and_sends_nothing(project, smtp, cli):
    add_people(3, ["politiker"])
    add_people(2, ["profession"], start=10)
    result = cli("--project", project, "send", "22:1", "--list", "politiker", "--list", "profession", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Dry run" in result.stdout and "politiker, profession" in result.stdout
    assert re.search(r"to send now\s+5", result.stdout)
    assert smtp.received == [] and ledger_rows() == {}


@pytest.mark.parametrize("url, warned", [
    ("http://www.example.org/avregistrera", "warning: unsubscribe_url is not https"),
    (None, "warning: unsubscribe_url is not set"),
])
def test_the_plan_warns_of_an_unsubscribe_url_that_gives_no_one_click(project, smtp, cli, url, warned):
    settings = project / "nyhetsbrev.toml"
    text = settings.read_text(encoding="utf-8")
    old = 'unsubscribe_url = "https://www.example.org/avregistrera"\n'
    settings.write_text(text.replace(old, f'unsubscribe_url = "{url}"\n' if url else ""), encoding="utf-8")
    add_people(2, ["politiker"])
    result = cli("--project", project, "send", "22:1", "--list", "politiker", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stderr.count(warned) == 1, result.stderr


def test_without_an_smtp_host_it_says_what_to_set(project, cli, monkeypatch):
    for name in ("NYHETSBREV_SMTP_HOST", "NYHETSBREV_SMTP_PORT", "NYHETSBREV_SMTP_SECURITY"):
        monkeypatch.delenv(name, raising=False)
    add_people(2, ["politiker"])
    result = cli("--project", project, "send", "22:1", "--list", "politiker", "--yes")
    assert result.exit_code != 0
    assert "no SMTP server is configured" in result.stderr
    assert "host =" in result.stderr and "NYHETSBREV_SMTP_HOST" in result.stderr and "--outbox" in result.stderr
    assert "Traceback" not in result.output and ledger_rows() == {}


def test_a_test_copy_is_marked_and_not_recorded(project, smtp, cli):
    add_people(3, ["politiker"])
    result = cli("--project", project, "send", "22:1", "--test", "granskare@example.org,chef@example.org")
    assert result.exit_code == 0, result.output
    assert sorted(smtp.recipients()) == ["chef@example.org", "granskare@example.org"]
    for received in smtp.received:
        assert received.message["Subject"].startswith("[TEST] ")
        text = received.message.get_body(("plain",)).get_content()
        assert "Endast för politikerlistan" in text and "Endast för professionslistan" in text  # every section
    assert ledger_rows() == {}
    assert "has not been sent" in cli("--project", project, "status", "22:1").stdout


def test_a_test_copy_with_a_list_is_that_lists_version_as_the_help_says(project, smtp, cli):
    shown = " ".join(cli("send", "--help").stdout.split())
    assert "--test ADDRESS --list politiker sends the politicians' version" in shown, shown
    result = cli("--project", project, "send", "22:1", "--test", "granskare@example.org", "--list", "politiker")
    assert result.exit_code == 0, result.output
    text = smtp.received[0].message.get_body(("plain",)).get_content()
    assert "Endast för politikerlistan" in text and "Endast för professionslistan" not in text
    assert ledger_rows() == {}


def test_outbox_writes_eml_files_and_records_nothing(project, smtp, cli, tmp_path):
    import email
    import email.policy

    people = add_people(4, ["politiker"])
    outbox = tmp_path / "utkorg"
    result = cli("--project", project, "send", "22:1", "--list", "politiker", "--outbox", outbox)
    assert result.exit_code == 0, result.output
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 4
    to = sorted(email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["To"].addresses[0].addr_spec for p in files)
    assert to == sorted(people)
    assert smtp.received == [] and ledger_rows() == {}


def test_send_and_status_on_the_command_line(project, smtp, cli):
    people = add_people(6, ["politiker"])
    add_people(2, ["profession"], start=10)
    smtp.script(people[0], "rcpt", "550 5.1.1 User unknown")
    result = cli("--project", project, "send", "22:1", "--list", "politiker", "--list", "profession", "--yes")
    assert result.exit_code == 1, result.output  # some failed: not everyone was sent the issue
    assert re.search(r"7\s+.\s+0\s+.\s+1\s+.\s+0", result.stdout), result.stdout  # sent, deferred, failed, unknown
    assert people[0] in result.stdout and "User unknown" in result.stdout
    status = cli("--project", project, "status", "22:1")
    assert status.exit_code == 0
    lines = {line.split()[1]: line for line in status.stdout.splitlines() if re.match(r"\W*\s*(politiker|profession)\s", line)}
    assert re.search(r"politiker\s+.\s+5\s+.\s+0\s+.\s+0\s+.\s+1\s+.\s+0", lines["politiker"]), status.stdout
    assert re.search(r"profession\s+.\s+2\s+.\s+0\s+.\s+0\s+.\s+0\s+.\s+0", lines["profession"]), status.stdout
    assert people[0] in status.stdout


def test_paused_send_says_why_on_the_command_line(project, smtp, cli):
    add_people(12, ["politiker"])
    smtp.always_reply("data", "554 5.7.1 Service unavailable; client host blocked using a block list")
    result = cli("--project", project, "send", "22:1", "--list", "politiker", "--yes")
    assert result.exit_code != 0
    assert "paused" in result.stderr and "5.7.1" in result.stderr and "run the same command again" in result.stderr
    assert "Traceback" not in result.output


def test_the_personal_unsubscribe_token_works_with_recipients_unsubscribe(project, smtp, cli):
    people = add_people(3, ["politiker"])
    send(project)
    received = next(r for r in smtp.received if r.rcpt_tos == [people[1]])
    token = re.search(r"token=([A-Za-z0-9_.-]+)>", received.message["List-Unsubscribe"]).group(1)
    result = cli("--project", project, "recipients", "unsubscribe", "--token", token)
    assert result.exit_code == 0, result.output
    smtp.received.clear()
    (project / "issues" / "22-2").mkdir()
    for path in (project / "issues" / "22-1").iterdir():
        if path.is_file():
            (project / "issues" / "22-2" / path.name).write_bytes(path.read_bytes())
    (project / "issues" / "22-2" / "images").mkdir()
    (project / "issues" / "22-2" / "images" / "logga.png").write_bytes((project / "issues/22-1/images/logga.png").read_bytes())
    from nyhetsbrev.mail.dispatch import Options
    from nyhetsbrev.mail.sender import send as send_issue

    send_issue(project, "22:2", ["politiker"], options=Options(retry_base=0.05))
    assert sorted(smtp.recipients()) == sorted([people[0], people[2]])


def test_the_connections_reports_wake_the_send_once_per_batch_and_lose_none():
    """Reports from the connection threads: nothing is lost between put and take, an urgent report (a failure the
    send must act on) wakes it at once, and a batch wakes it when the count it waits for is in."""
    import threading
    import time

    from nyhetsbrev.mail.jobs import Reports, in_flight_limit

    reports = Reports()
    reports.put("a")
    assert reports.ready.is_set()  # nothing asked for yet: the first report wakes
    assert reports.take(1, timeout=60) == ["a"] and reports.take(0, timeout=60) == []
    reports.put("b")
    started = threading.Event()

    def put_later():
        started.wait(60)
        for item in ("c", "d"):
            reports.put(item)

    helper = threading.Thread(target=put_later)
    helper.start()
    reports.ready.clear()
    started.set()
    assert reports.take(3, timeout=60) == ["b", "c", "d"]  # waits for the batch of three, then hands over all
    helper.join()
    assert reports.wake_at == 1 and not reports.items
    waiting = threading.Thread(target=lambda: taken.append(reports.take(5, timeout=60)))
    taken: list = []
    waiting.start()
    deadline = time.monotonic() + 60
    while reports.wake_at != 5 and time.monotonic() < deadline:  # the take is waiting for five
        threading.Event().wait(0.01)
    assert reports.wake_at == 5, reports.wake_at
    reports.put("e")
    assert not reports.ready.is_set()  # one of five: no wake yet
    reports.put("f", urgent=True)
    waiting.join(60)
    assert taken == [["e", "f"]]  # woken early by the urgent one: what is in is taken
    # At most three messages per live connection are claimed and unanswered: what a crash can leave 'unknown'.
    assert [in_flight_limit(n) for n in (1, 4)] == [3, 12]


def test_every_person_still_deferred_when_the_retries_are_used_up_is_counted_in_the_summary(project, smtp):
    from nyhetsbrev.mail.dispatch import Options

    people = add_people(3, ["politiker"])
    for address in people[:2]:
        smtp.script(address, "rcpt", "451 4.7.1 Try again later")
    report = send(project, options=Options(connections=1, retry_base=0.05, retries=0))
    assert report.tally.deferred == 2 and report.tally.sent == 1
    assert sorted(address for address, _ in report.deferred) == sorted(people[:2])


def test_a_message_whose_connection_keeps_dropping_is_retried_and_sent_in_the_same_run(project, smtp, monkeypatch):
    quick_reconnects(monkeypatch)
    people = add_people(3, ["politiker"])
    smtp.script(people[1], "rcpt", *["421 4.3.2 Service shutting down"] * 3)  # every try on a new connection, then 250
    report = send(project, connections=1)
    assert Counter(smtp.recipients()) == Counter(people)
    assert report.tally.sent == 3 and report.tally.deferred == 0 and ledger_rows()[people[1]][0] == "sent"


def test_no_more_than_three_messages_per_connection_are_ever_claimed_unanswered_so_a_crash_leaves_no_more_unknown(
        project, smtp):
    from nyhetsbrev.mail.dispatch import Options, in_flight_limit

    add_people(10, ["politiker"])
    smtp.hold(2)  # the third message waits: the send refills while exactly one is still on the wire
    claimed: list[int] = []

    def count_claimed(tally) -> None:
        # what a crash now would leave 'unknown'
        claimed.append(sum(state == "sending" for state, _, _ in ledger_rows().values()))
        if tally.sent >= 2:
            smtp.hold(None)

    report = send(project, options=Options(connections=1, retry_base=0.05), progress=count_claimed)
    assert report.tally.sent == 10
    assert max(claimed) == in_flight_limit(1) == 3


def test_the_replies_in_before_a_wait_for_a_retry_are_recorded_before_it_so_status_and_a_crash_then_see_them(
        project, smtp):
    from nyhetsbrev.mail.dispatch import Options

    people = add_people(3, ["politiker"])
    smtp.script(people[2], "rcpt", "451 4.7.1 Try again later")  # the last one: nothing else is left to send
    during_wait: list[dict] = []

    def look(tally) -> None:
        if tally.retrying and not during_wait:
            during_wait.append(ledger_rows())

    send(project, options=Options(connections=1, retry_base=0.05), progress=look)
    assert [during_wait[0][address][0] for address in people] == ["sent", "sent", "deferred"]


def test_a_line_that_starts_with_a_dot_arrives_with_one_dot_and_the_message_ends_where_it_ends(project, smtp):
    """SMTP doubles a dot at the start of a line in transit (the style sheet has many such lines); the reader gets one."""
    add_people(1, ["politiker"])
    send(project)
    [received] = smtp.received
    lines = received.data.split(b"\r\n")
    assert b".nb-text p, .nb-timeline p { margin: 0 0 14px; }" in lines
    assert not [line for line in lines if line.startswith(b"..")]
    assert received.data.endswith(b"--\r\n")  # the last MIME boundary: no stray dot line after it
    assert ".nb-text p, .nb-timeline p {" in received.message.get_body(("html",)).get_content()


def test_while_the_server_holds_a_message_and_nothing_more_can_be_claimed_the_send_waits_for_its_reply(
        project, smtp, monkeypatch):
    """A slow server must not make the send turn at full CPU on the sender's machine: while a message waits for its
    reply, the send asks to be woken by a reply instead of looking again and again."""
    import threading

    from nyhetsbrev.mail import jobs
    from nyhetsbrev.mail.dispatch import Options

    people = add_people(6, ["politiker"])
    smtp.hold(1)  # the second message waits for its reply: the send can claim no more than it has
    asked: list[int] = []  # how many replies the send waited for, each time it looked while the server held one
    real_take = jobs.Reports.take

    def take(self, wanted: int, timeout: float) -> list:
        if threading.current_thread() is threading.main_thread() and smtp.waiting:
            asked.append(wanted)
            if len(asked) >= 5:
                smtp.hold(None)
        return real_take(self, wanted, timeout)

    monkeypatch.setattr(jobs.Reports, "take", take)
    report = send(project, options=Options(connections=1, retry_base=0.05))
    assert report.tally.sent == 6 and sorted(smtp.recipients()) == sorted(people)
    assert len(asked) >= 5 and any(wanted >= 1 for wanted in asked)
