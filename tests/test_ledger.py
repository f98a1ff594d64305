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


def test_a_reply_is_written_however_long_another_program_keeps_the_database_locked(db, another_writer):
    """The ledger waits (with back-off, past SQLite's own busy timeout) instead of losing what the server said."""
    ledger.enqueue(db, "22:1", entries("anna"))
    another_writer.hold()
    db.execute("PRAGMA busy_timeout=50")
    released = another_writer.let_go_after(1.0)  # twenty busy timeouts
    ledger.write(db, "22:1", claims=[("anna@example.org", "<a@example.org>")])
    assert released.is_set()
    assert states(db) == {"anna@example.org": "sending"}


def test_a_writer_with_bounded_patience_gives_one_clear_line(db, another_writer):
    from nyhetsbrev.errors import StoreError
    from nyhetsbrev.store.db import write_retrying

    another_writer.hold()
    db.execute("PRAGMA busy_timeout=20")
    waits: list[float] = []
    with pytest.raises(StoreError) as caught:  # the back-off is noted, not slept: every try meets SQLite's 20 ms
        write_retrying(db, lambda: db.execute("INSERT INTO lists (name, created_at) VALUES ('x', 'now')"),
                       patience=1.0, sleep=waits.append)
    another_writer.let_go()
    assert "busy" in str(caught.value) and "run the same command again" in str(caught.value)
    assert str(caught.value).startswith(f"{os.environ['NYHETSBREV_DB']}: ")
    assert waits == sorted(waits) and waits[0] < waits[-1]  # backs off
    assert db.execute("SELECT count(*) FROM lists").fetchone()[0] == 0


@pytest.mark.parametrize("write", ["add", "remove", "unsubscribe", "forget"])
def test_every_writer_waits_out_another_programs_lock(db, another_writer, write):
    """SQLite's own busy timeout is cut to 20 ms: the wait is the writers' back-off, not SQLite's."""
    from nyhetsbrev import store

    store.add_recipient(db, "anna@example.org", ["A"])
    db.execute("SELECT count(*) FROM recipients").fetchone()  # an older snapshot than the other program's write
    another_writer.hold("INSERT INTO lists (name, created_at) VALUES ('B', 'now')")
    db.execute("PRAGMA busy_timeout=20")
    another_writer.let_go_after(0.5, commit=True)
    calls = {"add": lambda: store.add_recipient(db, "berit@example.org", ["A"]),
             "remove": lambda: store.remove_recipient(db, "anna@example.org", ["A"]),
             "unsubscribe": lambda: store.unsubscribe(db, "anna@example.org"),
             "forget": lambda: store.forget(db, "anna@example.org")}
    calls[write]()
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
