"""The send ledger: one row per (issue, recipient) so that a send can stop anywhere and resume without repeats."""

from __future__ import annotations

import json
import os
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..errors import SendLocked
from ..project.models import IssueId
from .db import db_file, default_db_path, open_db, utc_now, utc_text, write_retrying

PENDING, SENDING, SENT, DEFERRED, FAILED, UNKNOWN = "pending", "sending", "sent", "deferred", "failed", "unknown"


@dataclass(frozen=True)
class Entry:
    """One recipient of a send: who, and through which of the named lists."""

    email_key: str
    email: str
    recipient_id: int | None
    lists: tuple[str, ...]
    version: str = ""  # the audience version they get (render.issue.version_key)
    fingerprint: str | None = None  # a hash of that version's content


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


def _seen(state: str, running: bool = False) -> str:
    """The state to report: 'sending' with no send running means the run died on the way, so nobody knows."""
    return UNKNOWN if state == SENDING and not running else state


def rows(db, issue: str) -> list[Row]:
    """Every ledger row of an issue."""
    return [_row(v) for v in db.execute(f"SELECT {_COLUMNS} FROM send_ledger WHERE issue = ? ORDER BY rowid", [issue])]


def recover(db, issue: str) -> int:
    """Rows left in 'sending' by a run that died become 'unknown' (the server may or may not have them)."""
    return write_retrying(db, lambda: db.execute(
        "UPDATE send_ledger SET state = ?, reply = ?, updated_at = ? WHERE issue = ? AND state = ?",
        [UNKNOWN, "the send stopped while this message was on its way", utc_now(), issue, SENDING],
    ).rowcount)


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
            result.by_state[_seen(state)] += 1
    return result


def enqueue(db, issue: str, entries: Iterable[Entry]) -> None:
    """Add the selection as 'pending' (existing rows keep their state); unsent rows no longer selected are dropped."""
    now = utc_now()
    entries = list(entries)
    keys = {e.email_key for e in entries}

    def work() -> None:
        db.conn.executemany(
            "INSERT INTO send_ledger (issue, email_key, recipient_id, email, lists, state, updated_at, version, fingerprint)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (issue, email_key) DO UPDATE SET lists = excluded.lists, recipient_id = excluded.recipient_id,"
            " version = excluded.version, fingerprint = excluded.fingerprint"
            " WHERE send_ledger.state IN ('pending', 'deferred')",
            [(issue, e.email_key, e.recipient_id, e.email, json.dumps(sorted(e.lists), ensure_ascii=False), PENDING, now,
              e.version, e.fingerprint) for e in entries],
        )
        # People who left the lists or unsubscribed since the last run, and were never sent the issue.
        stale = [
            (issue, key) for (key,) in db.execute(
                "SELECT email_key FROM send_ledger WHERE issue = ? AND state IN ('pending', 'deferred')", [issue]
            ).fetchall() if key not in keys
        ]
        db.conn.executemany("DELETE FROM send_ledger WHERE issue = ? AND email_key = ?", stale)

    write_retrying(db, work)


def due(db, issue: str, *, resend_unknown: bool = False) -> list[Row]:
    """Rows this run should send: pending and deferred (and unknown when asked), oldest first."""
    states = [PENDING, DEFERRED] + ([UNKNOWN] if resend_unknown else [])
    marks = ", ".join("?" * len(states))
    return [
        _row(v) for v in db.execute(
            f"SELECT {_COLUMNS} FROM send_ledger WHERE issue = ? AND state IN ({marks}) ORDER BY rowid", [issue, *states]
        )
    ]


@dataclass(frozen=True)
class Outcome:
    """What to write for one message after the server answered (or did not)."""

    email_key: str
    state: str
    reply: str | None = None
    next_attempt_at: str | None = None


