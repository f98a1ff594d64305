"""The database schema: every table's columns as docs/database.md describes them, migrations applied once, pragmas."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from nyhetsbrev import store
from nyhetsbrev.errors import NoRecipientsYet, StoreError

# (column, declared type, NOT NULL, position in primary key) for EVERY table. A migration that adds or changes a
# table must update this and docs/database.md.
EXPECTED = {
    "_sqlite_migrations": [
        ("id", "INTEGER", 0, 1), ("migration_set", "TEXT", 0, 0), ("name", "TEXT", 0, 0), ("applied_at", "TEXT", 0, 0),
    ],
    "recipients": [
        ("id", "INTEGER", 0, 1), ("email", "TEXT", 1, 0), ("email_key", "TEXT", 1, 0), ("email_ascii", "TEXT", 1, 0),
        ("name", "TEXT", 0, 0), ("organisation", "TEXT", 0, 0), ("municipality", "TEXT", 0, 0), ("title", "TEXT", 0, 0),
        ("attributes", "TEXT", 1, 0), ("created_at", "TEXT", 1, 0), ("updated_at", "TEXT", 1, 0),
    ],
    "lists": [("id", "INTEGER", 0, 1), ("name", "TEXT", 1, 0), ("description", "TEXT", 0, 0), ("created_at", "TEXT", 1, 0)],
    "memberships": [
        ("recipient_id", "INTEGER", 1, 1), ("list_id", "INTEGER", 1, 2), ("added_at", "TEXT", 1, 0), ("source", "TEXT", 1, 0),
    ],
    "subscription_events": [
        ("id", "INTEGER", 0, 1), ("recipient_id", "INTEGER", 1, 0), ("list_id", "INTEGER", 0, 0), ("event", "TEXT", 1, 0),
        ("at", "TEXT", 1, 0), ("source", "TEXT", 1, 0), ("source_file", "TEXT", 0, 0), ("source_row", "INTEGER", 0, 0),
    ],
    "suppressions": [
        ("id", "INTEGER", 0, 1), ("reason", "TEXT", 1, 0), ("email_key", "TEXT", 0, 0), ("address_hash", "TEXT", 1, 0),
        ("at", "TEXT", 1, 0), ("source", "TEXT", 1, 0), ("detail", "TEXT", 0, 0),
    ],
    "send_ledger": [
        ("issue", "TEXT", 1, 1), ("email_key", "TEXT", 1, 2), ("recipient_id", "INTEGER", 0, 0), ("email", "TEXT", 1, 0),
        ("lists", "TEXT", 1, 0), ("state", "TEXT", 1, 0), ("message_id", "TEXT", 0, 0), ("attempts", "INTEGER", 1, 0),
        ("reply", "TEXT", 0, 0), ("next_attempt_at", "TEXT", 0, 0), ("updated_at", "TEXT", 1, 0), ("sent_at", "TEXT", 0, 0),
        ("version", "TEXT", 0, 0), ("fingerprint", "TEXT", 0, 0),
    ],
    "mailbox_events": [
        ("id", "INTEGER", 0, 1), ("email_key", "TEXT", 1, 0), ("recipient_id", "INTEGER", 0, 0), ("event", "TEXT", 1, 0),
        ("issue", "TEXT", 0, 0), ("at", "TEXT", 1, 0), ("source", "TEXT", 1, 0), ("message_id", "TEXT", 1, 0),
        ("message_date", "TEXT", 0, 0), ("detail", "TEXT", 0, 0),
    ],
    "mailbox_handled": [
        ("message_key", "TEXT", 0, 1), ("kind", "TEXT", 1, 0), ("handled_at", "TEXT", 1, 0), ("source", "TEXT", 1, 0),
    ],
    "mailbox_guesses": [
        ("email_key", "TEXT", 1, 1), ("message_key", "TEXT", 1, 2), ("issue", "TEXT", 0, 0), ("at", "TEXT", 1, 0),
    ],
}


# Every released migration, in the order it must run; a new one is appended here and at the end of store/db.py.
RELEASED = [
    "m001_recipients", "m002_subscription_events", "m003_suppressions", "send_ledger_v1", "m005_address_keys_idna2008",
    "mailbox_events_v1", "send_ledger_versions_v1", "send_ledger_skipped_v1", "mailbox_guesses_v1",
]


def _columns(db, table: str) -> list[tuple]:
    return [(c[1], c[2], c[3], c[5]) for c in db.execute(f'PRAGMA table_info("{table}")').fetchall()]


def test_every_table_has_exactly_the_documented_columns(tmp_path):
    db = store.open_db(tmp_path / "fresh.db")
    assert set(db.table_names()) == set(EXPECTED)
    for table, columns in EXPECTED.items():
        assert _columns(db, table) == columns, table


def test_docs_describe_every_table_and_column():
    docs = (Path(__file__).resolve().parent.parent / "docs" / "database.md").read_text(encoding="utf-8")
    for table, columns in EXPECTED.items():
        if table.startswith("_"):
            continue
        assert f"## {table}" in docs, table
        section = docs.split(f"## {table}", 1)[1].split("\n## ", 1)[0]
        for column, *_ in columns:
            assert f"`{column}`" in section, (table, column)


def test_migrations_run_once_and_in_order(tmp_path):
    path = tmp_path / "twice.db"
    store.open_db(path).close()
    db = store.open_db(path)
    assert _applied(db) == RELEASED


def _applied(db) -> list[str]:
    return [r[0] for r in db.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]


def test_pragmas_on_every_open(tmp_path):
    db = store.open_db(tmp_path / "p.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_foreign_keys_and_checks_hold(tmp_path):
    db = store.open_db(tmp_path / "fk.db")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO memberships VALUES (1, 1, '2024-01-01T00:00:00Z', 'x')")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO suppressions (reason, email_key, address_hash, at, source)"
                   " VALUES ('forgotten', 'a@example.se', 'h', 'now', 'x')")


def test_existing_database_gets_new_migrations(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE _sqlite_migrations (id INTEGER PRIMARY KEY, migration_set TEXT, name TEXT, applied_at TEXT)")
    conn.commit()
    conn.close()
    db = store.open_db(path)
    assert set(db.table_names()) == set(EXPECTED)


def test_an_older_database_gets_the_missing_table_and_keeps_its_people(tmp_path):
    path = tmp_path / "older.db"
    db = store.open_db(path)
    store.add_recipient(db, "kvar@example.se", ["Styrgrupp"], details={"name": "Kvar Kvarsson"})
    # As a database from before the send ledger was released (so also before everything released after it).
    for table in ("send_ledger", "mailbox_events", "mailbox_handled", "mailbox_guesses"):
        db.execute(f"DROP TABLE {table}")
    db.execute("DELETE FROM _sqlite_migrations WHERE id >= (SELECT id FROM _sqlite_migrations WHERE name = 'send_ledger_v1')")
    db.conn.commit()
    db.close()
    older = sqlite3.connect(path)
    assert "send_ledger" not in {r[0] for r in older.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    older.close()

    db = store.open_db(path)
    assert _columns(db, "send_ledger") == EXPECTED["send_ledger"]
    assert _applied(db) == RELEASED
    person = store.find_recipient(db, "kvar@example.se")
    assert person["name"] == "Kvar Kvarsson"
    assert [i.name for i in store.list_lists(db)] == ["Styrgrupp"]


def test_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "nyhetsbrev.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open the recipients database"):
        store.open_db(path)


def test_default_path_in_project_or_from_environment(tmp_path, monkeypatch):
    assert store.default_db_path(tmp_path) == Path(__import__("os").environ["NYHETSBREV_DB"])

    def no_project():
        raise AssertionError("the project is looked up only when NYHETSBREV_DB is not set")

    assert store.default_db_path(no_project) == Path(__import__("os").environ["NYHETSBREV_DB"])
    monkeypatch.delenv("NYHETSBREV_DB")
    assert store.default_db_path(tmp_path) == tmp_path / "recipients" / "nyhetsbrev.db"
    assert store.default_db_path(lambda: tmp_path) == tmp_path / "recipients" / "nyhetsbrev.db"


def test_opening_only_to_read_creates_nothing(tmp_path):
    path = tmp_path / "recipients" / "nyhetsbrev.db"
    with pytest.raises(NoRecipientsYet, match="no recipients yet"):
        store.open_db(path, create=False)
    assert not (tmp_path / "recipients").exists()
    store.open_db(path).close()
    assert set(store.open_db(path, create=False).table_names()) == set(EXPECTED)
