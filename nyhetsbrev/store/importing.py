"""Import a CSV/XLSX recipients file into lists: committed in batches (a send waits a moment at most), a report."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NyhetsbrevError, StoreError
from .recipient_files import FIELDS, FileRow, open_recipient_file
from .db import Database, database_error, utc_now, write_retrying
from .recipients import clean_list_name, find_list
from .suppressions import Suppressed, address_hasher, load_suppressed
from ..i18n import _

BATCH = 5000  # rows per committed transaction: the write lock is never held for long
PROGRESS_EVERY = 2000
SKIPPED_KEPT = 1000  # skipped rows kept for the report; the rest are only counted
CHANGES_KEPT = 1000  # changed fields kept for the report; the rest are only counted
PATIENCE = 60.0  # seconds to wait for another program's write lock before each batch

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SkippedRow:
    """A row that was not imported: its number in the file, the address as written, and why."""

    row: int
    email: str
    reason: str


@dataclass(frozen=True)
class FieldChange:
    """One field of a person already in the database that an import changed (or, in a dry run, would change)."""

    email: str
    field: str
    old: str
    new: str


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
    skipped: list[SkippedRow] = field(default_factory=list)  # the first SKIPPED_KEPT of them
    skipped_total: int = 0
    joined: int = 0  # people already in the database who were not on every named list before
    changed: int = 0  # people already in the database whose fields the file changes
    changes: list[FieldChange] = field(default_factory=list)  # the first CHANGES_KEPT changed fields
    changes_total: int = 0
    kind: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None

    def skip(self, row: int, email: str, reason: str) -> None:
        """Count a skipped row; keep it for the report while fewer than SKIPPED_KEPT are kept."""
        self.skipped_total += 1
        if len(self.skipped) < SKIPPED_KEPT:
            self.skipped.append(SkippedRow(row, email, reason))

    def change(self, changes: list[FieldChange]) -> None:
        """Count changed fields; keep them for the report while fewer than CHANGES_KEPT are kept."""
        self.changes_total += len(changes)
        self.changes.extend(changes[:max(0, CHANGES_KEPT - len(self.changes))])


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


def _attributes_json(attributes: dict[str, str]) -> str:
    return json.dumps(attributes, ensure_ascii=False, sort_keys=True) if attributes else "{}"


def skip_reason(row: FileRow, suppressed: Suppressed, hash_of: Callable[[str], str]) -> str | None:
    """Why a row is not written: its problem, or that its address unsubscribed or bounced; None for a row to write."""
    if row.problem:
        return row.problem
    reason = suppressed.reason(row.email_key, hash_of)
    return _("{reason}; not added again").format(reason=reason) if reason else None


def import_recipients(
    db: Database, path: Path, lists: list[str], *, dry_run: bool = False, progress: Progress | None = None,
    on_skipped: Callable[[FileRow], None] | None = None, on_batch: Callable[[BatchCounts], None] | None = None,
) -> ImportReport:
    """Add a file's people to the named lists (created when new); skip bad, duplicate and suppressed rows.

    Rows are written in committed batches of BATCH; importing the same file again finishes an import that stopped.
    on_skipped sees every row skipped (a problem in the file, or a suppressed address); on_batch sees what each
    batch of the other rows did (or in a dry run would do).
    """
    path = Path(path)
    names = list(dict.fromkeys(clean_list_name(n) for n in lists))
    if not names:
        raise StoreError(_("no list given"), hint=_("name the list to import into with --list NAME"))
    source = open_recipient_file(path)
    report = ImportReport(
        file=path, lists=names, dry_run=dry_run, columns=source.mapping, kind=source.kind,
        encoding=source.encoding, delimiter=source.delimiter, sheet=source.sheet,
    )
    first_row = None
    try:
        list_ids = _lists(db, names, report, dry_run)
        suppressed = load_suppressed(db)
        hash_of = address_hasher(db)
        batch: list[FileRow] = []
        for number, row in enumerate(source.rows, start=1):
            if progress and number % PROGRESS_EVERY == 0:
                progress(row.row, source.size_hint)
            reason = skip_reason(row, suppressed, hash_of)
            if reason:
                if on_skipped is not None:
                    on_skipped(row)
                report.skip(row.row, row.email, reason)
                continue
            batch.append(row)
            if len(batch) >= BATCH:
                _write_batch(db, batch, list_ids, report, dry_run, on_batch)
                first_row, batch = None, []
            elif first_row is None:
                first_row = row.row
        _write_batch(db, batch, list_ids, report, dry_run, on_batch)
    except (sqlite3.Error, NyhetsbrevError) as exc:
        error = database_error(exc) if isinstance(exc, sqlite3.Error) else exc
        raise _stopped(error, report, first_row) from None
    finally:
        source.rows.close()
    if progress:
        progress(source.size_hint, source.size_hint)
    return report


def _stopped(error: NyhetsbrevError, report: ImportReport, first_row: int | None) -> NyhetsbrevError:
    """The error, saying what was already written when the import stopped after some batches."""
    written = report.imported + report.updated + report.unchanged
    if report.dry_run or not written:
        error.what = _("{what}; nothing was imported").format(what=error.what.rstrip("."))
    else:
        rows = _("the rows before row {row}").format(row=first_row) if first_row else _("the rows")
        error.what = _("{what}; {rows} were imported ({written}), the rest not: fix the cause and import the same file "
                       "again to finish (rows already in are left as they are)").format(
            what=error.what.rstrip("."), rows=rows, written=written)
    return error


def _lists(db: Database, names: list[str], report: ImportReport, dry_run: bool) -> dict[str, int]:
    """Name -> id of the import's lists; new ones are created (or, in a dry run, given made-up ids)."""
    def work() -> dict[str, int]:
        found, created = {}, []
        for name in names:
            row = find_list(db, name)
            if row:
                found[row[1]] = row[0]
            else:
                created.append(name)
                found[name] = -len(found) - 1 if dry_run else db.execute(
                    "INSERT INTO lists (name, created_at) VALUES (?, ?)", [name, utc_now()]).lastrowid
        report.lists_created = created
        return found

    found = work() if dry_run else write_retrying(db, work, patience=PATIENCE)
    report.lists = list(found)
    return found