def write(db, issue: str, *, outcomes: Iterable[Outcome] = (), claims: Iterable[tuple[str, str]] = (),
          now: str | None = None) -> None:
    """Record outcomes and claim rows as 'sending' (with their Message-IDs) in one committed transaction.

    Outcomes are written only after the server's reply, claims before any byte of DATA goes out. A database
    another program keeps busy is waited for, however long: the replies the server gave must not be lost.
    """
    now = now or utc_now()
    outcomes, claims = list(outcomes), list(claims)
    if not outcomes and not claims:
        return
    def work() -> None:
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

    write_retrying(db, work, patience=None)


# What counts against a daily limit: messages sent, and those that may have gone out (claimed or unknown).
_COUNTED = ("(state = 'sent' AND sent_at >= :since)"
            " OR (state IN ('sending', 'unknown') AND sent_at IS NULL AND updated_at >= :since)")


def sent_since(db, since: str) -> int:
    """Messages of every issue sent (or possibly sent) at or after `since` (ISO 8601 UTC)."""
    return db.execute(f"SELECT count(*) FROM send_ledger WHERE {_COUNTED}", {"since": since}).fetchone()[0]


def counted_times(db, since: str, *, offset: int = 0) -> str | None:
    """The time of the (offset+1)-th oldest message counted by sent_since, or None."""
    row = db.execute(
        f"SELECT coalesce(sent_at, updated_at) AS t FROM send_ledger WHERE {_COUNTED} ORDER BY t LIMIT 1 OFFSET :offset",
        {"since": since, "offset": offset},
    ).fetchone()
    return row[0] if row else None


@dataclass
class Status:
    """Where the send of an issue stands."""

    issue: str
    running: bool  # a send of the issue is running right now
    per_list: dict[str, Counter] = field(default_factory=dict)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (address, server reply)
    unknown: list[str] = field(default_factory=list)
    next_attempt: str | None = None  # the earliest time a deferred message may be retried (UTC)
    versions: list[tuple[str, str, int, str]] = field(default_factory=list)  # see versions_sent()


def status(db, issue: str) -> Status:
    """Counts by state for each list the issue was sent through, the failed and unknown addresses, the next retry."""
    result = Status(issue, running=SendLock(db, issue).held_elsewhere())
    for row in rows(db, issue):
        state = _seen(row.state, result.running)
        for name in row.lists or ("(no list)",):
            result.per_list.setdefault(name, Counter())[state] += 1
        if state == FAILED:
            result.failed.append((row.email, row.reply or ""))
        elif state == UNKNOWN:
            result.unknown.append(row.email)
        elif state == DEFERRED and row.next_attempt_at:
            result.next_attempt = min(result.next_attempt or row.next_attempt_at, row.next_attempt_at)
    result.versions = versions_sent(db, issue)
    return result


def versions_sent(db, issue: str) -> list[tuple[str, str, int, str]]:
    """(version key, content fingerprint, how many were sent it, first sent at) for each content that went out."""
    return [tuple(row) for row in db.execute(
        "SELECT version, fingerprint, count(*), min(sent_at) FROM send_ledger WHERE issue = ? AND state = ?"
        " AND fingerprint IS NOT NULL GROUP BY version, fingerprint ORDER BY min(sent_at)", [issue, SENT]
    )]


def delivered(db, issue: str) -> list[tuple[tuple[str, ...], str, str, int]]:
    """(lists, version key, fingerprint, count) of the messages that went out or may have (sent, unknown)."""
    return [(tuple(json.loads(lists or "[]")), version, fingerprint, count) for lists, version, fingerprint, count in db.execute(
        "SELECT lists, version, fingerprint, count(*) FROM send_ledger WHERE issue = ? AND state IN (?, ?, ?)"
        " AND fingerprint IS NOT NULL GROUP BY lists, version, fingerprint", [issue, SENT, UNKNOWN, SENDING]
    )]


