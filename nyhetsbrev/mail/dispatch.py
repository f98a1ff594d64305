"""Deliver prepared messages over several SMTP connections: ledger first, retries with back-off, rate limit, pause."""

from __future__ import annotations

import contextlib
import heapq
import os
import queue
import signal
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Callable, Mapping

from . import limits, replies, transport
from .jobs import Job, Reports, in_flight_limit
from ..interrupts import stop_signals
from ..errors import SendError, SendPaused, SmtpUnavailable, TransportError
from ..project.models import Rate, SmtpSettings
from ..store import ledger
from ..i18n import _

RETRY_BASE_ENV = "NYHETSBREV_RETRY_BASE"
DEFAULT_RETRY_BASE = 30.0  # seconds before the first retry of a deferred message; doubles each time


@dataclass
class Tally:
    """How far a send has come; handed to the progress callback."""

    total: int
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0  # left out as their batch was claimed: unsubscribed, suppressed, forgotten or off the lists
    skipped_why: Counter = field(default_factory=Counter)
    retrying: int = 0
    waiting_until: float | None = None  # monotonic time of the next retry while only retries are left
    limit_wait_until: float | None = None  # epoch time the daily limit frees a slot, while the send waits for it
    limit_until: float | None = None  # set when the send stopped at the daily limit: epoch time it may continue
    started: float = field(default_factory=time.monotonic)

    @property
    def done(self) -> int:
        return self.sent + self.deferred + self.failed + self.unknown + self.skipped


@dataclass(frozen=True)
class Options:
    """How to send: connections, rate limit (messages per second), retries in this run and when to pause."""

    connections: int = 4
    rate: Rate | None = None
    retries: int = 3
    retry_base: float | None = None
    pause_after: int = 5
    clock: limits.Clock = limits.SYSTEM_CLOCK

    @property
    def per_second(self) -> float | None:
        """The rate limit in messages per second (None: no limit)."""
        return self.rate.per_second if self.rate else None

    def base(self) -> float:
        if self.retry_base is not None:
            return self.retry_base
        try:
            return float(os.environ.get(RETRY_BASE_ENV, DEFAULT_RETRY_BASE))
        except ValueError:
            return DEFAULT_RETRY_BASE


# (row, message_id) -> (envelope recipient, the message as DATA sends it: dot-stuffed, ended by CRLF . CRLF)
Prepare = Callable[[ledger.Row, str], tuple[str, bytes]]


