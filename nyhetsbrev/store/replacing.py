"""Make a list hold exactly a file's people: first a plan (added, changed field by field, taken off), then the change.

Taking someone off a list only ends that membership: they are not unsubscribed, stay on their other lists, and
keep their consent history (a 'removed' event is added to it). People who unsubscribed or bounced get no mail
whatever a list holds; a replace leaves their memberships as they are (an export leaves them out too).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StoreError
from ..i18n import _
from .db import Database, database_error, utc_now, write_retrying
from .importing import BATCH, PATIENCE, ImportReport, Progress, import_recipients
from .recipient_files import FileRow, RecipientFile
from .recipients import clean_list_name

TAKEN_OFF_KEPT = 1000  # addresses kept for the report; the rest are only counted
# The file's rows as the plan read and checked them: the change writes these (the file is read once, and what is
# done is what was shown), and everyone on the list whose address is not among them is taken off.
FILE_ROWS = "temp.replace_file_rows"


@dataclass
class ReplacePlan:
    """What a replace does (or did): the import's report, and who is taken off the list."""

    report: ImportReport
    list_name: str
    members_before: int = 0
    taken_off: list[str] = field(default_factory=list)  # the first TAKEN_OFF_KEPT, by address
    taken_off_total: int = 0

    @property
    def added(self) -> int:
        """People the list gains: new to the database, or already there and not yet on the list."""
        return self.report.imported + self.report.joined

    @property
    def changed(self) -> int:
        """People on the list or joining it whose stored fields the file changes."""
        return self.report.changed

    @property
    def large_removal(self) -> bool:
        """More than half of the list would be taken off: a wrong file must not empty a list by accident."""
        return self.taken_off_total * 2 > self.members_before


def plan_replace(db: Database, path: Path, list_name: str, *, progress: Progress | None = None) -> ReplacePlan:
    """What replacing the list's members with the file's people would do; writes nothing to the database."""
    name = _one_list(list_name)
    rows = _RowStore(db)
    report = import_recipients(db, path, [name], dry_run=True, progress=progress, on_row=rows.add,
                               on_unchanged=rows.unchanged)
    rows.flush()
    return _with_taken_off(db, ReplacePlan(report, name))


def apply_replace(db: Database, plan: ReplacePlan, *, progress: Progress | None = None) -> ReplacePlan:
    """Write the planned rows into the list, then take off the list everyone not among them; what was done."""
    name, path = plan.list_name, plan.report.file
    last = db.execute(f"SELECT max(row) FROM {FILE_ROWS}").fetchone()[0] or 0
    source = RecipientFile(path=path, kind=plan.report.kind, columns=list(plan.report.columns.values()),
                           mapping=plan.report.columns, header_row=0, size_hint=last, rows=_stored_rows(db),
                           encoding=plan.report.encoding, delimiter=plan.report.delimiter, sheet=plan.report.sheet)
    report = import_recipients(db, path, [name], progress=progress, source=source)
    report.unchanged += db.execute(f"SELECT count(*) FROM {FILE_ROWS} WHERE same").fetchone()[0]
    done = _with_taken_off(db, ReplacePlan(report, name))
    list_id = _list_id(db, name)
    if list_id is None or not done.taken_off_total:
        return done
    source = f"replace {Path(path).name}"
    try:
        while write_retrying(db, lambda: _take_off_batch(db, list_id, source), patience=PATIENCE):
            pass
    except sqlite3.Error as exc:
        raise database_error(exc) from None
    return done


