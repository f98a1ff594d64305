"""The recipients database's schema, as migrations: applied in order by store.db.open_db, each in its own transaction."""

from __future__ import annotations


def _rekey_addresses(db) -> None:
    """Each address key made again from the address the person gave; their rows in other tables move along."""
    from .tokens import normalise_address

    tables = [name for name in db.table_names() if name != "recipients"
              and any(column.name == "email_key" for column in db[name].columns)]
    for recipient_id, email, key in db.execute(
        "SELECT id, email, email_key FROM recipients WHERE email GLOB '*[^ -~]*' OR lower(email) LIKE '%xn--%'"
    ).fetchall():
        new = normalise_address(email)
        if new == key or db.execute("SELECT 1 FROM recipients WHERE email_key = ?", [new]).fetchone():
            continue  # unchanged, or two people already filed apart
        db.execute("UPDATE recipients SET email_key = ? WHERE id = ?", [new, recipient_id])
        for table in tables:  # the person's suppressions, ledger rows … move with them
            db.execute(f'UPDATE OR IGNORE "{table}" SET email_key = ? WHERE email_key = ?', [new, key])


# Migrations: (name, statements or functions of the database), applied in this order on every open_db(), each in
# its own transaction.
# Append new ones at the END; never change or rename one that has been released.
MIGRATIONS: tuple[tuple[str, tuple], ...] = (
    # People, lists and who is on which list.
    ("m001_recipients", (
        """CREATE TABLE recipients (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL,
            email_key TEXT NOT NULL UNIQUE,
            email_ascii TEXT NOT NULL,
            name TEXT,
            organisation TEXT,
            municipality TEXT,
            title TEXT,
            attributes TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE lists (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            description TEXT,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE memberships (
            recipient_id INTEGER NOT NULL REFERENCES recipients(id) ON DELETE CASCADE,
            list_id INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
            added_at TEXT NOT NULL,
            source TEXT NOT NULL,
            PRIMARY KEY (recipient_id, list_id)
        )""",
        "CREATE INDEX idx_memberships_list_id ON memberships(list_id)",
    )),
    # What happened to a subscription, when, and from which file and row.
    ("m002_subscription_events", (
        """CREATE TABLE subscription_events (
            id INTEGER PRIMARY KEY,
            recipient_id INTEGER NOT NULL REFERENCES recipients(id) ON DELETE CASCADE,
            list_id INTEGER REFERENCES lists(id) ON DELETE SET NULL,
            event TEXT NOT NULL CHECK (event IN ('subscribed', 'removed', 'unsubscribed', 'bounced')),
            at TEXT NOT NULL,
            source TEXT NOT NULL,
            source_file TEXT,
            source_row INTEGER
        )""",
        "CREATE INDEX idx_subscription_events_recipient_id ON subscription_events(recipient_id)",
        "CREATE INDEX idx_subscription_events_list_id ON subscription_events(list_id)",
    )),
    # Addresses never to mail again: unsubscribed, bounced, forgotten (hash only).
    ("m003_suppressions", (
        """CREATE TABLE suppressions (
            id INTEGER PRIMARY KEY,
            reason TEXT NOT NULL CHECK (reason IN ('unsubscribed', 'bounced', 'forgotten')),
            email_key TEXT,
            address_hash TEXT NOT NULL,
            at TEXT NOT NULL,
            source TEXT NOT NULL,
            detail TEXT,
            CHECK (reason != 'forgotten' OR (email_key IS NULL AND detail IS NULL)),
            UNIQUE (address_hash, reason)
        )""",
        "CREATE INDEX idx_suppressions_email_key ON suppressions(email_key)",
    )),
    # One row per (issue, recipient): the state of that message.
    ("send_ledger_v1", (
        """CREATE TABLE send_ledger (
            issue TEXT NOT NULL,
            email_key TEXT NOT NULL,
            recipient_id INTEGER,
            email TEXT NOT NULL,
            lists TEXT NOT NULL DEFAULT '[]',
            state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'deferred', 'failed', 'unknown')),
            message_id TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            reply TEXT,
            next_attempt_at TEXT,
            updated_at TEXT NOT NULL,
            sent_at TEXT,
            PRIMARY KEY (issue, email_key)
        )""",
        "CREATE INDEX idx_send_ledger_state ON send_ledger(issue, state)",
    )),
    # Address keys made again by IDNA 2008 / UTS 46: before, ß in a domain became ss (anna@straße.de was filed
    # under anna@strasse.de). Each person's key is made again from the address they gave, in every table.
    ("m005_address_keys_idna2008", (_rekey_addresses,)),
    # What came back (inbox): each change it made, with the message it came from, and every message handled.
    ("mailbox_events_v1", (
        """CREATE TABLE mailbox_events (
            id INTEGER PRIMARY KEY,
            email_key TEXT NOT NULL,
            recipient_id INTEGER REFERENCES recipients(id) ON DELETE SET NULL,
            event TEXT NOT NULL CHECK (event IN ('unsubscribed', 'bounced', 'temporary_bounce', 'complained')),
            issue TEXT,
            at TEXT NOT NULL,
            source TEXT NOT NULL,
            message_id TEXT NOT NULL,
            message_date TEXT,
            detail TEXT
        )""",
        "CREATE INDEX idx_mailbox_events_email_key ON mailbox_events(email_key)",
        """CREATE TABLE mailbox_handled (
            message_key TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            handled_at TEXT NOT NULL,
            source TEXT NOT NULL
        )""",
        "CREATE INDEX idx_send_ledger_message_id ON send_ledger(message_id)",
    )),
    # Which version of an issue each person was sent: the audience version's key and a hash of its content,
    # so that a resumed send whose issue was edited in between is noticed (rows from before stay NULL).
    ("send_ledger_versions_v1", (
        "ALTER TABLE send_ledger ADD COLUMN version TEXT",
        "ALTER TABLE send_ledger ADD COLUMN fingerprint TEXT",
    )),
    # A send checks each batch as it claims it: people who unsubscribed, were suppressed or left the lists meanwhile
    # are recorded as 'skipped' (with why in reply). SQLite cannot change a CHECK, so the table is made again with
    # its rows in their order. The index of states holds only the rows a send still has to go through, so that a
    # message going out (pending → sending → sent) moves one index entry, not two. The table is written out whole
    # rather than built from send_ledger_v1's text: a migration that has run never changes, so none shares code.
    ("send_ledger_skipped_v1", (
        """CREATE TABLE send_ledger_next (
            issue TEXT NOT NULL,
            email_key TEXT NOT NULL,
            recipient_id INTEGER,
            email TEXT NOT NULL,
            lists TEXT NOT NULL DEFAULT '[]',
            state TEXT NOT NULL
                CHECK (state IN ('pending', 'sending', 'sent', 'deferred', 'failed', 'unknown', 'skipped')),
            message_id TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            reply TEXT,
            next_attempt_at TEXT,
            updated_at TEXT NOT NULL,
            sent_at TEXT,
            version TEXT,
            fingerprint TEXT,
            PRIMARY KEY (issue, email_key)
        )""",
        "INSERT INTO send_ledger_next (rowid, issue, email_key, recipient_id, email, lists, state, message_id, attempts,"
        " reply, next_attempt_at, updated_at, sent_at, version, fingerprint)"
        " SELECT rowid, issue, email_key, recipient_id, email, lists, state, message_id, attempts, reply,"
        " next_attempt_at, updated_at, sent_at, version, fingerprint FROM send_ledger ORDER BY rowid",
        "DROP TABLE send_ledger",
        "ALTER TABLE send_ledger_next RENAME TO send_ledger",
        "CREATE INDEX idx_send_ledger_due ON send_ledger(issue, state) WHERE state IN ('pending', 'deferred', 'unknown')",
        "CREATE INDEX idx_send_ledger_message_id ON send_ledger(message_id)",
    )),
    # inbox: addresses a report named beside another reader's old counter-style Message-ID (someone trying
    # counters with that address): old-style reports about them then wait for a person. One row per message.
    ("mailbox_guesses_v1", (
        """CREATE TABLE mailbox_guesses (
            email_key TEXT NOT NULL,
            message_key TEXT NOT NULL,
            issue TEXT,
            at TEXT NOT NULL,
            PRIMARY KEY (email_key, message_key)
        )""",
    )),
)
