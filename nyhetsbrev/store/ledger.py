"""The send ledger: one row per (issue, recipient) so that a send can stop anywhere and resume without repeats."""

from __future__ import annotations

import functools
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from ..i18n import _
from ..project.models import IssueId
from .db import default_db_path, open_db, utc_now, utc_text, write_retrying
from .send_lock import SendLock, lock_path, remove_stale_locks  # noqa: F401  (used as ledger.SendLock …)

PENDING, SENDING, SENT, DEFERRED, FAILED, UNKNOWN = "pending", "sending", "sent", "deferred", "failed", "unknown"
SKIPPED = "skipped"  # dropped as its batch was claimed: the person may no longer get the issue (why: in reply)
# Why a person was skipped (the reply of a skipped row; a forgotten person's row is erased, so it is only counted).
UNSUBSCRIBED, BOUNCED, FORGOTTEN, NOT_LISTED = "unsubscribed", "bounced", "forgotten", "not on the lists"


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
    updated_at: str | None = None


@dataclass
class Plan:
    """What a send would do, computed without writing: counts by state for the current selection."""

    selected: int = 0
    new: int = 0
    by_state: Counter = field(default_factory=Counter)

    def to_send(self, resend_unknown: bool) -> int:
        """How many messages this run would try to send."""
        # A skipped person selected again (back on a list, or their unsubscribe lifted) is sent the issue after all.
        return (self.new + self.by_state[PENDING] + self.by_state[DEFERRED] + self.by_state[SKIPPED]
                + (self.by_state[UNKNOWN] if resend_unknown else 0))


_COLUMNS = "email_key, email, recipient_id, lists, state, message_id, attempts, reply, next_attempt_at, updated_at"


def _row(values: tuple) -> Row:
    key, email, rid, lists, state, mid, attempts, reply, nxt, updated = values
    return Row(key, email, rid, tuple(json.loads(lists)), state, mid, attempts, reply, nxt, updated)


def _seen(state: str, running: bool = False) -> str:
    """The state to report: 'sending' with no send running means the run died on the way, so nobody knows."""
    return UNKNOWN if state == SENDING and not running else state


def rows(db, issue: str) -> list[Row]:
    """Every ledger row of an issue."""
    return [_row(v) for v in db.execute(f"SELECT {_COLUMNS} FROM send_ledger WHERE issue = ? ORDER BY rowid", [issue])]


