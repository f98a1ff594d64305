"""The send ledger in a real SQLite file: states, recovery after a crash, the per-issue lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nyhetsbrev.errors import SendLocked
from nyhetsbrev.store import ledger, open_db

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def db():
    database = open_db(Path(os.environ["NYHETSBREV_DB"]))
    yield database
    database.close()


def entries(*names: str, lists=("politiker",)) -> list[ledger.Entry]:
    return [ledger.Entry(f"{n}@example.org", f"{n}@example.org", None, tuple(lists)) for n in names]


def states(db, issue="22:1") -> dict[str, str]:
    return {row.email: row.state for row in ledger.rows(db, issue)}


def test_the_database_runs_in_wal_mode(db):
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_enqueue_keeps_existing_states_and_drops_unsent_people_no_longer_selected(db):
    ledger.enqueue(db, "22:1", entries("anna", "bo", "cecilia"))
    ledger.write(db, "22:1", claims=[("anna@example.org", "<a@example.org>")])
    ledger.write(db, "22:1", outcomes=[ledger.Outcome("anna@example.org", ledger.SENT, "250 OK")])
    plan = ledger.plan(db, "22:1", entries("anna", "bo", "david"))
    assert (plan.selected, plan.new, plan.by_state[ledger.SENT], plan.by_state[ledger.PENDING]) == (3, 1, 1, 1)
    assert plan.to_send(False) == 2
    ledger.enqueue(db, "22:1", entries("bo", "david"))  # anna left the list after she got it; cecilia left before
    assert states(db) == {"anna@example.org": "sent", "bo@example.org": "pending", "david@example.org": "pending"}
    assert [r.email for r in ledger.due(db, "22:1")] == ["bo@example.org", "david@example.org"]
    assert states(db, "22:2") == {}


def test_sending_rows_become_unknown_at_the_next_start_and_keep_their_message_id(db):
    ledger.enqueue(db, "22:1", entries("anna", "bo"))
    ledger.write(db, "22:1", claims=[("anna@example.org", "<x1@example.org>"), ("bo@example.org", "<x2@example.org>")])
    ledger.write(db, "22:1", outcomes=[ledger.Outcome("bo@example.org", ledger.SENT, "250 OK")])
    assert ledger.recover(db, "22:1") == 1
    rows = {r.email: r for r in ledger.rows(db, "22:1")}
    assert rows["anna@example.org"].state == ledger.UNKNOWN and rows["anna@example.org"].message_id == "<x1@example.org>"
    assert rows["anna@example.org"].attempts == 1
    assert ledger.due(db, "22:1") == []
    assert [r.message_id for r in ledger.due(db, "22:1", resend_unknown=True)] == ["<x1@example.org>"]
    sent_at = db.execute("SELECT sent_at FROM send_ledger WHERE email = 'bo@example.org'").fetchone()[0]
    unknown_sent_at = db.execute("SELECT sent_at FROM send_ledger WHERE email = 'anna@example.org'").fetchone()[0]
    assert sent_at and unknown_sent_at is None


def test_status_counts_per_list(db):
    ledger.enqueue(db, "22:1", entries("anna", "bo", lists=("politiker", "profession")) + entries("cecilia", lists=("profession",)))
    ledger.write(db, "22:1", outcomes=[ledger.Outcome("anna@example.org", ledger.SENT, "250"),
                                       ledger.Outcome("cecilia@example.org", ledger.FAILED, "550 5.1.1 unknown user")])
    status = ledger.status(db, "22:1")
    assert status.per_list["politiker"] == {"sent": 1, "pending": 1}
    assert status.per_list["profession"] == {"sent": 1, "pending": 1, "failed": 1}
    assert status.failed == [("cecilia@example.org", "550 5.1.1 unknown user")]


def test_a_second_lock_on_the_same_issue_is_refused_and_other_issues_are_free(db):
    with ledger.SendLock(db, "22:1"):
        with pytest.raises(SendLocked) as caught:
            with ledger.SendLock(db, "22:1"):
                pass
        assert f"pid {os.getpid()}" in str(caught.value)
        with ledger.SendLock(db, "22:2"):
            pass
        assert ledger.SendLock(db, "22:1").held_elsewhere()
    assert not ledger.SendLock(db, "22:1").held_elsewhere()
    with ledger.SendLock(db, "22:1"):
        pass


def test_a_lock_held_by_a_killed_process_is_taken_over(db):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from nyhetsbrev.store import ledger, open_db
            db = open_db(Path({os.environ['NYHETSBREV_DB']!r}))
            with ledger.SendLock(db, "22:1"):
                print("locked", flush=True)
                time.sleep(60)
        """)],
        stdout=subprocess.PIPE, env=dict(os.environ),
    )
    try:
        assert holder.stdout.readline().strip() == b"locked"
        with pytest.raises(SendLocked):
            with ledger.SendLock(db, "22:1"):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    with ledger.SendLock(db, "22:1"):  # no stale lock to clean up by hand
        pass


