"""The send ledger: one row per (issue, recipient) so that a send can stop anywhere and resume without repeats."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..errors import SendLocked
from .db import db_file, utc_now

PENDING, SENDING, SENT, DEFERRED, FAILED, UNKNOWN = "pending", "sending", "sent", "deferred", "failed", "unknown"
STATES = (SENT, PENDING, DEFERRED, FAILED, UNKNOWN, SENDING)


@dataclass(frozen=True)
class Entry:
    """One recipient of a send: who, and through which of the named lists."""

    email_key: str
    email: str
    recipient_id: int | None
    lists: tuple[str, ...]


@dataclass
class Row:
    """A ledger row as read back."""

    email_key: str
    email: str
    recipient_id: int | None
    lists: tuple[str, ...]
    state: str
    message_id: str | None
    attempts: int
    reply: str | None
    next_attempt_at: str | None


@dataclass
class Plan:
    """What a send would do, computed without writing: counts by state for the current selection."""

    selected: int = 0
    new: int = 0
    by_state: Counter = field(default_factory=Counter)

    def to_send(self, resend_unknown: bool) -> int:
        """How many messages this run would try to send."""
        return self.new + self.by_state[PENDING] + self.by_state[DEFERRED] + (self.by_state[UNKNOWN] if resend_unknown else 0)


_COLUMNS = "email_key, email, recipient_id, lists, state, message_id, attempts, reply, next_attempt_at"


def _row(values: tuple) -> Row:
    key, email, rid, lists, state, mid, attempts, reply, nxt = values
    return Row(key, email, rid, tuple(json.loads(lists or "[]")), state, mid, attempts, reply, nxt)


def rows(db, issue: str) -> list[Row]:
    """Every ledger row of an issue."""
    return [_row(v) for v in db.execute(f"SELECT {_COLUMNS} FROM send_ledger WHERE issue = ? ORDER BY rowid", [issue])]


def recover(db, issue: str) -> int:
    """Rows left in 'sending' by a run that died become 'unknown' (the server may or may not have them)."""
    with db.atomic():
        cursor = db.execute(
            "UPDATE send_ledger SET state = ?, reply = ?, updated_at = ? WHERE issue = ? AND state = ?",
            [UNKNOWN, "the send stopped while this message was on its way", utc_now(), issue, SENDING],
        )
    return cursor.rowcount


def plan(db, issue: str, entries: Iterable[Entry]) -> Plan:
    """Counts for the selection: new people, and existing rows by state (nothing written)."""
    existing = {key: state for key, state in db.execute("SELECT email_key, state FROM send_ledger WHERE issue = ?", [issue])}
    result = Plan()
    for entry in entries:
        result.selected += 1
        state = existing.get(entry.email_key)
        if state is None:
            result.new += 1
        else:
            result.by_state[UNKNOWN if state == SENDING else state] += 1
    return result


def enqueue(db, issue: str, entries: Iterable[Entry]) -> None:
    """Add the selection as 'pending' (existing rows keep their state); unsent rows no longer selected are dropped."""
    now = utc_now()
    entries = list(entries)
    keys = {e.email_key for e in entries}
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO send_ledger (issue, email_key, recipient_id, email, lists, state, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (issue, email_key) DO UPDATE SET lists = excluded.lists, recipient_id = excluded.recipient_id"
            " WHERE send_ledger.state IN ('pending', 'deferred')",
            [(issue, e.email_key, e.recipient_id, e.email, json.dumps(sorted(e.lists), ensure_ascii=False), PENDING, now)
             for e in entries],
        )
        # People who left the lists or unsubscribed since the last run, and were never sent the issue.
        stale = [
            (issue, key) for (key,) in db.execute(
                "SELECT email_key FROM send_ledger WHERE issue = ? AND state IN ('pending', 'deferred')", [issue]
            ).fetchall() if key not in keys
        ]
        db.conn.executemany("DELETE FROM send_ledger WHERE issue = ? AND email_key = ?", stale)


def due(db, issue: str, *, resend_unknown: bool = False) -> list[Row]:
    """Rows this run should send: pending and deferred (and unknown when asked), oldest first."""
    states = [PENDING, DEFERRED] + ([UNKNOWN] if resend_unknown else [])
    marks = ", ".join("?" * len(states))
    return [
        _row(v) for v in db.execute(
            f"SELECT {_COLUMNS} FROM send_ledger WHERE issue = ? AND state IN ({marks}) ORDER BY rowid", [issue, *states]
        )
    ]


def mark_sending(db, issue: str, claims: Iterable[tuple[str, str]]) -> None:
    """Record (email_key, message_id) as 'sending' and commit, before any byte of DATA goes out."""
    write(db, issue, claims=claims)


@dataclass(frozen=True)
class Outcome:
    """What to write for one message after the server answered (or did not)."""

    email_key: str
    state: str
    reply: str | None = None
    next_attempt_at: str | None = None


def record(db, issue: str, outcomes: Iterable[Outcome]) -> None:
    """Write the outcomes of several messages in one transaction (only ever after the server's reply)."""
    write(db, issue, outcomes=outcomes)


def write(db, issue: str, *, outcomes: Iterable[Outcome] = (), claims: Iterable[tuple[str, str]] = ()) -> None:
    """Record outcomes and claim rows as 'sending' (with their Message-IDs) in one committed transaction."""
    now = utc_now()
    outcomes, claims = list(outcomes), list(claims)
    if not outcomes and not claims:
        return
    with db.atomic():
        if outcomes:
            db.conn.executemany(
                "UPDATE send_ledger SET state = ?, reply = coalesce(?, reply), next_attempt_at = ?, updated_at = ?,"
                " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END WHERE issue = ? AND email_key = ?",
                [(o.state, o.reply, o.next_attempt_at, now, o.state, now, issue, o.email_key) for o in outcomes],
            )
        if claims:
            db.conn.executemany(
                "UPDATE send_ledger SET state = ?, message_id = ?, attempts = attempts + 1, updated_at = ?"
                " WHERE issue = ? AND email_key = ?",
                [(SENDING, message_id, now, issue, key) for key, message_id in claims],
            )


def status(db, issue: str, *, running: bool = False) -> tuple[dict[str, Counter], list[Row]]:
    """Counts by state for each list the issue was sent through, and the failed rows with their replies.

    Rows in 'sending' count as 'unknown' unless a send is running right now.
    """
    per_list: dict[str, Counter] = {}
    failed = []
    for row in rows(db, issue):
        state = UNKNOWN if row.state == SENDING and not running else row.state
        for name in row.lists or ("(no list)",):
            per_list.setdefault(name, Counter())[state] += 1
        if row.state == FAILED:
            failed.append(row)
    return per_list, failed


def failed(db, issue: str) -> list[tuple[str, str]]:
    """The failed addresses of an issue with the server's replies."""
    return [(email, reply or "") for email, reply in db.execute(
        "SELECT email, reply FROM send_ledger WHERE issue = ? AND state = ? ORDER BY rowid", [issue, FAILED]
    )]


def later(seconds: float) -> str:
    """An ISO 8601 UTC time this many seconds from now."""
    moment = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class SendLock:
    """An OS lock file next to the database, one per issue; the OS frees it when the holder dies (even SIGKILL)."""

    def __init__(self, db, issue: str) -> None:
        self.path = lock_path(db_file(db), issue)
        self.issue = issue
        self._handle = None

    def __enter__(self) -> "SendLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")
        if not _try_lock(handle):
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise SendLocked(
                f"issue {self.issue} is already being sent ({holder})",
                path=self.path,
                hint="wait for that send to finish, or check 'nyhetsbrev status'; the lock goes away by itself when it ends",
            )
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}, started {utc_now()}")
        handle.flush()
        self._handle = handle
        return self

    def held_elsewhere(self) -> bool:
        """True while another process holds the lock (a send of this issue is running)."""
        if not self.path.exists():
            return False
        with open(self.path, "a+", encoding="utf-8") as handle:
            if _try_lock(handle):
                _unlock(handle)
                return False
            return True

    def __exit__(self, *exc: object) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.seek(0)
            handle.truncate()
            _unlock(handle)
            handle.close()


def _try_lock(handle) -> bool:
    try:
        if os.name == "nt":  # pragma: no cover - Windows
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def _unlock(handle) -> None:
    try:
        if os.name == "nt":  # pragma: no cover - Windows
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    except OSError:
        pass


def lock_path(db_path: Path, issue: str) -> Path:
    """Where the lock file of an issue's send lives."""
    return Path(db_path).with_name(f"{Path(db_path).name}.send-{issue.replace(':', '-')}.lock")
