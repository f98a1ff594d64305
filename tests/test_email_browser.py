"""The email in a real browser (Debian's chromium): phone and desktop layout (axe-core's checks: test_accessibility_browser)."""

from __future__ import annotations

import pytest

from tests.golden import build_repo_issue
from tests.screenshots import take

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def email(tmp_path_factory):
    return build_repo_issue(tmp_path_factory.mktemp("email")) / "email.html"


def _open(browser, email, width):
    page = browser.new_page(viewport={"width": width, "height": 800})
    page.goto(email.as_uri())
    return page


def _roster_boxes(page):
    return page.eval_on_selector_all(".nb-roster-column", "els => els.map(e => e.getBoundingClientRect().toJSON())")


def test_phone_width_has_no_horizontal_scroll_and_stacks_the_roster(browser, email):
    page = _open(browser, email, 375)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 375
    first, second = _roster_boxes(page)
    assert second["top"] >= first["bottom"] - 1  # one column: the second group starts below the first
    assert first["width"] > 300
    page.close()


def test_desktop_width_shows_the_roster_in_two_columns(browser, email):
    page = _open(browser, email, 600)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 600
    first, second = _roster_boxes(page)
    assert abs(first["top"] - second["top"]) < 2 and second["left"] >= first["right"] - 1
    assert page.get_by_text("Nyhetsbrev 22:1").is_visible()
    page.close()


def test_screenshots_are_written(browser, email, tmp_path):
    shots = take(browser, email, tmp_path)
    for path in shots.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def photo_email(tmp_path_factory):
    """The repository's 22:1 with a 4000×3000 phone photo and a photo in a timeline step."""
    from tests.golden import copy_repo_project
    from tests.image_helpers import phone_photo
    from nyhetsbrev.publish.pipeline import build

    project = copy_repo_project(tmp_path_factory.mktemp("photo") / "project")
    folder = project / "issues" / "22-1"
    phone_photo(folder / "images" / "Bild från mötet.jpg", orientation=1)
    first = sorted(folder.glob("0*.md"))[0]
    first.write_text(first.read_text(encoding="utf-8") + "\n\n![Från mötet](<images/Bild från mötet.jpg>)\n", encoding="utf-8")
    timeline = next(p for p in sorted(folder.glob("0*.md")) if "### " in p.read_text(encoding="utf-8"))
    timeline.write_text(timeline.read_text(encoding="utf-8") + "\n\n![Från mötet](<images/Bild från mötet.jpg>)\n",
                        encoding="utf-8")
    return build(project, "22:1").out_dir / "email.html"


@pytest.mark.parametrize("width", [375, 600])
def test_a_large_photo_fits_the_width_without_horizontal_scroll(browser, photo_email, width):
    page = _open(browser, photo_email, width)
    page.wait_for_load_state("load")
    boxes = page.eval_on_selector_all(
        "img[src^='images/bild-fran-motet-']",
        "els => els.map(e => ({w: e.getBoundingClientRect().width, h: e.getBoundingClientRect().height,"
        " right: e.getBoundingClientRect().right, natural: e.naturalWidth, ratio: e.naturalHeight / e.naturalWidth}))")
    scroll = page.evaluate("document.scrollingElement.scrollWidth")
    page.close()
    assert scroll <= width
    assert len(boxes) == 2
    for box in boxes:
        assert box["natural"] == 1200  # loaded: the image fit for email, twice the column
        assert box["right"] <= width and box["w"] <= 552
        assert abs(box["h"] - box["w"] * box["ratio"]) <= 2  # scaled, not stretched
    assert boxes[0]["w"] >= min(width - 48, 552) - 1  # the text's image fills its column
