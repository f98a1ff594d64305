"""The recipients database: where it lives, how it is opened and written, migrations applied (the one sqlite_utils module)."""

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
from .migrations import MIGRATIONS
from ..i18n import _

DB_ENV = "NYHETSBREV_DB"
DB_RELATIVE = Path("recipients") / "nyhetsbrev.db"

migrations = Migrations("nyhetsbrev")
T = TypeVar("T")
BUSY_PATIENCE = 60.0  # seconds a writer waits for another program's write lock before it gives up (None: for ever)
BUSY_TIMEOUT_MS = 10_000  # SQLite's own wait for a lock, inside each try
_BACKOFF_MAX = 2.0
_UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_opened: list[Path] = []  # the database this process opened last, named in errors raised far from open_db


def utc_now() -> str:
    """The current time in UTC as ISO 8601, e.g. 2024-05-01T12:00:00Z."""
    return utc_text(time.time())


def utc_text(epoch: float) -> str:
    """Seconds since the epoch as the database writes times: ISO 8601 in UTC, to the second."""
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime(_UTC_FORMAT)


def utc_epoch(text: str) -> float:
    """A time as the database writes it (utc_text) in seconds since the epoch."""
    return dt.datetime.strptime(text, _UTC_FORMAT).replace(tzinfo=dt.timezone.utc).timestamp()


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
            _("no recipients yet"), path=path, hint=_("import people with 'nyhetsbrev recipients import FILE --list NAME'")
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
            _("the recipients database was made by a newer nyhetsbrev ({join}): upgrade nyhetsbrev to use it; nothing was changed").format(join=', '.join(unknown)),
            path=path,
            hint=_("install the newest nyhetsbrev (pip install --upgrade nyhetsbrev) and run the command again"),
        )


def database_error(exc: BaseException, path: Path | None = None) -> StoreError:
    """A SQLite or file error as the user should read it: busy, read-only, disk full, or not a database."""
    path = path or (_opened[0] if _opened else None)
    message = str(exc.strerror if isinstance(exc, OSError) and exc.strerror else exc)
    code = getattr(exc, "sqlite_errorname", "") or ""
    if is_busy(exc):
        return StoreError(
            _("the recipients database is busy ({message})").format(message=message), path=path,
            hint=_("wait for the other nyhetsbrev command (a send?) to finish and run this one again"),
        )
    if code.startswith("SQLITE_READONLY") or "readonly" in message or getattr(exc, "errno", None) in (1, 13, 30):
        return StoreError(
            _("the recipients database cannot be written: it is read-only ({message})").format(message=message), path=path,
            hint=_("check that you may write to the database file and its folder (ask whoever set it up), then run the command again"),
        )
    if code.startswith(("SQLITE_FULL", "SQLITE_IOERR")) or "disk is full" in message or getattr(exc, "errno", None) == 28:
        return StoreError(
            _("the recipients database cannot be written: the disk is full or failing ({message}); nothing was changed").format(message=message),
            path=path, hint=_("free some disk space, then run the same command again"),
        )
    return StoreError(
        _("cannot open the recipients database: {message}").format(message=message), path=path,
        hint=_("check that the file is a nyhetsbrev database and that you may write to its folder"),
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
            _("the recipients database is busy: another program has held it for {waited:.0f} s ({exc})").format(waited=waited, exc=exc),
            path=db_file(db),
            hint=_("wait for the other nyhetsbrev command to finish, or close the program that has the database open (a sqlite browser, a backup?), then run the same command again"),
        ) from None
    sleep(min(_BACKOFF_MAX, 0.05 * 2 ** attempt))


def db_file(db: Database) -> Path:
    """The file behind an open database (for the key file that lives next to it)."""
    for _seq, name, filename in db.execute("PRAGMA database_list").fetchall():
        if name == "main" and filename:
            return Path(filename)
    raise StoreError(_("the recipients database has no file"), hint=_("open it from a file, not in memory"))


def scratch_copy(path: Path, folder: Path) -> Path:
    """A consistent copy of the database (and its key) in folder, for a trial run that must change nothing."""
    from .tokens import KEY_ENV, default_key_path

    target = Path(folder) / Path(path).name
    if Path(path).exists():
        # A plain connection, closed at once: being the last one, it leaves no -wal/-shm files behind.
        source = sqlite3.connect(Path(path))
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        except sqlite3.DatabaseError as exc:  # not a database, or locked: the same one line as open_db gives
            raise database_error(exc, Path(path)) from None
        finally:
            copy.close()
            source.close()
    key = default_key_path(Path(path))
    if key.exists() and not os.environ.get(KEY_ENV):
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
