"""Notice when the files an issue is built from change, by polling their modification times."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

# Editors write these next to the file being saved; they never change the issue.
_SCRATCH_SUFFIXES = ("~", ".swp", ".swx", ".swo", ".tmp", ".part", ".crdownload")
_SCRATCH_NAMES = {"4913", ".DS_Store", "Thumbs.db"}

Snapshot = dict[str, tuple[int, int, int]]


def _is_scratch(name: str) -> bool:
    return name.startswith((".", "#")) or name in _SCRATCH_NAMES or name.endswith(_SCRATCH_SUFFIXES)


def scan(paths: Iterable[Path]) -> Snapshot:
    """(mtime, size, inode) of every watched file, and each folder; editor scratch files are skipped."""
    found: Snapshot = {}

    def add(path: str) -> None:
        try:
            st = os.stat(path)
        except OSError:  # removed between listing and stat: the next scan sees it gone
            return
        found[path] = (st.st_mtime_ns, st.st_size, st.st_ino)

    for root in paths:
        root = os.fspath(root)
        if os.path.isdir(root):
            for folder, dirs, files in os.walk(root):
                dirs[:] = sorted(d for d in dirs if not _is_scratch(d))
                found[folder + os.sep] = (0, 0, 0)  # a folder counts by being there (e.g. images/ made empty)
                for name in files:
                    if not _is_scratch(name):
                        add(os.path.join(folder, name))
        elif os.path.exists(root):
            add(root)
    return found


def changed_paths(before: Snapshot, after: Snapshot) -> list[str]:
    """Files added, removed or modified between two scans."""
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


class Watcher:
    """Polls a set of files and folders and calls back, debounced, when something in them changes."""

    def __init__(
        self,
        paths: Iterable[Path],
        on_change: Callable[[list[str]], None],
        *,
        interval: float = 0.05,
        quiet: float = 0.05,
        max_delay: float = 1.0,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self.on_change = on_change
        self.interval = interval  # how often to look
        self.quiet = quiet  # a change must be this still before a rebuild (editors save in steps)
        self.max_delay = max_delay  # ...but a file written non-stop still rebuilds this often
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: Snapshot = {}
        self._primed = False

    def prime(self) -> "Watcher":
        """Take the scan that later changes are compared with (before the first build, so none is missed)."""
        self._last = scan(self.paths)
        self._primed = True
        return self

    def start(self) -> "Watcher":
        """Start polling in a daemon thread (priming first if that was not done)."""
        if not self._primed:
            self.prime()
        self._thread = threading.Thread(target=self._run, name="nyhetsbrev-preview-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling and wait for a rebuild in progress to finish."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            now = scan(self.paths)
            if now == self._last:
                continue
            started = time.monotonic()
            while not self._stop.wait(self.quiet):
                again = scan(self.paths)
                if again == now or time.monotonic() - started > self.max_delay:
                    now = again
                    break
                now = again
            if self._stop.is_set():
                return
            changes, self._last = changed_paths(self._last, now), now
            try:
                self.on_change(changes)
            except Exception:  # noqa: BLE001 - the callback reports its own failures; watching goes on
                pass
