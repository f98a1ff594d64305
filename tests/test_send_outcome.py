"""What a send says and returns: exit codes, progress without a terminal, back-off in local time, the
Swedish confirmation, unknown issues (real SMTP server on 127.0.0.1, real SQLite file)."""

from __future__ import annotations

import datetime as dt
import os
import pty
import re
import subprocess
import sys
import time

import pytest

from tests.send_helpers import add_people, ledger_rows, project, smtp  # noqa: F401  (fixtures)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def local_zone(monkeypatch):
    """A time zone far from UTC (India, +05:30, no summer time), so that a UTC time cannot pass for local."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield dt.timezone(dt.timedelta(hours=5, minutes=30))
    monkeypatch.undo()
    time.tzset()


def test_a_deferred_recipient_gives_exit_1_lines_without_a_terminal_and_a_wait_in_local_time(project, smtp, cli,
                                                                                              local_zone, monkeypatch):
    people = add_people(4, ["politiker"])
    smtp.script(people[3], "rcpt", *["451 4.7.1 Try again later"] * 10)
    # Waits of a quarter, a half and a whole second: long beside the few steps from a deferral to its waiting line.
    monkeypatch.setenv("NYHETSBREV_RETRY_BASE", "0.25")
    started = dt.datetime.now(local_zone)
    # One connection, the deferred person last: when the deferral comes back, nothing else is left to send.
    result = cli("--project", project, "send", "22:1", "--list", "politiker", "--yes", "--connections", "1")
    assert result.exit_code == 1, result.output
    waits = re.findall(r"waiting until (\d\d):(\d\d):(\d\d) \(local time\) to retry 1 deferred", result.stderr)
    assert len(waits) == 3, result.stderr  # one line for each back-off, not silence
    begun = started.hour * 3600 + started.minute * 60 + started.second
    for hour, minute, second in waits:
        ahead = (int(hour) * 3600 + int(minute) * 60 + int(second) - begun) % 86400  # a clock time, also past midnight
        assert ahead < 3600, (waits, started)  # soon after the start in local time, not hours off (UTC)
    assert result.stderr.splitlines()[-1] == "sending: 3 sent, 0 left, 1 deferred, 0 failed"  # the last line: how it ended
    assert people[3] in result.stdout and "451 4.7.1 Try again later" in result.stdout  # the summary names it
    assert f"send 22:1 --list politiker --yes" in result.stdout  # and says how to continue
    assert ledger_rows()[people[3]][0] == "deferred"


def test_everyone_sent_gives_exit_0(project, smtp, cli):
    add_people(3, ["politiker"])
    assert cli("--project", project, "send", "22:1", "--list", "politiker", "--yes").exit_code == 0


def test_an_error_gives_exit_2(project, smtp, cli):
    add_people(3, ["politiker"])
    result = cli("--project", project, "send", "22:1", "--list", "ingen-sådan-lista", "--yes")
    assert result.exit_code == 2 and result.stderr.startswith("error: ")


def _send_on_a_terminal(project, typed: bytes) -> tuple[int, str, str]:
    """Run send in Swedish (nothing chooses a language) with a real terminal (a pty) as its input, the answers
    typed ahead; (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if k not in ("NYHETSBREV_LANGUAGE", "LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    main, child = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "nyhetsbrev", "--project", str(project), "send", "22:1", "--list", "politiker"],
        stdin=child, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, close_fds=True)
    os.close(child)
    try:
        os.write(main, typed)  # the terminal keeps it until the question reads it
        out, err = process.communicate(timeout=30)
    finally:
        os.close(main)
        if process.poll() is None:
            process.kill()
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("answer, sends", [("j", True), ("nej", False), ("", False)])
def test_the_confirmation_takes_swedish_answers_on_a_real_terminal(project, smtp, answer, sends):
    add_people(2, ["politiker"])
    code, out, err = _send_on_a_terminal(project, answer.encode() + b"\n")
    assert code == 0, err
    assert "Skicka 22:1 till 2 mottagare nu? [j/N]" in out
    assert len(smtp.received) == (2 if sends else 0)
    assert ("Avbrutet: inget skickades." in out) == (not sends)
    assert out.count("skickas nu") == 1, out  # the plan is shown once, with the question


def test_an_unknown_answer_asks_again(project, smtp):
    add_people(1, ["politiker"])
    code, _, err = _send_on_a_terminal(project, b"kanske\nja\n")
    assert code == 0 and "Svara j (ja) eller n (nej)." in err and len(smtp.received) == 1


@pytest.mark.parametrize("command", [["status", "22:9"], ["send", "22:9", "--list", "politiker", "--yes"]])
@pytest.mark.parametrize("database", [True, False])
def test_an_issue_without_a_folder_is_named_with_the_issues_that_exist(tmp_path, cli, command, database):
    from tests.send_helpers import make_project

    project = make_project(tmp_path / "p", lists=("politiker",) if database else ())
    result = cli("--project", project, *command)
    assert result.exit_code != 0
    assert "22:9" in result.stderr and "not found" in result.stderr and "issues in this project: 22:1" in result.stderr.lower()
    assert "has not been sent" not in result.stdout
    assert (tmp_path / "_data" / "nyhetsbrev.db").exists() == database  # asking made no database
