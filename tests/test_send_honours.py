"""A send honours what changes while it runs: who unsubscribes, is forgotten or leaves the lists gets nothing more.

The send runs as its own process against a real aiosmtpd server that holds its replies at known points (after N
messages), so that each change is made while the send stands still at that point; the changes are made the way
users make them: `serve`'s one-click POST, `inbox`, `recipients unsubscribe`, `recipients forget` and
`recipients remove`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from nyhetsbrev.mail.dispatch import Options, in_flight_limit
from nyhetsbrev.store import ledger, open_db
from tests.inbox_helpers import plain_message
from tests.send_helpers import add_people, ledger_rows, project, send, smtp  # noqa: F401  (fixtures)
from tests.serve_helpers import FORM, ONE_CLICK, start_serve, token_for

pytestmark = pytest.mark.timeout(180)

CONNECTIONS = 2
AHEAD = 20  # each change is for a person this far after the point: never claimed yet (in flight ≤ 3 per connection)


def _start_send(project: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "nyhetsbrev", "--project", str(project), "send", "22:1", "--list", "politiker", "--yes",
         "--connections", str(CONNECTIONS), "--rate", "200/s", *extra],
        env=dict(os.environ, COLUMNS="200"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        text=True,
    )


def test_people_who_unsubscribe_are_forgotten_or_leave_the_list_during_a_send_get_nothing_more(project, smtp, cli,
                                                                                            tmp_path):
    assert AHEAD > in_flight_limit(CONNECTIONS)
    people = add_people(300, ["politiker"])
    served = start_serve(project)
    inbox_folder = tmp_path / "inkorg"
    inbox_folder.mkdir()

    def by_one_click(address: str) -> None:
        answer = served.request("POST", served.link(token_for(address)), ONE_CLICK, FORM)
        assert answer.status == 200, answer

    def by_mail(address: str) -> None:
        (inbox_folder / "avregistrera.eml").write_bytes(plain_message(address, f"Avregistrera {token_for(address)}", ""))
        result = cli("--project", project, "inbox", "--from", inbox_folder)
        assert result.exit_code == 0, result.output

    def by_command(*args: str):
        def run(address: str) -> None:
            result = cli("--project", project, "recipients", *args[:1], address, *args[1:])
            assert result.exit_code == 0, result.output
        return run

    changes = {  # the point (messages accepted) -> how, and for whom
        40: (by_one_click, people[40 + AHEAD]),
        80: (by_mail, people[80 + AHEAD]),
        120: (by_command("unsubscribe"), people[120 + AHEAD]),
        160: (by_command("forget", "--yes"), people[160 + AHEAD]),
        200: (by_command("remove", "--list", "politiker"), people[200 + AHEAD]),
    }
    smtp.hold(40)
    process = _start_send(project)
    try:
        points = sorted(changes)
        for index, point in enumerate(points):
            assert smtp.wait_until_held(), process.stderr.read() if process.poll() is not None else "the send got stuck"
            assert len(smtp.received) == point
            change, person = changes[point]
            assert person not in smtp.recipients()
            change(person)
            smtp.hold(points[index + 1] if index + 1 < len(points) else None)  # the send goes on to the next point
        stdout, stderr = process.communicate(timeout=120)
    finally:
        smtp.hold(None)
        if process.poll() is None:
            process.kill()
        served.stop()
    assert process.returncode == 0, stderr
    victims = {person for _, person in changes.values()}
    counts = Counter(smtp.recipients())
    assert not victims & set(counts), "someone who had left got the issue after all"
    assert counts == Counter(set(people) - victims), "everyone else gets exactly one"
    rows = ledger_rows()
    why = {email: rows[email][2] for email in victims if email in rows}
    assert {email: rows[email][0] for email in why} == dict.fromkeys(why, ledger.SKIPPED)
    assert why == {changes[40][1]: "unsubscribed", changes[80][1]: "unsubscribed", changes[120][1]: "unsubscribed",
                   changes[200][1]: "not on the lists"}
    assert changes[160][1] not in rows  # forgotten: nothing about them is kept, not even that they were skipped
    assert Counter(state for state, _, _ in rows.values()) == Counter({"sent": 295, "skipped": 4})
    assert "5 skipped while the send ran" in stdout and "unsubscribed 3" in stdout and "forgotten 1" in stdout
    status = cli("--project", project, "status", "22:1").stdout
    assert "skipped" in status and "4 skipped while the send ran" in status and "no longer on the lists 1" in status


def test_a_retry_is_checked_again_when_it_is_claimed(project, smtp):
    """A message the server deferred is not resent to someone who unsubscribed before its retry."""
    from nyhetsbrev.store import unsubscribe

    people = add_people(6, ["politiker"])
    smtp.script(people[2], "rcpt", "451 4.3.0 try again later")

    def unsubscribe_on_deferral(tally) -> None:
        if tally.retrying and not unsubscribed:
            db = open_db(Path(os.environ["NYHETSBREV_DB"]))
            try:
                unsubscribed.append(unsubscribe(db, people[2], "test"))
            finally:
                db.close()

    unsubscribed: list[bool] = []
    report = send(project, options=Options(retry_base=0.2, connections=1), progress=unsubscribe_on_deferral)
    assert unsubscribed == [True]
    assert people[2] not in smtp.recipients() and sorted(smtp.recipients()) == sorted(set(people) - {people[2]})
    assert report.tally.sent == 5 and report.tally.skipped == 1 and report.tally.deferred == 0
    assert ledger_rows()[people[2]][0] == ledger.SKIPPED


def test_someone_skipped_who_is_back_on_the_list_is_sent_the_issue_by_the_next_run(project, smtp):
    from nyhetsbrev.store import add_recipient, remove_recipient

    people = add_people(5, ["politiker", "profession"])
    db = open_db(Path(os.environ["NYHETSBREV_DB"]))
    try:
        ledger.enqueue(db, "22:1", [ledger.Entry(p.lower(), p, None, ("politiker",)) for p in people])
        # As a run that stopped after skipping person0 (taken off the list while it ran):
        assert ledger.write(db, "22:1", claims=[(people[0], "<a@example.org>")], lists=[]) == {people[0]: "not on the lists"}
        remove_recipient(db, people[1], ["politiker"])
        add_recipient(db, people[0], ["politiker"])
    finally:
        db.close()
    report = send(project)
    assert sorted(smtp.recipients()) == sorted(set(people) - {people[1]})
    assert report.tally.skipped == 0 and report.plan.to_send == 4


def test_status_lists_the_unknown_ones_with_their_message_ids_and_where_to_look_them_up(project, cli):
    people = add_people(3, ["politiker"])
    db = open_db(Path(os.environ["NYHETSBREV_DB"]))
    try:
        ledger.enqueue(db, "22:1", [ledger.Entry(p, p, None, ("politiker",)) for p in people])
        ledger.write(db, "22:1", claims=[(people[0], "<kvar1@example.org>"), (people[1], "<kvar2@example.org>")])
        ledger.write(db, "22:1", outcomes=[ledger.Outcome(people[1], ledger.SENT, "250 OK")])
        ledger.recover(db, "22:1")  # as after kill -9: person0's message was on its way
    finally:
        db.close()
    result = cli("--project", project, "status", "22:1", env={"COLUMNS": "250"})
    assert result.exit_code == 0
    line = next(line for line in result.stdout.splitlines() if people[0] in line)
    assert "<kvar1@example.org>" in line
    assert "<kvar2@example.org>" not in result.stdout
    assert "message trace" in result.stdout and "the Message-ID is the search key" in result.stdout
    assert "--resend-unknown" in result.stdout