def let_go_after_waits(monkeypatch, writer, waits: int, *, commit: bool = False, hours: float = 0) -> list[int]:
    """The other program lets go once the code under test has waited for its lock `waits` times, from within that
    wait (no clock decides when); with hours, each wait is told that so long has passed since the writer began.
    Returns the attempts that met the lock."""
    from nyhetsbrev.store import db as store_db

    real = store_db._wait_or_give_up
    met: list[int] = []

    def waiting(db, exc, started, attempt, patience, sleep):
        met.append(attempt)
        real(db, exc, started - hours * 3600, attempt, patience, sleep)
        if len(met) >= waits:
            writer.let_go(commit=commit)

    monkeypatch.setattr(store_db, "_wait_or_give_up", waiting)
    return met


def test_a_reply_is_written_however_long_another_program_keeps_the_database_locked(db, another_writer, monkeypatch):
    """The ledger waits (with back-off, past SQLite's own busy timeout) instead of losing what the server said: here a
    whole day, far past the patience of the other writers."""
    ledger.enqueue(db, "22:1", entries("anna"))
    another_writer.hold()
    db.execute("PRAGMA busy_timeout=20")
    met = let_go_after_waits(monkeypatch, another_writer, 3, hours=24)
    ledger.write(db, "22:1", claims=[("anna@example.org", "<a@example.org>")])
    assert met == [0, 1, 2]
    assert states(db) == {"anna@example.org": "sending"}


def test_a_writer_with_bounded_patience_gives_one_clear_line(db, another_writer, monkeypatch):
    import time
    from types import SimpleNamespace

    from nyhetsbrev.errors import StoreError
    from nyhetsbrev.store import db as store_db
    from nyhetsbrev.store.db import write_retrying

    clock = [1000.0]  # the back-off is noted and moves this clock, not slept: each try meets SQLite's 20 ms only
    monkeypatch.setattr(store_db, "time", SimpleNamespace(monotonic=lambda: clock[0], time=time.time, sleep=time.sleep))
    another_writer.hold()
    db.execute("PRAGMA busy_timeout=20")
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    with pytest.raises(StoreError) as caught:
        write_retrying(db, lambda: db.execute("INSERT INTO lists (name, created_at) VALUES ('x', 'now')"),
                       patience=1.0, sleep=wait)
    another_writer.let_go()
    assert "busy" in str(caught.value) and "held it for 2 s" in str(caught.value)
    assert "run the same command again" in str(caught.value)
    assert str(caught.value).startswith(f"{os.environ['NYHETSBREV_DB']}: ")
    assert waits == [0.05, 0.1, 0.2, 0.4, 0.8]  # backs off, doubling, until the patience is spent
    assert db.execute("SELECT count(*) FROM lists").fetchone()[0] == 0


@pytest.mark.parametrize("write", ["add", "remove", "unsubscribe", "forget"])
def test_every_writer_waits_out_another_programs_lock(db, another_writer, write, monkeypatch):
    """SQLite's own busy timeout is cut to 20 ms: the wait is the writers' back-off, not SQLite's."""
    from nyhetsbrev import store

    store.add_recipient(db, "anna@example.org", ["A"])
    db.execute("SELECT count(*) FROM recipients").fetchone()  # an older snapshot than the other program's write
    another_writer.hold("INSERT INTO lists (name, created_at) VALUES ('B', 'now')")
    db.execute("PRAGMA busy_timeout=20")
    met = let_go_after_waits(monkeypatch, another_writer, 2, commit=True)
    calls = {"add": lambda: store.add_recipient(db, "berit@example.org", ["A"]),
             "remove": lambda: store.remove_recipient(db, "anna@example.org", ["A"]),
             "unsubscribe": lambda: store.unsubscribe(db, "anna@example.org"),
             "forget": lambda: store.forget(db, "anna@example.org")}
    calls[write]()
    assert len(met) == 2, met
    assert db.execute("SELECT count(*) FROM lists WHERE name = 'B'").fetchone()[0] == 1
    # the writer's own change is there, not rolled back after the wait
    members = {r["email"] for r in store.list_recipients(db, ["A"])}
    own = {"add": lambda: "berit@example.org" in members,
           "remove": lambda: "anna@example.org" not in members,
           "unsubscribe": lambda: store.is_suppressed(db, "anna@example.org") is not None,
           "forget": lambda: store.find_recipient(db, "anna@example.org") is None
           and store.is_suppressed(db, "anna@example.org") is not None}
    assert own[write](), write


