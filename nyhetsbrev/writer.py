"""Write build output atomically: a file is either the old one or the new one, never half."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_text(path: Path, text: str, *, private: bool = False) -> None:
    """Write text (UTF-8, LF) to path through a temp file and an atomic rename (mode 0600 when private)."""
    write_bytes(path, text.encode("utf-8"), private=private)


def write_bytes(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write bytes to path through a temp file and an atomic rename.

    The file gets the mode the umask gives (0644 under 022), like any file a program saves; private files
    (personal data) get 0600 whatever the umask.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600 if private else 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        try:
            os.replace(tmp, path)
        except OSError as exc:  # name the file the user asked for, not the hidden temp file
            raise type(exc)(exc.errno, exc.strerror, str(path)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _temp_name(path: Path) -> Path:
    """A fresh hidden name next to path for the file being written."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}")


def update_bytes(path: Path, data: bytes) -> bool:
    """Write bytes to path atomically unless it already holds exactly them; whether it was written.

    An unchanged file keeps its time stamp, so a copy to a web server or a sync sends only what changed.
    """
    try:
        same = path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        same = False
    if not same:
        write_bytes(path, data)
    return not same


def write_output(out_dir: Path, files: dict[str, str], images: dict[str, bytes]) -> None:
    """Write the text files, and the images into out_dir/images/ (dropping images an earlier build left there)."""
    for name, text in files.items():
        write_text(out_dir / name, text)
    folder = out_dir / "images"
    for name, data in images.items():
        update_bytes(folder / name, data)
    if folder.is_dir():
        for old in folder.iterdir():
            if old.name not in images and old.is_file():
                old.unlink()
