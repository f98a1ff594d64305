"""Make a list hold exactly a file's people: first a plan (added, changed field by field, taken off), then the change.

Taking someone off a list only ends that membership: they are not unsubscribed, stay on their other lists, and
keep their consent history (a 'removed' event is added to it). People who unsubscribed or bounced get no mail
whatever a list holds; a replace leaves their memberships as they are (an export leaves them out too).

The change is one transaction: a replace that stops (a crash, a full disk, Ctrl-C) leaves the list as it was. It does
what the plan showed or nothing: when the people it would take off are not the ones shown (someone joined the list
while the question waited), it refuses. A file with a row that cannot be read as a person (a bad address, a line
break in a cell) changes nothing either: the list would not hold exactly the file's people, and a wrong file must
not change a list by accident. Such a row's address, when it is good, still counts as in the file.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import StoreError
from ..i18n import _, ngettext
from .db import Database, database_error, utc_now, write_retrying
from .importing import BATCH, PATIENCE, BatchCounts, ImportReport, Progress, apply_batch, import_recipients, skip_reason
from .recipient_files import FileRow
from .recipients import clean_list_name, find_list, list_ids
from .suppressions import address_hasher, load_suppressed

TAKEN_OFF_KEPT = 1000  # addresses kept for the report; the rest are only counted
# The ids of the file's people already stored (of skipped rows too): everyone else on the list is taken off.
FILE_PEOPLE = "temp.replace_file_people"
TAKEN_OFF = "temp.replace_taken_off"  # who the change takes off, found once inside its transaction
# The rows that change something (new people, changed fields, joining the list), as the plan read and checked them:
# the change writes these (the file is read once, and what is done is what was shown).
PENDING = "temp.replace_pending_rows"


@dataclass
class ReplacePlan:
    """What a replace does (or did): the import's report, and who is taken off the list."""

    report: ImportReport
    list_name: str
    members_before: int = 0
    taken_off: list[str] = field(default_factory=list)  # the first TAKEN_OFF_KEPT, by address
    taken_off_total: int = 0
    taken_off_digest: str = ""  # of everyone taken off: the change refuses when it would take off others
    problem_rows: int = 0  # rows that cannot be read as a person (duplicates are not counted)

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
    name = clean_list_name(list_name)
    rows = _FileStore(db)
    report = import_recipients(db, path, [name], dry_run=True, progress=progress, on_skipped=rows.skipped,
                               on_batch=rows.batch)
    rows.flush()
    plan = ReplacePlan(report, name, problem_rows=rows.problems)
    list_id = _list_id(db, name)
    if list_id is not None:
        plan.members_before, plan.taken_off_total, plan.taken_off_digest, plan.taken_off = _taken_off_now(db, list_id)
    return plan


def problem_rows_error(plan: ReplacePlan) -> StoreError:
    """The one-line refusal of a replace from a file with rows that cannot be read as a person."""
    return StoreError(
        ngettext("not replacing: {count} row of the file cannot be read as a person (see the skipped rows), so the "
                 "list would not hold exactly the file's people; nothing was changed",
                 "not replacing: {count} rows of the file cannot be read as a person (see the skipped rows), so the "
                 "list would not hold exactly the file's people; nothing was changed",
                 plan.problem_rows).format(count=plan.problem_rows),
        path=plan.report.file, hint=_("correct or delete those rows in the file and run the same command again"))


def apply_replace(db: Database, plan: ReplacePlan, *, progress: Progress | None = None) -> ReplacePlan:
    """Write the planned rows into the list and take off the list everyone not in the file, in one transaction."""
    if plan.problem_rows:
        raise problem_rows_error(plan)
    try:
        return write_retrying(db, lambda: _replace(db, plan, progress), patience=PATIENCE)
    except sqlite3.Error as exc:
        error = database_error(exc)
        error.what = _("{what}; nothing was changed").format(what=error.what.rstrip("."))
        raise error from None


def _replace(db: Database, plan: ReplacePlan, progress: Progress | None) -> ReplacePlan:
    """The change, inside the write transaction: refused when the list changed since the plan was made."""
    name, old = plan.list_name, plan.report
    list_id = _list_id(db, name)
    members, total, digest, _shown = _taken_off_now(db, list_id, keep=0) if list_id else (0, 0, "", [])
    if (total, digest) != (plan.taken_off_total, plan.taken_off_digest):
        raise StoreError(
            _("not replacing: list '{name}' changed while the plan was shown: {now} people would be taken off, "
              "not the {shown} shown; nothing was changed").format(name=name, now=total, shown=plan.taken_off_total),
            path=old.file, hint=_("run the same command again to see the new plan"))
    # The plan's report without its counts of writes: this change counts what it writes itself.
    report = replace(old, lists=[name], dry_run=False, lists_created=[] if list_id else [name], skipped=list(old.skipped),
                     imported=0, updated=0, joined=0, changed=0, changes=[], changes_total=0)
    ids = list_ids(db, [name], create=True)
    suppressed, hash_of = load_suppressed(db), address_hasher(db)
    done = 0
    for page in _pending_pages(db):
        good = []
        for row in page:  # someone who unsubscribed while the question waited is not added again
            reason = skip_reason(row, suppressed, hash_of)
            if reason:
                report.skip(row.row, row.email, reason)
            else:
                good.append(row)
        apply_batch(db, good, ids, old.file.name, dry_run=False).count_into(report)
        done += len(page)
        if progress:
            progress(done, plan.report.imported + plan.report.updated)
    result = ReplacePlan(report, name, members_before=members, taken_off=plan.taken_off, taken_off_digest=digest)
    if list_id:
        result.taken_off_total = _take_off(db, list_id, f"replace {Path(old.file).name}")
    return result