def _person(db, name: str, lists: list[str]) -> ledger.Entry:
    """A real recipient on lists, as the ledger entry a send to those lists makes."""
    from nyhetsbrev.store import add_recipient, find_recipient

    add_recipient(db, f"{name}@example.org", lists)
    return ledger.Entry(f"{name}@example.org", f"{name}@example.org", find_recipient(db, f"{name}@example.org")["id"],
                        tuple(lists))


def test_a_claimed_batch_is_checked_person_by_person_in_the_same_transaction(db):
    from nyhetsbrev.store import forget, remove_recipient, suppress, unsubscribe
    from nyhetsbrev.store.recipients import list_ids

    people = [_person(db, name, ["politiker", "profession"] if name == "doris" else ["politiker"])
              for name in ("anna", "bo", "cecilia", "doris", "erik", "frida")]
    ledger.enqueue(db, "22:1", people)
    ids = list(list_ids(db, ["politiker"]).values())
    unsubscribe(db, "bo@example.org")
    suppress(db, "cecilia@example.org", "bounced", "test")
    remove_recipient(db, "doris@example.org", ["politiker"])  # still on profession, which this send is not for
    forget(db, "erik@example.org")
    ledger.write(db, "22:1", claims=[("anna@example.org", "<a1@example.org>")])
    claims = [(p.email_key, f"<{n}@example.org>") for n, p in enumerate(people)]
    dropped = ledger.write(db, "22:1", outcomes=[ledger.Outcome("anna@example.org", ledger.SENT, "250 OK")],
                           claims=claims[1:], lists=ids)
    assert dropped == {"bo@example.org": "unsubscribed", "cecilia@example.org": "bounced",
                       "doris@example.org": "not on the lists", "erik@example.org": "forgotten"}
    rows = {row.email: row for row in ledger.rows(db, "22:1")}
    assert [(rows[e].state, rows[e].reply, rows[e].message_id, rows[e].attempts) for e in sorted(rows)] == [
        ("sent", "250 OK", "<a1@example.org>", 1),
        ("skipped", "unsubscribed", None, 0),
        ("skipped", "bounced", None, 0),
        ("skipped", "not on the lists", None, 0),
        ("sending", None, "<5@example.org>", 1),  # frida: still wanted, so claimed
    ]
    assert "erik@example.org" not in rows  # forgotten: no row comes back for them
    assert [row.email for row in ledger.due(db, "22:1")] == []
    assert ledger.due(db, "22:1", resend_unknown=True) == []


def test_a_claim_checked_against_the_lists_of_everyone_still_wanted_drops_nobody(db):
    from nyhetsbrev.store.recipients import list_ids

    people = [_person(db, "anna", ["politiker"]), _person(db, "bo", ["profession"])]
    ledger.enqueue(db, "22:1", people)
    ids = list(list_ids(db, ["politiker", "profession"]).values())
    assert ledger.write(db, "22:1", claims=[(p.email_key, f"<{p.email}>") for p in people], lists=ids) == {}
    assert states(db) == {"anna@example.org": "sending", "bo@example.org": "sending"}
    assert ledger.write(db, "22:1", outcomes=[ledger.Outcome("anna@example.org", ledger.SENT)], lists=ids) == {}


def test_skipped_people_are_counted_by_status_and_sent_again_only_when_selected_again(db):
    people = entries("anna", "bo", "cecilia")
    ledger.enqueue(db, "22:1", people)
    assert ledger.write(db, "22:1", claims=[("anna@example.org", "<a@example.org>"), ("bo@example.org", "<b@example.org>")],
                        lists=[]) == {"anna@example.org": "not on the lists", "bo@example.org": "not on the lists"}
    report = ledger.status(db, "22:1")
    assert report.per_list["politiker"]["skipped"] == 2 and report.skipped == {"not on the lists": 2}
    plan = ledger.plan(db, "22:1", entries("anna", "cecilia"))
    assert plan.by_state[ledger.SKIPPED] == 1 and plan.to_send(False) == 2
    ledger.enqueue(db, "22:1", entries("anna", "cecilia"))  # anna is on the list again; bo is not
    rows = {row.email: row for row in ledger.rows(db, "22:1")}
    assert (rows["anna@example.org"].state, rows["anna@example.org"].reply) == ("pending", None)
    assert rows["bo@example.org"].state == "skipped"  # kept: the record of why bo got nothing
    assert [row.email for row in ledger.due(db, "22:1")] == ["anna@example.org", "cecilia@example.org"]


