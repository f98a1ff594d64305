"""Messages on their way between the send's main thread and its connection threads."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from ..store import ledger


@dataclass
class Job:
    """One message on its way: ledger row, Message-ID, how often it was tried in this run; bytes made by its connection."""

    row: ledger.Row
    message_id: str
    attempt: int = 1
    address: str = ""
    data: bytes = b""

    @property
    def key(self) -> str:
        return self.row.email_key


class Reports:
    """What the connections report; the main thread is woken once per batch, not once per message."""

    def __init__(self) -> None:
        self.items: deque = deque()
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.wake_at = 1

    def put(self, item: object, *, urgent: bool = False) -> None:
        with self.lock:
            self.items.append(item)
            if urgent or len(self.items) >= self.wake_at:
                self.ready.set()

    def take(self, wanted: int, timeout: float) -> list:
        """Everything reported so far, after waiting (up to timeout) until at least `wanted` items are in."""
        with self.lock:
            waiting = len(self.items) < wanted
            if waiting:
                self.wake_at = wanted
                self.ready.clear()
        if waiting:
            self.ready.wait(timeout)
        with self.lock:
            items = list(self.items)
            self.items.clear()
            self.wake_at = 1
        return items


def in_flight_limit(connections: int) -> int:
    """The most messages claimed and not yet answered at once: all that a crash can leave as 'unknown'."""
    return 3 * connections
