"""Helpers for the inbox tests: the sample messages, people who were sent an issue, and what the database holds."""

from __future__ import annotations

import os
from email.message import EmailMessage
from pathlib import Path

from tests.send_helpers import SETTINGS, make_project
from tests.recipient_helpers import database  # noqa: F401  (used by the tests)
from tests.serve_helpers import open_database, token_for  # noqa: F401  (token_for is used by the tests)

SAMPLES = Path(__file__).resolve().parent / "fixtures" / "inbox"
UNSUBSCRIBE_ADDRESS = "avregistrera@example.org"

# The people the samples are about, and the Message-ID of the message each was sent (as in the samples).
SENT = {
    "erik.oberg@kommun.example.se": ("22:1", "<22-1.5f3a9c0d2e4b6a18.4@example.org>"),     # exim-failed
    "mia.berg@kommun.example.se": ("22:1", "<22-1.5f3a9c0d2e4b6a18.5@example.org>"),       # exchange-online-ndr
    "anna.andersson@example.se": ("22:1", "<22-1.5f3a9c0d2e4b6a18.6@example.org>"),        # gmail-forwarded-dsn
    "karin.lund@example.se": ("22:1", "<22-1.5f3a9c0d2e4b6a18.7@example.org>"),            # postfix-delayed
    "per.nilsson@example.org": ("22:1", "<22-1.5f3a9c0d2e4b6a18.8@example.org>"),          # arf-abuse
    "okand@example.org": ("22:1", "<22-1.abc.1@example.org>"),                              # postfix-captured
    "sara.svensson@example.se": ("22:1", "<22-1.5f3a9c0d2e4b6a18.2@example.org>"),         # human-reply
    "lars.persson@kommun.example.se": ("22:1", "<22-1.5f3a9c0d2e4b6a18.9@example.org>"),   # out-of-office-sv
    "jonas.karlsson@example.org": ("22:1", "<22-1.5f3a9c0d2e4b6a18.10@example.org>"),      # out-of-office-en
    "mia.berg@example.se": ("22:1", "<22-1.5f3a9c0d2e4b6a18.11@example.org>"),             # unsubscribe-words
    "olof.lind@example.se": ("22:1", "<22-1.5f3a9c0d2e4b6a18.12@example.org>"),            # unsubscribe-mailto
}
TOKEN_OWNER = "olof.lind@example.se"  # whose token the unsubscribe-mailto sample carries


def db():
    """The test's database (NYHETSBREV_DB), opened."""
    return open_database()


def sample(name: str, token_address: str = TOKEN_OWNER) -> bytes:
    """A sample message's bytes; {{token}} becomes the real token of token_address."""
    raw = (SAMPLES / name).read_bytes()
    if b"{{token}}" in raw:
        raw = raw.replace(b"{{token}}", token_for(token_address).encode("ascii"))
    return raw


def samples() -> dict[str, bytes]:
    """Every sample message by file name, its {{token}} made with this database's key (Sara's in her reply)."""
    return {path.name: sample(path.name, "sara.svensson@example.se" if path.name == "human-reply.eml" else TOKEN_OWNER)
            for path in sorted(SAMPLES.glob("*.eml"))}


def deliver(dovecot, messages) -> None:
    """Put messages into the test mailbox's INBOX (MAILBOX_USER) over LMTP, as the organisation's mail server would."""
    from tests.mailserver import MAILBOX_USER

    for raw in messages:
        dovecot.deliver(MAILBOX_USER, raw)


def record_sent(people: dict[str, tuple[str, str]] = SENT, lists=("politiker",)) -> None:
    """Everyone in people is on the lists and was sent their issue with that Message-ID (as a send records it)."""
    from nyhetsbrev.store import add_recipient
    from nyhetsbrev.store.ledger import SENT as STATE_SENT
    from nyhetsbrev.store.ledger import Entry, Outcome, enqueue, write
    from nyhetsbrev.store.tokens import normalise_address

    handle = db()
    try:
        by_issue: dict[str, list[tuple[str, str]]] = {}
        for address, (issue, message_id) in people.items():
            add_recipient(handle, address, list(lists))
            by_issue.setdefault(issue, []).append((address, message_id))
        for issue, rows in by_issue.items():
            enqueue(handle, issue, [Entry(normalise_address(a), a, None, tuple(lists)) for a, _ in rows])
            write(handle, issue, claims=[(normalise_address(a), mid) for a, mid in rows])
            write(handle, issue, outcomes=[Outcome(normalise_address(a), STATE_SENT) for a, _ in rows])
    finally:
        handle.close()


