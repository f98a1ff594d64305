"""The per-issue send lock: an OS lock file next to the database, so that one issue is never sent twice at once."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from ..errors import SendLocked
from .db import db_file, utc_now
from ..i18n import _


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
                holder = handle.read().strip() or _("another process")
                handle.close()
                raise SendLocked(
                    _("issue {issue} is already being sent ({holder})").format(issue=self.issue, holder=holder),
                    path=self.path,
                    hint=_("wait for that send to finish, or check 'nyhetsbrev status'; the lock goes away by itself when it ends"),
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
