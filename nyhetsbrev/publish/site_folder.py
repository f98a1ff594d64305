"""The output folder of publish, kept to itself: nothing outside it is written or removed, also through links.

Every name publish handles is relative ('22-1/index.html'). Before a file is written, each folder on its way
is checked without following links (lstat): a symbolic link there is refused, never followed; before one is
removed, the same holds, and a name that cannot be checked is left alone.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

from .. import writer
from ..errors import PublishError
from ..i18n import _
from ..project.models import Project

MAX_MANIFEST_BYTES = 32 * 1024 * 1024  # far beyond any real archive's; a larger file is treated as damaged


def checked_out_dir(project: Project, out_dir: Path, private: list[Path]) -> Path:
    """The output folder with every link in its path resolved; refused when it lies among the project's sources.

    private: files that must never be published (the recipients database and its key).
    """
    out = Path(os.path.abspath(out_dir)).resolve()
    root = Path(project.root).resolve()
    sources = {"issues/": project.issues_dir, "templates/": project.templates_dir, "recipients/": root / "recipients"}
    for label, folder in sources.items():
        if out.is_relative_to(folder.resolve()):
            raise PublishError(
                _("the output folder {out} is inside the project's {folder}: the site would be written among its "
                  "sources").format(out=out, folder=label),
                hint=_("publish to build/archive (the default) or to a folder outside issues/, templates/ and recipients/"))
    if root.is_relative_to(out):
        raise PublishError(
            _("the output folder {out} holds the project itself ({root}): the whole folder is copied to the web as "
              "it is").format(out=out, root=root),
            hint=_("publish to build/archive (the default) or to a folder of its own"))
    if out == Path(project.build_dir).resolve():
        raise PublishError(
            _("the output folder {out} is the project's build/ folder: it holds each issue's build, with the web "
              "copies of audience versions named in clear").format(out=out),
            hint=_("publish to build/archive (the default) or to a folder of its own"))
    for path in private:
        if Path(os.path.abspath(path)).resolve().is_relative_to(out):
            raise PublishError(_("the output folder {out} holds {path}, which must never be published").format(
                out=out, path=path), hint=_("publish to a folder of its own"))
    if out.exists() and not out.is_dir():
        raise PublishError(_("the output folder {out} is a file").format(out=out), hint=_("name a folder with --out"))
    return out


def _kind(path: Path) -> int | None:
    """The file type of path itself (a link is a link), or None when nothing is there."""
    try:
        return stat.S_IFMT(os.lstat(path).st_mode)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PublishError(_("cannot look at {path}: {reason}").format(path=path, reason=exc.strerror),
                           hint=_("check the folder's permissions")) from None


def target(out_dir: Path, name: str) -> Path:
    """Where a file of the site goes, after checking that nothing on the way is a link or a file in a folder's place."""
    path = out_dir
    parts = name.split("/")
    for part in parts[:-1]:
        path = path / part
        kind = _kind(path)
        if kind is None:
            break
        if kind == stat.S_IFLNK:
            raise PublishError(_("{path} is a symbolic link: publish writes only inside its output folder and never "
                                 "follows a link there").format(path=path),
                               hint=_("remove the link (publish makes the folder itself)"))
        if kind != stat.S_IFDIR:
            raise PublishError(_("{path} is a file where publish needs a folder").format(path=path),
                               hint=_("move it away"))
    path = out_dir / name
    kind = _kind(path)
    if kind == stat.S_IFLNK:
        raise PublishError(_("{path} is a symbolic link: publish never writes through a link in its output "
                             "folder").format(path=path), hint=_("remove the link; publish writes the file itself"))
    if kind not in (None, stat.S_IFREG):
        raise PublishError(_("{path} is not a plain file").format(path=path), hint=_("move it away"))
    return path


def write(out_dir: Path, name: str, data: bytes) -> list:
    """Write one file of the site unless it already holds these bytes; its manifest record [sha256, size]."""
    path = target(out_dir, name)
    try:
        writer.update_bytes(path, data)
    except OSError as exc:
        raise PublishError(_("cannot write {path}: {reason}").format(path=path, reason=exc.strerror),
                           hint=_("check the folder's permissions")) from None
    return [hashlib.sha256(data).hexdigest(), len(data)]


def intact(out_dir: Path, name: str, size: int) -> bool:
    """A file an earlier run wrote is still there as a plain file of that size, with no link on its way."""
    path = out_dir
    for part in name.split("/"):
        path = path / part
        try:
            st = os.lstat(path)
        except OSError:
            return False
        if stat.S_ISLNK(st.st_mode):
            return False
    return stat.S_ISREG(st.st_mode) and st.st_size == size


def remove(out_dir: Path, name: str) -> bool:
    """Delete a file an earlier run wrote, and the folders it leaves empty; only a plain file reached without links."""
    path, folders = out_dir, []
    for part in name.split("/")[:-1]:
        path = path / part
        if _kind(path) != stat.S_IFDIR:
            return False
        folders.append(path)
    path = out_dir / name
    if _kind(path) != stat.S_IFREG:
        return False
    path.unlink()
    for folder in reversed(folders):  # folders left empty go too
        try:
            folder.rmdir()
        except OSError:
            break
    return True


def read_manifest(out_dir: Path, name: str) -> bytes | None:
    """The manifest's bytes when it is a plain file of a sane size (never read through a link or from a device)."""
    path = out_dir / name
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_MANIFEST_BYTES:
            return None
        return path.read_bytes()
    except OSError:
        return None


def hidden_name(key: bytes, name: str) -> str:
    """How the manifest names a file that must not be named in clear (an audience version's page, its own images)."""
    return hmac.new(key, b"publish-manifest\0" + name.encode("utf-8"), hashlib.sha256).hexdigest()


def inside(name: str) -> bool:
    """A name relative to the site that stays in it ('22-1/index.html', '22-1'; never '../x', '/x', '' or 'C:x')."""
    return (isinstance(name, str) and not any(mark in name for mark in ("\\", ":", "\0"))
            and all(part not in ("", ".", "..") for part in name.split("/")))


def _real_folder(out_dir: Path, folder: str) -> bool:
    """Every step of out_dir/folder is a folder itself: no link on the way, nothing else in a folder's place."""
    path = out_dir
    for part in folder.split("/"):
        path = path / part
        if _kind(path) != stat.S_IFDIR:
            return False
    return True


def locate(out_dir: Path, folder: str, key: bytes, wanted: set[str]) -> dict[str, str]:
    """The relative names of the files under out_dir/folder whose hidden_name is wanted (links are not followed,
    also on the way to the folder; a folder name that leaves the site is never looked at)."""
    found: dict[str, str] = {}
    top = out_dir / folder
    if not wanted or not inside(folder) or not _real_folder(out_dir, folder):
        return found
    for here, dirs, files in os.walk(top, followlinks=False):
        for file in files:
            path = Path(here) / file
            name = path.relative_to(out_dir).as_posix()
            mac = hidden_name(key, name)
            if mac in wanted and _kind(path) == stat.S_IFREG:
                found[mac] = name
    return found
