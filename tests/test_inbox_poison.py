"""Messages that cannot be read are left where they are and listed; the run goes on, and the next changes nothing."""

from __future__ import annotations

import hashlib
import mailbox
import os
from pathlib import Path

import pytest

from nyhetsbrev.inbox.classify import OTHER, UNREADABLE, Verdict, classify, reason, unreadable
from nyhetsbrev.inbox.run import read_inbox
from tests.inbox_helpers import (
    TOKEN_OWNER, deliver, inbox_project, mailbox_events, plain_message, record_sent, sample, suppressed, token_for,
)
from tests.mailserver import MAILBOX_USER, dovecot  # noqa: F401  (fixture)
from tests.test_inbox import summary

pytestmark = pytest.mark.timeout(120)
PROCESSED = "Behandlat"
NEEDS_A_PERSON = 3


def nested(levels: int = 1000) -> bytes:
    """About 65 KB: a multipart/mixed in a multipart/mixed … levels deep."""
    head = (b"From: Nils Nystad <nils.nystad@example.net>\r\nTo: redaktion@example.org\r\nSubject: Hej igen\r\n"
            b"Date: Tue, 05 Apr 2022 10:00:00 +0200\r\nMessage-ID: <nested.1@example.net>\r\nMIME-Version: 1.0\r\n")
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n) for n in range(levels))
    closing = b"".join(b"\r\n--b%d--\r\n" % n for n in reversed(range(levels)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nhej" + closing


def three_messages() -> list[bytes]:
    """A valid unsubscribe by token, the nested message, and a complaint about a message that was sent."""
    unsubscribe = plain_message("Olof Lind <olof.lind@example.se>", f"Avregistrera {token_for(TOKEN_OWNER)}", "",
                                to="avregistrera@example.org", message_id="<unsub.olof@example.se>")
    return [unsubscribe, nested(), sample("arf-abuse.eml")]


EXPECTED = {TOKEN_OWNER: "unsubscribed", "per.nilsson@example.org": "unsubscribed"}


def _sent_and_exported(tmp_path: Path) -> tuple[Path, Path]:
    """A project whose people were sent 22:1, and an export folder with the unsubscribe (a.eml) and the complaint
    (c.eml): the test puts its troublesome message between them (b…)."""
    project = inbox_project(tmp_path / "project")
    record_sent()
    folder = tmp_path / "export"
    folder.mkdir()
    first, _nested, last = three_messages()
    (folder / "a.eml").write_bytes(first)
    (folder / "c.eml").write_bytes(last)
    return project, folder


def test_a_nested_message_is_unreadable_not_an_error():
    verdict = classify(nested())
    assert verdict.kind == UNREADABLE and verdict.sender == "nils.nystad@example.net"
    assert verdict.subject == "Hej igen" and verdict.key == "<nested.1@example.net>"
    assert verdict.detail == "more than 40 nested parts"
    assert (verdict.message_id, verdict.date) == ("<nested.1@example.net>", "2022-04-05T08:00:00Z")


def test_forty_nested_parts_are_read_and_forty_one_are_not():
    """The limit is exact: a long thread of forwards, 40 deep, is still read and sorted."""
    assert classify(nested(40)).kind == OTHER
    verdict = classify(nested(41))
    assert (verdict.kind, verdict.detail) == (UNREADABLE, "more than 40 nested parts")


def test_many_parts_side_by_side_are_read():
    """Fifty attachments in one multipart are not nesting: the message is read (and a request in it counts)."""
    parts = b"".join(b'--flat\r\nContent-Type: text/plain\r\n\r\nbilaga %d\r\n' % n for n in range(50))
    raw = (b"From: Nils Nystad <nils.nystad@example.net>\r\nTo: redaktion@example.org\r\nSubject: Bilagor\r\n"
           b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="flat"\r\n\r\n' + parts + b"--flat--\r\n")
    assert classify(raw).kind == OTHER


@pytest.mark.parametrize(("error", "words"), [
    (RecursionError(), "nested too deeply to read"),
    (MemoryError(), "too large to read"),
    (TimeoutError(), "took too long to read"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "cannot be decoded (UnicodeDecodeError)"),
    (LookupError("x-unknown"), "cannot be decoded (LookupError)"),
    (ValueError("detector bug"), "cannot be read (ValueError)"),
])
def test_the_reason_a_message_cannot_be_read_is_said_in_words(error, words):
    """The list of messages left for a person says why each one could not be read."""
    assert reason(error) == words


def test_an_unreadable_message_is_named_by_its_head_even_without_a_blank_line_or_an_id():
    """Sender, subject and date are told from the head alone; with no Message-ID the key is the bytes' hash."""
    raw = (b"From: Nils Nystad <nils.nystad@example.net>\r\nSubject: Hej igen\r\n"
           b"Date: Tue, 05 Apr 2022 10:00:00 +0200\r\n")
    verdict = unreadable(raw, "more than 40 nested parts")
    assert (verdict.kind, verdict.sender, verdict.subject, verdict.date, verdict.message_id) == (
        UNREADABLE, "nils.nystad@example.net", "Hej igen", "2022-04-05T08:00:00Z", None)
    assert verdict.key == "sha256:" + hashlib.sha256(raw).hexdigest() and verdict.detail == "more than 40 nested parts"
    assert unreadable(raw, "x", key="maildir/cur/1").key == "maildir/cur/1"


def test_an_unreadable_messages_head_is_read_only_to_64_kib():
    """A crafted head of megabytes cannot make the listing slow: what lies beyond its first 64 KiB (here the
    subject, starting just past it) is not read; the sender before it is."""
    top = b"From: Nils Nystad <nils.nystad@example.net>\r\n"
    filler = b"X-Filler: " + b"x" * (64 * 1024 + 4 - len(top) - 12) + b"\r\n"
    raw = top + filler + b"Subject: Hej igen\r\n\r\n" + nested(41)
    assert len(top + filler) == 64 * 1024 + 4
    verdict = classify(raw)
    assert verdict == Verdict(UNREADABLE, key="sha256:" + hashlib.sha256(raw).hexdigest(), message_id=None, date=None,
                              sender="nils.nystad@example.net", subject="", detail="more than 40 nested parts")


def test_with_from_the_others_are_applied_and_the_nested_one_listed(cli, tmp_path):
    project = inbox_project(tmp_path / "project")
    record_sent()
    folder = tmp_path / "export"
    folder.mkdir()
    for n, raw in enumerate(three_messages()):
        (folder / f"{n}.eml").write_bytes(raw)
    first = cli("--project", project, "inbox", "--from", folder)
    assert first.exit_code == NEEDS_A_PERSON, first.output
    assert suppressed() == EXPECTED
    assert "Could not be read" in first.stdout and "nils.nystad@example.net" in first.stdout and "Hej igen" in first.stdout
    events = mailbox_events()
    second = cli("--project", project, "inbox", "--from", folder)
    assert second.exit_code == 0, second.output  # listed before: not new work
    assert mailbox_events() == events and suppressed() == EXPECTED
    assert "listed before" in second.stdout and summary(second.stdout)["already handled"] == 2


def test_over_imap_the_nested_one_stays_flagged_and_a_second_run_changes_nothing(cli, dovecot, tmp_path, monkeypatch):
    monkeypatch.setenv("NYHETSBREV_KEY_FILE", str(tmp_path / "shared.key"))
    for name, value in dovecot.env(MAILBOX_USER).items():
        monkeypatch.setenv(name, value)
    project = inbox_project(tmp_path / "project", dovecot.imap_settings(MAILBOX_USER, processed=PROCESSED))
    record_sent()
    deliver(dovecot, three_messages())
    first = cli("--project", project, "inbox")
    assert first.exit_code == NEEDS_A_PERSON, first.output
    assert suppressed() == EXPECTED
    inbox = dovecot.folder_state(MAILBOX_USER)
    assert inbox == {"<nested.1@example.net>": {"\\Flagged"}}  # never deleted, not marked read: flagged for a person
    assert len(dovecot.folder_state(MAILBOX_USER, PROCESSED)) == 2
    state = (suppressed(), mailbox_events(), inbox, dovecot.folder_state(MAILBOX_USER, PROCESSED))
    second = cli("--project", project, "inbox")
    assert second.exit_code == 0, second.output
    assert (suppressed(), mailbox_events(), dovecot.folder_state(MAILBOX_USER),
            dovecot.folder_state(MAILBOX_USER, PROCESSED)) == state
    assert "listed before" in second.stdout


def test_a_file_that_cannot_be_read_is_named_and_the_rest_is_read(cli, tmp_path):
    if not Path("/proc/self/mem").exists():
        pytest.skip("needs /proc/self/mem (Linux) for a file whose reading fails")
    project, folder = _sent_and_exported(tmp_path)
    (folder / "b-broken.eml").symlink_to("/proc/self/mem")  # a regular file whose first read fails (EIO)
    result = cli("--project", project, "inbox", "--from", folder)
    assert result.exit_code == NEEDS_A_PERSON, result.output
    assert suppressed() == EXPECTED
    assert "b-broken.eml" in result.stdout


def test_a_maildir_file_that_vanished_is_named_and_the_rest_is_read(cli, tmp_path):
    project = inbox_project(tmp_path / "project")
    record_sent()
    target = tmp_path / "Maildir"
    box = mailbox.Maildir(target)
    raws = three_messages()
    box.add(raws[0])
    box.add(raws[2])
    box.close()
    (target / "cur" / "1649145600.M1P1.gone:2,S").symlink_to(tmp_path / "nothing-here")
    result = cli("--project", project, "inbox", "--from", target)
    assert result.exit_code == NEEDS_A_PERSON, result.output
    assert suppressed() == EXPECTED
    assert "1649145600.M1P1.gone" in result.stdout


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_a_raw_8bit_subject_is_shown_decoded(cli, tmp_path, encoding):
    project = inbox_project(tmp_path / "project")
    raw = plain_message("eva@example.se", "placeholder", "En fråga om tidslinjen.").replace(
        b"Subject: placeholder", b"Subject: " + "SV: Nyhetsbrev för Sörmland".encode(encoding))
    assert classify(raw).subject == "SV: Nyhetsbrev för Sörmland"
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "r.eml").write_bytes(raw)
    result = cli("--project", project, "inbox", "--from", folder)
    assert "SV: Nyhetsbrev för Sörmland" in result.stdout and "\ufffd" not in result.stdout


@pytest.mark.parametrize(("subject", "shown"), [
    ("SV: =?utf-8?q?Nyhetsbrev?= för Sörmland".encode(), "SV: Nyhetsbrev för Sörmland"),
    ("Fråga =?iso-8859-1?q?fr=E5n?= mig".encode("cp1252"), "Fråga från mig"),
    (b"Hej \x81 d\xe5", "Hej \ufffd då"),  # 0x81 is neither UTF-8 nor Windows-1252: one replacement character
    ("Pris =? 100 kr för Sörmland".encode(), "Pris =? 100 kr för Sörmland"),  # '=?' that starts no encoded word
])
def test_raw_8bit_beside_encoded_words_is_shown_decoded_and_the_message_read(subject, shown):
    raw = plain_message("eva@example.se", "placeholder", "En fråga.").replace(b"Subject: placeholder", b"Subject: " + subject)
    verdict = classify(raw)
    assert (verdict.kind, verdict.subject) == (OTHER, shown)


def test_a_megabyte_of_html_angle_brackets_is_read_at_once():
    """Text is taken from HTML in one pass: a body of '<' once took minutes."""
    raw = plain_message("x@example.net", "Hej", "placeholder", to="avregistrera@example.org")
    raw = raw.replace(b"text/plain", b"text/html").replace(b"placeholder", b"<" * 1_000_000)
    assert classify(raw, unsubscribe_address="avregistrera@example.org").kind == OTHER


def test_a_message_that_takes_too_long_is_listed_and_the_run_goes_on(tmp_path, monkeypatch):
    from nyhetsbrev.inbox import run

    project, folder = _sent_and_exported(tmp_path)
    (folder / "b.eml").write_bytes(plain_message("slow@example.net", "Långsam", "x", message_id="<slow@example.net>"))
    real = run.classify

    def stuck(raw, **kwargs):
        while b"slow@example.net" in raw:  # until the time bound ends it
            pass
        return real(raw, **kwargs)

    monkeypatch.setattr(run, "classify", stuck)
    monkeypatch.setattr(run, "TIME_LIMIT", 0.2)
    report = read_inbox(project, from_path=folder)
    assert suppressed() == EXPECTED
    assert [(o.verdict.sender, o.note) for o in report.unreadable] == [("slow@example.net", "took too long to read")]
    assert report.needs_a_person


def test_memory_or_decoding_trouble_in_one_message_is_that_message_only(tmp_path, monkeypatch):
    from nyhetsbrev.inbox import classify as classify_module

    real = classify_module.parse

    def fragile(raw):
        if b"Subject: Hej igen" in raw:
            raise MemoryError
        return real(raw)

    monkeypatch.setattr(classify_module, "parse", fragile)
    raw = nested(3)
    verdict = classify_module.classify(raw)
    assert verdict.kind == UNREADABLE and verdict.detail == "too large to read" and verdict.subject == "Hej igen"
