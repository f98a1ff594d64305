"""The relay's limits: a steady rate over all connections, and a daily limit counted over 24 hours from the ledger."""

from __future__ import annotations

import datetime as dt
import math
import threading
import time

from .. import i18n
from ..i18n import _
from ..store import ledger
from ..store.db import utc_epoch as from_iso, utc_text as iso  # the ledger's times

WINDOW = 24 * 3600.0  # the daily limit is counted over any 24 hours (rolling), as Exchange Online counts
WAIT_AT_MOST = 15 * 60.0  # a send waits this long for the daily limit to free a slot; beyond it, it stops


class Clock:
    """Wall time, monotonic time and a sleep that a stop event cuts short; a send can be handed another (tests)."""

    def time(self) -> float:
        """Seconds since the epoch (what the ledger's timestamps are written in)."""
        return time.time()

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        return time.monotonic()

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        """Wait; True when the stop event ended the wait early."""
        if stop is None:
            time.sleep(seconds)
            return False
        return stop.wait(seconds)

    _iso: tuple[int, str] = (-1, "")  # the last second written out, and how (a send writes it for every batch)

    def iso(self) -> str:
        """The wall time as the ledger writes it (UTC, ISO 8601, to the second)."""
        second = int(self.time())
        if self._iso[0] != second:
            self._iso = (second, iso(second))
        return self._iso[1]


SYSTEM_CLOCK = Clock()


class RateLimiter:
    """At most `rate` messages per second over all connections, evenly spaced: never more than N in any window."""

    def __init__(self, rate: float | None, clock: Clock = SYSTEM_CLOCK) -> None:
        # A hair over the exact interval, so that rounding never lets N+1 messages into a window of N.
        self.interval = (1.0 / rate) * (1 + 1e-9) if rate else 0.0
        self.clock = clock
        self.next = clock.monotonic()
        self.lock = threading.Lock()

    def wait(self, stop: threading.Event | None = None) -> bool:
        """Wait for this message's slot; False when the send was stopped meanwhile (the message must not go)."""
        if not self.interval:
            return not (stop is not None and stop.is_set())
        # The wait happens under the lock: the connections pass one at a time, each a whole interval after the last.
        with self.lock:
            if stop is not None and stop.is_set():
                return False
            now = self.clock.monotonic()
            slot = max(self.next, now)  # a quiet spell earns no burst afterwards
            self.next = slot + self.interval
            if slot > now and self.clock.sleep(slot - now, stop):
                return False
        return True


class DailyBudget:
    """How many more messages may be claimed under the daily limit; the ledger is asked only when the count runs out."""

    def __init__(self, db, limit: int, clock: Clock = SYSTEM_CLOCK) -> None:
        self.db, self.limit, self.clock = db, limit, clock
        self.left = 0
        self.refresh()

    def counted(self) -> int:
        """Messages that count against the limit now: sent (or on their way) in the last 24 hours, every issue."""
        return ledger.sent_since(self.db, iso(self.clock.time() - WINDOW))

    def refresh(self) -> int:
        """Recount from the ledger; how many may go now."""
        self.left = max(0, self.limit - self.counted())
        return self.left

    def take(self, wanted: int) -> int:
        """Up to wanted messages, as many as the limit allows now."""
        granted = min(wanted, self.left)
        self.left -= granted
        return granted

    def next_free(self) -> float | None:
        """When (epoch) the next message may go: the moment enough of the last 24 hours' messages age out."""
        since = iso(self.clock.time() - WINDOW)
        over = ledger.sent_since(self.db, since) - self.limit
        if over < 0:
            return None
        oldest = ledger.counted_times(self.db, since, offset=over)
        return from_iso(oldest) + WINDOW + 1 if oldest else None


def expected_duration(count: int, rate: float | None) -> float | None:
    """Seconds a send of count messages takes at rate (None when only the server's speed decides)."""
    if not rate or count <= 0:
        return None
    return count / rate


def describe_duration(seconds: float) -> str:
    """'about 1 h 40 min', 'about 3 min', 'under a minute'."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return _("under a minute")
    hours, minutes = divmod(minutes, 60)
    if hours >= 24:
        days, hours = divmod(hours, 24)
        return _("about {days} d {hours} h").format(days=days, hours=hours)
    if hours:
        return _("about {hours} h {minutes} min").format(hours=hours, minutes=minutes)
    return _("about {minutes} min").format(minutes=minutes)


def local_time(epoch: float) -> str:
    """An epoch time as the local date and time a person reads, rounded up to the minute: '2 december 2026 14:32'."""
    return i18n.format_datetime(dt.datetime.fromtimestamp(math.ceil(epoch / 60) * 60).astimezone(), i18n.DATE_TIME)
