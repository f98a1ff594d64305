"""Write build output atomically: a file is either the old one or the new one, never half."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def write_text(path: Path, text: str) -> None:
    """Write text (UTF-8, LF) to path through a temp file and an atomic rename."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    """Write bytes to path through a temp file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def copy_file(source: Path, dest: Path) -> None:
    """Copy a file atomically, skipping it when dest already has the same bytes."""
    if dest.is_file() and dest.stat().st_size == source.stat().st_size and dest.read_bytes() == source.read_bytes():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_output(out_dir: Path, files: dict[str, str], images: dict[str, Path]) -> None:
    """Write the text files and copy the images into out_dir (images/ below it)."""
    for name, text in files.items():
        write_text(out_dir / name, text)
    for relative, source in images.items():
        copy_file(source, out_dir / relative)
