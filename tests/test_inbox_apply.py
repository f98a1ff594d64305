"""What each kind of message leads to, as `nyhetsbrev inbox` shows it and as the database records it.

Each verdict (what classify() found in a message) is applied to a real SQLite file; the test compares the whole
Outcome (what was done, to whom, the line a person reads, the command offered) and every row written: the mailbox
event and its detail (what `recipients export` shows), the suppression and its detail, the guess remembered.
"""

from __future__ import annotations

import dataclasses

import pytest

from nyhetsbrev.inbox.apply import (
    ALREADY, BOUNCED, COMPLAINT_HANDLED, IGNORED, PERSON, STILL_UNREAD, TEMPORARY, UNREAD, UNSUBSCRIBED, Outcome, apply,
    apply_many,
)
from nyhetsbrev.inbox.classify import AUTO_REPLY, BOUNCE, COMPLAINT, OTHER, UNREADABLE, UNSUBSCRIBE, Verdict
from tests.inbox_helpers import database, record_sent, token_for

pytestmark = pytest.mark.timeout(60)

ANNA, BO, CARL, MIA, GONE = "anna@example.se", "bo@example.se", "carl@example.se", "Mia.Berg@example.se", "gone@example.se"
STRANGER = "stranger@example.net"
R_ANNA = "<26-1.0123456789abcdef0123456789abcdef@example.org>"  # random: cannot be guessed from another's
R_BO = "<26-1.fedcba9876543210fedcba9876543210@example.org>"
O_BO = "<22-1.2e27cf7c4f73dde8.1@example.org>"  # the counter kind sent before
O_CARL = "<22-1.2e27cf7c4f73dde8.2@example.org>"
KEY = "<report.1@relay.example.net>"  # the Message-ID of the report or request itself
DATE = "2022-04-05T09:00:00Z"
CARL_GUESSED = "<an-earlier-try@evil.example>"  # an earlier report named Carl beside another reader's Message-ID


@pytest.fixture
def db():
    """Anna and Bo were sent 26:1 (random Message-IDs), Bo and Carl 22:1 (counter ones); Mia is on a list; someone
    was forgotten; an earlier report named Carl beside another reader's old-style Message-ID."""
    from nyhetsbrev.store import forget
    from nyhetsbrev.store import mailbox_events as events
    from nyhetsbrev.store.db import write_retrying

    record_sent({ANNA: ("26:1", R_ANNA), BO: ("26:1", R_BO), GONE: ("26:1", "<26-1.gone@example.org>")})
    record_sent({BO: ("22:1", O_BO), CARL: ("22:1", O_CARL), MIA: ("22:1", "<22-1.mia@example.org>")})
    with database() as handle:
        forget(handle, GONE)
        write_retrying(handle, lambda: events.remember_guess(handle, CARL, CARL_GUESSED, "22:1"))
        yield handle


def verdict(kind: str, **fields) -> Verdict:
    return Verdict(kind, key=KEY, message_id=KEY, date=DATE, sender=fields.pop("sender", "postmaster@relay.example.net"),
                   subject="Nyhetsbrev", **fields)


def rows(handle) -> dict[str, list[tuple]]:
    """Everything applying a message may write, but the guess the fixture made."""
    return {
        "events": handle.execute("SELECT email_key, event, issue, source, message_id, message_date, detail"
                                 " FROM mailbox_events ORDER BY id").fetchall(),
        "suppressions": handle.execute("SELECT email_key, reason, source, detail FROM suppressions"
                                       " WHERE reason != 'forgotten' ORDER BY id").fetchall(),
        "guesses": handle.execute("SELECT email_key, message_key, issue FROM mailbox_guesses WHERE message_key != ?",
                                  [CARL_GUESSED]).fetchall(),
        "handled": handle.execute("SELECT message_key, kind, source FROM mailbox_handled").fetchall(),
    }


def _bounce(*ids: str, detail: str = "5.1.1 550 5.1.1 User unknown", permanent: bool = True, named=()) -> dict:
    return dict(addresses=tuple(named), permanent=permanent, returned_ids=ids, recipients=tuple(named), detail=detail)


NOT_APPLIED_TOKEN = "asks to unsubscribe, but its token does not verify"
IN_WORDS = "asks in words to unsubscribe (not applied: words and senders can be forged; see the command below)"
GUESSING = ("it carries an old-style Message-ID, and other reports have named this address with other readers' "
            "Message-IDs: someone may be guessing")


def _event(address, event, issue, detail):
    return (address, event, issue, "mailbox", KEY, DATE, detail)


def _suppression(address, reason, detail):
    return (address, reason, "mailbox", f"{detail} (message {KEY})")


