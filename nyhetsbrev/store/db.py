"""The recipients database: where it lives, how it is opened, and its migrations (the one sqlite_utils module)."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from ..errors import StoreError

DB_ENV = "NYHETSBREV_DB"
DB_RELATIVE = Path("recipients") / "nyhetsbrev.db"

migrations = Migrations("nyhetsbrev")


def utc_now() -> str:
    """The current time in UTC as ISO 8601, e.g. 2024-05-01T12:00:00Z."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_db_path(project_root: Path | None = None) -> Path:
    """NYHETSBREV_DB when set, else <project>/recipients/nyhetsbrev.db (the nearest project when none is given)."""
    named = os.environ.get(DB_ENV)
    if named:
        return Path(named).expanduser()
    if project_root is None:
        from ..config import find_root

        project_root = find_root()
    return Path(project_root) / DB_RELATIVE


def open_db(path: Path | None = None) -> Database:
    """Open (creating if needed) the database: WAL, synchronous=NORMAL, foreign keys on, migrations applied."""
    path = Path(path) if path is not None else default_db_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = Database(path, execute_plugins=False)
        db.enable_wal()
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=10000")
        migrations.apply(db)
    except (sqlite3.DatabaseError, OSError) as exc:
        raise StoreError(
            f"cannot open the recipients database: {exc}",
            path=path,
            hint="check that the file is a nyhetsbrev database and that you may write to its folder",
        ) from None
    return db


def db_file(db: Database) -> Path:
    """The file behind an open database (for the key file that lives next to it)."""
    for _seq, name, filename in db.execute("PRAGMA database_list").fetchall():
        if name == "main" and filename:
            return Path(filename)
    raise StoreError("the recipients database has no file", hint="open it from a file, not in memory")


def checkpoint(db: Database, vacuum: bool = False) -> bool:
    """Write the WAL back into the database file (VACUUM first if asked); False when a reader kept it from finishing."""
    try:
        if vacuum:
            db.execute("VACUUM")
        busy = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    except sqlite3.OperationalError:  # another program holds the database; the caller reports it
        return False
    return not busy


# Migrations, applied in the order they are registered here on every open_db().
# Append new ones at the END of this file; never change one that has been released.


def _run(db: Database, *statements: str) -> None:
    for statement in statements:
        db.execute(statement)


@migrations(name="m001_recipients")
def m001_recipients(db: Database) -> None:
    """People, lists and who is on which list."""
    _run(
        db,
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
    )


@migrations(name="m002_subscription_events")
def m002_subscription_events(db: Database) -> None:
    """What happened to a subscription, when, and from which file and row."""
    _run(
        db,
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
    )


@migrations(name="m003_suppressions")
def m003_suppressions(db: Database) -> None:
    """Addresses never to mail again: unsubscribed, bounced, forgotten (hash only)."""
    _run(
        db,
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
    )


@migrations(name="send_ledger_v1")
def send_ledger_v1(db: Database) -> None:
    """One row per (issue, recipient): the state of that message."""
    _run(
        db,
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
    )