def recover(db, issue: str) -> int:
    """Rows left in 'sending' by a run that died become 'unknown' (the server may or may not have them).

    Their updated_at stays the time they were claimed: when the message went out, to look for in the relay's log.
    """
    return write_retrying(db, lambda: db.execute(
        "UPDATE send_ledger SET state = ?, reply = ? WHERE issue = ? AND state = ?",
        [UNKNOWN, "the send stopped while this message was on its way", issue, SENDING],
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


def enqueue(db, issue: str, entries: Iterable[Entry], message_ids: Callable[[], str] | None = None) -> None:
    """Add the selection as 'pending' (existing rows keep their state, skipped ones are pending again); unsent rows no
    longer selected are dropped.

    message_ids: where each new row's Message-ID comes from, given now so that claiming a message later only changes
    its state (a row keeps its Message-ID for every copy: retries and resends). Without it, the claim gives one.
    """
    now = utc_now()
    entries = list(entries)
    keys = {e.email_key for e in entries}
    new_id = message_ids or (lambda: None)

    def work() -> None:
        db.conn.executemany(
            "INSERT INTO send_ledger (issue, email_key, recipient_id, email, lists, state, updated_at, version, fingerprint,"
            " message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (issue, email_key) DO UPDATE SET lists = excluded.lists, recipient_id = excluded.recipient_id,"
            " version = excluded.version, fingerprint = excluded.fingerprint,"
            " state = CASE WHEN send_ledger.state = 'skipped' THEN 'pending' ELSE send_ledger.state END,"
            " reply = CASE WHEN send_ledger.state = 'skipped' THEN NULL ELSE send_ledger.reply END,"
            " message_id = coalesce(send_ledger.message_id, excluded.message_id)"
            " WHERE send_ledger.state IN ('pending', 'deferred', 'skipped')",
            [(issue, e.email_key, e.recipient_id, e.email, json.dumps(sorted(e.lists), ensure_ascii=False), PENDING, now,
              e.version, e.fingerprint, new_id()) for e in entries],
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
    # The states written out, so that SQLite uses the index that holds only these rows.
    states = "'pending', 'deferred'" + (", 'unknown'" if resend_unknown else "")
    return [
        _row(v) for v in db.execute(
            f"SELECT {_COLUMNS} FROM send_ledger WHERE issue = ? AND state IN ({states}) ORDER BY rowid", [issue]
        )
    ]


@dataclass(frozen=True)
class Outcome:
    """What to write for one message after the server answered (or did not)."""

    email_key: str
    state: str
    reply: str | None = None
    next_attempt_at: str | None = None


class Checked(dict):
    """What a claim found, {email_key: why} of the people skipped, and who is now on other lists than at the start.

    moved: {email_key: their lists now} of people claimed with the version for those lists (recorded with the claim);
    waiting: the same for people not claimed because that version is not made yet (make it, then claim them again).
    """

    def __init__(self) -> None:
        super().__init__()
        self.moved: dict[str, tuple[str, ...]] = {}
        self.waiting: dict[str, tuple[str, ...]] = {}


Versions = Callable[[tuple[str, ...]], "tuple[str, str] | None"]  # lists -> (version key, fingerprint), None: not made


def write(db, issue: str, *, outcomes: Iterable[Outcome] = (), claims: Iterable[tuple[str, str]] = (),
          lists: Mapping[int, str] | Sequence[int] | None = None, versions: Versions | None = None,
          now: str | None = None) -> Checked:
    """Record outcomes and claim rows as 'sending' (with their Message-IDs, None: it has one) in one committed transaction.

    Outcomes are written only after the server's reply, claims before any byte of DATA goes out. With `lists` (the
    lists sent to, {id: name}), each claimed person is checked first in the same transaction: one who is suppressed
    now, or on none of those lists any more, is recorded as skipped instead of claimed, and one whose row is gone
    (forgotten) is left alone. With `versions` too, one whose lists changed is claimed with the version for the lists
    they are on now (no section for a list they have left), or not claimed while that version is not made yet.
    Returns what the check found (Checked). A database another program keeps busy is waited for, however long: the
    replies the server gave must not be lost.
    """
    now = now or utc_now()
    outcomes, claims = list(outcomes), list(claims)
    checked = Checked()
    if not outcomes and not claims:
        return checked

    def work() -> None:
        checked.clear()
        checked.moved.clear()
        checked.waiting.clear()
        if outcomes:
            db.conn.executemany(
                "UPDATE send_ledger SET state = ?, reply = coalesce(?, reply), next_attempt_at = ?, updated_at = ?,"
                " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END WHERE issue = ? AND email_key = ?",
                [(o.state, o.reply, o.next_attempt_at, now, o.state, now, issue, o.email_key) for o in outcomes],
            )
        if claims and lists is not None:
            _check(db, issue, [key for key, _ in claims], lists, versions, checked)
            if checked:
                db.conn.executemany(
                    # A message whose fate is unknown stays 'unknown' when dropped: skipped rows become pending again
                    # when the person is selected again, and this one must be resent only with --resend-unknown.
                    "UPDATE send_ledger SET state = ?, reply = ?, updated_at = ? WHERE issue = ? AND email_key = ?"
                    " AND state <> 'unknown'",
                    [(SKIPPED, why, now, issue, key) for key, why in checked.items() if why != FORGOTTEN],
                )
            if checked.moved:
                db.conn.executemany(
                    "UPDATE send_ledger SET lists = ?, version = ?, fingerprint = ? WHERE issue = ? AND email_key = ?",
                    [(json.dumps(names, ensure_ascii=False), *versions(names), issue, key)
                     for key, names in checked.moved.items()],
                )
        if claims:
            claimed = [(key, message_id) for key, message_id in claims if key not in checked and key not in checked.waiting]
            # A row that has its Message-ID already (given as None) keeps it: its index is not touched.
            kept = [(SENDING, now, issue, key) for key, message_id in claimed if message_id is None]
            given = [(SENDING, message_id, now, issue, key) for key, message_id in claimed if message_id is not None]
            if kept:
                db.conn.executemany("UPDATE send_ledger SET state = ?, attempts = attempts + 1, updated_at = ?"
                                    " WHERE issue = ? AND email_key = ?", kept)
            if given:
                db.conn.executemany("UPDATE send_ledger SET state = ?, message_id = ?, attempts = attempts + 1,"
                                    " updated_at = ? WHERE issue = ? AND email_key = ?", given)

    write_retrying(db, work, patience=None)
    return checked


def _check(db, issue: str, keys: list[str], lists: Mapping[int, str] | Sequence[int], versions: Versions | None,
           checked: Checked) -> None:
    """Of these people, the ones who may no longer get the issue, and why, and those now on other lists: one query
    over the indexes.

    A suppression by address (unsubscribed, bounced), no membership of the lists sent to, or no ledger row at all
    (forget erases it with everything else about the person).
    """
    names = tuple(sorted(lists.items())) if isinstance(lists, Mapping) and versions is not None else None
    list_marks, key_marks = ", ".join("?" * len(lists)), ", ".join("?" * len(keys))
    found = {key: (suppressed, before, now) for key, suppressed, before, now in db.execute(
        "SELECT l.email_key,"
        " (SELECT s.reason FROM suppressions s WHERE s.email_key = l.email_key ORDER BY s.id LIMIT 1), l.lists,"
        f" (SELECT json_group_array(m.list_id) FROM memberships m WHERE m.recipient_id = l.recipient_id"
        f"  AND m.list_id IN ({list_marks}))"
        f" FROM send_ledger l WHERE l.issue = ? AND l.email_key IN ({key_marks})",
        [*lists, issue, *keys],
    )}
    for key in keys:
        if key not in found:
            checked[key] = FORGOTTEN
            continue
        suppressed, before, now = found[key]
        if suppressed:
            checked[key] = BOUNCED if suppressed == BOUNCED else UNSUBSCRIBED
        elif now == "[]":
            checked[key] = NOT_LISTED
        elif names is not None:
            current = _lists_now(before, now, names)
            if current is not None and versions(current) is None:
                checked.waiting[key] = current
            elif current is not None:
                checked.moved[key] = current


@functools.lru_cache(maxsize=256)
def _lists_now(before: str | None, now: str, names: tuple[tuple[int, str], ...]) -> tuple[str, ...] | None:
    """The names of the lists `now` (JSON of list ids) when they are not those of `before` (JSON of names), else None.

    Remembered: nearly everyone in a send has one of a few such pairs, and the check runs for every batch.
    """
    by_id = dict(names)
    current = tuple(sorted(by_id[list_id] for list_id in json.loads(now)))
    return None if current == tuple(json.loads(before or "[]")) else current


def still_to_send(db, issue: str, keys: Iterable[str], lists: Mapping[int, str] | Sequence[int]) -> int:
    """How many of these people's messages are still to go (pending, deferred, or as given) and may still go."""
    keys = list(keys)
    checked = Checked()
    for start in range(0, len(keys), 500):  # SQLite's limit on bound values
        _check(db, issue, keys[start:start + 500], lists, None, checked)
    return len(keys) - len(checked)


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
    unknown: list[tuple[str, str, str]] = field(default_factory=list)  # (address, Message-ID, when it went out, UTC)
    skipped: Counter = field(default_factory=Counter)  # why -> how many were left out while the send ran
    next_attempt: str | None = None  # the earliest time a deferred message may be retried (UTC)
    versions: list[tuple[str, str, int, str]] = field(default_factory=list)  # see versions_sent()


def status(db, issue: str) -> Status:
    """Counts by state for each list the issue was sent through, the failed addresses, the unknown ones with their
    Message-IDs, why people were skipped, and the next retry."""
    result = Status(issue, running=SendLock(db, issue).held_elsewhere())
    for row in rows(db, issue):
        state = _seen(row.state, result.running)
        for name in row.lists or (_("(no list)"),):
            result.per_list.setdefault(name, Counter())[state] += 1
        if state == FAILED:
            result.failed.append((row.email, row.reply or ""))
        elif state == UNKNOWN:
            result.unknown.append((row.email, row.message_id or "", row.updated_at))
        elif state == SKIPPED:
            result.skipped[row.reply or NOT_LISTED] += 1
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
    return [(tuple(json.loads(lists)), version, fingerprint, count) for lists, version, fingerprint, count in db.execute(
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
