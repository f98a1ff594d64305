"""A project with three issues (one a draft) for the archive tests, and a walk over the site's links."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from nyhetsbrev.store.db import default_db_path
from nyhetsbrev.store.tokens import default_key_path, load_or_create_key, web_version_folder
from tests.send_helpers import make_project

DRAFT_SUBJECT = "Utkast som ingen får se"
SECOND_SUBJECT = "Nyhetsbrev 22:2 – hösten"


def make_archive_project(root: Path, *, key: bool = True) -> Path:
    """22:1 (an image, a politiker-only and a profession-only section), 22:2, and 23:1 marked draft = true.

    key: make the newsletter's key, as the first send does (the addresses of audience versions are made with it).
    """
    make_project(root, lists=())  # no database: the archive does not need one
    if key:
        load_or_create_key(default_key_path(default_db_path(root)))
    second = root / "issues" / "22-2"
    second.mkdir(parents=True)
    (second / "issue.toml").write_text(
        f'subject = "{SECOND_SUBJECT}"\ndate = 2022-10-14\npreheader = "Höstens träffar & nya steg."\n', encoding="utf-8")
    (second / "01-hosten.md").write_text("## Hösten\n\nVi ses på Öster­malm den 3 november.\n", encoding="utf-8")
    draft = root / "issues" / "23-1"
    draft.mkdir(parents=True)
    (draft / "issue.toml").write_text(
        f'subject = "{DRAFT_SUBJECT}"\ndate = 2023-02-01\npreheader = "Hemligt."\ndraft = true\n', encoding="utf-8")
    (draft / "01-utkast.md").write_text("## Hemlig plan\n\nDet här är inte klart.\n", encoding="utf-8")
    return root


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.found.append(value)


def links(html: str) -> list[str]:
    """Every href and src in an HTML document."""
    parser = _Links()
    parser.feed(html)
    return parser.found


def is_relative(address: str) -> bool:
    """A link inside the site: no scheme, not from the root, not only a fragment."""
    return not re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:|/|#", address)


def target(base: Path, address: str) -> Path:
    """The file a relative address leads to from the folder base (a folder means its index.html)."""
    path = (base / unquote(urlsplit(address).path)).resolve()
    return path / "index.html" if address.endswith("/") or path.is_dir() else path


def site_files(site: Path) -> dict[str, bytes]:
    """Every file of the site by relative path, with its bytes."""
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


def version_folder(root: Path, issue_folder: str, version: str) -> str:
    """The folder of an audience version's page, as publish names it with the project's key ('politiker-3f9a…')."""
    key = (default_key_path(default_db_path(root))).read_text(encoding="ascii").strip()
    return web_version_folder(bytes.fromhex(key), issue_folder, version)