class Dispatcher:
    """Runs one send: claims rows in the ledger, hands messages to connection threads, records every reply."""

    def __init__(self, db, issue: str, smtp: SmtpSettings, sender: str, prepare: Prepare,
                 new_message_id: Callable[[], str], options: Options,
                 progress: Callable[[Tally], None] | None = None, *, lists: Mapping[int, str],
                 made: ledger.Versions | None = None, make: Callable[[tuple[str, ...]], object] | None = None) -> None:
        """lists: the lists sent to ({id: name}); each batch is checked against them (and the suppressions) as it is
        claimed. made: the version made for some lists, or None; make: make it (for people whose lists changed)."""
        self.db, self.issue, self.smtp, self.sender = db, issue, smtp, sender
        self.lists = dict(lists)
        self.made, self.make = made, make
        self.prepare, self.new_message_id, self.options = prepare, new_message_id, options
        self.progress = progress or (lambda tally: None)
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()  # the C one: a put and a get cost a fraction of Queue's
        self.results = Reports()
        self.stop = threading.Event()
        self.interrupted = threading.Event()
        self.clock = options.clock
        self.limiter = limits.RateLimiter(options.per_second, self.clock)
        self.budget = limits.DailyBudget(db, smtp.daily_limit, self.clock) if smtp.daily_limit else None
        self.in_flight: dict[str, Job] = {}
        self.unwritten: list[ledger.Outcome] = []  # replies collected, written with the next claims
        self.alive = 0
        self.last_error: Exception | None = None  # a connection that could not be (re)opened
        self.crashed: Exception | None = None  # an unexpected error in a connection thread: a bug, the send stops
        self.policy_run: list[tuple[Job, str, transport.Result]] = []
        self.paused: transport.Result | None = None
        self.failures: list[tuple[str, str]] = []  # (address, reply) of this run's permanent failures
        self.tally = Tally(total=0)

    # -- main thread ---------------------------------------------------------
    def run(self, rows: list[ledger.Row]) -> Tally:
        """Send every row; returns the tally. Raises SendPaused or TransportError when the send cannot go on.

        An unexpected error in a connection thread stops the send cleanly and is raised here.
        """
        self.tally = Tally(total=len(rows))
        if not rows:
            return self.tally
        first = transport.Connection(self.smtp)
        first.open()  # certificate, STARTTLS and login problems surface here, before anything is claimed
        threads = []
        for index in range(max(1, min(self.options.connections, len(rows)))):
            conn = first if index == 0 else transport.Connection(self.smtp)
            thread = threading.Thread(target=self._worker, args=(conn,), name=f"smtp-{index + 1}", daemon=True)
            self.alive += 1
            thread.start()
            threads.append(thread)
        todo = deque((row, 1) for row in rows)
        retries: list[tuple[float, int, ledger.Row, int]] = []
        try:
            with self._interrupts_at_safe_points():
                self._loop(todo, retries)
        finally:
            self._shutdown(threads)
            held = len(self.policy_run)
            self._settle_policy_run(ledger.PENDING if self.paused is not None else ledger.FAILED)
            self._write()
        if self.crashed is not None:
            raise self.crashed
        if self.paused is not None:
            raise SendPaused(
                _("the server rejected {held} messages in a row with the same policy reply ({paused}); the send is paused and those messages are pending again").format(held=held, paused=self.paused),
                hint=_("fix the cause with your mail provider (sender authentication such as SPF/DKIM, relay permission or content), then run the same command again to continue"),
            )
        # A connection that could not be (re)opened gave its message back as pending, not to be sent in this run:
        # every connection gone with people still to send, or the last messages' connection gone. Either way the
        # run did not send them all (unless it stopped at the daily limit, which says what is left).
        if self.last_error is not None and self.tally.limit_until is None:
            raise self._stopped_by(self.last_error) from None
        return self.tally

    def _stopped_by(self, exc: TransportError) -> TransportError:
        """The error of a connection that left messages unsent, saying how far the send came and how to continue.

        A server gone away gets the hint to run the command again; an error with a hint of its own (such as a
        sign-in that must be renewed with 'nyhetsbrev login') keeps it, followed by that.
        """
        left = self.tally.total - self.tally.done  # at least one: raised only while some are still to send
        what = _("the send stopped after {sent_now} messages in this run: {error}").format(
            sent_now=self.tally.sent, error=exc.what)
        if exc.hint and not isinstance(exc, SmtpUnavailable):
            hint = _("{hint}; the other {left} are not yet sent and nothing is lost: then run the same command again to "
                     "continue").format(hint=exc.hint, left=left)
        else:
            hint = _("the other {left} are not yet sent and nothing is lost: when the server can be reached again, "
                     "run the same command again to continue").format(left=left)
        return type(exc)(what, path=exc.path, line=exc.line, hint=hint)

    @contextlib.contextmanager
    def _interrupts_at_safe_points(self):
        """Ctrl-C, Ctrl-Break (Windows) or `kill` stops the send between two steps, never halfway through one; a second one stops at once."""
        def stop(signum, frame):
            if self.interrupted.is_set():
                raise KeyboardInterrupt
            self.interrupted.set()
            self.results.ready.set()  # wake the main loop

        previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in stop_signals():
                if signal.getsignal(signum) not in (signal.SIG_IGN, None):
                    previous[signum] = signal.signal(signum, stop)
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _loop(self, todo: deque, retries: list) -> None:
        seq = 0
        while True:
            if self.interrupted.is_set():
                raise KeyboardInterrupt
            now = time.monotonic()
            while retries and retries[0][0] <= now:
                _, _, row, attempt = heapq.heappop(retries)
                todo.append((row, attempt))
                self.tally.retrying -= 1
            if self.alive == 0 or self.crashed is not None:
                return
            if todo and not self.in_flight and self.paused is None and self.budget is not None and not self.budget.left:
                if not self._wait_for_daily_limit():
                    return
                continue
            if not self.in_flight and (self.paused is not None or not todo):
                if self.paused is not None or not retries:
                    return
                self.tally.waiting_until = retries[0][0]  # only retries are left: wait for the next one
                self.progress(self.tally)
                self.interrupted.wait(min(0.25, max(0.0, retries[0][0] - time.monotonic())))
                continue
            self.tally.waiting_until = None
            # Refill in batches (fewer, larger ledger transactions) while every connection still has work queued.
            outcomes, handled = self._collect(block=not self._can_fill(todo))
            self.unwritten.extend(outcomes)
            batch = self._prepare(todo) if self._can_fill(todo) else []
            waiting: list[tuple[str, ...]] = []
            if batch or not self.in_flight:
                checked = self._write(claims=[(job.key, None if job.row.message_id else job.message_id) for job in batch])
                batch, waiting = self._sort_out(batch, checked, todo)
            for job in batch:  # queued before anything can fail: a claimed message is in flight, or pending again
                self.in_flight[job.key] = job
                self.jobs.put(job)
            for lists in waiting:  # may render (and fail); those claimed above are put back to pending on the way out
                self.make(lists)
            for job, result in handled:
                if result.kind == transport.DEFERRED and job.attempt <= self.options.retries:
                    delay = self.options.base() * (2 ** (job.attempt - 1))
                    seq += 1
                    job.row.message_id = job.message_id
                    heapq.heappush(retries, (time.monotonic() + delay, seq, job.row, job.attempt + 1))
                    self.tally.retrying += 1
            self.progress(self.tally)

    def _wait_for_daily_limit(self) -> bool:
        """The daily limit is used up: wait when a slot frees soon (True), else stop the send here (False)."""
        if self.budget.refresh():
            self.tally.limit_wait_until = None
            return True
        until = self.budget.next_free()
        if until is None:  # counted again in between: try once more
            return True
        if until - self.clock.time() > limits.WAIT_AT_MOST:
            self.tally.limit_until = until
            return False
        self.tally.limit_wait_until = until
        self.progress(self.tally)
        self.clock.sleep(min(1.0, max(0.0, until - self.clock.time())), self.interrupted)
        return True

    def _can_fill(self, todo: deque) -> bool:
        return (self.paused is None and self.crashed is None and bool(todo) and len(self.in_flight) <= self._low_water()
                and (self.budget is None or self.budget.left > 0))

    def _write(self, claims: list[tuple[str, str]] = ()) -> ledger.Checked:
        """One transaction: the replies collected so far, and the next messages claimed before their DATA goes out.

        Returns what the check of the claims found: who the ledger skipped, and who is on other lists now.
        """
        outcomes, self.unwritten = self.unwritten, []
        return ledger.write(self.db, self.issue, outcomes=outcomes, claims=claims, lists=self.lists, versions=self.made,
                            now=self.clock.iso())

    def _sort_out(self, batch: list[Job], checked: ledger.Checked, todo: deque) -> tuple[list[Job], list[tuple[str, ...]]]:
        """The batch as claimed: without the people skipped, each with the lists they are on now; and the lists
        whose version is to be made (after the claimed ones are queued, outside the ledger's transaction).

        Someone whose version for their lists now is not made yet goes back to the front of the queue, to be claimed
        once it is made. Daily-limit slots of those not claimed are given back.
        """
        kept, waiting = [], []
        for job in batch:
            if job.key in checked:
                self.tally.skipped += 1
                self.tally.skipped_why[checked[job.key]] += 1
            elif job.key in checked.waiting:
                job.row.lists = checked.waiting[job.key]
                waiting.append(job.row.lists)
            else:
                job.row.lists = checked.moved.get(job.key, job.row.lists)
                kept.append(job)
        todo.extendleft(reversed([(job.row, job.attempt) for job in batch if job.key in checked.waiting]))
        if self.budget is not None:
            self.budget.left += len(batch) - len(kept)
        return kept, list(dict.fromkeys(waiting))

    def _high_water(self) -> int:
        return in_flight_limit(self.alive)

    def _low_water(self) -> int:
        # Every connection still has a message queued while the next batch is made (one connection: the one on the
        # wire is enough), and a batch is at least two messages: one ledger transaction for every two, not each one.
        return self._high_water() - max(2, self.alive)

    def _prepare(self, todo: deque) -> list[Job]:
        """The next messages to claim, up to the high-water mark in flight (their connections build the bytes)."""
        room = self._high_water() - len(self.in_flight)
        if self.budget is not None:
            room = self.budget.take(min(room, len(todo)))  # only what is claimed now counts
        batch = []
        while todo and len(batch) < room:
            row, attempt = todo.popleft()
            batch.append(Job(row, row.message_id or self.new_message_id(), attempt))
        return batch

    def _collect(self, block: bool) -> tuple[list[ledger.Outcome], list[tuple[Job, transport.Result]]]:
        """What the connections reported since last time; when block, wait until a batch's worth is in."""
        wanted = max(1, len(self.in_flight) - self._low_water()) if block else 0
        items = self.results.take(wanted, timeout=0.2)
        outcomes, handled = [], []
        for item in items:
            if item == "exit":
                self.alive -= 1
                continue
            job, result = item
            if job is None:  # a connection thread failed between two messages
                self.crashed = self.crashed or result
                continue
            self.in_flight.pop(job.key, None)
            if result is None or isinstance(result, TransportError):
                self.last_error = result or self.last_error
                outcomes.append(ledger.Outcome(job.key, ledger.PENDING))  # never went out: send it later
            elif isinstance(result, Exception):
                self.crashed = self.crashed or result
                # Before its bytes were made the message cannot have gone out; after, nobody knows.
                outcomes.append(ledger.Outcome(job.key, ledger.UNKNOWN, f"the send stopped on an error: {result}")
                                if job.data else ledger.Outcome(job.key, ledger.PENDING))
            else:
                handled.append((job, self._outcome(job, result, outcomes)))
        return outcomes, handled

    def _drain(self) -> None:
        outcomes, _ = self._collect(block=True)
        self.unwritten.extend(outcomes)
        self._write()

    def _outcome(self, job: Job, result: transport.Result, outcomes: list) -> transport.Result:
        """Record one reply; a run of identical policy rejections is held back until it is known whether it pauses."""
        reply = str(result) or None
        if result.policy:
            key = replies.policy_key(result)
            if self.paused is None and self.policy_run and self.policy_run[-1][1] != key:
                self._settle_policy_run(ledger.FAILED)
            self.policy_run.append((job, key, result))  # once paused, every policy rejection is held as pending
            if self.paused is None and len(self.policy_run) >= self.options.pause_after:
                self.paused = result
            return result
        if self.paused is None and self.policy_run and result.kind == transport.SENT:
            self._settle_policy_run(ledger.FAILED)
        kind = result.kind
        if kind == transport.RECONNECT:  # the connection kept dropping before the message was complete
            kind = transport.DEFERRED
        if kind in (transport.SENT, transport.FAILED, transport.UNKNOWN):  # the same names as the ledger states
            outcomes.append(ledger.Outcome(job.key, kind, reply))
            setattr(self.tally, kind, getattr(self.tally, kind) + 1)
            if kind == transport.FAILED:
                self.failures.append((job.row.email, reply or ""))
        else:
            nxt = ledger.later(self.options.base() * (2 ** job.attempt))
            outcomes.append(ledger.Outcome(job.key, ledger.DEFERRED, reply, nxt))
            if job.attempt > self.options.retries:
                self.tally.deferred += 1
        return transport.Result(kind, result.code, result.reply)

    def _settle_policy_run(self, state: str) -> None:
        if not self.policy_run:
            return
        self.unwritten.extend(ledger.Outcome(job.key, state, str(result)) for job, _, result in self.policy_run)
        if state == ledger.FAILED:
            self.tally.failed += len(self.policy_run)
            self.failures.extend((job.row.email, str(result)) for job, _, result in self.policy_run)
        self.policy_run = []

    def _shutdown(self, threads: list[threading.Thread]) -> None:
        """Stop the connections, wait for messages already on the wire, and put unsent ones back to pending."""
        self.stop.set()
        while True:  # jobs no connection has taken yet
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                break
            if self.in_flight.pop(job.key, None):
                self.unwritten.append(ledger.Outcome(job.key, ledger.PENDING))
        self._write()
        for _ in threads:
            self.jobs.put(None)
        deadline = time.monotonic() + self.smtp.timeout + 5
        while self.in_flight and self.alive > 0 and time.monotonic() < deadline:
            self._drain()
        for thread in threads:
            thread.join(timeout=0.5)

    # -- connection threads ----------------------------------------------------
    def _worker(self, conn: transport.Connection) -> None:
        job = None
        try:
            while True:
                job = self.jobs.get()
                if job is None:
                    return
                if self.stop.is_set():
                    self.results.put((job, None))
                    continue
                try:
                    job.address, job.data = self.prepare(job.row, job.message_id)
                except SendError as exc:  # a name or address that must not reach a header
                    self.results.put((job, transport.Result(transport.FAILED, None, f"not sent: {exc}")))
                    continue
                if not self.limiter.wait(self.stop):
                    self.results.put((job, None))  # stopped while waiting for its slot: never went out
                    continue
                self.results.put((job, transport.deliver(conn, self.sender, job.address, job.data, self.stop, stuffed=True)))
        except Exception as exc:  # TransportError: this connection is gone; anything else is a bug that stops the send
            self.results.put((job, exc), urgent=True)
        finally:
            conn.close()
            self.results.put("exit", urgent=True)
