"""Anyone can write to the mailbox: forged reports and words act on no one; only a ledger Message-ID or a token does."""

from __future__ import annotations

import secrets

import pytest

from nyhetsbrev.inbox.run import read_inbox
from tests.inbox_helpers import (
    SAMPLES, bounce_for, inbox_project, mailbox_events, plain_message, record_sent, suppressed,
)
from tests.fixtures import assert_nowhere
from tests.inbox_helpers import write_messages as _write
from tests.send_helpers import add_people, send, smtp  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(60)

ATTACKER = "mallory@example.org"  # a reader of the newsletter: knows her own message's Message-ID, nothing else
PEOPLE = ["anna", "bertil", "cecilia", "david", "eva", "filip", "greta"]


def _random_id() -> str:
    return f"<26-1.{secrets.token_hex(16)}@example.org>"


@pytest.fixture
def sent26(tmp_path):
    """26:1 sent to eight people, each with a Message-ID that cannot be guessed from another."""
    project = inbox_project(tmp_path / "project")
    people = {f"{name}@example.se": ("26:1", _random_id()) for name in PEOPLE}
    people[ATTACKER] = ("26:1", _random_id())
    record_sent(people)
    return project, people


def _forged_dsn(victim: str, in_reply_to: str | None, *, headers_id: str | None = None, n: int = 0) -> bytes:
    """A multipart/report from a mail daemon that anyone could write."""
    raw = bounce_for(headers_id or f"<made-up.{n}@evil.example>", victim, dsn_id=f"<forged.{n}.{secrets.token_hex(4)}@evil.example>")
    raw = raw.replace(b"From: MAILER-DAEMON@relay.example.net", b"From: MAILER-DAEMON@evil.example")
    if headers_id is None:  # no returned headers at all: only the address
        start = raw.index(b"--dsn-boundary-1\r\nContent-Type: text/rfc822-headers")
        raw = raw[:start] + b"--dsn-boundary-1--\r\n"
    if in_reply_to:
        raw = raw.replace(b"Auto-Submitted:", f"In-Reply-To: {in_reply_to}\r\nAuto-Submitted:".encode(), 1)
    return raw


def _exim_with_pasted_id(victim: str, message_id: str) -> bytes:
    raw = (SAMPLES / "exim-failed.eml").read_bytes()
    raw = raw.replace(b"erik.oberg@kommun.example.se", victim.encode()).replace(
        b"<22-1.5f3a9c0d2e4b6a18.4@example.org>", message_id.encode())
    return raw.replace(b"<E1naBcD-0003xY-Q1@mx.kommun.example.se>", b"<E1forged@evil.example>")


def _forged_arf(victim: str, message_id: str | None) -> bytes:
    raw = (SAMPLES / "arf-abuse.eml").read_bytes().replace(b"per.nilsson@example.org", victim.encode())
    raw = raw.replace(b"<fbl.20220402140233.77aa@fbl.example.net>", b"<fbl.forged@evil.example>")
    if message_id is None:
        return raw.replace(b"Message-ID: <22-1.5f3a9c0d2e4b6a18.8@example.org>\n", b"")
    return raw.replace(b"<22-1.5f3a9c0d2e4b6a18.8@example.org>", message_id.encode())