def test_an_unknown_message_dropped_on_a_resend_stays_unknown_and_is_not_sent_by_a_plain_run(db):
    """A crash left anna 'unknown'; she unsubscribed before --resend-unknown claimed her, and later came back: a plain
    send must not mail her (only --resend-unknown may), so the drop must not turn her row into 'skipped' (then pending)."""
    from nyhetsbrev.store import add_recipient, unsubscribe
    from nyhetsbrev.store.recipients import list_ids

    anna = _person(db, "anna", ["politiker"])
    ledger.enqueue(db, "22:1", [anna])
    ledger.write(db, "22:1", claims=[(anna.email_key, "<a1@example.org>")])
    ledger.recover(db, "22:1")
    assert states(db) == {"anna@example.org": "unknown"}
    unsubscribe(db, "anna@example.org")
    ids = list(list_ids(db, ["politiker"]).values())
    assert ledger.write(db, "22:1", claims=[(anna.email_key, "<a2@example.org>")], lists=ids) == {
        "anna@example.org": "unsubscribed"}
    assert states(db) == {"anna@example.org": "unknown"}
    add_recipient(db, "anna@example.org", ["politiker"], resubscribe=True)
    ledger.enqueue(db, "22:1", [anna])
    assert [row.email for row in ledger.due(db, "22:1")] == []
    assert [row.email for row in ledger.due(db, "22:1", resend_unknown=True)] == ["anna@example.org"]


def test_status_lists_the_unknown_ones_with_their_message_ids(db):
    ledger.enqueue(db, "22:1", entries("anna", "bo"))
    ledger.write(db, "22:1", claims=[("anna@example.org", "<x1@example.org>"), ("bo@example.org", "<x2@example.org>")])
    ledger.write(db, "22:1", outcomes=[ledger.Outcome("bo@example.org", ledger.SENT, "250 OK")])
    ledger.recover(db, "22:1")
    [(address, message_id, at)] = ledger.status(db, "22:1").unknown
    assert (address, message_id) == ("anna@example.org", "<x1@example.org>") and at.endswith("Z")


def test_a_claim_gives_someone_now_on_fewer_lists_the_version_for_those_or_waits_until_it_is_made(db):
    from nyhetsbrev.store import remove_recipient
    from nyhetsbrev.store.recipients import list_ids

    both = ["politiker", "profession"]
    anna, bo, cecilia = (_person(db, name, both) for name in ("anna", "bo", "cecilia"))
    ledger.enqueue(db, "22:1", [ledger.Entry(p.email_key, p.email, p.recipient_id, p.lists, "politiker+profession", "f2")
                                for p in (anna, bo, cecilia)])
    named = {list_id: name for name, list_id in list_ids(db, both).items()}
    remove_recipient(db, "anna@example.org", ["profession"])
    remove_recipient(db, "bo@example.org", ["politiker"])
    made = {("politiker",): ("politiker", "f1"), ("politiker", "profession"): ("politiker+profession", "f2")}
    checked = ledger.write(db, "22:1", claims=[(p.email_key, f"<{p.email}>") for p in (anna, bo, cecilia)],
                           lists=named, versions=made.get)
    assert (dict(checked), checked.moved, checked.waiting) == (
        {}, {"anna@example.org": ("politiker",)}, {"bo@example.org": ("profession",)})
    found = {email: (state, lists, version, fingerprint) for email, state, lists, version, fingerprint in db.execute(
        "SELECT email, state, lists, version, fingerprint FROM send_ledger")}
    assert found == {
        "anna@example.org": ("sending", '["politiker"]', "politiker", "f1"),
        "bo@example.org": ("pending", '["politiker", "profession"]', "politiker+profession", "f2"),  # not claimed yet
        "cecilia@example.org": ("sending", '["politiker", "profession"]', "politiker+profession", "f2"),
    }
    made[("profession",)] = ("profession", "f3")  # made meanwhile, outside the transaction
    checked = ledger.write(db, "22:1", claims=[(bo.email_key, "<bo@example.org>")], lists=named, versions=made.get)
    assert checked.moved == {"bo@example.org": ("profession",)} and not checked.waiting
    assert db.execute("SELECT state, lists, version FROM send_ledger WHERE email = 'bo@example.org'").fetchone() == (
        "sending", '["profession"]', "profession")