# (case, kind, the verdict's facts, (action, address, note, command), rows written besides `handled`)
# A token written "token:ADDRESS" is that person's real token; "forged:ADDRESS" one made with another key.
CASES = [
    ("a permanent bounce by her own Message-ID", BOUNCE, _bounce(R_ANNA, named=[ANNA]),
     (BOUNCED, ANNA, "5.1.1 550 5.1.1 User unknown", None),
     {"events": [_event(ANNA, "bounced", "26:1", "5.1.1 550 5.1.1 User unknown")],
      "suppressions": [_suppression(ANNA, "bounced", "5.1.1 550 5.1.1 User unknown")]}),
    ("a permanent bounce saying no status", BOUNCE, _bounce(R_ANNA, detail=""),
     (BOUNCED, ANNA, "", None),
     {"events": [_event(ANNA, "bounced", "26:1", None)], "suppressions": [_suppression(ANNA, "bounced", "bounced")]}),
    ("a delay saying no status", BOUNCE, _bounce(R_ANNA, detail="", permanent=False),
     (TEMPORARY, ANNA, "(1 of 3 issues)", None),
     {"events": [_event(ANNA, "temporary_bounce", "26:1", None)]}),
    ("a complaint", COMPLAINT, _bounce(R_ANNA, detail="feedback report: abuse"),
     (COMPLAINT_HANDLED, ANNA, "feedback report: abuse", None),
     {"events": [_event(ANNA, "complained", "26:1", "feedback report: abuse")],
      "suppressions": [_suppression(ANNA, "unsubscribed", "feedback report: abuse")]}),
    ("a complaint saying no feedback type", COMPLAINT, _bounce(R_ANNA, detail=""),
     (COMPLAINT_HANDLED, ANNA, "", None),
     {"events": [_event(ANNA, "complained", "26:1", None)],
      "suppressions": [_suppression(ANNA, "unsubscribed", "complained")]}),
    ("a bounce carrying no Message-ID nyhetsbrev sent", BOUNCE, _bounce(named=[STRANGER]),
     (PERSON, None, f"a bounce naming {STRANGER}, not applied: it carries no Message-ID of a message nyhetsbrev sent",
      None), {}),
    ("a bounce about an address someone may be guessing", BOUNCE, _bounce(O_CARL, named=[CARL]),
     (PERSON, None, f"a bounce naming {CARL}, not applied: {GUESSING}", None), {}),
    ("a bounce carrying two Message-IDs of his, one random", BOUNCE, _bounce(R_BO, O_BO),
     (BOUNCED, BO, "5.1.1 550 5.1.1 User unknown", None),  # the random one is his alone; the issue is the first one's
     {"events": [_event(BO, "bounced", "26:1", "5.1.1 550 5.1.1 User unknown")],
      "suppressions": [_suppression(BO, "bounced", "5.1.1 550 5.1.1 User unknown")]}),
    ("a bounce naming another reader beside her random Message-ID", BOUNCE, _bounce(R_ANNA, named=[ANNA, BO]),
     (BOUNCED, ANNA, "5.1.1 550 5.1.1 User unknown", None),  # no guess: a random Message-ID is not tried blindly
     {"events": [_event(ANNA, "bounced", "26:1", "5.1.1 550 5.1.1 User unknown")],
      "suppressions": [_suppression(ANNA, "bounced", "5.1.1 550 5.1.1 User unknown")]}),
    ("a bounce naming a reader beside a random and an old-style Message-ID", BOUNCE, _bounce(R_ANNA, O_CARL, named=[BO]),
     (PERSON, None, f"a bounce naming {BO}, not applied: it carries the Message-IDs of messages to different people",
      None),
     {"guesses": [(BO, KEY, "22:1")]}),  # Bo was named beside Carl's old-style one: remembered
    ("an unsubscribe by token after one that does not verify", UNSUBSCRIBE,
     dict(tokens=("forged:" + BO, "token:" + ANNA), detail="token"),
     (UNSUBSCRIBED, ANNA, "with the link's token", None),
     {"events": [_event(ANNA, "unsubscribed", None, "by e-mail, with the link's token")],
      "suppressions": [_suppression(ANNA, "unsubscribed", "by e-mail, with the link's token")]}),
    ("an unsubscribe by token of a forgotten person", UNSUBSCRIBE, dict(tokens=("token:" + GONE,), detail="token"),
     (IGNORED, None, "about a forgotten person", None), {}),
    ("an unsubscribe whose token does not verify", UNSUBSCRIBE, dict(tokens=("forged:" + ANNA,), detail="token"),
     (PERSON, None, NOT_APPLIED_TOKEN, None), {}),
    ("a request in words naming others", UNSUBSCRIBE,
     dict(sender=ANNA, asks=True, named=("mia.berg@EXAMPLE.se", STRANGER), detail="asked in words"),
     (PERSON, None, f"asks in words about {MIA}, {STRANGER} (not applied: see the command below)",
      f"nyhetsbrev recipients unsubscribe -- {MIA} {STRANGER}"), {}),  # Mia as she is stored
    ("a request in words from a reader", UNSUBSCRIBE, dict(sender="MIA.BERG@example.se", asks=True, detail="asked in words"),
     (PERSON, None, IN_WORDS, f"nyhetsbrev recipients unsubscribe -- {MIA}"), {}),
    ("a request in words from a stranger", UNSUBSCRIBE, dict(sender=STRANGER, asks=True, detail="asked in words"),
     (PERSON, None, f"asks to unsubscribe, but {STRANGER} is not on any list", None), {}),
    ("a request in words from no address", UNSUBSCRIBE, dict(sender="", asks=True, detail="asked in words"),
     (PERSON, None, "asks to unsubscribe, but the sender is not on any list", None), {}),
    ("an automatic reply", AUTO_REPLY, dict(sender=ANNA, detail="automatic reply"),
     (IGNORED, None, "automatic reply", None), {}),
    ("an automatic reply saying nothing about itself", AUTO_REPLY, dict(sender=ANNA, detail=""),
     (IGNORED, None, "", None), {}),
    ("a person writing", OTHER, dict(sender=ANNA), (PERSON, None, "a person writing", None), {}),
]