def issue_status(root: Path, issue_text: str) -> Status:
    """The status of an issue's send in the project's database (what 'nyhetsbrev status' shows).

    An issue that has no folder and was never sent is an error that names the issues there are.
    """
    from ..project import config, reader

    issue_id = IssueId.parse(issue_text)
    project = config.load_project(root)
    folder_missing = not project.issue_dir(issue_id).is_dir()
    path = default_db_path(root)
    if folder_missing and not path.exists():  # asked about an issue that does not exist: make no database for it
        raise reader.issue_not_found(project, issue_id)
    db = open_db(path)
    try:
        result = status(db, str(issue_id))
    finally:
        db.close()
    if folder_missing and not result.per_list:
        raise reader.issue_not_found(project, issue_id)
    return result


def in_state(db, issue: str, state: str) -> list[tuple[str, str]]:
    """The addresses of an issue in one state (failed, deferred, unknown …) with the server's last reply."""
    return [(email, reply or "") for email, reply in db.execute(
        "SELECT email, reply FROM send_ledger WHERE issue = ? AND state = ? ORDER BY rowid", [issue, state]
    )]


def later(seconds: float) -> str:
    """An ISO 8601 UTC time this many seconds from now."""
    return utc_text(time.time() + seconds)


class SendLock:
    """An OS lock file next to the database, one per issue; the OS frees it when the holder dies (even SIGKILL)."""

    def __init__(self, db, issue: str) -> None:
        self.path = lock_path(db_file(db), issue)
        self.issue = issue
        self._handle = None

    def __enter__(self) -> "SendLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            handle = open(self.path, "a+", encoding="utf-8")
            if not _flock(handle, take=True):
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                handle.close()
                raise SendLocked(
                    f"issue {self.issue} is already being sent ({holder})",
                    path=self.path,
                    hint="wait for that send to finish, or check 'nyhetsbrev status'; the lock goes away by itself when it ends",
                )
            if _same_file(handle, self.path):
                break
            handle.close()  # the last holder removed the file while it was being opened: lock the new one
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}, started {utc_now()}")
        handle.flush()
        self._handle = handle
        return self

    def held_elsewhere(self) -> bool:
        """True while another process holds the lock (a send of this issue is running); creates no file."""
        try:
            handle = open(self.path, encoding="utf-8")
        except FileNotFoundError:
            return False
        with handle:
            if _flock(handle, take=True):
                _flock(handle, take=False)
                return False
            return True

    def __exit__(self, *exc: object) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.seek(0)
            handle.truncate()
            _unlink_quietly(self.path)  # while still held, so nobody locks a file that is going away
            _flock(handle, take=False)
            handle.close()
        remove_stale_locks(db_path=self.path.with_name(self.path.name.split(".send-")[0]))


def remove_stale_locks(db_path: Path) -> int:
    """Remove the send lock files next to the database that no running send holds; how many were removed."""
    removed = 0
    for path in Path(db_path).parent.glob(f"{Path(db_path).name}.send-*.lock"):
        try:
            handle = open(path, encoding="utf-8")
        except OSError:
            continue
        with handle:
            if _flock(handle, take=True):
                if _same_file(handle, path) and _unlink_quietly(path):
                    removed += 1
                _flock(handle, take=False)
    return removed


def _same_file(handle, path: Path) -> bool:
    """True when the open handle is still the file at path (not one removed and made again meanwhile)."""
    try:
        named, opened = os.stat(path), os.fstat(handle.fileno())
    except OSError:
        return False
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _unlink_quietly(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except OSError:  # gone already, or (Windows) still open elsewhere
        return False


def _flock(handle, take: bool) -> bool:
    """Take (without waiting) or release the OS lock on the lock file; False when another process holds it."""
    try:
        if os.name == "nt":  # pragma: no cover - Windows
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK if take else msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), (fcntl.LOCK_EX | fcntl.LOCK_NB) if take else fcntl.LOCK_UN)
        return True
    except OSError:
        return False


def lock_path(db_path: Path, issue: str) -> Path:
    """Where the lock file of an issue's send lives."""
    return Path(db_path).with_name(f"{Path(db_path).name}.send-{issue.replace(':', '-')}.lock")
