"""Clear one-line errors and a clean exit: a password that is not UTF-8, an export named like a file, stale locks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from nyhetsbrev.store import ledger, open_db
from tests.fixtures import one_line_error
from tests.send_helpers import add_people, make_project, project, send, smtp  # noqa: F401

SECRET_BYTES = b"hemlig-\xff\xfe-l\xf6sen"  # Latin-1 bytes: not UTF-8


def _run_with_secret(root: Path, variable: bytes, extra: dict[bytes, bytes], *args: str) -> tuple[int, str, bytes]:
    """nyhetsbrev run with SECRET_BYTES in the environment variable: (exit status, stderr, all output)."""
    env = {key.encode(): value.encode() for key, value in os.environ.items()}
    env.update(extra)
    env[variable] = SECRET_BYTES
    result = subprocess.run([sys.executable, "-m", "nyhetsbrev", "--project", str(root), *args],
                            env=env, capture_output=True, timeout=60)
    return result.returncode, result.stderr.decode("utf-8", "replace"), result.stdout + result.stderr


def _shows_none_of_the_secret(stderr: str, output: bytes, variable: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"{variable} is not valid UTF-8" in lines[0], stderr
    assert "unexpected" not in stderr and "Traceback" not in stderr
    for shown in (b"hemlig", b"l\xf6sen", b"\xff", b"\xfe", b"xff", b"udcff", b"position", b"\xef\xbf\xbd"):
        assert shown not in output, shown


def test_a_password_that_is_not_utf8_is_one_line_showing_none_of_it(tmp_path):
    root = make_project(tmp_path / "project")
    status, stderr, output = _run_with_secret(
        root, b"NYHETSBREV_SMTP_PASSWORD",
        {b"NYHETSBREV_SMTP_HOST": b"127.0.0.1", b"NYHETSBREV_SMTP_PORT": b"2525",
         b"NYHETSBREV_SMTP_SECURITY": b"none", b"NYHETSBREV_SMTP_USERNAME": b"nyhetsbrev@example.org"},
        "send", "22:1", "--test", "anna@example.org",
    )
    assert status == 2, stderr  # send exits 2 on errors (1 means some recipients failed)
    _shows_none_of_the_secret(stderr, output, "NYHETSBREV_SMTP_PASSWORD")


def test_an_imap_password_that_is_not_utf8_is_one_line_showing_none_of_it(tmp_path):
    from tests.inbox_helpers import inbox_project

    root = inbox_project(tmp_path / "project", '\n[imap]\nhost = "127.0.0.1"\nport = 9\nusername = "redaktion@example.org"\n')
    status, stderr, output = _run_with_secret(root, b"NYHETSBREV_IMAP_PASSWORD", {}, "inbox")
    assert status == 1, stderr
    _shows_none_of_the_secret(stderr, output, "NYHETSBREV_IMAP_PASSWORD")


def test_export_of_a_file_name_says_what_was_meant(cli, tmp_path, monkeypatch):
    assert cli("recipients", "add", "anna@example.se", "--list", "A").exit_code == 0
    monkeypatch.chdir(tmp_path)
    result = cli("recipients", "export", "not-an-address.csv")
    line = one_line_error(result)
    assert result.exit_code == 1 and result.stdout == ""
    assert "'not-an-address.csv' is not an e-mail address" in line and "--list NAME --output not-an-address.csv" in line
    assert not (tmp_path / "not-an-address.csv").exists()


def _locks() -> list[str]:
    folder = Path(os.environ["NYHETSBREV_DB"]).parent
    return sorted(p.name for p in folder.glob("*.lock"))


def test_a_clean_send_leaves_no_lock_files_and_clears_stale_empty_ones(project, smtp):
    add_people(3, ["politiker"])
    db = open_db(Path(os.environ["NYHETSBREV_DB"]))
    stale = ledger.lock_path(Path(os.environ["NYHETSBREV_DB"]), "21:9")
    stale.write_text("")  # left by an older nyhetsbrev
    held = ledger.lock_path(Path(os.environ["NYHETSBREV_DB"]), "21:8")
    try:
        with ledger.SendLock(db, "21:8"):  # a send of another issue, still running
            assert send(project).tally.sent == 3
            assert _locks() == [held.name]
        assert _locks() == []
        with ledger.SendLock(db, "22:1"):
            assert _locks() == [ledger.lock_path(Path(os.environ["NYHETSBREV_DB"]), "22:1").name]
        assert _locks() == []
    finally:
        db.close()
    assert not stale.exists()
