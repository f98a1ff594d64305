"""Screenshots of 22:1 at desktop and phone width for a person to look at: `make screenshots`."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.fixtures import CHROMIUM, CHROMIUM_ARGS
from tests.golden import REPO, build_repo_issue

WIDTHS = {"desktop": 600, "phone": 375}


def take(browser, email: Path, out_dir: Path) -> dict[str, Path]:
    """Write email-<name>.png for each width; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    shots = {}
    for name, width in WIDTHS.items():
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(email.as_uri())
        path = out_dir / f"email-{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        page.close()
        shots[name] = path
    return shots


def main() -> None:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM:
        raise SystemExit("chromium not installed: apt-get install chromium")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        out = build_repo_issue(Path(tmp))
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for path in take(browser, out / "email.html", REPO / "screenshots").values():
            print(f"wrote {path}")
        browser.close()


if __name__ == "__main__":
    main()
