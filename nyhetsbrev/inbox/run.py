"""`nyhetsbrev inbox`: read the mailbox (or exported messages), classify each message, apply it, then set it aside."""

from __future__ import annotations

import contextlib
import signal
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..i18n import _
from ..project.config import SETTINGS_FILE, load_settings
from ..store.db import default_db_path, open_db, scratch_copy
from .apply import ALREADY, PERSON, STILL_UNREAD, UNREAD, Outcome, apply_many
from .classify import PARSE_LIMIT, Verdict, classify, reason, unreadable

APPLY_EVERY = 250  # messages applied to the database in one transaction, then moved on the server
LISTED = 500  # changes and messages for a person kept for the listing; the counts are always complete
TIME_LIMIT = 30.0  # seconds one message may take to read (where the system has timers): then it is left for a person


@dataclass
class InboxReport:
    """What a run found and did (or, in a dry run, would do)."""

    source: str
    dry_run: bool
    counts: Counter = field(default_factory=Counter)
    changes: list[Outcome] = field(default_factory=list)  # unsubscribed, bounced, temporary, complaints
    for_a_person: list[Outcome] = field(default_factory=list)
    unreadable: list[Outcome] = field(default_factory=list)  # messages that could not be read, new and listed before
    set_aside: int = 0  # handled messages taken out of the mailbox's folder (never exported files)
    moved: bool = True  # False when the server could not move and the messages were flagged instead
    on_server: bool = True  # read over IMAP (not exported files)

    @property
    def needs_a_person(self) -> bool:
        """True when this run found a message it could not read that no earlier run had listed."""
        return self.counts.get(UNREAD, 0) > 0


def read_inbox(root: Path, *, from_path: Path | None = None, dry_run: bool = False,
               progress: Callable[[int, int], None] | None = None) -> InboxReport:
    """Handle every message in the mailbox (or at from_path) once; a dry run works on a throw-away copy of the database."""
    settings = load_settings(Path(root) / SETTINGS_FILE)
    from ..mail.message import unsubscribe_mailbox

    unsubscribe_address = unsubscribe_mailbox(settings)
    db_path = default_db_path(root)
    with contextlib.ExitStack() as stack:
        if dry_run:
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nyhetsbrev-dry-run-")))
            db_path = scratch_copy(db_path, scratch)
        source = stack.enter_context(_open_source(settings, from_path, dry_run))
        db = open_db(db_path)
        stack.callback(db.close)
        on_server = from_path is None
        report = InboxReport(source.describe, dry_run, on_server=on_server)
        pending = source.pending()
        total = len(pending)
        done, batch = 0, []
        timer = stack.enter_context(_message_timer())
        for fetched in source.messages(pending):
            batch.append((fetched.key, _read(fetched, unsubscribe_address, timer)))
            if len(batch) >= APPLY_EVERY:
                done += _apply_batch(db, source, batch, report, on_server)
                if progress:
                    progress(done, total)
        done += _apply_batch(db, source, batch, report, on_server)
        if progress:
            progress(done, total)
        report.moved = bool(getattr(source, "can_move", True))
    return report


def _read(fetched, unsubscribe_address: str | None, timer) -> Verdict:
    """One message's verdict, read in isolation: whatever it holds, the run goes on with the next."""
    if fetched.problem:
        return unreadable(b"", fetched.problem, key=f"file:{fetched.name}")
    raw = fetched.raw[:PARSE_LIMIT]
    try:
        if timer:
            timer(signal.ITIMER_REAL, TIME_LIMIT)
        try:
            return classify(raw, unsubscribe_address=unsubscribe_address)
        finally:
            if timer:
                timer(signal.ITIMER_REAL, 0)
    except TimeoutError as exc:
        return unreadable(raw, reason(exc))


@contextlib.contextmanager
def _message_timer():
    """signal.setitimer with a handler that raises TimeoutError, for the run; None without POSIX timers."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield None
        return

    def expired(_signum, _frame):
        raise TimeoutError(_("took longer than {seconds:g} s").format(seconds=TIME_LIMIT))

    previous = signal.signal(signal.SIGALRM, expired)
    try:
        yield signal.setitimer
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _open_source(settings, from_path: Path | None, dry_run: bool):
    if from_path is not None:
        from .files import ExportedMessages

        return ExportedMessages(from_path)
    from .mailbox import Mailbox

    return Mailbox(settings.imap, read_only=dry_run)  # opened by the caller's `with`


def _apply_batch(db, source, batch: list, report: InboxReport, on_server: bool) -> int:
    """Apply the batch to the database (committed) and only then set its messages aside: a crash between loses nothing."""
    if not batch:
        return 0
    outcomes = apply_many(db, [verdict for _key, verdict in batch])
    ready = [key for (key, _verdict), outcome in zip(batch, outcomes) if outcome.set_aside]
    for outcome in outcomes:
        _tally(report, outcome)
    if ready:
        source.set_aside(ready)
        if on_server:  # exported files stay as they are
            report.set_aside += len(ready)
    unread = [key for (key, _verdict), outcome in zip(batch, outcomes) if outcome.action == UNREAD]
    if unread and on_server:
        source.flag_for_person(unread)
    count = len(batch)
    batch.clear()
    return count


def _tally(report: InboxReport, outcome: Outcome) -> None:
    report.counts[outcome.action] += 1
    if outcome.action in (UNREAD, STILL_UNREAD):
        if len(report.unreadable) < LISTED:
            report.unreadable.append(outcome)
    elif outcome.action == PERSON and len(report.for_a_person) < LISTED:
        report.for_a_person.append(outcome)
    elif outcome.action != ALREADY and outcome.address and len(report.changes) < LISTED:
        report.changes.append(outcome)
