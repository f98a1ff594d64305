"""Accessibility checks shared by the browser tests: axe-core's WCAG 2.0/2.1 A and AA rules on an open page.

axe-core comes from a pinned registry package (axe-playwright-python ships axe.min.js; see pyproject's test
extras), never from the network at test time. Missing, the test skips in one line, or fails in CI
(NYHETSBREV_REQUIRE_BROWSER, which already asks for the browser these checks run in).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures import require_program

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
REPORTED_TAGS = ["best-practice"]  # reported (printed; see them with pytest -s), never failing a test ...
# ... except these best-practice rules, which the suite checked by hand before axe: headings in order, from an h1
KEPT_RULES = {"heading-order", "page-has-heading-one"}


def axe_script() -> str:
    """The text of axe.min.js from the installed package; skips or fails (CI) when it is not installed."""
    try:
        import axe_playwright_python
    except ImportError:
        path = None
    else:
        found = Path(axe_playwright_python.__file__).parent / "axe.min.js"
        path = str(found) if found.is_file() else None
    path = require_program(path, "axe-core (axe-playwright-python)", "NYHETSBREV_REQUIRE_BROWSER",
                           "nothing: pip install -e '.[test]'")
    return Path(path).read_text(encoding="utf-8")


_RUN_JS = """
async (tags) => {
  const results = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, tags: v.tags, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html.slice(0, 160), summary: n.failureSummary})),
  }));
}
"""


def _inject(page, script: str) -> None:
    """Put axe into the page and each of its frames (axe asks the frames itself, so theirs count too)."""
    for frame in page.frames:
        if not frame.evaluate("typeof window.axe !== 'undefined'"):
            frame.evaluate(script)


def axe_violations(page, tags: list[str] | None = None) -> list[dict]:
    """axe-core's violations of the rules with these tags (default WCAG 2.0/2.1 A and AA) on an open page."""
    _inject(page, axe_script())
    return page.main_frame.evaluate(_RUN_JS, tags or WCAG_TAGS)


def describe(violations: list[dict]) -> str:
    """One line per violation and element: rule, impact, where, and what to fix."""
    lines = []
    for v in violations:
        for node in v["nodes"]:
            lines.append(f"{v['id']} ({v['impact']}): {v['help']} at {node['target']}: {node['html']}")
    return "\n".join(lines)


def failing(violation: dict) -> bool:
    """A violation that fails the test: a WCAG 2.0/2.1 A or AA rule, or a kept best-practice one."""
    return bool(set(violation["tags"]) & set(WCAG_TAGS)) or violation["id"] in KEPT_RULES


def assert_accessible(page, what: str) -> None:
    """No WCAG 2.0/2.1 A or AA violation (nor a heading out of order) on the open page; other best-practice
    findings are printed, not failed."""
    found = axe_violations(page, WCAG_TAGS + REPORTED_TAGS)
    advice = [v for v in found if not failing(v)]
    if advice:
        print(f"\naxe best-practice on {what}:\n{describe(advice)}")
    violations = [v for v in found if failing(v)]
    assert violations == [], f"axe-core found WCAG violations on {what}:\n{describe(violations)}\n" + \
        json.dumps([v["id"] for v in violations])




def assert_accessible_without_javascript(browser, page, what: str) -> None:
    """assert_accessible for a page open with JavaScript off (axe needs it): the same document, as the server sent
    it and at the same address (its styles load from there), checked in a tab with JavaScript on."""
    document, address = page.content(), page.url
    context = browser.new_context(viewport=page.viewport_size)
    try:
        copy = context.new_page()
        copy.route(lambda url: url == address,
                   lambda route: route.fulfill(status=200, content_type="text/html; charset=utf-8", body=document))
        copy.goto(address)
        assert_accessible(copy, what)
    finally:
        context.close()
