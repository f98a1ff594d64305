"""Messages exported from a mail program: a folder of .eml files, an mbox file or a maildir (read only, never changed)."""

from __future__ import annotations

import contextlib
import mailbox as stdlib_mailbox
from collections.abc import Iterator
from pathlib import Path

from ..errors import InboxError
from ..i18n import N_, _
from .mailbox import FETCH_LIMIT, Fetched

EML_SUFFIXES = (".eml", ".msg.eml", ".txt")
_KIND_WORDS = {"folder": N_("the folder {path}"), "file": N_("the mbox file {path}"), "maildir": N_("the maildir {path}")}


class ExportedMessages:
    """The messages at a path, in a stable order; set_aside does nothing (the files are the team's own copy)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).expanduser()
        if not self.path.exists():
            raise InboxError(_("nothing to read there"), path=self.path, hint=_("give a folder of .eml files, an mbox file or a maildir"))
        self.kind = _kind(self.path)
        self.describe = _(_KIND_WORDS.get(self.kind, "{path}")).format(path=self.path)
        self._box = None

    def __enter__(self) -> "ExportedMessages":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._box is not None:
            self._box.close()
            self._box = None

    def pending(self) -> list:
        """The keys of the messages, in order (file names, or the mbox's/maildir's own keys)."""
        if self.kind == "folder":
            return sorted((p for p in self.path.iterdir() if p.is_file() and p.name.lower().endswith(EML_SUFFIXES)),
                          key=lambda p: p.name)
        if self.kind == "file":
            return [self.path]
        return sorted(self._open().keys(), key=str)

    def messages(self, pending=None) -> Iterator[Fetched]:
        """Each message's first FETCH_LIMIT bytes, one at a time; a file that cannot be read is named, and the rest read."""
        for key in self.pending() if pending is None else pending:
            try:
                if isinstance(key, Path):
                    with open(key, "rb") as handle:
                        raw = handle.read(FETCH_LIMIT)
                else:
                    with contextlib.closing(self._open().get_file(key)) as handle:
                        raw = handle.read(FETCH_LIMIT)
            except (OSError, KeyError) as exc:
                name = str(key) if isinstance(key, Path) else self._file_name(key)
                yield Fetched(key, b"", problem=_("cannot read {name}: {reason}").format(
                    name=name, reason=getattr(exc, "strerror", None) or exc), name=name)
                continue
            yield Fetched(key, raw)

    def _file_name(self, key) -> str:
        """The file of a maildir message (or the mbox's own path)."""
        if self.kind == "maildir":
            relative = getattr(self._box, "_toc", {}).get(key)
            return str(self.path / relative) if relative else f"{self.path} ({key})"
        return f"{self.path} (message {key})"

    def set_aside(self, keys) -> None:
        """Exported files are left as they are (a later run knows them by their Message-IDs)."""

    def _open(self):
        if self._box is None:
            try:
                if self.kind == "maildir":
                    self._box = stdlib_mailbox.Maildir(self.path, factory=None, create=False)
                else:
                    self._box = stdlib_mailbox.mbox(self.path, factory=None, create=False)
            except (OSError, stdlib_mailbox.Error) as exc:
                raise InboxError(_("cannot open {what}: {exc}").format(what=self.describe, exc=exc), path=self.path) from None
        return self._box


def _kind(path: Path) -> str:
    if path.is_dir():
        return "maildir" if all((path / part).is_dir() for part in ("cur", "new")) else "folder"
    with open(path, "rb") as handle:
        start = handle.read(5)
    if start == b"From ":
        return "mbox"
    if path.name.lower().endswith(EML_SUFFIXES):
        return "file"
    raise InboxError(
        _("not a folder of .eml files, an mbox file or a maildir"), path=path,
        hint=_("export the messages from your mail program as .eml files into a folder, or as an mbox file"),
    )
