"""Message-IDs sent before they were random (`<22-1.<16 hex>.<n>@…>`) tell one another: a reader could change the
counter of her own into another reader's. A report carrying one acts only when it also names that row's own address."""

from __future__ import annotations


import pytest

from nyhetsbrev.inbox.run import read_inbox
from tests.inbox_helpers import SAMPLES, bounce_for, inbox_project, mailbox_events, record_sent, suppressed
from tests.inbox_helpers import arf_about as _arf
from tests.inbox_helpers import write_messages as _write

pytestmark = pytest.mark.timeout(60)

ATTACKER = "mallory@example.org"
SENT_BEFORE = {  # 22:1 as an earlier version sent it: one random part for the run, then a counter
    "anna@example.se": ("22:1", "<22-1.2e27cf7c4f73dde8.1@example.org>"),
    "bertil@example.se": ("22:1", "<22-1.2e27cf7c4f73dde8.2@example.org>"),
    "cecilia@example.se": ("22:1", "<22-1.2e27cf7c4f73dde8.3@example.org>"),
    "david@example.se": ("22:1", "<22-1.2e27cf7c4f73dde8.4@example.org>"),
    ATTACKER: ("22:1", "<22-1.2e27cf7c4f73dde8.5@example.org>"),
    "eva@example.se": ("22:1", "<22-1.2e27cf7c4f73dde8.6@example.org>"),
}
OLD_STYLE = "it carries an old-style Message-ID (one that can be guessed from another reader's) and does not name"


@pytest.fixture
def sent_before(tmp_path):
    project = inbox_project(tmp_path / "project")
    record_sent(SENT_BEFORE)
    return project


def _guesses() -> list[tuple[str, str]]:
    """(address, report) of every address remembered as named beside another reader's old-style Message-ID."""
    from tests.inbox_helpers import database

    with database() as db:
        return [tuple(row) for row in db.execute("SELECT email_key, message_key FROM mailbox_guesses")]


def _changed_counter(n: int) -> str:
    """Her own Message-ID with the counter changed: another reader's."""
    return SENT_BEFORE[ATTACKER][1].replace(".5@", f".{n}@")


def test_a_report_with_a_changed_counter_acts_on_no_one_and_is_listed(cli, sent_before, tmp_path):
    forged = {
        **{f"dsn-{n}": bounce_for(_changed_counter(n), ATTACKER, dsn_id=f"<forged-dsn.{n}@evil.example>")
           for n in (1, 2, 6)},
        **{f"arf-{n}": _arf(ATTACKER, _changed_counter(n), n) for n in (3, 4)},
        "dsn-no-one": bounce_for(_changed_counter(6), "someone@evil.example", dsn_id="<forged-dsn.x@evil.example>"),
    }
    folder = _write(tmp_path / "forged", forged)
    result = cli("--project", sent_before, "inbox", "--from", folder)
    assert result.exit_code == 0, result.output
    assert suppressed() == {} and mailbox_events() == []
    # She named her own address beside others' Message-IDs: only that is remembered (it changes no one's mail).
    assert {who for who, _message in _guesses()} == {ATTACKER}
    report = read_inbox(sent_before, from_path=folder, dry_run=True)
    assert len(report.for_a_person) == len(forged) and not report.changes
    assert all(OLD_STYLE in outcome.note for outcome in report.for_a_person), [o.note for o in report.for_a_person]


def test_the_reason_is_in_swedish_too(sent_before, tmp_path, monkeypatch):
    from nyhetsbrev import i18n

    monkeypatch.setenv("NYHETSBREV_LANGUAGE", "sv")
    i18n.reset()
    folder = _write(tmp_path / "forged", {"dsn": bounce_for(_changed_counter(2), ATTACKER)})
    [outcome] = read_inbox(sent_before, from_path=folder).for_a_person
    assert "av det gamla slaget" in outcome.note and "nämner inte mottagaren" in outcome.note
    assert suppressed() == {}


def test_a_report_that_names_the_rows_own_address_is_applied(cli, sent_before, tmp_path):
    folder = _write(tmp_path / "real", {
        "dsn": bounce_for(SENT_BEFORE["bertil@example.se"][1], "bertil@example.se"),
        "arf": _arf("cecilia@example.se", SENT_BEFORE["cecilia@example.se"][1], 1),
        "own": bounce_for(SENT_BEFORE[ATTACKER][1], ATTACKER),
    })
    result = cli("--project", sent_before, "inbox", "--from", folder)
    assert result.exit_code == 0, result.output
    assert suppressed() == {"bertil@example.se": "bounced", "cecilia@example.se": "unsubscribed", ATTACKER: "bounced"}


def test_a_forwarded_address_bounce_of_an_old_issue_counts_by_the_returned_to(cli, tmp_path):
    """Gmail's DSN for a forwarding alias names the final address; the returned headers name the row's own."""
    project = inbox_project(tmp_path / "project")
    record_sent({"anna.andersson@example.se": ("22:1", "<22-1.5f3a9c0d2e4b6a18.6@example.org>")})
    folder = _write(tmp_path / "gmail", {"gmail": (SAMPLES / "gmail-forwarded-dsn.eml").read_bytes()})
    result = cli("--project", project, "inbox", "--from", folder)
    assert result.exit_code == 0, result.output
    assert suppressed() == {"anna.andersson@example.se": "bounced"}


def test_trying_counters_one_by_one_with_a_readers_address_gets_one_blind_try_at_most(cli, sent_before, tmp_path):
    """She knows Eva's address but not Eva's counter: a wrong try marks Eva, so the right one is not applied."""
    eva = "eva@example.se"
    tries = {f"try-{n}": bounce_for(_changed_counter(n), eva, dsn_id=f"<try.{n}@evil.example>") for n in (1, 2, 3, 4, 6)}
    folder = _write(tmp_path / "tries", tries)
    for _run in range(2):  # running again changes nothing more
        result = cli("--project", sent_before, "inbox", "--from", folder)
        assert result.exit_code == 0, result.output
        assert suppressed() == {} and mailbox_events() == []
        assert sorted(_guesses()) == sorted((eva, f"<try.{n}@evil.example>") for n in (1, 2, 3, 4))  # the wrong tries
    report = read_inbox(sent_before, from_path=folder, dry_run=True)
    [right] = [o for o in report.for_a_person if "someone may be guessing" in o.note]
    assert "Message-ID" in right.note
    # A real bounce for someone else still counts; one for Eva now waits for a person.
    later = _write(tmp_path / "later", {"bertil": bounce_for(SENT_BEFORE["bertil@example.se"][1], "bertil@example.se"),
                                        "eva": bounce_for(SENT_BEFORE[eva][1], eva)})
    read_inbox(sent_before, from_path=later)
    assert suppressed() == {"bertil@example.se": "bounced"}


def test_what_was_remembered_about_guesses_is_in_the_export_and_forget_erases_it(sent_before, tmp_path):
    from nyhetsbrev.store import forget
    from tests.inbox_helpers import database

    read_inbox(sent_before, from_path=_write(tmp_path / "try", {"try": bounce_for(_changed_counter(1), "eva@example.se")}))
    assert [who for who, _message in _guesses()] == ["eva@example.se"]
    with database() as db:
        from nyhetsbrev.store import export_person

        [kept] = export_person(db, "eva@example.se")["mailbox_guesses"]  # what is kept about her, in her export
        assert kept["issue"] == "22:1" and kept["message_id"].startswith("<dsn.")
        forget(db, "eva@example.se")
    assert _guesses() == []