class _FileStore:
    """Keeps who is in the file and the pending rows in temporary tables (memory stays flat for a large file)."""

    def __init__(self, db: Database) -> None:
        self.conn, self.keys, self.problems = db.conn, [], 0
        self.conn.execute(f"CREATE TABLE IF NOT EXISTS {FILE_PEOPLE} (id INTEGER PRIMARY KEY)")
        self.conn.execute(f"CREATE TABLE IF NOT EXISTS {PENDING} (row INTEGER PRIMARY KEY, email TEXT, email_key TEXT,"
                          " email_ascii TEXT, cells BLOB)")  # cells: marshal of (fields, attributes), read back only here
        self.conn.execute(f"CREATE TABLE IF NOT EXISTS {TAKEN_OFF} (id INTEGER PRIMARY KEY, email_key TEXT, email TEXT)")
        for table in (FILE_PEOPLE, PENDING, TAKEN_OFF):
            self.conn.execute(f"DELETE FROM {table}")
        self.conn.commit()  # only temporary tables were written: the database's own lock is not held

    def skipped(self, row: FileRow) -> None:
        """A skipped row: its person, when stored, stays on the list; a problem other than a duplicate is counted."""
        if row.email_key:
            self.keys.append((row.email_key,))
            if len(self.keys) >= BATCH:
                self.flush()
        if row.problem and not row.duplicate_of:
            self.problems += 1

    def batch(self, counts: BatchCounts) -> None:
        """Note a batch's people already stored, and keep its rows that change something for the change to write."""
        self.conn.execute(f"INSERT OR IGNORE INTO {FILE_PEOPLE} SELECT value FROM json_each(?)", [json.dumps(counts.stored)])
        self.conn.executemany(f"INSERT INTO {PENDING} VALUES (?, ?, ?, ?, ?)", (
            (r.row, r.email, r.email_key, r.email_ascii, marshal.dumps((r.fields, r.attributes))) for r in counts.pending))
        self.conn.commit()

    def flush(self) -> None:
        self.conn.executemany(f"INSERT OR IGNORE INTO {FILE_PEOPLE} SELECT id FROM recipients WHERE email_key = ?",
                              self.keys)
        self.conn.commit()
        self.keys = []


def _pending_pages(db: Database) -> Iterator[list[FileRow]]:
    """The pending rows in file order, a page of BATCH at a time."""
    after = 0
    while True:
        page = db.execute(f"SELECT row, email, email_key, email_ascii, cells FROM {PENDING}"
                          " WHERE row > ? ORDER BY row LIMIT ?", [after, BATCH]).fetchall()
        if not page:
            return
        yield [FileRow(row, email, key, ascii_, *marshal.loads(cells)) for row, email, key, ascii_, cells in page]
        after = page[-1][0]


def _list_id(db: Database, name: str) -> int | None:
    found = find_list(db, name)
    return found[0] if found else None


# People who unsubscribed or bounced: a replace leaves their memberships as they are.
_SUPPRESSED = "(SELECT r.id FROM suppressions s JOIN recipients r ON r.email_key = s.email_key)"


def _taken_off_now(db: Database, list_id: int, keep: int = TAKEN_OFF_KEPT) -> tuple[int, int, str, list[str]]:
    """The list's active members, how many of them the file takes off (into TAKEN_OFF), a digest of their
    addresses, and the first `keep` of them."""
    members = db.execute(f"SELECT count(*) FROM memberships WHERE list_id = ? AND recipient_id NOT IN {_SUPPRESSED}",
                         [list_id]).fetchone()[0]
    db.execute(f"DELETE FROM {TAKEN_OFF}")
    db.execute(f"INSERT INTO {TAKEN_OFF} SELECT r.id, r.email_key, r.email FROM memberships m JOIN recipients r"
               f" ON r.id = m.recipient_id WHERE m.list_id = ? AND m.recipient_id NOT IN (SELECT id FROM {FILE_PEOPLE})"
               f" AND m.recipient_id NOT IN {_SUPPRESSED}", [list_id])
    digest, total, shown = hashlib.sha256(), 0, []
    for key, email in db.execute(f"SELECT email_key, email FROM {TAKEN_OFF} ORDER BY email_key"):
        digest.update(key.encode() + b"\n")
        total += 1
        if len(shown) < keep:
            shown.append(email)
    return members, total, digest.hexdigest(), shown


def _take_off(db: Database, list_id: int, source: str) -> int:
    """End the memberships of the people in TAKEN_OFF, each with a 'removed' event; how many."""
    db.execute(f"INSERT INTO subscription_events (recipient_id, list_id, event, at, source)"
               f" SELECT id, ?, 'removed', ?, ? FROM {TAKEN_OFF} ORDER BY id", [list_id, utc_now(), source])
    return db.execute(f"DELETE FROM memberships WHERE list_id = ? AND recipient_id IN (SELECT id FROM {TAKEN_OFF})",
                      [list_id]).rowcount
