"""axe-core's WCAG 2.0/2.1 A and AA rules in a real browser (Debian's chromium): the check itself, the email and its
web copies. The archive, the preview and the unsubscribe pages are checked in their own browser tests."""

from __future__ import annotations

import pytest

from tests.accessibility import assert_accessible, axe_violations
from tests.golden import build_repo_issue

pytestmark = pytest.mark.browser

BROKEN = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Trasig sida</title></head>
<body><main><h1>Rubrik</h1><h4>Hoppar över två nivåer</h4>
<p style="color:#aaaaaa;background:#ffffff">Ljusgrå text som är svår att läsa.</p>
<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==">
</main></body></html>
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The repository's 22:1 built, with a section only for politiker (so there is an audience web copy)."""
    from nyhetsbrev.publish.pipeline import build
    from tests.golden import copy_repo_project

    project = copy_repo_project(tmp_path_factory.mktemp("a11y") / "project")
    (project / "issues/22-1/04-politik.md").write_text(
        "---\naudience: [politiker]\n---\n## Till politiker\n\nEn text bara för politiker.\n", encoding="utf-8")
    return build(project, "22:1").out_dir


def _open(browser, path, width=600):
    page = browser.new_page(viewport={"width": width, "height": 800})
    page.goto(path.as_uri())
    return page


def test_the_check_fails_on_a_page_without_lang_alt_contrast_or_heading_order(browser, tmp_path):
    page_file = tmp_path / "trasig.html"
    page_file.write_text(BROKEN, encoding="utf-8")
    page = _open(browser, page_file)
    found = {v["id"] for v in axe_violations(page)}
    with pytest.raises(AssertionError) as failed:
        assert_accessible(page, "a broken page")
    page.close()
    assert {"html-has-lang", "image-alt", "color-contrast"} <= found
    for rule in ("html-has-lang", "image-alt", "color-contrast", "heading-order"):
        assert rule in str(failed.value)


@pytest.mark.parametrize("width", [600, 375])
def test_the_email_has_no_violations(browser, built, width):
    page = _open(browser, built / "email.html", width)
    assert_accessible(page, f"email.html at {width} px")
    page.close()


def test_the_web_copy_has_no_violations(browser, built):
    page = _open(browser, built / "web.html", 1280)
    assert_accessible(page, "web.html")
    page.close()


def test_the_audience_web_copy_has_no_violations(browser, built):
    (audience,) = [p for p in built.glob("web-*.html")]
    page = _open(browser, audience, 375)
    assert "En text bara för politiker" in page.content()
    assert_accessible(page, audience.name)
    page.close()


def test_the_accessibility_statement_has_no_violations(browser, tmp_path):
    from nyhetsbrev.publish.archive import publish
    from tests.golden import copy_repo_project

    out = publish(copy_repo_project(tmp_path / "project")).out_dir  # the repository's own [accessibility]
    for width in (375, 1280):
        page = _open(browser, out / "tillganglighet" / "index.html", width)
        assert page.get_by_role("heading", level=1).inner_text() == "Tillgänglighetsredogörelse"
        assert_accessible(page, f"the accessibility statement at {width} px")
        page.close()
