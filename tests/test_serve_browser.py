"""The unsubscribe page in a real browser (Debian's chromium) against `nyhetsbrev serve`: press the button, without
JavaScript, and the pages pass axe-core's WCAG checks."""

from __future__ import annotations

import pytest

from tests.accessibility import assert_accessible_without_javascript
from tests.send_helpers import add_people
from tests.serve_helpers import events, served, served_project, suppression, token_for  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]


@pytest.fixture
def tab(browser):
    """A phone-sized tab with JavaScript off: the page must work without it."""
    context = browser.new_context(viewport={"width": 375, "height": 740}, java_script_enabled=False)
    page = context.new_page()
    yield page
    context.close()


def test_open_the_link_press_the_button_see_the_confirmation(served, tab):
    from playwright.sync_api import expect

    (anna,) = add_people(1, ["politiker"], prefix="anna")
    tab.goto(served.url + served.link(token_for(anna))[len(served.path):])
    expect(tab.get_by_role("heading", level=1)).to_have_text("Vill du avregistrera dig från Tillsammans för barnens bästa?")
    assert suppression(anna) is None  # opening the page changed nothing
    assert_accessible_without_javascript(tab.context.browser, tab, "serve's page (GET)")
    assert tab.evaluate("document.scrollingElement.scrollWidth") <= 375

    tab.get_by_role("button", name="Ja, avregistrera mig").click()
    expect(tab.get_by_role("heading", level=1)).to_have_text("Du är avregistrerad")
    assert tab.url == served.url + served.link(token_for(anna))[len(served.path):]  # no redirect
    assert_accessible_without_javascript(tab.context.browser, tab, "serve's done page")
    assert suppression(anna) == "unsubscribed"
    assert events(anna)[-1] == ("unsubscribed", "web")
    assert tab.context.cookies() == []


def test_the_invalid_link_page_passes_the_same_checks(served, tab):
    from playwright.sync_api import expect

    response = tab.goto(served.url + "?token=inte.giltig")
    assert response.status == 400
    expect(tab.get_by_role("link", name="redaktion@example.org")).to_have_attribute("href", "mailto:redaktion@example.org")
    assert_accessible_without_javascript(tab.context.browser, tab, "serve's invalid link page")
