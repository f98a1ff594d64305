"""The recipients database: where it lives, how it is opened, and its migrations (the one sqlite_utils module)."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from ..errors import NoRecipientsYet, StoreError

DB_ENV = "NYHETSBREV_DB"
DB_RELATIVE = Path("recipients") / "nyhetsbrev.db"

migrations = Migrations("nyhetsbrev")
T = TypeVar("T")
BUSY_PATIENCE = 60.0  # seconds a writer waits for another program's write lock before it gives up (None: for ever)
BUSY_TIMEOUT_MS = 10_000  # SQLite's own wait for a lock, inside each try
_BACKOFF_MAX = 2.0
_opened: list[Path] = []  # the database this process opened last, named in errors raised far from open_db


def utc_now() -> str:
    """The current time in UTC as ISO 8601, e.g. 2024-05-01T12:00:00Z."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_db_path(project_root: Path | Callable[[], Path]) -> Path:
    """NYHETSBREV_DB when set, else <project>/recipients/nyhetsbrev.db (project_root may be a function finding it)."""
    named = os.environ.get(DB_ENV)
    if named:
        return Path(named).expanduser()
    root = project_root() if callable(project_root) else project_root
    return Path(root) / DB_RELATIVE


def open_db(path: Path, *, create: bool = True) -> Database:
    """Open the database (WAL, synchronous=NORMAL, foreign keys on, migrations applied); made when new if create.

    With create=False a missing database raises NoRecipientsYet and nothing is written (for commands that only read).
    The file, its WAL and shared-memory files are private to the owner (0600): they hold personal data.
    A database made by a newer nyhetsbrev is refused before anything is written to it.
    """
    path = Path(path)
    if not create and not path.exists():
        raise NoRecipientsYet(
            "no recipients yet", path=path, hint="import people with 'nyhetsbrev recipients import FILE --list NAME'"
        )
    try:
        _create_private(path)
        db = Database(path, execute_plugins=False)
        _refuse_newer(db, path)
        db.enable_wal()
        _make_private(path)
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        migrations.apply(db)
    except (sqlite3.DatabaseError, OSError) as exc:
        raise database_error(exc, path) from None
    _opened[:] = [path]
    return db


def _create_private(path: Path) -> None:
    """Make a new, empty database file with mode 0600 (SQLite gives its -wal and -shm files the same mode)."""
    if path.exists():
        return
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:  # another process made it first
        pass


def _make_private(path: Path) -> None:
    """Files of a database made before nyhetsbrev kept them private are made 0600 too."""
    if os.name != "posix":  # pragma: no cover - Windows keeps files private by their folder's ACL
        return
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if name.stat().st_mode & 0o077:
                os.chmod(name, 0o600)
        except OSError:  # not there (yet), or not ours to change
            pass


def known_migrations() -> list[str]:
    """The names of the migrations this version of nyhetsbrev knows, in order."""
    return [name for name, _ in MIGRATIONS]


def _refuse_newer(db: Database, path: Path) -> None:
    """Refuse a database holding migrations this version does not know, before writing anything to it."""
    if not db[migrations.migrations_table].exists():
        return
    known = set(known_migrations())
    unknown = [
        name for (name,) in db.execute(
            f"SELECT name FROM {migrations.migrations_table} WHERE migration_set = ? ORDER BY rowid", [migrations.name]
        ) if name not in known
    ]
    if unknown:
        db.close()
        raise StoreError(
            f"the recipients database was made by a newer nyhetsbrev ({', '.join(unknown)}): upgrade nyhetsbrev "
            "to use it; nothing was changed",
            path=path,
            hint="install the newest nyhetsbrev (pip install --upgrade nyhetsbrev) and run the command again",
        )


def database_error(exc: BaseException, path: Path | None = None) -> StoreError:
    """A SQLite or file error as the user should read it: busy, read-only, disk full, or not a database."""
    path = path or (_opened[0] if _opened else None)
    message = str(exc.strerror if isinstance(exc, OSError) and exc.strerror else exc)
    code = getattr(exc, "sqlite_errorname", "") or ""
    if is_busy(exc):
        return StoreError(
            f"the recipients database is busy ({message})", path=path,
            hint="wait for the other nyhetsbrev command (a send?) to finish and run this one again",
        )
    if code.startswith("SQLITE_READONLY") or "readonly" in message or getattr(exc, "errno", None) in (1, 13, 30):
        return StoreError(
            f"the recipients database cannot be written: it is read-only ({message})", path=path,
            hint="check that you may write to the database file and its folder (ask whoever set it up), "
            "then run the command again",
        )
    if code.startswith(("SQLITE_FULL", "SQLITE_IOERR")) or "disk is full" in message or getattr(exc, "errno", None) == 28:
        return StoreError(
            f"the recipients database cannot be written: the disk is full or failing ({message}); nothing was changed",
            path=path, hint="free some disk space, then run the same command again",
        )
    return StoreError(
        f"cannot open the recipients database: {message}", path=path,
        hint="check that the file is a nyhetsbrev database and that you may write to its folder",
    )