def test_forged_reports_and_words_suppress_no_one_and_are_listed(cli, sent26, tmp_path):
    project, people = sent26
    own = people[ATTACKER][1]
    prefix = own.rsplit(".", 1)[0]
    victims = [f"{name}@example.se" for name in PEOPLE]
    messages = {
        # The next numbers after her own Message-ID, as with the old counter: seven guessed In-Reply-To.
        **{f"guessed-{n}": _forged_dsn(v, f"{prefix}.{n}@example.org>", n=n) for n, v in enumerate(victims, start=2)},
        "foreign": _forged_dsn("anna@example.se", "<CAF=elsewhere.1234@mail.gmail.com>", n=20),
        "address-only": _forged_dsn("bertil@example.se", None, n=21),
        "guessed-headers": _forged_dsn("cecilia@example.se", None, headers_id=own.replace(own[6:14], "00000000"), n=22),
        "exim-pasted": _exim_with_pasted_id("david@example.se", f"<26-1.2e27cf7c4f73dde8.3@example.org>"),
        "arf-no-id": _forged_arf("eva@example.se", None),
        "arf-guessed": _forged_arf("filip@example.se", f"<26-1.{secrets.token_hex(16)}@example.org>"),
        "spoofed-words": plain_message("Greta <greta@example.se>", "avregistrera", "avregistrera mig, tack",
                                       to="avregistrera@example.org", message_id="<spoof.1@evil.example>"),
    }
    folder = _write(tmp_path / "forged", messages)
    result = cli("--project", project, "inbox", "--from", folder)
    assert result.exit_code == 0, result.output
    assert suppressed() == {} and mailbox_events() == []
    report = read_inbox(project, from_path=folder, dry_run=True)
    assert len(report.for_a_person) == len(messages) and not report.changes
    notes = "\n".join(o.note for o in report.for_a_person)
    assert notes.count("the Message-ID it carries is not one nyhetsbrev sent") == 11
    assert notes.count("it carries no Message-ID of a message nyhetsbrev sent") == 2
    assert "asks in words to unsubscribe" in notes
    assert "nyhetsbrev recipients unsubscribe -- greta@example.se" in result.stdout  # the command, for a person


def test_a_report_with_her_own_message_id_concerns_only_her(sent26, tmp_path):
    """The person is the ledger row's, whatever address the report names."""
    project, people = sent26
    folder = _write(tmp_path / "own", {"own": _forged_dsn("anna@example.se", people[ATTACKER][1], n=1)})
    read_inbox(project, from_path=folder)
    assert suppressed() == {ATTACKER: "bounced"}


def test_a_report_carrying_message_ids_of_two_people_is_about_no_one(sent26, tmp_path):
    project, people = sent26
    both = f"{people[ATTACKER][1]} {people['anna@example.se'][1]}"
    raw = _forged_dsn("anna@example.se", None, headers_id=people[ATTACKER][1], n=1).replace(
        b"Auto-Submitted:", f"References: {both}\r\nAuto-Submitted:".encode(), 1)
    report = read_inbox(project, from_path=_write(tmp_path / "two", {"two": raw}))
    assert suppressed() == {}
    assert [o.note for o in report.for_a_person] == [
        "a bounce naming anna@example.se, not applied: it carries the Message-IDs of messages to different people"]


def _ndr_for(address: str, message_id: str) -> bytes:
    """A Microsoft 365 non-delivery report, as Exchange Online writes it, about one message that was sent."""
    raw = (SAMPLES / "exchange-online-ndr.eml").read_bytes()
    return raw.replace(b"<22-1.5f3a9c0d2e4b6a18.5@example.org>", message_id.encode()).replace(
        b"mia.berg@kommun.example.se", b"forwarded.elsewhere@example.net").replace(
        b"mia.berg@kommun.exam=\nple.se", b"forwarded.elsewhere@example.net")


def test_a_microsoft_365_ndr_for_a_real_send_is_applied_by_message_id(cli, smtp, tmp_path):
    project = inbox_project(tmp_path / "project")
    people = add_people(3, ["politiker"], prefix="m")
    assert send(project, lists=("politiker",)).tally.sent == 3
    sent_ids = {r.rcpt_tos[0]: r.message["Message-ID"] for r in smtp.received}
    target = people[1]
    folder = _write(tmp_path / "ndr", {"ndr": _ndr_for(target, sent_ids[target])})
    result = cli("--project", project, "inbox", "--from", folder)
    assert result.exit_code == 0, result.output
    assert suppressed() == {target: "bounced"}  # the ledger row's person, not the address the report names
    [(who, event, issue, _mid)] = mailbox_events()
    assert (who, event, issue) == (target, "bounced", "22:1")


def test_terminal_control_characters_in_a_message_never_reach_the_screen(cli, sent26, tmp_path):
    project, _people = sent26
    raw = plain_message("eva@example.se", "placeholder", "Hej").replace(
        b"Subject: placeholder", b"Subject: Fr\xc3\xa5ga \x1b]0;owned\x07\x1b[2J om brevet")
    result = cli("--project", project, "inbox", "--from", _write(tmp_path / "esc", {"esc": raw}))
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "Fråga ]0;owned[2J om brevet" in result.stdout