def suppressed() -> dict[str, str]:
    """address key -> reason for every suppression."""
    handle = db()
    try:
        return {key: reason for key, reason in handle.execute("SELECT email_key, reason FROM suppressions") if key}
    finally:
        handle.close()


def mailbox_events() -> list[tuple]:
    """(email_key, event, issue, message_id) of every mailbox event, in order."""
    handle = db()
    try:
        return handle.execute("SELECT email_key, event, issue, message_id FROM mailbox_events ORDER BY id").fetchall()
    finally:
        handle.close()


def inbox_project(root: Path, imap_table: str = "") -> Path:
    """A project whose settings have the unsubscribe address, and an [imap] table when given."""
    return make_project(root, settings=SETTINGS + imap_table)


def plain_message(sender: str, subject: str, body: str, *, to: str = "redaktion@example.org",
                  message_id: str | None = None, headers: dict[str, str] | None = None) -> bytes:
    """A simple message as a person's mail program writes it."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Mon, 04 Apr 2022 10:00:00 +0200"
    msg["Message-ID"] = message_id or f"<{abs(hash((sender, subject, body)))}@example.se>"
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes()


def bounce_for(message_id: str, failed: str, *, status: str = "5.1.1", action: str = "failed",
               dsn_id: str | None = None) -> bytes:
    """An RFC 3464 delivery status notification about the message with message_id, naming failed."""
    diagnostic = "550 5.1.1 User unknown" if status.startswith("5") else "451 4.4.1 try again later"
    boundary = "dsn-boundary-1"
    return (
        f"From: MAILER-DAEMON@relay.example.net (Mail Delivery System)\r\n"
        f"To: nyhetsbrev@example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Date: Tue, 05 Apr 2022 09:00:00 +0000\r\n"
        f"Message-ID: {dsn_id or '<dsn.' + message_id.strip('<>') + '>'}\r\nAuto-Submitted: auto-replied\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"{boundary}\"\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nThe message could not be delivered.\r\n\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {failed}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: nyhetsbrev@example.org\r\n"
        f"To: {failed}\r\nSubject: Nyhetsbrev\r\nMessage-ID: {message_id}\r\n\r\n--{boundary}--\r\n"
    ).encode("utf-8")


def arf_report(*replacements: tuple[bytes, bytes]) -> bytes:
    """The ARF abuse sample with each (old, new) made; each old must be in it exactly once."""
    raw = sample("arf-abuse.eml")
    for old, new in replacements:
        assert raw.count(old) == 1, old
        raw = raw.replace(old, new)
    return raw


def arf_about(recipient: str, message_id: str, n: int) -> bytes:
    """An ARF abuse report (the n-th) about the message with message_id, naming recipient as the one who complained."""
    raw = (SAMPLES / "arf-abuse.eml").read_bytes().replace(b"per.nilsson@example.org", recipient.encode())
    raw = raw.replace(b"<fbl.20220402140233.77aa@fbl.example.net>", f"<fbl.{n}@fbl.example.net>".encode())
    return raw.replace(b"<22-1.5f3a9c0d2e4b6a18.8@example.org>", message_id.encode())


def write_messages(folder: Path, messages: dict[str, bytes]) -> Path:
    """Each message as folder/NAME.eml (the folder made if it is not there yet); the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, raw in messages.items():
        (folder / f"{name}.eml").write_bytes(raw)
    return folder


def one_message(folder: Path, raw: bytes) -> Path:
    """A new folder holding the one message."""
    folder.mkdir()
    return write_messages(folder, {"message": raw})