def test_message_ids_given_when_queued_are_kept_by_the_claim_and_by_a_later_enqueue(db):
    given = iter(f"<q{n}@example.org>" for n in range(10))
    ledger.enqueue(db, "22:1", entries("anna", "bo"), lambda: next(given))
    assert [row.message_id for row in ledger.due(db, "22:1")] == ["<q0@example.org>", "<q1@example.org>"]
    ledger.write(db, "22:1", claims=[("anna@example.org", None)])
    ledger.write(db, "22:1", outcomes=[ledger.Outcome("anna@example.org", ledger.DEFERRED, "451 later")])
    ledger.enqueue(db, "22:1", entries("anna", "bo", "cecilia"), lambda: next(given))
    rows = {row.email: (row.state, row.message_id, row.attempts) for row in ledger.rows(db, "22:1")}
    assert rows == {"anna@example.org": ("deferred", "<q0@example.org>", 1), "bo@example.org": ("pending", "<q1@example.org>", 0),
                    "cecilia@example.org": ("pending", "<q4@example.org>", 0)}


def at(hour: int, day: int = 1) -> str:
    """A time as the ledger writes it (ISO 8601 UTC, to the second): 1 March 2026 at this hour."""
    return f"2026-03-{day:02d}T{hour:02d}:00:00Z"


def test_the_plan_before_a_send_counts_every_state_and_what_each_kind_of_run_would_send(db):
    """The numbers shown before a send: who is new, who is where, and how many a plain run and a --resend-unknown run
    would mail. Nothing is written."""
    ledger.enqueue(db, "22:1", entries("anna", "bo", "cecilia", "david", "erik", "frida", "gustav"))
    ledger.write(db, "22:1", claims=[("frida@example.org", None)], lists=[])  # frida left the lists: skipped
    ledger.write(db, "22:1", claims=[(f"{n}@example.org", f"<{n}@example.org>") for n in ("cecilia", "david", "erik", "gustav")])
    ledger.write(db, "22:1", outcomes=[ledger.Outcome("cecilia@example.org", ledger.DEFERRED, "451 later"),
                                       ledger.Outcome("david@example.org", ledger.SENT, "250 OK"),
                                       ledger.Outcome("erik@example.org", ledger.FAILED, "550 no such user")])
    # gustav is still 'sending': the run that claimed him died, so nobody knows whether he got it
    before = ledger.rows(db, "22:1")
    plan = ledger.plan(db, "22:1", entries("anna", "bo", "cecilia", "david", "erik", "frida", "gustav", "helga", "ivar"))
    assert (plan.selected, plan.new) == (9, 2)
    assert dict(plan.by_state) == {"pending": 2, "deferred": 1, "sent": 1, "failed": 1, "skipped": 1, "unknown": 1}
    assert plan.to_send(False) == 6  # helga, ivar, anna, bo, cecilia (deferred) and frida (selected again)
    assert plan.to_send(True) == 7  # and gustav
    assert ledger.rows(db, "22:1") == before
    other = ledger.plan(db, "22:2", entries("anna", "bo"))  # another issue's send has its own rows
    assert (other.selected, other.new, dict(other.by_state), other.to_send(True)) == (2, 2, {}, 2)


def test_status_shows_each_list_the_failed_the_unknown_the_skipped_the_earliest_retry_and_the_versions(db):
    from nyhetsbrev.store import unsubscribe
    from nyhetsbrev.store.recipients import list_ids

    karin = _person(db, "karin", ["politiker"])
    people = [ledger.Entry("anna@example.org", "anna@example.org", None, ("politiker", "profession"),
                           "politiker+profession", "f2"),
              ledger.Entry("bo@example.org", "bo@example.org", None, ("politiker",), "politiker", "f1"),
              *entries("cecilia", "david", "erik", "frida", "gustav", "helga", "lars", "mats"), karin,
              *entries("jonas", lists=())]
    ledger.enqueue(db, "22:1", people)
    unsubscribe(db, "karin@example.org")
    ids = list(list_ids(db, ["politiker"]).values())
    ledger.write(db, "22:1", claims=[(key, None) for key in ("karin@example.org", "lars@example.org", "mats@example.org")],
                 lists=ids, now=at(7))  # karin unsubscribed; lars and mats are not on the list
    ledger.write(db, "22:1", claims=[("anna@example.org", "<a@example.org>"), ("bo@example.org", "<b@example.org>"),
                                     ("cecilia@example.org", "<c@example.org>"), ("david@example.org", None),
                                     ("gustav@example.org", "<g@example.org>"), ("helga@example.org", "<h@example.org>")],
                 now=at(8))
    ledger.write(db, "22:1", claims=[("erik@example.org", "<e@example.org>"), ("frida@example.org", None)], now=at(10))
    ledger.write(db, "22:1", outcomes=[ledger.Outcome("anna@example.org", ledger.SENT, "250 OK")], now=at(8))
    ledger.write(db, "22:1", outcomes=[
        ledger.Outcome("bo@example.org", ledger.SENT, "250 OK"),
        ledger.Outcome("cecilia@example.org", ledger.FAILED, "550 5.1.1 unknown user"),
        ledger.Outcome("david@example.org", ledger.FAILED),  # the connection broke: no reply to show
        ledger.Outcome("gustav@example.org", ledger.DEFERRED, "451 try later", at(10, day=2)),
        ledger.Outcome("helga@example.org", ledger.DEFERRED, "452 full", at(9, day=2)),
    ], now=at(9))
    assert ledger.recover(db, "22:1") == 2  # erik and frida were on their way when the run died
    report = ledger.status(db, "22:1")
    assert (report.issue, report.running) == ("22:1", False)
    assert report.per_list == {
        "politiker": {"sent": 2, "failed": 2, "unknown": 2, "deferred": 2, "skipped": 3},
        "profession": {"sent": 1},
        "(no list)": {"pending": 1},
    }
    assert report.failed == [("cecilia@example.org", "550 5.1.1 unknown user"), ("david@example.org", "")]
    # when each unknown one went out (to look for in the relay's log), and its Message-ID if it had one
    assert report.unknown == [("erik@example.org", "<e@example.org>", at(10)), ("frida@example.org", "", at(10))]
    assert report.skipped == {"not on the lists": 2, "unsubscribed": 1}
    assert report.next_attempt == at(9, day=2)  # helga's, the earlier one, though gustav's row comes first
    assert report.versions == [("politiker+profession", "f2", 1, at(8)), ("politiker", "f1", 1, at(9))]


