"""The recipients database as a file: private modes, a database from a newer nyhetsbrev, read-only and full disks."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from nyhetsbrev.errors import StoreError
from nyhetsbrev.store import open_db, signing_key
from nyhetsbrev.writer import write_output
from tests.fixtures import one_line_error


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_the_database_its_wal_shm_and_key_are_private_while_build_output_follows_the_umask(tmp_path, umask_022):
    path = Path(os.environ["NYHETSBREV_DB"]).parent / "new" / "nyhetsbrev.db"
    db = open_db(path)
    db.execute("INSERT INTO lists (name, created_at) VALUES ('A', 'now')")  # the WAL gets written
    key = path.with_suffix(".key")
    signing_key(db)
    modes = {p.name: _mode(p) for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), key)}
    db.close()
    assert modes == dict.fromkeys(modes, 0o600), modes
    assert _mode(path.parent) == 0o700
    out = tmp_path / "build"
    write_output(out, {"web.html": "<p>hej</p>"}, {"logga.png": b"\x89PNG"})
    assert _mode(out / "web.html") == 0o644 and _mode(out / "images" / "logga.png") == 0o644


def test_a_database_made_readable_by_everyone_before_is_made_private(umask_022):
    path = Path(os.environ["NYHETSBREV_DB"])
    open_db(path).close()
    os.chmod(path, 0o644)
    open_db(path).close()
    assert _mode(path) == 0o600


def test_exports_of_personal_data_are_private(cli, tmp_path, umask_022):
    assert cli("recipients", "add", "anna@example.se", "--list", "A").exit_code == 0
    assert cli("recipients", "export", "--list", "A", "--output", tmp_path / "a.csv").exit_code == 0
    assert _mode(tmp_path / "a.csv") == 0o600


def _future_database() -> tuple[Path, bytes]:
    path = Path(os.environ["NYHETSBREV_DB"])
    db = open_db(path)
    db.execute("INSERT INTO lists (name, created_at) VALUES ('Styrgrupp', 'now')")
    db.close()
    raw = sqlite3.connect(path)
    raw.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES "
                "('nyhetsbrev', 'm099_from_the_future', '2030-01-01')")
    raw.commit()
    raw.close()
    return path, path.read_bytes()


@pytest.mark.parametrize("args", [
    ("lists",), ("recipients", "list"), ("recipients", "add", "anna@example.se", "--list", "A"),
    ("recipients", "import", "people.csv", "--list", "A"), ("recipients", "unsubscribe", "anna@example.se"),
    ("recipients", "forget", "--yes", "anna@example.se"), ("recipients", "export", "anna@example.se"),
])
def test_a_database_from_a_newer_nyhetsbrev_is_refused_and_left_untouched(cli, tmp_path, monkeypatch, args):
    path, before = _future_database()
    (tmp_path / "people.csv").write_text("email\nanna@example.se\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = cli(*args)
    line = one_line_error(result)
    assert result.exit_code == 1
    assert "made by a newer nyhetsbrev (m099_from_the_future): upgrade" in line and str(path) in line
    assert path.read_bytes() == before
    assert not path.with_suffix(".key").exists()


def test_open_db_refuses_a_newer_database_before_writing(tmp_path):
    path, before = _future_database()
    with pytest.raises(StoreError, match="newer nyhetsbrev"):
        open_db(path)
    assert path.read_bytes() == before


def _run_cli(*args: str, env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nyhetsbrev", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60, **kwargs)


def _read_only(path: Path) -> bool:
    """Make a file read-only even for root (immutable when root may set that); False when it cannot be done."""
    os.chmod(path, 0o444)
    if os.geteuid() != 0:
        return True
    return bool(shutil.which("chattr")) and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0


def test_a_read_only_database_is_one_clear_line(cli):
    path = Path(os.environ["NYHETSBREV_DB"])
    db = open_db(path)
    db.execute("INSERT INTO lists (name, created_at) VALUES ('A', 'now')")
    db.close()
    if not _read_only(path):
        why = "running as root on a file system without chattr +i: no file is read-only to root here"
        if os.environ.get("NYHETSBREV_REQUIRE_CHATTR"):
            pytest.fail(f"{why}; required here (NYHETSBREV_REQUIRE_CHATTR): apt-get install e2fsprogs, on ext4 or tmpfs")
        pytest.skip(why)
    try:
        result = cli("recipients", "add", "anna@example.se", "--list", "A")
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    line = one_line_error(result)
    assert result.exit_code == 1
    assert "read-only" in line and "may write" in line and str(path) in line


def test_a_full_disk_on_add_is_one_clear_line(tmp_path):
    """A disk that runs out of room while add writes: a 1 MB tmpfs when root may mount one, else a file-size limit."""
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = os.geteuid() == 0 and shutil.which("mount") and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True).returncode == 0
    try:
        path = folder / "nyhetsbrev.db"
        db = open_db(path)
        db.close()
        env = {"NYHETSBREV_DB": str(path)}
        if mounted:
            _fill(folder)
            kwargs = {}
        else:
            kwargs = {"preexec_fn": _small_files}
        result = _run_cli("recipients", "add", "anna@example.se", "--list", "A", "--name", "Anna " + "x" * 200,
                          env=env, **kwargs)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 1, result.stderr
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr
        assert "disk is full" in lines[0] and "free some disk space" in lines[0].lower()
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)


def _fill(folder: Path) -> None:
    """Fill the small disk until not one more block fits."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 512):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def _small_files() -> None:
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write beyond the limit fails instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