class _RowStore:
    """Collects the rows read into FILE_ROWS (a temporary table: memory stays flat for a large file)."""

    def __init__(self, db: Database) -> None:
        self.conn, self.pending = db.conn, []
        self.conn.execute(f"CREATE TABLE IF NOT EXISTS {FILE_ROWS} (row INTEGER PRIMARY KEY, email TEXT,"
                          " email_key TEXT, email_ascii TEXT, fields TEXT, attributes TEXT, problem TEXT, same INTEGER DEFAULT 0)")
        self.conn.execute(f"CREATE INDEX IF NOT EXISTS {FILE_ROWS}_key ON replace_file_rows (email_key)")
        self.conn.execute(f"DELETE FROM {FILE_ROWS}")
        self.conn.commit()  # only the temporary table was written: the database's own lock is not held

    def add(self, row: FileRow) -> None:
        self.pending.append((row.row, row.email, row.email_key, row.email_ascii, json.dumps(row.fields, ensure_ascii=False),
                             json.dumps(row.attributes, ensure_ascii=False), row.problem))
        if len(self.pending) >= BATCH:
            self.flush()

    def unchanged(self, rows: list[int]) -> None:
        """Mark rows whose people are stored as the file has them: the change passes them over."""
        self.flush()
        self.conn.execute(f"UPDATE {FILE_ROWS} SET same = 1 WHERE row IN (SELECT value FROM json_each(?))", [json.dumps(rows)])
        self.conn.commit()

    def flush(self) -> None:
        self.conn.executemany(f"INSERT INTO {FILE_ROWS} (row, email, email_key, email_ascii, fields, attributes, problem)"
                              " VALUES (?, ?, ?, ?, ?, ?, ?)", self.pending)
        self.conn.commit()
        self.pending = []


def _stored_rows(db: Database) -> Iterator[FileRow]:
    """The rows in FILE_ROWS, in file order, a page at a time (no statement stays open across the import's commits)."""
    after = 0
    while True:
        page = db.execute(f"SELECT row, email, email_key, email_ascii, fields, attributes, problem FROM {FILE_ROWS}"
                          " WHERE row > ? AND NOT same ORDER BY row LIMIT ?", [after, BATCH]).fetchall()
        if not page:
            return
        for row, email, key, ascii_, fields, attributes, problem in page:
            yield FileRow(row=row, email=email, email_key=key, email_ascii=ascii_, fields=json.loads(fields),
                          attributes=json.loads(attributes), problem=problem)
        after = page[-1][0]


def _one_list(list_name: str) -> str:
    name = clean_list_name(list_name)
    if not name:
        raise StoreError(_("no list given"), hint=_("name the list to replace with --list NAME"))
    return name


def _list_id(db: Database, name: str) -> int | None:
    row = db.execute("SELECT id FROM lists WHERE name = ?", [name]).fetchone()
    return row[0] if row else None


_ACTIVE = ("FROM memberships m JOIN recipients r ON r.id = m.recipient_id WHERE m.list_id = ?"
           " AND r.email_key NOT IN (SELECT email_key FROM suppressions WHERE email_key IS NOT NULL)")
_NOT_IN_FILE = f"{_ACTIVE} AND r.email_key NOT IN (SELECT email_key FROM {FILE_ROWS})"


def _with_taken_off(db: Database, plan: ReplacePlan) -> ReplacePlan:
    """The plan with the list's size and the members whose address is not among the file's (FILE_ROWS)."""
    list_id = _list_id(db, plan.list_name)
    if list_id is None:
        return plan
    plan.members_before = db.execute(f"SELECT count(*) {_ACTIVE}", [list_id]).fetchone()[0]
    plan.taken_off_total = db.execute(f"SELECT count(*) {_NOT_IN_FILE}", [list_id]).fetchone()[0]
    plan.taken_off = [row[0] for row in db.execute(
        f"SELECT r.email {_NOT_IN_FILE} ORDER BY r.email_key LIMIT ?", [list_id, TAKEN_OFF_KEPT])]
    if plan.report.dry_run:
        return plan
    # After the import the file's people are all members: the size before is the members kept plus those taken off.
    plan.members_before = plan.members_before - plan.added
    return plan


def _take_off_batch(db: Database, list_id: int, source: str) -> int:
    """End up to BATCH memberships of people not in the file, each with a 'removed' event; how many."""
    ids = [row[0] for row in db.execute(f"SELECT m.recipient_id {_NOT_IN_FILE} LIMIT ?", [list_id, BATCH])]
    if not ids:
        return 0
    now = utc_now()
    db.conn.executemany("DELETE FROM memberships WHERE recipient_id = ? AND list_id = ?", [(i, list_id) for i in ids])
    db.conn.executemany(
        "INSERT INTO subscription_events (recipient_id, list_id, event, at, source) VALUES (?, ?, 'removed', ?, ?)",
        [(i, list_id, now, source) for i in ids])
    return len(ids)
