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


def one_line_error(result, *, code: int | None = None, where: str | None = None) -> str:
    """Assert a CLI result (or a finished process) failed, with exit status `code` when given, with exactly one
    'error: …' line, naming `where` (a file:line) when given, and no traceback; return that line."""
    status, stdout, stderr = _run_parts(result)
    assert status != 0 and (code is None or status == code), (status, stderr)
    assert "Traceback" not in stdout + stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), lines[0]
    assert where is None or f"{where}:" in lines[0], (where, lines[0])
    return lines[0]


def error_lines(result, *, code: int = 1) -> list[str]:
    """check's findings: assert the run failed with exit status `code` and no traceback, each finding on one line
    ('error: file:line: what: what to do'); the error lines."""
    status, stdout, stderr = _run_parts(result)
    assert status == code, (status, stderr)
    assert "Traceback" not in stdout + stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert errors, stderr
    return errors


def _run_parts(result) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of a click Result or a finished subprocess."""
    if hasattr(result, "exit_code"):
        return result.exit_code, result.stdout, result.stderr
    text = [p.decode("utf-8", "replace") if isinstance(p, bytes) else (p or "") for p in (result.stdout, result.stderr)]
    return result.returncode, text[0], text[1]


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


def ctrl_c_as_in_a_terminal() -> None:
    """preexec_fn for a child that a test stops with SIGINT: Ctrl-C acts as it does in a terminal, also when the test
    run itself was started in the background (a shell then passes SIGINT on ignored, and Python keeps it ignored)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


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
    """A headless Playwright Chromium browser using the system binary.

    Every expect() waits up to 30 s for what it expects (Playwright's own default is 5 s): a generous bound on an
    event, never a measure of speed, so a busy machine does not fail a test.
    """
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        yield b
        b.close()


class AnotherWriter:
    """Another program with the test's database open, as a database browser in the middle of an edit.

    hold() takes the write lock (BEGIN IMMEDIATE), optionally writing something first; let_go() ends it (ROLLBACK,
    or COMMIT with commit=True); let_go_after() does so from a thread, so the code under test meets the lock.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.conn = None
        self.holding = False
        self.thread = None

    def hold(self, *writes: str) -> "AnotherWriter":
        import sqlite3

        self.conn = self.conn or sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.conn.execute("BEGIN IMMEDIATE")
        self.holding = True
        for sql in writes:
            self.conn.execute(sql)
        return self

    def let_go(self, *, commit: bool = False) -> None:
        if self.holding:
            self.conn.execute("COMMIT" if commit else "ROLLBACK")
            self.holding = False

    def let_go_after(self, seconds: float, *, commit: bool = False):
        """Let go from a thread once `seconds` have passed; the event is set just before it does, so whoever gets the
        lock afterwards finds it set."""
        import threading
        import time

        released = threading.Event()

        def later() -> None:
            time.sleep(seconds)
            released.set()
            self.let_go(commit=commit)

        self.thread = threading.Thread(target=later, daemon=True)
        self.thread.start()
        return released

    def close(self) -> None:
        if self.thread is not None:
            self.thread.join(60)
            self.thread = None
        self.let_go()
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@pytest.fixture
def another_writer():
    """Another program on the test's database (NYHETSBREV_DB): `another_writer.hold()` takes its write lock."""
    writer = AnotherWriter(os.environ["NYHETSBREV_DB"])
    yield writer
    writer.close()


def assert_nowhere(secret: str | bytes, *, outputs=(), logs=(), folders=(), files=(), data: bool = True,
                   repository: bool = True) -> None:
    """The secret appears nowhere, as written, UTF-16 or base64: not in the outputs (CLI results, finished processes,
    exceptions, text or bytes), the logs, any file of the data folder (the database, its key, caches) or of the given
    folders, the given files, nor any file of this repository git would commit (tests/ aside: they name test secrets).
    """
    import base64
    import subprocess

    raw = secret.encode("utf-8") if isinstance(secret, str) else secret
    forms = {raw, base64.b64encode(raw)} | ({secret.encode("utf-16-le")} if isinstance(secret, str) else set())
    places: list[tuple[str, bytes]] = [("output", _bytes_of(output)) for output in outputs]
    places += [("log", _bytes_of(log)) for log in logs]
    paths = [Path(f) for f in files]
    for folder in ([Path(os.environ["NYHETSBREV_DB"]).parent] if data else []) + [Path(f) for f in folders]:
        paths += [p for p in folder.rglob("*") if p.is_file()]
    if repository:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                                capture_output=True, check=True).stdout.decode().split("\0")
        paths += [REPO / name for name in listed if name and not name.startswith("tests/") and (REPO / name).is_file()]
    places += [(str(path), path.read_bytes()) for path in paths]
    for where, content in places:
        for form in forms:
            assert form not in content, f"the secret is in {where}"


def _bytes_of(thing) -> bytes:
    """What a CLI result, a finished process, an exception, a text or bytes shows, as bytes."""
    if isinstance(thing, bytes):
        return thing
    if isinstance(thing, str):
        return thing.encode("utf-8")
    if isinstance(thing, BaseException):
        return str(thing).encode("utf-8")
    if hasattr(thing, "stdout_bytes"):  # click's Result
        return thing.stdout_bytes + (thing.stderr_bytes or b"")
    parts = [thing.stdout or b"", thing.stderr or b""]  # subprocess.CompletedProcess, text or bytes
    return b"".join(p.encode("utf-8") if isinstance(p, str) else p for p in parts)