def test_while_a_send_runs_its_messages_on_the_way_are_sending_and_no_retry_is_announced(db):
    ledger.enqueue(db, "22:1", entries("anna", "bo"))
    ledger.write(db, "22:1", claims=[("bo@example.org", "<b@example.org>")])
    ledger.write(db, "22:1", outcomes=[ledger.Outcome("bo@example.org", ledger.DEFERRED, "451 later", at(9, day=2))])
    ledger.write(db, "22:1", claims=[("anna@example.org", "<a@example.org>"), ("bo@example.org", None)])  # bo's retry
    with ledger.SendLock(db, "22:1"):  # the send that claimed them is running
        report = ledger.status(db, "22:1")
        assert report.running
        assert report.per_list == {"politiker": {"sending": 2}}
        assert (report.unknown, report.next_attempt) == ([], None)
    report = ledger.status(db, "22:1")  # it died: whether they got it is unknown
    assert not report.running and report.per_list == {"politiker": {"unknown": 2}}
    assert [address for address, _, _ in report.unknown] == ["anna@example.org", "bo@example.org"]


def test_the_daily_limit_counts_what_went_out_or_may_have_and_knows_when_each_went(db):
    """Sent messages count from when they were sent; claimed or unknown ones from when they were claimed; deferred,
    failed and pending ones not at all. Every issue counts."""
    ledger.enqueue(db, "22:1", entries("anna", "bo", "cecilia", "david", "erik", "frida"))
    ledger.enqueue(db, "22:2", entries("anna"))
    ledger.write(db, "22:2", claims=[("anna@example.org", "<a2@example.org>")], now="2026-02-28T22:00:00Z")
    ledger.write(db, "22:2", outcomes=[ledger.Outcome("anna@example.org", ledger.SENT, "250 OK")],
                 now="2026-02-28T23:00:00Z")  # the day before: not counted
    ledger.write(db, "22:1", claims=[("anna@example.org", "<a@example.org>"), ("bo@example.org", "<b@example.org>"),
                                     ("cecilia@example.org", "<c@example.org>")], now=at(7))
    ledger.write(db, "22:1", outcomes=[ledger.Outcome("anna@example.org", ledger.SENT, "250 OK")], now=at(8))
    ledger.write(db, "22:1", outcomes=[ledger.Outcome("bo@example.org", ledger.SENT, "250 OK")], now=at(10))
    ledger.recover(db, "22:1")  # cecilia: unknown since 07:00
    ledger.write(db, "22:1", claims=[("david@example.org", "<d@example.org>"), ("erik@example.org", "<e@example.org>")],
                 now=at(9))
    ledger.write(db, "22:1", outcomes=[ledger.Outcome("erik@example.org", ledger.DEFERRED, "451 later")], now=at(11))
    ledger.write(db, "22:1", claims=[("frida@example.org", "<f@example.org>")], now=at(12))
    ledger.write(db, "22:1", outcomes=[ledger.Outcome("frida@example.org", ledger.FAILED, "550 no")], now=at(12))
    since = at(0)
    assert ledger.sent_since(db, since) == 4  # cecilia (unknown), anna, david (on its way), bo
    assert ledger.sent_since(db, at(8)) == 3
    assert ledger.counted_times(db, since) == at(7)
    assert [ledger.counted_times(db, since, offset=n) for n in range(5)] == [at(7), at(8), at(9), at(10), None]
    assert ledger.sent_since(db, at(13)) == 0 and ledger.counted_times(db, at(13)) is None


