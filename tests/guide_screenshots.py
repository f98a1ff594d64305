"""The pictures of the Swedish user guide (docs/sv/bilder/): the preview and the archive, as a person sees them.

`make guide-screenshots` writes them from this repository's own issue 22:1 with Debian's chromium, headless.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.fixtures import CHROMIUM, CHROMIUM_ARGS
from tests.golden import REPO, copy_repo_project

PICTURES = REPO / "docs" / "sv" / "bilder"


def preview(browser, project: Path) -> Path:
    """forhandsgranskning.png: the preview of 22:1, desktop and phone side by side."""
    from nyhetsbrev.web.preview import PreviewServer

    server = PreviewServer(project, "22:1", port=0).start()
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(server.url, wait_until="load")
        for frame in page.frames:
            frame.wait_for_load_state("load")
        page.wait_for_timeout(500)  # the frames' layout after their images
        path = PICTURES / "forhandsgranskning.png"
        page.screenshot(path=str(path))
        page.close()
        return path
    finally:
        server.stop()


def archive(browser, project: Path, data: Path) -> Path:
    """arkivet.png: the archive's front page as `nyhetsbrev publish` writes it."""
    env = {**os.environ, "NYHETSBREV_DB": str(data / "nyhetsbrev.db"), "NYHETSBREV_LANGUAGE": "sv"}
    subprocess.run([sys.executable, "-m", "nyhetsbrev", "--project", str(project), "publish", "--out", str(data / "arkiv")],
                   env=env, check=True, capture_output=True)
    page = browser.new_page(viewport={"width": 1024, "height": 700})
    page.goto((data / "arkiv" / "index.html").as_uri(), wait_until="load")
    path = PICTURES / "arkivet.png"
    page.screenshot(path=str(path), clip={"x": 0, "y": 0, "width": 1024, "height": 340})  # the issues, not the contacts
    page.close()
    return path


def main() -> None:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM:
        raise SystemExit("chromium not installed: apt-get install chromium")
    PICTURES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        project = copy_repo_project(Path(tmp) / "project")
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for path in (preview(browser, project), archive(browser, project, Path(tmp))):
            print(f"wrote {path.relative_to(REPO)}")
        browser.close()


if __name__ == "__main__":
    main()