def is_busy(exc: BaseException) -> bool:
    """True when a SQLite error means another connection holds the lock (busy or locked), not a real failure."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    return code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text or "busy" in text


@contextlib.contextmanager
def write_lock(db: Database, *, patience: float | None = BUSY_PATIENCE,
               sleep: Callable[[float], None] = time.sleep) -> Iterator[Database]:
    """A write transaction that takes the lock first, waiting with back-off while another program holds it.

    Commits at the end and rolls back on an error; inside an open transaction it is a savepoint of that one.
    (A deferred BEGIN that reads first could fail half-way when another program wrote meanwhile.)
    """
    conn = db.conn
    if conn.in_transaction:
        with db.atomic():
            yield db
        return
    started = time.monotonic()
    for attempt in itertools.count():
        try:
            conn.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as exc:
            _wait_or_give_up(db, exc, started, attempt, patience, sleep)
    try:
        yield db
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def write_retrying(
    db: Database, work: Callable[[], T], *, patience: float | None = BUSY_PATIENCE,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run work() in one write transaction (write_lock), all of it again if the database was busy half-way.

    patience=None waits for as long as it takes (the send ledger: a reply the server gave is never lost to a lock).
    Inside an open transaction work() just runs: the outer writer owns the retry.
    """
    started = time.monotonic()
    for attempt in itertools.count():
        try:
            with write_lock(db, patience=patience, sleep=sleep):
                return work()
        except sqlite3.OperationalError as exc:
            if db.conn.in_transaction:
                raise
            _wait_or_give_up(db, exc, started, attempt, patience, sleep)
    raise AssertionError("unreachable")  # pragma: no cover


def _wait_or_give_up(db: Database, exc: sqlite3.OperationalError, started: float, attempt: int,
                     patience: float | None, sleep: Callable[[float], None]) -> None:
    """Sleep before the next try (0.05 s, doubling up to 2 s); re-raise what is not busy; StoreError past patience."""
    if not is_busy(exc):
        raise exc
    waited = time.monotonic() - started
    if patience is not None and waited >= patience:
        raise StoreError(
            f"the recipients database is busy: another program has held it for {waited:.0f} s ({exc})",
            path=db_file(db),
            hint="wait for the other nyhetsbrev command to finish, or close the program that has the "
            "database open (a sqlite browser, a backup?), then run the same command again",
        ) from None
    sleep(min(_BACKOFF_MAX, 0.05 * 2 ** attempt))


def db_file(db: Database) -> Path:
    """The file behind an open database (for the key file that lives next to it)."""
    for _seq, name, filename in db.execute("PRAGMA database_list").fetchall():
        if name == "main" and filename:
            return Path(filename)
    raise StoreError("the recipients database has no file", hint="open it from a file, not in memory")


def scratch_copy(path: Path, folder: Path) -> Path:
    """A consistent copy of the database (and its key) in folder, for a trial run that must change nothing."""
    from .tokens import default_key_path

    target = Path(folder) / Path(path).name
    if Path(path).exists():
        # A plain connection, closed at once: being the last one, it leaves no -wal/-shm files behind.
        source = sqlite3.connect(Path(path))
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
    key = default_key_path(Path(path))
    if key.exists() and not os.environ.get("NYHETSBREV_KEY_FILE"):
        shutil.copyfile(key, default_key_path(target))
    return target


def checkpoint(db: Database, vacuum: bool = False) -> bool:
    """Write the WAL back into the database file (VACUUM first if asked); False when a reader kept it from finishing."""
    try:
        if vacuum:
            db.execute("VACUUM")
        busy = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    except sqlite3.OperationalError:  # another program holds the database; the caller reports it
        return False
    return not busy


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
    ("m005_address_keys_idna2008", (lambda db: _rekey_addresses(db),)),
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
)


def _rekey_addresses(db: Database) -> None:
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


def _register(name: str, statements: tuple) -> None:
    def migrate(db: Database) -> None:
        for statement in statements:
            if callable(statement):
                statement(db)
            else:
                db.execute(statement)

    migrate.__name__ = name
    migrations(name=name)(migrate)


for _name, _statements in MIGRATIONS:
    _register(_name, _statements)