def test_a_send_that_stopped_leaves_a_reason_with_each_unknown_message(db):
    ledger.enqueue(db, "22:1", entries("anna", "bo", "cecilia"))
    ledger.write(db, "22:1", claims=[(f"{n}@example.org", f"<{n}@example.org>") for n in ("anna", "bo", "cecilia")])
    ledger.write(db, "22:1", outcomes=[ledger.Outcome("bo@example.org", ledger.FAILED, "550 5.1.1 unknown user"),
                                       ledger.Outcome("anna@example.org", ledger.FAILED)])
    assert ledger.recover(db, "22:2") == 0  # another issue's rows are not touched
    assert ledger.recover(db, "22:1") == 1
    assert ledger.in_state(db, "22:1", ledger.UNKNOWN) == [
        ("cecilia@example.org", "the send stopped while this message was on its way")]
    assert ledger.in_state(db, "22:1", ledger.FAILED) == [("anna@example.org", ""), ("bo@example.org", "550 5.1.1 unknown user")]
    assert ledger.recover(db, "22:1") == 0


def test_a_retry_time_is_that_many_seconds_from_now():
    import time

    from nyhetsbrev.store.db import utc_text

    before = time.time()
    retry = ledger.later(3600)
    after = time.time()
    assert utc_text(before + 3600) <= retry <= utc_text(after + 3600)


def test_the_messages_still_to_go_after_a_stop_are_counted_past_sqlites_limit_on_values(db):
    """At a daily limit the send says how many are left: people who left the lists, were forgotten or unsubscribed
    meanwhile are not counted, wherever they stand among more than a thousand."""
    from nyhetsbrev.store import forget, remove_recipient, unsubscribe
    from nyhetsbrev.store.recipients import list_ids
    from tests.send_helpers import add_people

    add_people(1203, ["politiker"])
    add_people(1, ["profession"], prefix="moved")
    people = {row[0]: row[1] for row in db.execute("SELECT email_key, id FROM recipients")}
    keys = sorted((k for k in people if k != "moved0@example.org"), key=lambda k: (len(k), k))
    keys.insert(700, "moved0@example.org")
    ledger.enqueue(db, "22:1", [ledger.Entry(k, k, people[k], ("politiker",)) for k in keys])
    named = {list_id: name for name, list_id in list_ids(db, ["politiker", "profession"]).items()}
    due = [row.email_key for row in ledger.due(db, "22:1")]
    assert len(due) == 1204
    # the first of each batch of 500 checked at a time, the last of one and the very last: off the lists, forgotten,
    # unsubscribed
    remove_recipient(db, due[0], ["politiker"])
    remove_recipient(db, due[500], ["politiker"])
    forget(db, due[999])
    forget(db, due[1000])
    unsubscribe(db, due[1203])
    assert due[700] == "moved0@example.org"  # moved from politiker to profession: still wanted
    assert ledger.still_to_send(db, "22:1", due, named) == 1204 - 5
    assert ledger.still_to_send(db, "22:1", due, list(named)) == 1204 - 5
    assert ledger.still_to_send(db, "22:1", due[1:500], named) == 499
    assert ledger.still_to_send(db, "22:1", [], named) == 0


def test_a_claim_after_a_forgotten_person_still_checks_the_rest_of_the_batch(db):
    from nyhetsbrev.store import forget, unsubscribe
    from nyhetsbrev.store.recipients import list_ids

    people = [_person(db, name, ["politiker"]) for name in ("anna", "bo", "cecilia")]
    ledger.enqueue(db, "22:1", people)
    forget(db, "anna@example.org")
    unsubscribe(db, "bo@example.org")
    ids = list(list_ids(db, ["politiker"]).values())
    assert ledger.write(db, "22:1", claims=[(p.email_key, f"<{p.email}>") for p in people], lists=ids) == {
        "anna@example.org": "forgotten", "bo@example.org": "unsubscribed"}
    assert states(db) == {"bo@example.org": "skipped", "cecilia@example.org": "sending"}