def test_the_command_listed_for_a_request_in_words_never_carries_an_option_from_the_writer(cli, sent26, tmp_path):
    """A writer's '--from-file=…@…' would make the listed command unsubscribe everyone in a file of her choosing."""
    import shlex

    project, _people = sent26
    victims = tmp_path / "alla@example.se"  # a file whose name looks like an address
    victims.write_text("anna@example.se\nbertil@example.se\ncecilia@example.se\n", encoding="utf-8")
    words = f"Hej, avregistrera mig tack. --from-file={victims} -x@example.se"
    folder = _write(tmp_path / "words", {
        "own": plain_message(ATTACKER, "avregistrera", words, to="avregistrera@example.org"),
        "other": plain_message(ATTACKER, "avregistrera", f"avregistrera --token=x@example.se david@example.se",
                               to="avregistrera@example.org"),
    })
    report = read_inbox(project, from_path=folder)
    assert suppressed() == {}
    commands = sorted(o.command for o in report.for_a_person)
    assert commands == ["nyhetsbrev recipients unsubscribe -- david@example.se",
                        f"nyhetsbrev recipients unsubscribe -- {ATTACKER}"], commands
    for command in commands:  # what a person runs after reading the message
        result = cli("--project", project, *shlex.split(command)[1:])
        assert result.exit_code == 0, result.output
    assert suppressed() == {ATTACKER: "unsubscribed", "david@example.se": "unsubscribed"}


def test_recipients_unsubscribe_reads_every_word_after_two_dashes_as_an_address(cli, sent26, tmp_path):
    project, _people = sent26
    listing = tmp_path / "x@example.se"
    listing.write_text("anna@example.se\n", encoding="utf-8")
    result = cli("--project", project, "recipients", "unsubscribe", "--", f"--from-file={listing}", "eva@example.se")
    assert result.exit_code == 0, result.output
    assert "anna@example.se" not in suppressed() and suppressed()["eva@example.se"] == "unsubscribed"


def _forwarded_as_attachment(sender: str, own_html: str, attached: bytes) -> bytes:
    """A message whose own text is HTML only, with another message attached (Outlook's "forward as attachment")."""
    from email import message_from_bytes, policy
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "avregistrera@example.org", "avregistrera"
    msg["Date"], msg["Message-ID"] = "Mon, 04 Apr 2022 10:00:00 +0200", f"<fwd.{secrets.token_hex(4)}@example.org>"
    msg.set_content(own_html, subtype="html")
    msg.add_attachment(message_from_bytes(attached, policy=policy.default))
    return msg.as_bytes()


def test_a_token_in_an_attached_message_is_not_the_writers_request(sent26, tmp_path):
    """Mallory forwards, as an attachment, what Anna sent her; only Mallory's own text can ask."""
    from tests.inbox_helpers import token_for

    project, _people = sent26
    annas = plain_message("anna@example.se", "Fwd: nyhetsbrev", f"{token_for('anna@example.se')}\n\nNyhetsbrev 26:1 …")
    folder = _write(tmp_path / "attached", {"fwd": _forwarded_as_attachment(ATTACKER, "<p>avregistrera mig</p>", annas)})
    report = read_inbox(project, from_path=folder)
    assert suppressed() == {}
    [outcome] = report.for_a_person
    assert outcome.command == f"nyhetsbrev recipients unsubscribe -- {ATTACKER}"


def test_a_report_about_a_forgotten_person_acts_on_no_one_and_leaves_no_trace(sent26, tmp_path):
    """Forget erases the ledger row: a later bounce with that Message-ID brings nothing of the person back."""
    from nyhetsbrev.store import forget
    from tests.inbox_helpers import database

    project, people = sent26
    gone = "greta@example.se"
    with database() as db:
        forget(db, gone)
    folder = _write(tmp_path / "gone", {
        "dsn": bounce_for(people[gone][1], gone),
        "arf": _forged_arf(gone, people[gone][1]),
        "dsn-other": bounce_for(people[gone][1], "anna@example.se", dsn_id="<dsn.other@relay.example.net>"),
    })
    report = read_inbox(project, from_path=folder)
    assert suppressed() == {} and mailbox_events() == []
    assert not report.changes
    with database() as db:
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for trace in (gone, "greta"):
        assert_nowhere(trace, data=True, repository=False)  # the database, its WAL and every other file beside it