def _write_batch(db: Database, batch: list[FileRow], list_ids: dict[str, int], report: ImportReport,
                 dry_run: bool, on_batch: Callable[[BatchCounts], None] | None = None) -> None:
    """Add or update one batch of good rows in one transaction (read-only in a dry run); counts into report."""
    if not batch:
        return
    counts = write_retrying(db, lambda: apply_batch(db, batch, list_ids, report.file.name, dry_run), patience=PATIENCE) \
        if not dry_run else apply_batch(db, batch, list_ids, report.file.name, dry_run)
    counts.count_into(report)
    if on_batch is not None:
        on_batch(counts)


@dataclass
class BatchCounts:
    """What one batch did (or would do); its rows that change something, and the ids of its people already stored."""

    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    joined: int = 0
    changed: int = 0
    changes: list[FieldChange] = field(default_factory=list)
    pending: list[FileRow] = field(default_factory=list)  # new people, changed fields, or a list joined
    stored: list[int] = field(default_factory=list)

    def count_into(self, report: ImportReport) -> None:
        """Add these counts to an import's report."""
        report.imported += self.imported
        report.updated += self.updated
        report.unchanged += self.unchanged
        report.joined += self.joined
        report.changed += self.changed
        report.change(self.changes)


def _field_changes(email: str, old: tuple, new: tuple, before: dict[str, str], after: dict[str, str]) -> list[FieldChange]:
    """The fields (and extra columns, before and after as dicts) whose values differ, old → new."""
    changes = [FieldChange(email, name, a or "", b or "") for name, a, b in zip(FIELDS, old, new) if a != b]
    if before != after:
        changes += [FieldChange(email, name, before.get(name, ""), after.get(name, ""))
                    for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)]
    return changes


def apply_batch(db: Database, batch: list[FileRow], list_ids: dict[str, int], file_name: str,
                dry_run: bool) -> BatchCounts:
    """The writes for one batch of good rows, against the database as it is now (none in a dry run); what they change."""
    conn = db.conn
    now = utc_now()
    keys = json.dumps([row.email_key for row in batch], ensure_ascii=False)
    known = {
        row[1]: (row[0], *row[2:])
        for row in conn.execute(
            "SELECT id, email_key, name, organisation, municipality, title, attributes FROM recipients"
            " WHERE email_key IN (SELECT value FROM json_each(?))", [keys],
        )
    }
    ids = list(list_ids.values())
    marks = ", ".join("?" * len(ids))
    members = set(conn.execute(
        f"SELECT recipient_id, list_id FROM memberships WHERE list_id IN ({marks}) AND recipient_id IN"
        " (SELECT id FROM recipients WHERE email_key IN (SELECT value FROM json_each(?)))", [*ids, keys],
    ))
    next_id = (conn.execute("SELECT max(id) FROM recipients").fetchone()[0] or 0) + 1
    writer = _Writer(db)
    counts = BatchCounts(stored=[person[0] for person in known.values()])
    for row in batch:
        fields = row.fields
        existing = known.get(row.email_key)
        if existing is None:
            recipient_id = next_id
            next_id += 1
            values = tuple(fields.get(f) for f in FIELDS)
            writer.new.append((recipient_id, row.email, row.email_key, row.email_ascii, *values,
                               _attributes_json(row.attributes), now, now))
            counts.imported += 1
            changed = counted = True
        else:
            recipient_id, *old_values, old_attributes = existing
            values = tuple(fields.get(f) or old for f, old in zip(FIELDS, old_values))
            attributes, before, after = old_attributes, {}, {}  # the dicts only when the file has extra columns
            if row.attributes:
                before = json.loads(old_attributes or "{}")
                after = {**before, **row.attributes}
                attributes = _attributes_json(after)
            changed = values != tuple(old_values) or attributes != old_attributes
            if changed:
                writer.changed.append((*values, attributes, now, recipient_id))
                counts.changed += 1
                counts.changes += _field_changes(row.email, tuple(old_values), values, before, after)
            counted = False
            if any((recipient_id, list_id) not in members for list_id in ids):
                counts.joined += 1
        # The reader already skips an address's second row in the file, so known and members need no updates here.
        for list_id in ids:
            if counted or (recipient_id, list_id) not in members:
                writer.members.append((recipient_id, list_id, now, f"import {file_name}"))
                writer.events.append((recipient_id, list_id, now, file_name, row.row))
                changed = True
        if changed:
            counts.pending.append(row)
        if not counted:
            if changed:
                counts.updated += 1
            else:
                counts.unchanged += 1
    if not dry_run:
        writer.flush()
    return counts
