"""A send killed with SIGKILL halfway, then run again; and a second send of the same issue while one runs."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from collections import Counter

import pytest

from nyhetsbrev.mail.dispatch import in_flight_limit
from tests.fixtures import ctrl_c_as_in_a_terminal
from tests.send_helpers import add_people, ledger_rows, project, send, smtp, stopped_midway  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.timeout(90), pytest.mark.skipif(os.name != "posix", reason="needs SIGKILL")]

CONNECTIONS = 4
IN_FLIGHT = in_flight_limit(CONNECTIONS)  # at most this many messages are claimed and not yet answered


def _send_command(project, *extra: str) -> list[str]:
    return [sys.executable, "-m", "nyhetsbrev", "--project", str(project), "send", "22:1", "--list", "politiker", "--yes",
            "--connections", str(CONNECTIONS), *extra]


def _start_send(project, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(_send_command(project, *extra), env=dict(os.environ), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, preexec_fn=ctrl_c_as_in_a_terminal)


def test_sigkill_in_the_middle_then_rerun_loses_nobody(project, smtp):
    people = add_people(2000, ["politiker"])
    smtp.hold(700)  # the send stands still after 700 messages until it is killed: the middle, whatever the machine's speed
    process = _start_send(project)
    try:
        assert smtp.wait_until_held(timeout=120), process.stderr.read1().decode() if process.poll() is not None else "slow"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    received_before = Counter(smtp.recipients())
    smtp.hold(None)
    assert 700 <= len(received_before) < 700 + IN_FLIGHT  # killed in the middle
    rows = ledger_rows()
    in_flight = [email for email, (state, _, _) in rows.items() if state == "sending"]
    assert len(in_flight) <= IN_FLIGHT
    # Everyone the server has is 'sent' or was in flight: nobody who got it is 'pending' (would be sent twice).
    for email in received_before:
        assert rows[email][0] in ("sent", "sending"), (email, rows[email])
    assert all(state == "pending" or email in received_before or email in in_flight for email, (state, _, _) in rows.items())

    rerun = send(project, connections=CONNECTIONS)  # the same command again
    assert rerun.recovered == len(in_flight)
    assert rerun.tally.unknown == 0 and rerun.tally.failed == 0
    counts = Counter(smtp.recipients())
    assert max(counts.values()) == 1  # unknown ones are not resent without --resend-unknown
    missing = set(people) - set(counts)
    assert missing <= set(in_flight)

    final = send(project, connections=CONNECTIONS, resend_unknown=True)
    assert final.tally.sent == len(in_flight)
    counts = Counter(smtp.recipients())
    assert set(counts) == set(people)  # nobody lost
    duplicates = sum(n - 1 for n in counts.values())
    assert duplicates <= len(in_flight) <= IN_FLIGHT
    assert Counter(state for state, _, _ in ledger_rows().values()) == Counter({"sent": 2000})


def test_a_second_send_while_one_runs_is_refused_and_a_dead_holder_is_taken_over(project, smtp, cli):
    add_people(300, ["politiker"])
    smtp.hold(5)  # the first send stands still after 5 messages while the second is tried
    process = _start_send(project)
    try:
        assert smtp.wait_until_held(timeout=120)
        second = cli("--project", project, "send", "22:1", "--list", "politiker", "--yes")
        status = cli("--project", project, "status", "22:1")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    assert second.exit_code != 0
    assert "already being sent" in second.stderr and f"pid {process.pid}" in second.stderr
    assert "a send is running" in status.stdout
    received = len(smtp.received)
    assert received < 5 + IN_FLIGHT
    smtp.hold(None)
    after = send(project)  # the killed holder's lock does not block the next send
    assert after.recovered <= IN_FLIGHT
    unknown = {email for email, (state, _, _) in ledger_rows().items() if state == "unknown"}
    assert len(unknown) == after.recovered
    assert set(smtp.recipients()) | unknown == {f"person{n}@example.org" for n in range(300)}


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_ctrl_c_stops_cleanly_and_the_rerun_finishes_without_duplicates(project, smtp, stop):
    people = add_people(400, ["politiker"])
    smtp.delay = 0.01  # once let go, the send is still under way when the signal is handled
    code, stdout, stderr = stopped_midway(smtp, _send_command(project), stop, preexec_fn=ctrl_c_as_in_a_terminal)
    assert code == 130 and b"stopped" in stderr and b"Traceback" not in stderr, (stdout, stderr)
    states = Counter(state for state, _, _ in ledger_rows().values())
    assert states["sending"] == 0 and states["unknown"] == 0  # messages on the wire were finished and recorded
    assert states["sent"] == len(smtp.received) and states["sent"] + states["pending"] == 400
    said = stderr.decode()
    assert f"stopped: {states['sent']} sent in this run, {states['sent']} have 22:1 now, {states['pending']} not yet sent" in said
    command = said.strip().splitlines()[-1].strip()  # the exact command that continues
    assert command.startswith("nyhetsbrev --project ") and " send 22:1 --list politiker --yes" in command
    smtp.delay = 0
    rerun = subprocess.run([sys.executable, "-m", *shlex.split(command)], env=dict(os.environ), capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    counts = Counter(smtp.recipients())
    assert set(counts) == set(people) and max(counts.values()) == 1
