"""Import a CSV/XLSX recipients file into lists: one transaction, batched writes, a report row by row."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StoreError
from .recipient_files import FIELDS, open_recipient_file
from .db import Database, db_file, utc_now
from .recipients import clean_list_name
from .suppressions import address_hasher, load_suppressed

BATCH = 5000
PROGRESS_EVERY = 2000

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SkippedRow:
    """A row that was not imported: its number in the file, the address as written, and why."""

    row: int
    email: str
    reason: str


@dataclass
class ImportReport:
    """What an import did (or, with dry_run, would do)."""

    file: Path
    lists: list[str]
    dry_run: bool = False
    columns: dict[str, str] = field(default_factory=dict)
    lists_created: list[str] = field(default_factory=list)
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[SkippedRow] = field(default_factory=list)
    kind: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None


class _Writer:
    """Collects the import's writes and sends them to SQLite in batches."""

    def __init__(self, db: Database) -> None:
        self.conn = db.conn
        self.new: list[tuple] = []
        self.changed: list[tuple] = []
        self.members: list[tuple] = []
        self.events: list[tuple] = []

    def flush(self) -> None:
        if self.new:
            self.conn.executemany(
                "INSERT INTO recipients (id, email, email_key, email_ascii, name, organisation, municipality, title,"
                " attributes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self.new,
            )
        if self.changed:
            self.conn.executemany(
                "UPDATE recipients SET name = ?, organisation = ?, municipality = ?, title = ?, attributes = ?,"
                " updated_at = ? WHERE id = ?",
                self.changed,
            )
        if self.members:
            self.conn.executemany(
                "INSERT INTO memberships (recipient_id, list_id, added_at, source) VALUES (?, ?, ?, ?)", self.members
            )
        if self.events:
            self.conn.executemany(
                "INSERT INTO subscription_events (recipient_id, list_id, event, at, source, source_file, source_row)"
                " VALUES (?, ?, 'subscribed', ?, 'import', ?, ?)",
                self.events,
            )
        self.new, self.changed, self.members, self.events = [], [], [], []

    def size(self) -> int:
        return len(self.new) + len(self.changed) + len(self.members)


def _attributes_json(attributes: dict[str, str]) -> str:
    return json.dumps(attributes, ensure_ascii=False, sort_keys=True) if attributes else "{}"


def import_recipients(
    db: Database, path: Path, lists: list[str], *, dry_run: bool = False, progress: Progress | None = None
) -> ImportReport:
    """Add a file's people to the named lists (created when new); skip bad, duplicate and suppressed rows."""
    path = Path(path)
    names = list(dict.fromkeys(clean_list_name(n) for n in lists))
    if not names:
        raise StoreError("no list given", hint="name the list to import into with --list NAME")
    source = open_recipient_file(path)
    report = ImportReport(
        file=path, lists=names, dry_run=dry_run, columns=source.mapping, kind=source.kind,
        encoding=source.encoding, delimiter=source.delimiter, sheet=source.sheet,
    )
    conn = db.conn
    try:
        if not dry_run:
            conn.execute("BEGIN IMMEDIATE")  # one transaction; the write lock also makes the ids below safe
        _run(db, source, names, report, dry_run, progress)
        if not dry_run:
            conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.OperationalError):
            raise _write_failed(exc, db) from None
        raise
    return report


def _write_failed(exc: sqlite3.OperationalError, db: Database) -> StoreError:
    """The import's SQLite failure as the user should read it: busy (try again later) or not writable."""
    message = str(exc)
    code = getattr(exc, "sqlite_errorname", "") or ""
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in message or "busy" in message:
        return StoreError(
            f"the recipients database is busy ({message}); nothing was imported",
            hint="wait for the other nyhetsbrev command (a send?) to finish and import again",
        )
    return StoreError(
        f"the recipients database cannot be written ({message}); nothing was imported",
        path=db_file(db),
        hint="check the disk space and that you may write to the database file and its folder",
    )


def _run(db: Database, source, names: list[str], report: ImportReport, dry_run: bool, progress) -> None:
    conn = db.conn
    now = utc_now()
    file_name = report.file.name
    list_ids: dict[str, int] = {}
    for name in names:
        row = conn.execute("SELECT id, name FROM lists WHERE name = ?", [name]).fetchone()
        if row:
            list_ids[row[1]] = row[0]
        else:
            report.lists_created.append(name)
            if dry_run:
                list_ids[name] = -len(list_ids) - 1
            else:
                cursor = conn.execute("INSERT INTO lists (name, created_at) VALUES (?, ?)", [name, now])
                list_ids[name] = cursor.lastrowid
    report.lists = list(list_ids)
    ids = list(list_ids.values())
    marks = ", ".join("?" * len(ids))
    members = set(conn.execute(f"SELECT recipient_id, list_id FROM memberships WHERE list_id IN ({marks})", ids))
    known = {
        row[1]: (row[0], *row[2:])
        for row in conn.execute(
            "SELECT id, email_key, name, organisation, municipality, title, attributes FROM recipients"
        )
    }
    next_id = (conn.execute("SELECT max(id) FROM recipients").fetchone()[0] or 0) + 1
    suppressed = load_suppressed(db)
    hash_of = address_hasher(db)

    writer = _Writer(db)
    total = source.size_hint
    for number, row in enumerate(source.rows, start=1):
        if progress and number % PROGRESS_EVERY == 0:
            progress(row.row, total)
        if row.problem:
            report.skipped.append(SkippedRow(row.row, row.email, row.problem))
            continue
        reason = suppressed.reason(row.email_key, hash_of)
        if reason:
            report.skipped.append(SkippedRow(row.row, row.email, f"{reason}; not added again"))
            continue
        fields = row.fields
        existing = known.get(row.email_key)
        if existing is None:
            recipient_id = next_id
            next_id += 1
            attributes = _attributes_json(row.attributes)
            values = tuple(fields.get(f) for f in FIELDS)
            writer.new.append((recipient_id, row.email, row.email_key, row.email_ascii, *values, attributes, now, now))
            changed = True
            report.imported += 1
            counted = True
        else:
            recipient_id, *old_values, old_attributes = existing
            values = tuple(fields.get(f) or old for f, old in zip(FIELDS, old_values))
            attributes = old_attributes
            if row.attributes:
                merged = {**json.loads(old_attributes or "{}"), **row.attributes}
                attributes = _attributes_json(merged)
            changed = values != tuple(old_values) or attributes != old_attributes
            if changed:
                writer.changed.append((*values, attributes, now, recipient_id))
            counted = False
        # The reader already skips an address's second row in the file, so known and members need no updates here.
        for list_id in ids:
            if counted or (recipient_id, list_id) not in members:
                writer.members.append((recipient_id, list_id, now, f"import {file_name}"))
                writer.events.append((recipient_id, list_id, now, file_name, row.row))
                changed = True
        if not counted:
            if changed:
                report.updated += 1
            else:
                report.unchanged += 1
        if not dry_run and writer.size() >= BATCH:
            writer.flush()
    if not dry_run:
        writer.flush()
    if progress:
        progress(total, total)
