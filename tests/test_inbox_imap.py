"""`nyhetsbrev inbox` over IMAP against a real Dovecot: the acceptance list (same as --from, dry run, reruns, SIGKILL)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.inbox_helpers import (
    bounce_for, deliver, inbox_project, mailbox_events, record_sent, sample, samples, suppressed,
)
from tests.mailserver import MAILBOX_USER, dovecot  # noqa: F401  (fixture)
from tests.test_inbox import EXPECTED_COUNTS, EXPECTED_SUPPRESSED, summary

pytestmark = pytest.mark.timeout(120)
PROCESSED = "Behandlat"


@pytest.fixture
def mailbox_project(dovecot, tmp_path, monkeypatch):
    """A project reading the Dovecot mailbox, with everyone in the samples sent 22:1 (and a shared key file)."""
    monkeypatch.setenv("NYHETSBREV_KEY_FILE", str(tmp_path / "shared.key"))
    for name, value in dovecot.env(MAILBOX_USER).items():
        monkeypatch.setenv(name, value)
    project = inbox_project(tmp_path / "project", dovecot.imap_settings(MAILBOX_USER, processed=PROCESSED))
    record_sent()
    return project


def _state(dovecot, folder="INBOX"):
    return dovecot.folder_state(MAILBOX_USER, folder)


def _rows() -> list[tuple]:
    return sorted(mailbox_events())


def test_imap_and_an_exported_folder_give_the_same_result(cli, dovecot, mailbox_project, tmp_path, monkeypatch):
    messages = samples()
    deliver(dovecot, messages.values())
    over_imap = cli("--project", mailbox_project, "inbox")
    assert over_imap.exit_code == 0, over_imap.output
    imap_result = (suppressed(), _rows(), summary(over_imap.stdout))

    monkeypatch.setenv("NYHETSBREV_DB", str(tmp_path / "second.db"))  # a fresh database, the same key
    record_sent()
    folder = tmp_path / "export"
    folder.mkdir()
    for name, raw in messages.items():
        (folder / name).write_bytes(raw)
    from_folder = cli("--project", mailbox_project, "inbox", "--from", folder)
    assert (suppressed(), _rows(), summary(from_folder.stdout)) == imap_result
    assert imap_result[0] == EXPECTED_SUPPRESSED and imap_result[2] == EXPECTED_COUNTS


def test_handled_messages_move_and_a_persons_reply_stays_unread(cli, dovecot, mailbox_project):
    messages = samples()
    deliver(dovecot, messages.values())
    result = cli("--project", mailbox_project, "inbox")
    assert "9 handled messages moved to the processed folder" in result.stdout
    inbox = _state(dovecot)
    assert sorted(inbox) == ["<CAF1x2y3z4_ABCdef-123456789@mail.example.se>",  # asked in words: a person decides
                             "<HE1P190MB0123ABCDEF0123456789ABCDEF012@HE1P190MB0123.EURP190.PROD.OUTLOOK.COM>"]
    assert all(flags == set() for flags in inbox.values())  # not even marked seen
    assert len(_state(dovecot, PROCESSED)) == 9  # nothing deleted: every other message is there


def test_dry_run_changes_nothing_on_the_server_or_in_the_database(cli, dovecot, mailbox_project):
    deliver(dovecot, samples().values())
    before = _state(dovecot)
    result = cli("--project", mailbox_project, "inbox", "--dry-run")
    assert result.exit_code == 0 and summary(result.stdout) == EXPECTED_COUNTS
    assert _state(dovecot) == before and _state(dovecot, PROCESSED) == {}
    assert suppressed() == {} and mailbox_events() == []


def test_two_runs_are_one_run(cli, dovecot, mailbox_project):
    deliver(dovecot, samples().values())
    cli("--project", mailbox_project, "inbox")
    after_one = (suppressed(), _rows(), _state(dovecot), _state(dovecot, PROCESSED))
    second = cli("--project", mailbox_project, "inbox")
    assert (suppressed(), _rows(), _state(dovecot), _state(dovecot, PROCESSED)) == after_one
    counts = summary(second.stdout)
    assert counts["left for a person"] == 2 and sum(counts.values()) == 2


def test_a_message_applied_but_not_yet_moved_is_moved_without_counting_again(cli, dovecot, mailbox_project, tmp_path):
    """A crash between the database and the move: the rerun finds the message again and only moves it."""
    raw = sample("postfix-delayed.eml")
    folder = tmp_path / "applied"
    folder.mkdir()
    (folder / "d.eml").write_bytes(raw)
    cli("--project", mailbox_project, "inbox", "--from", folder)  # applied, as if the move had not happened
    deliver(dovecot, [raw])
    result = cli("--project", mailbox_project, "inbox")
    assert summary(result.stdout)["already handled"] == 1
    assert [e[1] for e in mailbox_events()] == ["temporary_bounce"]
    assert _state(dovecot) == {} and len(_state(dovecot, PROCESSED)) == 1


def test_sigkill_midway_then_rerun_handles_every_message_exactly_once(dovecot, mailbox_project, tmp_path):
    people = {f"person{n}@example.org": ("22:1", f"<22-1.kill.{n}@example.org>") for n in range(900)}
    record_sent(people)
    messages = []
    for n, (address, (_issue, mid)) in enumerate(people.items()):
        temporary = n % 3 == 0  # a third are delays: counting one twice would show
        messages.append(bounce_for(mid, address, status="4.2.2" if temporary else "5.1.1",
                                   action="delayed" if temporary else "failed"))
    dovecot.put(MAILBOX_USER, messages)
    env = {**os.environ, "COLUMNS": "200"}
    command = [sys.executable, "-m", "nyhetsbrev", "--project", str(mailbox_project), "inbox"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    database = Path(os.environ["NYHETSBREV_DB"])
    deadline = time.monotonic() + 60
    handled = 0
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=0.1) as conn:
                handled = conn.execute("SELECT count(*) FROM mailbox_handled").fetchone()[0]
        except sqlite3.OperationalError:
            handled = 0
        if handled >= 150:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    process.wait(30)
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed midway"
    assert handled >= 150  # it had got somewhere, and then died
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    events = mailbox_events()
    assert len(events) == 900 and len({e[0] for e in events}) == 900  # one event per message, never two
    assert sum(1 for e in events if e[1] == "temporary_bounce") == 300
    assert len(suppressed()) == 600
    assert _state(dovecot) == {} and len(_state(dovecot, PROCESSED)) == 900


def test_a_huge_message_and_a_message_without_message_id_are_handled(cli, dovecot, mailbox_project):
    big = bounce_for("<22-1.5f3a9c0d2e4b6a18.7@example.org>", "karin.lund@example.se").replace(
        b"Message-ID: <22-1.5f3a9c0d2e4b6a18.7@example.org>\r\n",  # the returned newsletter, 3 MB of it
        b"Message-ID: <22-1.5f3a9c0d2e4b6a18.7@example.org>\r\n\r\n" + (b"x" * 76 + b"\r\n") * 40000)
    no_id = bounce_for("<22-1.5f3a9c0d2e4b6a18.5@example.org>", "mia.berg@kommun.example.se").replace(b"Message-ID: <dsn.", b"X-Id: <dsn.", 1)
    deliver(dovecot, [big, no_id])
    cli("--project", mailbox_project, "inbox")
    assert suppressed() == {"karin.lund@example.se": "bounced", "mia.berg@kommun.example.se": "bounced"}
    cli("--project", mailbox_project, "inbox")
    assert len(mailbox_events()) == 2