def test_what_went_out_is_grouped_once_per_lists_and_version_also_for_lists_with_swedish_letters(db):
    """delivered() tells a later send who got which content; a person moved to a list named with å, ä, ö is in the same
    group as one queued for it, whichever step wrote their lists."""
    from nyhetsbrev.store import remove_recipient
    from nyhetsbrev.store.recipients import list_ids

    both = ["förvaltning", "politiker"]
    anna = _person(db, "anna", both)
    bo = _person(db, "bo", ["förvaltning"])
    cecilia, david = _person(db, "cecilia", ["förvaltning"]), _person(db, "david", ["förvaltning"])
    versions = {("förvaltning",): ("förvaltning", "f1"), ("förvaltning", "politiker"): ("förvaltning+politiker", "f2")}
    ledger.enqueue(db, "22:1", [ledger.Entry(p.email_key, p.email, p.recipient_id, p.lists, *versions[p.lists])
                                for p in (anna, bo, cecilia, david)])
    ledger.enqueue(db, "22:2", [ledger.Entry(bo.email_key, bo.email, bo.recipient_id, bo.lists, *versions[bo.lists])])
    remove_recipient(db, "anna@example.org", ["politiker"])
    named = {list_id: name for name, list_id in list_ids(db, both).items()}
    checked = ledger.write(db, "22:1", claims=[(p.email_key, f"<{p.email}>") for p in (anna, bo, cecilia, david)],
                           lists=named, versions=versions.get)
    assert checked.moved == {"anna@example.org": ("förvaltning",)}
    ledger.write(db, "22:1", outcomes=[ledger.Outcome("anna@example.org", ledger.SENT, "250 OK"),
                                       ledger.Outcome("bo@example.org", ledger.SENT, "250 OK"),
                                       ledger.Outcome("david@example.org", ledger.FAILED, "550 no")])
    # cecilia: 'sending' (the run is on its way or died): she may have it
    assert ledger.delivered(db, "22:1") == [(("förvaltning",), "förvaltning", "f1", 3)]
    assert ledger.delivered(db, "22:2") == []


def test_rows_read_back_everything_a_later_run_needs(db):
    anna = _person(db, "anna", ["politiker"])
    ledger.enqueue(db, "22:1", [anna])
    ledger.write(db, "22:1", claims=[(anna.email_key, "<a@example.org>")], now=at(8))
    ledger.write(db, "22:1", outcomes=[ledger.Outcome(anna.email_key, ledger.DEFERRED, "451 later", at(9))], now=at(8))
    assert ledger.rows(db, "22:1") == [ledger.Row("anna@example.org", "anna@example.org", anna.recipient_id, ("politiker",),
                                                  "deferred", "<a@example.org>", 1, "451 later", at(9), at(8))]
    assert anna.recipient_id is not None
    assert ledger.due(db, "22:1") == ledger.rows(db, "22:1")


def test_status_of_an_issue_with_a_folder_that_was_never_sent_is_empty(tmp_path, monkeypatch):
    """In the project's own database (no NYHETSBREV_DB): nothing sent yet is no error."""
    from tests.send_helpers import make_project

    root = make_project(tmp_path / "project", lists=())
    monkeypatch.delenv("NYHETSBREV_DB")
    report = ledger.issue_status(root, "22:1")
    assert (report.issue, report.running, report.per_list, report.failed, report.versions) == ("22:1", False, {}, [], [])
    assert (root / "recipients" / "nyhetsbrev.db").exists()


def test_status_of_an_issue_that_does_not_exist_names_the_ones_there_are_unless_it_was_sent(tmp_path):
    """A mistyped issue is an error naming the project's issues, and makes no database; an issue whose folder was
    removed after it was sent still has its status."""
    from nyhetsbrev.errors import IssueNotFound
    from tests.send_helpers import make_project

    root = make_project(tmp_path / "project", lists=())
    path = Path(os.environ["NYHETSBREV_DB"])
    with pytest.raises(IssueNotFound) as caught:
        ledger.issue_status(root, "22:7")
    assert "issue 22:7 not found" in str(caught.value) and str(root) in str(caught.value)
    assert "issues in this project: 22:1" in caught.value.hint
    assert not path.exists()
    database = open_db(path)
    try:
        ledger.enqueue(database, "22:1", entries("anna"))
        with pytest.raises(IssueNotFound):  # a database, but nothing of 22:7 in it
            ledger.issue_status(root, "22:7")
        ledger.enqueue(database, "22:7", entries("anna"))
        ledger.write(database, "22:7", claims=[("anna@example.org", "<a@example.org>")])
        ledger.write(database, "22:7", outcomes=[ledger.Outcome("anna@example.org", ledger.SENT, "250 OK")])
    finally:
        database.close()
    report = ledger.issue_status(root, "22:7")
    assert (report.issue, report.per_list) == ("22:7", {"politiker": {"sent": 1}})
