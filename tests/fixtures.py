"""Fixtures used across test modules: a fresh project, the CLI runner, the browser."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Headless flags for this machine: no background traffic (the network is closed), no GPU, no sandbox as root.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def one_line_error(result) -> str:
    """Assert a CLI result failed with exactly one 'error: …' line and no traceback; return that line."""
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def repo_project(tmp_path) -> Path:
    """A copy of this repository's own newsletter project (22:1) in a temp dir."""
    from tests.golden import copy_repo_project

    return copy_repo_project(tmp_path / "project")


@pytest.fixture
def runner() -> CliRunner:
    """A Typer CliRunner (stderr kept apart from stdout)."""
    return CliRunner()


@pytest.fixture
def cli(runner):
    """Call the CLI with arguments; returns the click Result."""
    from nyhetsbrev.cli import app

    def invoke(*args: str, input: str | None = None, env: dict | None = None):
        return runner.invoke(app, [str(a) for a in args], input=input, env=env, catch_exceptions=False)

    return invoke


def require_program(path: str | None, what: str, env_var: str, package: str) -> str:
    """The path of a real part the test needs; skip with one line when absent, fail when `env_var` is set (CI)."""
    if path:
        return path
    if os.environ.get(env_var):
        pytest.fail(f"{what} is required here ({env_var}) but not installed: apt-get install {package}")
    pytest.skip(f"{what} not installed (apt-get install {package})")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium; skips when absent, fails when NYHETSBREV_REQUIRE_BROWSER is set (CI)."""
    return require_program(CHROMIUM, "chromium", "NYHETSBREV_REQUIRE_BROWSER", "chromium")


@pytest.fixture(scope="session")
def browser(chromium_path):
    """A headless Playwright Chromium browser using the system binary."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        yield b
        b.close()
