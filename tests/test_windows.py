"""What a Windows laptop needs, tested here: a cp1252 console or log file, Ctrl-Break, no POSIX-only call without an
alternative, the sign-in's token cache through DPAPI, and a key file where hard links are not possible."""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from nyhetsbrev.project.scaffold import init_project
from tests.identity_server import TENANT
from tests.send_helpers import add_people, ledger_rows, project, smtp, stopped_midway  # noqa: F401  (fixtures)

PACKAGE = Path(__file__).resolve().parent.parent / "nyhetsbrev"


def _nyhetsbrev(*args, cwd: Path, encoding: str = "cp1252", language: str = "sv", prelude: str = ""):
    """The console script as Windows runs it into a log file: output to a pipe (not a terminal) in `encoding`."""
    env = {name: value for name, value in os.environ.items() if name != "NYHETSBREV_LANGUAGE"}
    env.update(PYTHONIOENCODING=encoding, NYHETSBREV_LANGUAGE=language)
    code = prelude + "import sys; from nyhetsbrev.cli import main; sys.argv[0] = 'nyhetsbrev'; main()"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          stdin=subprocess.DEVNULL, timeout=120, check=False)


def test_a_cp1252_log_gets_a_a_o_and_a_question_mark_for_the_check_mark_never_an_error(tmp_path):
    root = init_project(tmp_path / "Mitt nyhetsbrev å").root
    doctor = _nyhetsbrev("doctor", "--offline", cwd=root)
    out, err = doctor.stdout.decode("cp1252"), doctor.stderr.decode("cp1252")
    assert doctor.returncode in (0, 1) and "Traceback" not in err and "UnicodeEncodeError" not in out + err, err
    assert "Inställningar" in out and "? " in out  # ✓ and ✗ are not in cp1252: replaced, the line still printed
    check = _nyhetsbrev("--project", root, "check", next(root.glob("issues/*")).name.replace("-", ":"), cwd=tmp_path)
    err = check.stderr.decode("cp1252")
    assert check.returncode == 0 and "UnicodeEncodeError" not in err, err
    assert str(root / "roster.toml") in err  # the path with å and a space, as written
    missing = _nyhetsbrev("--project", root, "build", "99:9", cwd=tmp_path, language="en")
    err = missing.stderr.decode("cp1252")
    assert missing.returncode != 0 and "Traceback" not in err and "Mitt nyhetsbrev å" in err, err


def test_ctrl_break_stops_a_send_as_ctrl_c_does(project, smtp):
    """Windows sends SIGBREAK for Ctrl-Break; here it is played by SIGUSR1 under that name."""
    if not hasattr(signal, "SIGUSR1"):
        pytest.skip("needs SIGUSR1 to play Ctrl-Break")
    add_people(300, ["politiker"])
    smtp.delay = 0.01  # once let go, the send is still under way when the signal is handled
    code = ("import signal, sys; signal.SIGBREAK = signal.SIGUSR1; signal.signal(signal.SIGINT, signal.SIG_DFL); "
            "from nyhetsbrev.cli import main; sys.argv[0] = 'nyhetsbrev'; main()")
    argv = [sys.executable, "-c", code, "--project", str(project), "send", "22:1", "--list", "politiker", "--yes"]
    status, stdout, stderr = stopped_midway(smtp, argv, signal.SIGUSR1, at=10)
    assert status == 130 and b"stopped" in stderr and b"Traceback" not in stderr, (stdout, stderr)
    states = Counter(state for state, _, _ in ledger_rows().values())
    assert states["sending"] == 0 and states["sent"] == len(smtp.received) and states["sent"] + states["pending"] == 300


# A call that exists only on POSIX, and what the same file must hold as its alternative elsewhere.
POSIX_ONLY = {
    "fcntl": "msvcrt",                    # file locks: msvcrt.locking on Windows
    "setitimer": 'hasattr(signal, "setitimer")',  # no interval timer on Windows: the size bound alone
    "SIGALRM": 'hasattr(signal, "setitimer")',
    "chmod": 'os.name',                   # modes only matter on POSIX; Windows keeps files private by the profile's ACL
    "link": "os.rename",                  # no hard links on FAT or some network drives
    "fork": None, "getuid": None, "geteuid": None, "killpg": None, "getpwnam": None, "termios": None,
    "SIGKILL": None, "SIGHUP": None, "SIGUSR1": None, "SIGQUIT": None,
}


def _posix_only_uses():
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            for name in _names(node):
                if name in POSIX_ONLY:
                    yield path, node.lineno, name, text


def _names(node: ast.AST) -> list[str]:
    """The names a node uses: an attribute's, and every module and name an import names (each part of a dotted one)."""
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if not isinstance(node, (ast.Import, ast.ImportFrom)):
        return []
    dotted = [alias.name for alias in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
    return [part for name in dotted for part in name.split(".")]


def test_no_posix_only_call_without_an_alternative():
    found = list(_posix_only_uses())
    assert {name for _, _, name, _ in found} >= {"fcntl", "chmod"}  # the scan sees what is there
    lacking = [f"{path.relative_to(PACKAGE)}:{line}: {name}" for path, line, name, text in found
               if POSIX_ONLY[name] is None or POSIX_ONLY[name] not in text]
    assert lacking == []


def test_the_sign_in_cache_is_dpapi_on_windows_and_never_a_plain_file_there(monkeypatch, tmp_path):
    import msal_extensions.persistence as persistence
    from nyhetsbrev.errors import SignInError
    from nyhetsbrev.mail import oauth

    class Protected:
        is_encrypted = True

        def __init__(self, location):
            self.location = location

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(persistence, "FilePersistenceWithDataProtection", Protected)
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "AppData Å" / "Local"))
    settings = SimpleNamespace(tenant=TENANT, client_id="00000000-0000-0000-0000-000000000000",
                               username="nyhetsbrev@example.se")
    stored, protected = oauth._stored(settings)
    assert protected and stored.path.parent == tmp_path / "AppData Å" / "Local" / "nyhetsbrev"

    def broken(location):
        raise OSError("DPAPI is not available")

    monkeypatch.setattr(persistence, "FilePersistenceWithDataProtection", broken)
    with pytest.raises(SignInError, match="DPAPI") as refused:  # one line at the CLI, never a plain file instead
        oauth._stored(settings)
    assert "nyhetsbrev login" in refused.value.hint
    assert not list((tmp_path / "AppData Å" / "Local" / "nyhetsbrev").glob("msal-*"))


def test_the_key_is_made_where_hard_links_are_not_possible(monkeypatch, tmp_path):
    from nyhetsbrev.store import tokens

    def no_links(source, target):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    key = tokens.load_or_create_key(tmp_path / "Mina filer å" / "nyhetsbrev.key")
    assert len(key) >= 16 and tokens.load_or_create_key(tmp_path / "Mina filer å" / "nyhetsbrev.key") == key
    assert [p.name for p in (tmp_path / "Mina filer å").iterdir()] == ["nyhetsbrev.key"]
