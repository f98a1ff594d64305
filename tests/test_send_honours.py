"""A send honours what changes while it runs: who unsubscribes, is forgotten or leaves the lists gets nothing more.

The send runs as its own process against a real aiosmtpd server that holds its replies at known points (after N
messages), so that each change is made while the send stands still at that point; the changes are made the way
users make them: `serve`'s one-click POST, `inbox`, `recipients unsubscribe`, `recipients forget` and
`recipients remove`.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

import pytest

from nyhetsbrev.mail.dispatch import Options, in_flight_limit
from nyhetsbrev.store import ledger, open_db
from tests.inbox_helpers import plain_message
from tests.send_helpers import add_people, held_send, ledger_rows, project, send, smtp  # noqa: F401  (fixtures)
from tests.serve_helpers import FORM, ONE_CLICK, start_serve, token_for

pytestmark = pytest.mark.timeout(180)

CONNECTIONS = 2
AHEAD = 20  # each change is for a person this far after the point: never claimed yet (in flight ≤ 3 per connection)


def _send_command(project: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "nyhetsbrev", "--project", str(project), "send", "22:1", "--list", "politiker", "--yes",
            "--connections", str(CONNECTIONS), "--rate", "200/s", *extra]


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
    def stop_at(point: int):
        change, person = changes[point]

        def act(_process) -> None:
            assert len(smtp.received) == point
            assert person not in smtp.recipients()
            change(person)
        return act

    try:
        code, stdout, stderr = held_send(smtp, _send_command(project), {point: stop_at(point) for point in changes},
                                         env=dict(os.environ, COLUMNS="200"), text=True)
    finally:
        served.stop()
    assert code == 0, stderr
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


def _sections(text: str) -> set[str]:
    return {name for name, mark in (("politiker", "Endast för politikerlistan"),
                                    ("profession", "Endast för professionslistan")) if mark in text}


def test_someone_taken_off_one_named_list_mid_send_never_gets_that_lists_section(project, smtp):
    """Sent to politiker and profession: each person gets the sections of the lists they are on as their message is
    claimed, also a version no one had at the start (profession only); the versions recorded fit their lists, so a
    later run finds nothing changed."""
    from nyhetsbrev.store import remove_recipient

    add_people(4, ["politiker"], start=0)  # the politiker-only version is made at the start, the profession-only not
    late = add_people(10, ["politiker", "profession"], start=10)  # claimed last, one connection
    changes = {late[-1]: ["profession"], late[-2]: ["politiker"], late[-3]: ["politiker", "profession"]}

    def change_once(tally) -> None:
        if not changed:
            db = open_db(Path(os.environ["NYHETSBREV_DB"]))
            try:
                for address, lists in changes.items():
                    remove_recipient(db, address, lists)
            finally:
                db.close()
            changed.append(True)

    changed: list[bool] = []
    report = send(project, ("politiker", "profession"), options=Options(retry_base=0.05, connections=1),
                  progress=change_once)
    assert changed and report.tally.sent == 13 and report.tally.skipped == 1
    got = {r.rcpt_tos[0]: _sections(r.message.get_body(("plain",)).get_content()) for r in smtp.received}
    assert got[late[-1]] == {"politiker"}, "a section went to someone no longer on its list"
    assert got[late[-2]] == {"profession"}
    assert late[-3] not in got
    assert all(got[address] == {"politiker", "profession"} for address in late[:-3])
    db = open_db(Path(os.environ["NYHETSBREV_DB"]))
    try:
        rows = {row.email: row for row in ledger.rows(db, "22:1")}
        versions = {email: version for email, version in db.execute("SELECT email, version FROM send_ledger")}
    finally:
        db.close()
    assert (rows[late[-1]].lists, versions[late[-1]]) == (("politiker",), "politiker")
    assert (rows[late[-2]].lists, versions[late[-2]]) == (("profession",), "profession")
    assert (rows[late[0]].lists, versions[late[0]]) == (("politiker", "profession"), "politiker+profession")
    add_people(1, ["politiker"], start=99)  # someone new: the next run sends them, and finds no earlier version changed
    again = send(project, ("politiker", "profession"))
    assert again.tally.sent == 1 and len(smtp.received) == 14


def test_a_version_that_cannot_be_made_mid_send_leaves_no_one_claimed_who_was_not_sent(project, smtp, monkeypatch):
    """Someone moved to a list whose version is made mid-send: when making it fails, the others claimed with them
    are sent or pending again, never left 'sending' (which the next run would report as perhaps sent)."""
    from nyhetsbrev.errors import ContentError
    from nyhetsbrev.publish import pipeline
    from nyhetsbrev.store import remove_recipient

    add_people(4, ["politiker"], start=0)
    late = add_people(30, ["politiker", "profession"], start=10)
    moved = late[10]  # in the second batch (four connections claim 12 first), with others claimed beside them
    render = pipeline.render

    def failing_render(project, issue, audience=None):
        if audience == frozenset({"profession"}):
            raise ContentError("the profession version cannot be made")
        return render(project, issue, audience)

    def change_once(tally) -> None:
        if not changed:
            db = open_db(Path(os.environ["NYHETSBREV_DB"]))
            try:
                remove_recipient(db, moved, ["politiker"])
            finally:
                db.close()
            changed.append(True)

    changed: list[bool] = []
    monkeypatch.setattr(pipeline, "render", failing_render)
    with pytest.raises(ContentError):
        send(project, ("politiker", "profession"), options=Options(retry_base=0.05, connections=4), progress=change_once)
    received = set(smtp.recipients())
    states = {email: state for email, (state, _, _) in ledger_rows().items() if email not in received}
    assert moved in states and len(states) > 1
    assert set(states.values()) == {ledger.PENDING}, states
    db = open_db(Path(os.environ["NYHETSBREV_DB"]))
    try:
        assert ledger.recover(db, "22:1") == 0  # the next run finds nothing that may or may not have gone out
    finally:
        db.close()


def test_the_daily_limit_leaves_out_of_what_is_left_those_no_longer_wanted(tmp_path, smtp, monkeypatch):
    """The summary's 'N left to send' counts only people a later run will send: not those skipped during the run,
    nor those unsubscribed meanwhile whose turn had not come."""
    from nyhetsbrev.store import unsubscribe
    from tests.send_helpers import SETTINGS, fail_a_spinning_send, make_project

    fail_a_spinning_send(monkeypatch)  # the system clock here: a send that never stops waiting must not hang
    project = make_project(tmp_path / "limited", settings=SETTINGS + "\n[smtp]\ndaily_limit = 20\n")
    people = add_people(40, ["politiker"])
    gone = people[15:18] + people[30:32]  # three whose turn comes during the run, two after the limit

    def unsubscribe_once(tally) -> None:
        if not done:
            db = open_db(Path(os.environ["NYHETSBREV_DB"]))
            try:
                done.extend(unsubscribe(db, address, "test") for address in gone)
            finally:
                db.close()

    done: list[bool] = []
    report = send(project, options=Options(retry_base=0.05, connections=1), progress=unsubscribe_once)
    assert done == [True] * 5 and report.limit_until is not None
    assert report.tally.sent == 20 and report.tally.skipped == 3 and not set(gone) & set(smtp.recipients())
    assert report.left == 40 - 20 - 3 - 2


def test_a_late_bounce_for_the_first_copy_of_a_resent_message_is_applied(project, smtp, cli, tmp_path):
    """A message whose fate was unknown is resent with the Message-ID of its first copy, so a bounce that comes back
    for the first copy afterwards still finds its person in the ledger and is applied, not only listed."""
    from tests.inbox_helpers import bounce_for, suppressed

    people = add_people(3, ["politiker"])
    smtp.script(people[1], "data", "drop")
    assert send(project).tally.unknown == 1
    first = ledger_rows()[people[1]][1]
    assert send(project, resend_unknown=True).tally.sent == 1
    assert ledger_rows()[people[1]][:2] == ("sent", first)
    assert smtp.received[-1].message["Message-ID"] == first
    folder = tmp_path / "studsar"
    folder.mkdir()
    (folder / "studs.eml").write_bytes(bounce_for(first, people[1]))
    result = cli("--project", project, "inbox", "--from", folder)
    assert result.exit_code == 0, result.output
    assert suppressed() == {people[1]: "bounced"}


def test_two_people_who_unsubscribe_before_their_turn_are_both_counted_in_the_skipped_line(project, smtp):
    from nyhetsbrev.cli.send import skipped_line
    from nyhetsbrev.store import unsubscribe

    people = add_people(4, ["politiker"])

    def unsubscribe_two_on_confirming(plan) -> bool:  # after the plan was made, before anyone is claimed
        db = open_db(Path(os.environ["NYHETSBREV_DB"]))
        try:
            for address in people[1:3]:
                unsubscribe(db, address, "test")
        finally:
            db.close()
        return True

    report = send(project, confirm=unsubscribe_two_on_confirming)
    assert sorted(smtp.recipients()) == sorted([people[0], people[3]])
    assert skipped_line(report.tally.skipped_why) == "2 skipped while the send ran, never sent the issue: unsubscribed 2."
