"""Shared by the preview tests: a running preview of a temporary project and small HTTP helpers."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from nyhetsbrev.web.preview import PreviewServer

SECTION = Path("issues/22-1/01-tillsammans.md")
TIMELINE = Path("issues/22-1/02-processen-2021.md")
FIRST_WORDS = "Förra året startade utvecklingsarbetet"


@pytest.fixture
def preview(repo_project):
    """A PreviewServer of the 22:1 copy on a free port, stopped after the test."""
    server = PreviewServer(repo_project, "22:1", port=0).start()
    yield server
    server.stop()


def get(server: PreviewServer, path: str, headers: dict | None = None) -> tuple[int, str, str]:
    """(status, content type, body) of a GET to the preview."""
    request = urllib.request.Request(server.url.rstrip("/") + path, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode("utf-8", "replace")


def state(server: PreviewServer) -> dict:
    """The page's view of the preview (/api/state)."""
    status, _, body = get(server, "/api/state")
    assert status == 200
    return json.loads(body)


def wait_for_epoch_after(server: PreviewServer, epoch: int, timeout: float = 60) -> dict:
    """Long-poll like the page does (each poll the server's longest, 20 s) until the epoch moves; the new state."""
    deadline = time.monotonic() + timeout
    moved = epoch
    while moved == epoch and time.monotonic() < deadline:
        _, _, body = get(server, f"/api/wait?epoch={epoch}&timeout=20")
        moved = json.loads(body)["epoch"]
    assert moved != epoch, f"the preview did not rebuild within {timeout} s"
    return state(server)


def replace_in(path: Path, old: str, new: str) -> str:
    """Replace text in a file (as an editor would save it); returns the old content."""
    before = path.read_text(encoding="utf-8")
    assert old in before
    path.write_text(before.replace(old, new, 1), encoding="utf-8")
    return before


def break_front_matter(path: Path) -> str:
    """Save the timeline section with an unclosed YAML list in its front matter; returns the old content."""
    before = path.read_text(encoding="utf-8")
    assert before.startswith("---\nlayout: timeline\n")
    path.write_text(before.replace("layout: timeline", "layout: [timeline", 1), encoding="utf-8")
    return before
