"""What the author typed is what readers see: image and link paths with spaces and å, ä, ö, syntax left as text, unused images."""

from __future__ import annotations

import re
import urllib.request

import pytest

from nyhetsbrev.render import markdown
from nyhetsbrev.web.preview import PreviewServer
from tests.preview_helpers import get

PHOTO = "images/Bild från mötet.jpg"
ALT = "Deltagare samlade kring borden i Flen"


@pytest.fixture
def issue(repo_project):
    """22:1 with a phone photo whose file name has spaces and å, ä, ö."""
    from PIL import Image

    folder = repo_project / "issues/22-1"
    (folder / "images").mkdir(exist_ok=True)
    Image.new("RGB", (1600, 1200), (40, 120, 60)).save(folder / PHOTO, "JPEG", quality=90)
    return repo_project, folder


def _add(folder, text: str) -> int:
    """Append text to the first section; the line number its first line gets."""
    section = folder / "01-tillsammans.md"
    before = section.read_text(encoding="utf-8").rstrip("\n") + "\n\n"
    section.write_text(before + text + "\n", encoding="utf-8")
    return before.count("\n") + 1


@pytest.mark.parametrize("written", [
    f"![{ALT}]({PHOTO})",
    f"![{ALT}](<{PHOTO}>)",
    f"![{ALT}](images/Bild%20fr%C3%A5n%20m%C3%B6tet.jpg)",
    f'![{ALT}]({PHOTO} "Foto: Anna Exempelsson")',
], ids=["bare", "angle-brackets", "percent-encoded", "bare-with-title"])
def test_a_photo_typed_as_editors_write_it_is_shown_optimised(cli, issue, written):
    root, folder = issue
    _add(folder, written)
    check = cli("--project", root, "check", "22:1")
    assert check.exit_code == 0, check.output
    assert "Bild från mötet" not in check.stderr  # neither an error nor 'unused'
    assert cli("--project", root, "build", "22:1").exit_code == 0
    html = (root / "build/22-1/email.html").read_text(encoding="utf-8")
    assert "](" not in html and "Bild från mötet.jpg" not in html
    [src] = re.findall(rf'<img src="(images/bild-fran-motet-[0-9a-f]{{10}}\.jpg)" alt="{ALT}"', html)
    assert (root / "build/22-1" / src).is_file()
    assert f"[{ALT}]" in (root / "build/22-1/email.txt").read_text(encoding="utf-8")


def test_the_preview_shows_the_photo_typed_bare(issue):
    root, folder = issue
    _add(folder, f"![{ALT}]({PHOTO})")
    with PreviewServer(root, "22:1", port=0) as server:
        html = get(server, "/email.html")[2]
        [src] = re.findall(r'src="(images/bild-fran-motet-[0-9a-f]{10}\.jpg)"', html)
        with urllib.request.urlopen(server.url.rstrip("/") + "/" + src, timeout=30) as response:
            assert response.headers.get("Content-Type") == "image/jpeg"
        assert "](" not in html


def test_a_link_typed_with_spaces_is_a_link_and_titles_and_parentheses_keep_their_meaning():
    html = markdown.to_html(
        "[Protokoll från mötet](filer/Protokoll maj.pdf) och [Wiki](https://sv.wikipedia.org/wiki/Fil_(musik)) "
        '[a](b "titel") [c](d (titel)) ![e](images/x y.png) (parentes)')
    assert '<a href="filer/Protokoll%20maj.pdf">Protokoll från mötet</a>' in html
    assert '<a href="https://sv.wikipedia.org/wiki/Fil_(musik)">Wiki</a>' in html
    assert '<a href="b" title="titel">a</a>' in html and '<a href="d" title="titel">c</a>' in html
    assert '<img src="images/x%20y.png" alt="e" /> (parentes)' in html


def test_a_typo_in_the_photo_name_is_an_error_naming_the_line(cli, issue):
    root, folder = issue
    line = _add(folder, f"Text.\n![{ALT}](images/Bild från mötte.jpg)")
    result = cli("--project", root, "check", "22:1")
    assert result.exit_code == 1
    assert (f"{folder / '01-tillsammans.md'}:{line + 1}: image 'images/Bild från mötte.jpg' not found: "
            f"did you mean '{PHOTO}'?") in result.stderr


@pytest.mark.parametrize("written, down, what, shown", [
    (f"Se bilden:\n![{ALT}](images/Bild från\nmötet.jpg)", 1, "an image", f"![{ALT}](images/Bild från mötet.jpg)"),
    ("Läs [mer](javascript:alert(1)) här.", 0, "a link", "[mer](javascript:alert(1))"),
])
def test_markdown_that_reaches_readers_as_text_is_an_error_at_its_line(cli, issue, written, down, what, shown):
    root, folder = issue
    line = _add(folder, written) + down
    result = cli("--project", root, "check", "22:1")
    assert result.exit_code == 1, result.output
    assert (f"{folder / '01-tillsammans.md'}:{line}: readers would see this Markdown as text, not as {what}: "
            f"{shown}") in result.stderr


def test_syntax_the_author_escaped_or_put_in_code_is_no_error(cli, issue):
    root, folder = issue
    _add(folder, "Skriv \\[text\\](adress) eller `![alt](bild.png)` så blir det en länk eller bild.")
    result = cli("--project", root, "check", "22:1")
    assert "readers would see" not in result.stderr


def test_an_image_no_section_uses_is_a_warning(cli, issue):
    root, folder = issue
    (folder / "images" / ".DS_Store").write_bytes(b"\0")
    (folder / "images" / "Thumbs.db").write_bytes(b"\0")
    result = cli("--project", root, "check", "22:1")
    assert result.exit_code == 0
    assert f"warning: {folder / PHOTO}: the image '{PHOTO}' is used by no section" in result.stderr
    assert ".DS_Store" not in result.stderr and "Thumbs.db" not in result.stderr
    _add(folder, f"![{ALT}]({PHOTO})")
    assert "used by no section" not in cli("--project", root, "check", "22:1").stderr


@pytest.mark.parametrize("file_form, typed_form", [("NFD", "NFC"), ("NFC", "NFD")])
def test_a_name_typed_in_another_unicode_form_than_the_files_finds_it(cli, issue, file_form, typed_form):
    import unicodedata

    root, folder = issue
    (folder / PHOTO).rename(folder / unicodedata.normalize(file_form, PHOTO))
    _add(folder, f"![{ALT}]({unicodedata.normalize(typed_form, PHOTO)})")
    result = cli("--project", root, "check", "22:1")
    assert result.exit_code == 0, result.output
    assert "not found" not in result.stderr and "used by no section" not in result.stderr
    assert cli("--project", root, "build", "22:1").exit_code == 0
    html = (root / "build/22-1/email.html").read_text(encoding="utf-8")
    assert re.search(r'<img src="images/bild-fran-motet-[0-9a-f]{10}\.jpg"', html)
