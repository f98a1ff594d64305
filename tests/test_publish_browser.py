"""The archive in a real browser (Debian's chromium): phone and desktop widths, A4 printing, accessibility."""

from __future__ import annotations

import io

import pytest

from nyhetsbrev.publish.archive import publish
from tests.archive_helpers import make_archive_project
from tests.golden import copy_repo_project
from tests.htmltext import normalise
from tests.accessibility import assert_accessible

pytestmark = pytest.mark.browser

A4_POINTS = (595.3, 841.9)  # 210 × 297 mm; Chromium rounds to whole points (Letter would be 612 × 792)
PAGES = ("index.html", "22-1/index.html", "22-2/index.html", "22-1/politiker-*/index.html",  # the version's own address
         "tillganglighet/index.html")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = make_archive_project(tmp_path_factory.mktemp("archive") / "project")
    publish(root)
    return root / "build" / "archive"


def _is_a4(sheet) -> bool:
    size = (float(sheet.mediabox.width), float(sheet.mediabox.height))
    return all(abs(got - want) < 1 for got, want in zip(size, A4_POINTS))


def _open(browser, path, width):
    [path] = path.parent.parent.glob(f"{path.parent.name}/{path.name}") if "*" in str(path) else [path]
    page = browser.new_page(viewport={"width": width, "height": 800})
    page.goto(path.as_uri())
    return page


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("width", [375, 1280])
def test_no_horizontal_scroll_on_a_phone_or_a_desktop(browser, site, name, width):
    page = _open(browser, site / name, width)
    scroll = page.evaluate("document.scrollingElement.scrollWidth")
    page.close()
    assert scroll <= width


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("width", [375, 1280])
def test_every_page_passes_axe_core(browser, site, name, width):
    page = _open(browser, site / name, width)
    assert_accessible(page, f"{name} at {width} px")
    page.close()


def test_the_issue_page_links_back_to_the_index_and_shows_its_image(browser, site):
    page = _open(browser, site / "22-1" / "index.html", 375)
    page.get_by_role("link", name="Alla nummer").click()
    assert page.url == (site / "index.html").as_uri()
    page.get_by_role("link", name="Nyhetsbrev om barnens bästa – våren").click()
    assert page.url == (site / "22-1" / "index.html").as_uri()
    width = page.eval_on_selector("img[alt='Vår logga']", "img => img.naturalWidth")
    page.close()
    assert width == 1  # the tiny PNG loaded from 22-1/images/


def test_printing_an_issue_gives_a4_pages_with_the_text_and_no_navigation(browser, tmp_path):
    from pypdf import PdfReader

    root = copy_repo_project(tmp_path / "project")  # the real 22:1: long enough for several pages
    publish(root)
    page = _open(browser, root / "build" / "archive" / "22-1" / "index.html", 1280)
    pdf = PdfReader(io.BytesIO(page.pdf(prefer_css_page_size=True)))  # the size comes from the print stylesheet
    page.close()
    assert len(pdf.pages) >= 2
    assert all(_is_a4(sheet) for sheet in pdf.pages)
    text = normalise(" ".join(sheet.extract_text() for sheet in pdf.pages))
    assert "Nyhetsbrev 22:1" in text and "Tillsammans för barnens bästa i Sörmland" in text
    assert "Identifiera och definiera viktiga begrepp" in text and "Vad händer nu?" in text
    assert "Alla nummer" not in text  # the navigation is left off paper


def test_printing_the_index_gives_a4_without_the_feed_link(browser, site):
    from pypdf import PdfReader

    page = _open(browser, site / "index.html", 1280)
    pdf = PdfReader(io.BytesIO(page.pdf(prefer_css_page_size=True)))
    page.close()
    assert all(_is_a4(sheet) for sheet in pdf.pages)
    text = normalise(" ".join(s.extract_text() for s in pdf.pages))
    assert "Nyhetsbrev 22:2 – hösten" in text and "flödesläsare" not in text
