"""What came back from the mailbox, as stored: events per person, the messages already handled, and who was sent what."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .db import Database, utc_now
from .tokens import normalise_address

UNSUBSCRIBED, BOUNCED, TEMPORARY, COMPLAINED = "unsubscribed", "bounced", "temporary_bounce", "complained"


@dataclass(frozen=True)
class SentTo:
    """A message we sent, found by its Message-ID in the send ledger."""

    issue: str
    email: str


UNREADABLE_KIND = "unreadable"  # a message listed for a person because it could not be read (not handled)


def is_handled(db: Database, message_key: str) -> bool:
    """True when the message (by Message-ID, or hash) was handled by an earlier run."""
    return db.execute(
        "SELECT 1 FROM mailbox_handled WHERE message_key = ? AND kind != ?", [message_key, UNREADABLE_KIND]
    ).fetchone() is not None


def remember(db: Database, message_key: str, kind: str, source: str) -> None:
    """Record that the message is handled, so that no later run applies it again."""
    db.execute(
        "INSERT INTO mailbox_handled (message_key, kind, handled_at, source) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (message_key) DO UPDATE SET kind = excluded.kind, handled_at = excluded.handled_at,"
        " source = excluded.source WHERE mailbox_handled.kind = ?",
        [message_key, kind, utc_now(), source, UNREADABLE_KIND],
    )


def is_listed_unreadable(db: Database, message_key: str) -> bool:
    """True when an earlier run listed this message as one it could not read."""
    return db.execute(
        "SELECT 1 FROM mailbox_handled WHERE message_key = ? AND kind = ?", [message_key, UNREADABLE_KIND]
    ).fetchone() is not None


def remember_unreadable(db: Database, message_key: str, source: str) -> None:
    """Record that a message could not be read and was listed for a person (it is not handled: it stays)."""
    db.execute(
        "INSERT OR IGNORE INTO mailbox_handled (message_key, kind, handled_at, source) VALUES (?, ?, ?, ?)",
        [message_key, UNREADABLE_KIND, utc_now(), source],
    )


def sent_message(db: Database, message_ids: tuple[str, ...]) -> SentTo | None:
    """The ledger row whose Message-ID is one of these (the first found), or None."""
    for message_id in message_ids:
        row = db.execute(
            "SELECT issue, email FROM send_ledger WHERE message_id = ? LIMIT 1", [message_id]
        ).fetchone()
        if row:
            return SentTo(row[0], row[1])
    return None


def known_address(db: Database, address: str) -> str | None:
    """The address as stored when it belongs to a recipient or was sent an issue; None for a stranger."""
    key = normalise_address(address)
    row = db.execute("SELECT email FROM recipients WHERE email_key = ?", [key]).fetchone()
    if row is None:
        row = db.execute("SELECT email FROM send_ledger WHERE email_key = ? LIMIT 1", [key]).fetchone()
    return row[0] if row else None


def on_a_list(db: Database, address: str) -> str | None:
    """The stored address when it is a member of at least one list, else None."""
    row = db.execute(
        "SELECT r.email FROM recipients r WHERE r.email_key = ? AND EXISTS"
        " (SELECT 1 FROM memberships m WHERE m.recipient_id = r.id)",
        [normalise_address(address)],
    ).fetchone()
    return row[0] if row else None


def record(
    db: Database, address: str, event: str, *, source: str, message_id: str, message_date: str | None,
    issue: str | None = None, detail: str | None = None,
) -> None:
    """Store one change that a message brought (who, what, from which message and when)."""
    key = normalise_address(address)
    row = db.execute("SELECT id FROM recipients WHERE email_key = ?", [key]).fetchone()
    db.execute(
        "INSERT INTO mailbox_events (email_key, recipient_id, event, issue, at, source, message_id, message_date, detail)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [key, row[0] if row else None, event, issue, utc_now(), source, message_id, message_date, detail],
    )


def remember_guess(db: Database, address: str, message_key: str, issue: str | None) -> None:
    """Record that a message named the address beside another reader's old-style Message-ID (once per message)."""
    db.execute("INSERT OR IGNORE INTO mailbox_guesses (email_key, message_key, issue, at) VALUES (?, ?, ?, ?)",
               [normalise_address(address), message_key, issue, utc_now()])


def guessed(db: Database, address: str) -> bool:
    """True when some message named the address beside another reader's old-style Message-ID."""
    return db.execute("SELECT 1 FROM mailbox_guesses WHERE email_key = ? LIMIT 1",
                      [normalise_address(address)]).fetchone() is not None


def guesses_of(db: Database, address: str) -> list[dict[str, Any]]:
    """Every report that named the address beside another reader's old-style Message-ID (for the GDPR export)."""
    return [
        {"message_id": message_key, "issue": issue, "at": at}
        for message_key, issue, at in db.execute(
            "SELECT message_key, issue, at FROM mailbox_guesses WHERE email_key = ? ORDER BY at, message_key",
            [normalise_address(address)],
        )
    ]


def temporary_issues(db: Database, address: str) -> int:
    """On how many different issues the address bounced temporarily (reports naming no issue count as one)."""
    return db.execute(
        "SELECT count(DISTINCT coalesce(issue, '')) FROM mailbox_events WHERE email_key = ? AND event = ?",
        [normalise_address(address), TEMPORARY],
    ).fetchone()[0]


def events_of(db: Database, address: str) -> list[dict[str, Any]]:
    """Every mailbox event about the address, oldest first (for the GDPR export)."""
    return [
        {"event": event, "issue": issue, "at": at, "source": source, "message_id": message_id,
         "message_date": message_date, "detail": detail}
        for event, issue, at, source, message_id, message_date, detail in db.execute(
            "SELECT event, issue, at, source, message_id, message_date, detail FROM mailbox_events"
            " WHERE email_key = ? ORDER BY id", [normalise_address(address)],
        )
    ]
