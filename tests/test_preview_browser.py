"""The preview in a real browser (Debian's chromium): both widths, live reload, errors and recovery."""

from __future__ import annotations

import pytest

from tests.preview_helpers import (  # noqa: F401  (preview is a fixture)
    FIRST_WORDS, SECTION, TIMELINE, break_front_matter, preview, replace_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

LIVE = 30_000  # ms: a generous bound on waiting for a save to show in the page without a manual reload (not a latency)


@pytest.fixture
def page(browser, preview):
    """The preview page, open and showing the issue."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.goto(preview.url)
    for frame in ("#frame-desktop", "#frame-phone"):
        expect(tab.frame_locator(frame).get_by_text(FIRST_WORDS)).to_be_visible()
    tab.evaluate("window.__sameDocument = true")  # gone if the page reloads itself
    yield tab
    context.close()


def test_the_preview_page_passes_axe_core(page):
    from tests.accessibility import assert_accessible

    assert_accessible(page, "the preview page (with the email in both frames)")


def _frame(page, selector):
    return page.locator(selector).element_handle().content_frame()


def test_both_widths_show_the_issue(page):
    from playwright.sync_api import expect

    desktop, phone = _frame(page, "#frame-desktop"), _frame(page, "#frame-phone")
    assert desktop.evaluate("innerWidth") == 640
    assert phone.evaluate("innerWidth") == 375
    heading = "el => getComputedStyle(el).fontSize"
    # The email's own phone rules apply in the phone frame only: the real responsive email, not a scaled copy.
    assert desktop.locator(".nb-issue").evaluate(heading) == "30px"
    assert phone.locator(".nb-issue").evaluate(heading) == "26px"
    expect(page.locator("#inbox-subject")).to_have_text("Nyhetsbrev 22:1 – Tillsammans för barnens bästa i Sörmland")
    expect(page.locator("#problems")).to_contain_text("No errors or warnings")
    page.get_by_role("tab", name="Plain text").click()
    expect(page.locator("#text")).to_contain_text(FIRST_WORDS)
    expect(page.locator("#frame-desktop")).to_be_hidden()


def test_an_edit_shows_without_reloading_the_page(page, repo_project):
    from playwright.sync_api import expect

    replace_in(repo_project / SECTION, FIRST_WORDS, "Helt ny inledning i förhandsvisningen")
    for frame in ("#frame-desktop", "#frame-phone"):
        expect(page.frame_locator(frame).get_by_text("Helt ny inledning i förhandsvisningen")).to_be_visible(timeout=LIVE)
    expect(page.frame_locator("#frame-desktop").get_by_text(FIRST_WORDS)).to_have_count(0)
    assert page.evaluate("window.__sameDocument") is True


def test_broken_front_matter_shows_the_error_then_recovers(page, repo_project):
    from playwright.sync_api import expect

    good = break_front_matter(repo_project / TIMELINE)
    error = page.locator("#error")
    expect(error).to_be_visible(timeout=LIVE)
    expect(error).to_contain_text("issues/22-1/02-processen-2021.md")
    expect(error).to_contain_text("YAML")
    expect(page.locator("#status")).to_have_text("build failed")
    # The check panel says what the banner says: the error that stopped the build.
    problems = page.locator("#problems")
    expect(problems.locator("li.error")).to_contain_text("YAML")
    expect(problems.locator("li.error .where")).to_contain_text("issues/22-1/02-processen-2021.md")
    expect(problems).not_to_contain_text("No errors or warnings")
    expect(page.locator("#problem-count")).to_have_text("(1 error, 0 warnings)")
    # The last good build stays on screen.
    expect(page.frame_locator("#frame-phone").get_by_role("heading", name="Processen år 2021")).to_be_visible()

    (repo_project / TIMELINE).write_text(good.replace("Nästa steg", "Nästa steg framåt"), encoding="utf-8")
    expect(error).to_be_hidden(timeout=LIVE)
    expect(page.frame_locator("#frame-desktop").get_by_text("Nästa steg framåt")).to_be_visible(timeout=LIVE)
    expect(page.locator("#status")).to_have_text("live")
    expect(problems).to_contain_text("No errors or warnings")
    assert page.evaluate("window.__sameDocument") is True


def test_sections_for_some_lists_are_marked(page, repo_project):
    from playwright.sync_api import expect

    (repo_project / "issues/22-1/04-politik.md").write_text(
        "---\naudience: [politiker]\n---\n## Till politiker\n\nEn text bara för politiker.\n", encoding="utf-8")
    marked = page.frame_locator("#frame-desktop").locator("[data-audience]")
    expect(marked).to_contain_text("En text bara för politiker", timeout=LIVE)
    label = marked.evaluate("el => getComputedStyle(el, '::before').content")
    assert label == '"Only for: politiker"'
    expect(page.locator("#sections")).to_contain_text("Only for: politiker")
    page.locator("#markers").uncheck()
    unmarked = page.frame_locator("#frame-desktop").locator("[data-audience]")
    expect(unmarked).to_have_css("outline-style", "none", timeout=LIVE)


def test_problems_show_their_file_and_line(page, repo_project):
    from playwright.sync_api import expect

    (repo_project / "issues/22-1/04-bild.md").write_text(
        "## Bild\n\n![](https://example.org/karta.png)\n", encoding="utf-8")
    warning = page.locator("#problems li.warning", has_text="alt text")
    expect(warning.locator(".where")).to_have_text("issues/22-1/04-bild.md:3", timeout=LIVE)
