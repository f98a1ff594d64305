"""Make a list hold exactly a file's people: first a plan (added, changed field by field, taken off), then the change.

Taking someone off a list only ends that membership: they are not unsubscribed, stay on their other lists, and
keep their consent history (a 'removed' event is added to it). People who unsubscribed or bounced get no mail
whatever a list holds; a replace leaves their memberships as they are (an export leaves them out too).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StoreError
from ..i18n import _
from .db import Database, database_error, utc_now, write_retrying
from .importing import BATCH, FILE_KEYS, PATIENCE, ImportReport, Progress, import_recipients
from .recipients import clean_list_name

TAKEN_OFF_KEPT = 1000  # addresses kept for the report; the rest are only counted


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
    """What replacing the list's members with the file's people would do; writes nothing."""
    name = _one_list(list_name)
    report = import_recipients(db, path, [name], dry_run=True, progress=progress, keep_keys=True)
    return _with_taken_off(db, ReplacePlan(report, name))


def apply_replace(db: Database, path: Path, list_name: str, *, progress: Progress | None = None) -> ReplacePlan:
    """Import the file into the list, then take off the list everyone not in it; what was done."""
    name = _one_list(list_name)
    report = import_recipients(db, path, [name], progress=progress, keep_keys=True)
    plan = _with_taken_off(db, ReplacePlan(report, name))
    list_id = _list_id(db, name)
    if list_id is None or not plan.taken_off_total:
        return plan
    source = f"replace {Path(path).name}"
    try:
        while write_retrying(db, lambda: _take_off_batch(db, list_id, source), patience=PATIENCE):
            pass
    except sqlite3.Error as exc:
        raise database_error(exc) from None
    return plan


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
_NOT_IN_FILE = f"{_ACTIVE} AND r.email_key NOT IN (SELECT email_key FROM {FILE_KEYS})"


def _with_taken_off(db: Database, plan: ReplacePlan) -> ReplacePlan:
    """The plan with the list's size and the members whose address is not among the file's (FILE_KEYS)."""
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