def _tokens(fields: dict) -> dict:
    from nyhetsbrev.store.tokens import make_token

    made = {"token": lambda address: token_for(address), "forged": lambda address: make_token(b"k" * 32, address)}
    tokens = tuple(made[kind](address) for kind, address in (t.split(":", 1) for t in fields.get("tokens", ())))
    return {**fields, "tokens": tokens} if tokens else fields


@pytest.mark.parametrize(("case", "kind", "fields", "expected", "written"), CASES, ids=[c[0] for c in CASES])
def test_each_kind_of_message_leads_to_what_a_person_reads_and_what_is_recorded(db, case, kind, fields, expected, written):
    message = verdict(kind, **_tokens(fields))
    action, address, note, command = expected
    assert apply(db, message) == Outcome(action, message, address, note, command)
    handled = [] if action == PERSON else [(KEY, kind, "mailbox")]  # a person's message stays, for a person to decide
    assert rows(db) == {"events": [], "suppressions": [], "guesses": [], "handled": handled, **written}


def test_a_message_handled_before_changes_nothing_and_says_so(db):
    message = verdict(BOUNCE, **_bounce(R_ANNA))
    assert apply(db, message).action == BOUNCED
    before = rows(db)
    assert apply_many(db, [message, message]) == [Outcome(ALREADY, message, note="handled by an earlier run")] * 2
    assert rows(db) == before


def test_an_unreadable_message_is_listed_with_its_reason_each_time(db):
    message = verdict(UNREADABLE, detail="nested too deeply to read")
    assert apply(db, message) == Outcome(UNREAD, message, note="nested too deeply to read")
    assert apply(db, message) == Outcome(STILL_UNREAD, message, note="nested too deeply to read")  # "(listed before)"
    assert rows(db)["handled"] == [(KEY, "unreadable", "mailbox")]


def test_a_delay_on_a_third_issue_suppresses_the_address_and_says_why(db):
    eva = "eva@example.se"
    for n in range(3):
        record_sent({eva: (f"27:{n + 1}", f"<27-{n + 1}.{'0' * 31}{n}@example.org>")})
    delays = [dataclasses.replace(verdict(BOUNCE, **_bounce(f"<27-{n + 1}.{'0' * 31}{n}@example.org>", detail="4.4.1",
                                                            permanent=False)), key=f"<delay.{n}@relay.example.net>")
              for n in range(3)]
    assert [apply(db, delay) for delay in delays] == [
        Outcome(TEMPORARY, delays[0], eva, "4.4.1 (1 of 3 issues)"),
        Outcome(TEMPORARY, delays[1], eva, "4.4.1 (2 of 3 issues)"),
        Outcome(BOUNCED, delays[2], eva, "temporary failures on 3 different issues"),
    ]
    assert rows(db)["suppressions"] == [
        (eva, "bounced", "mailbox", "temporary failures on 3 different issues (last: message <delay.2@relay.example.net>)")]


def test_the_source_given_is_the_source_recorded(db):
    message = verdict(BOUNCE, **_bounce(R_ANNA))
    apply(db, message, source="export.mbox")
    written = rows(db)
    assert {row[3] for row in written["events"]} == {row[2] for row in written["suppressions"]} == {"export.mbox"}
    assert written["handled"] == [(KEY, BOUNCE, "export.mbox")]


@pytest.mark.parametrize(("kind", "fields", "note"), [
    (BOUNCE, _bounce(R_ANNA, detail=""), ""),
    (BOUNCE, _bounce(R_ANNA, detail="", permanent=False), "(1 av 3 nummer)"),
    (COMPLAINT, _bounce(R_ANNA, detail=""), ""),
    (AUTO_REPLY, dict(detail=""), ""),
])
def test_a_report_saying_nothing_about_itself_shows_no_text_in_swedish_either(db, monkeypatch, kind, fields, note):
    """An empty detail is never looked up in the catalog: its empty message is the catalog's own header."""
    from nyhetsbrev import i18n

    monkeypatch.setenv("NYHETSBREV_LANGUAGE", "sv")
    i18n.reset()
    try:
        assert apply(db, verdict(kind, **fields)).note == note
    finally:
        i18n.reset()
