"""Fixtures for the send tests: a small project on disk, people in a real SQLite file, the fault-injecting server."""

from __future__ import annotations

import os
import struct
import time
import zlib
from pathlib import Path

import pytest

from tests.smtp_server import FaultServer, make_certificate

SETTINGS = """\
name = "Tillsammans för barnens bästa"
organisation = "FoU Sörmland"
language = "sv"
from = "FoU Sörmland <nyhetsbrev@example.org>"
reply_to = "redaktion@example.org"
subject = "{subject} ({issue})"
list_id = "nyhetsbrev.example.org"
unsubscribe_email = "avregistrera@example.org"
unsubscribe_url = "https://www.example.org/avregistrera"
archive_url = "https://www.example.org/nyhetsbrev"
"""

ROSTER = """\
[[group]]
heading = "Styrgrupp"
members = [ { name = "Åsa Exempel", title = "Skolchef", organisation = "Exempelkommunen" } ]

[contact]
heading = "Kontakt"
text = "Frågor besvaras av:"
emails = ["redaktion@example.org"]
"""

ISSUE = """\
subject = "Nyhetsbrev om barnens bästa – våren"
date = 2022-04-01
preheader = "Läs om tidslinjen och vad som händer i vår."
"""

SECTIONS = {
    "01-inledning.md": "## Välkommen\n\nHär är nyhetsbrevet med åäö och ÅÄÖ.\n\n![Vår logga](images/logga.png)\n",
    "02-politiker.md": "---\naudience: [politiker]\n---\n## Till förtroendevalda\n\nEndast för politikerlistan.\n",
    "03-profession.md": "---\naudience: [profession]\n---\n## Till professionen\n\nEndast för professionslistan.\n",
}


def tiny_png() -> bytes:
    """A valid 1×1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0\xff\x80\x00")) + chunk(b"IEND", b"")


def make_project(root: Path, *, settings: str = SETTINGS, issue: str = ISSUE, lists=("politiker", "profession")) -> Path:
    """A newsletter project with issue 22:1: a general section with an image and two audience sections.

    The lists its sections name are made (empty) in the database, as in a project that has sent before.
    """
    folder = root / "issues" / "22-1"
    (folder / "images").mkdir(parents=True)
    (root / "nyhetsbrev.toml").write_text(settings, encoding="utf-8")
    (root / "roster.toml").write_text(ROSTER, encoding="utf-8")
    (folder / "issue.toml").write_text(issue, encoding="utf-8")
    for name, text in SECTIONS.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "images" / "logga.png").write_bytes(tiny_png())
    if lists:
        from nyhetsbrev.store import open_db
        from nyhetsbrev.store.recipients import list_ids

        db = open_db(Path(os.environ["NYHETSBREV_DB"]))
        try:
            list_ids(db, list(lists), create=True)
        finally:
            db.close()
    return root


def add_people(count: int, lists: list[str], *, start: int = 0, prefix: str = "person") -> list[str]:
    """Import invented people (prefixN@example.org, with Swedish names) into lists; their addresses."""
    from nyhetsbrev.store import import_recipients, open_db

    addresses = [f"{prefix}{n}@example.org" for n in range(start, start + count)]
    path = Path(os.environ["NYHETSBREV_DB"]).parent / f"import-{prefix}-{start}-{'-'.join(lists)}.csv"
    rows = ["email,name"] + [f"{a},Östen Åberg {n}" for n, a in enumerate(addresses, start=start)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    db = open_db(Path(os.environ["NYHETSBREV_DB"]))
    try:
        import_recipients(db, path, lists)
    finally:
        db.close()
    return addresses


def ledger_rows(issue: str = "22:1") -> dict[str, tuple]:
    """email -> (state, message_id, reply) from the real database file."""
    from nyhetsbrev.store import open_db
    from nyhetsbrev.store.ledger import rows

    db = open_db(Path(os.environ["NYHETSBREV_DB"]))
    try:
        return {r.email: (r.state, r.message_id, r.reply) for r in rows(db, issue)}
    finally:
        db.close()


@pytest.fixture
def project(tmp_path) -> Path:
    """A fresh project with issue 22:1."""
    return make_project(tmp_path / "project")


@pytest.fixture
def smtp(monkeypatch):
    """A running fault-injecting SMTP server (plain, loopback) that nyhetsbrev is pointed at; fast retries."""
    server = FaultServer().start()
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NYHETSBREV_RETRY_BASE", "0.05")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost/127.0.0.1 made for this test run."""
    return make_certificate(tmp_path_factory.mktemp("tls"))


def quick_reconnects(monkeypatch) -> None:
    """The connections wait a hundredth of the usual between their tries to reach a server again (0.2 s growing to
    2 s, 3.7 s in all): for a test whose server stays away, where waiting for it to come back shows nothing more."""
    import types

    from nyhetsbrev.mail import transport

    monkeypatch.setattr(transport, "time", types.SimpleNamespace(sleep=lambda seconds: time.sleep(seconds / 100)))


def wait_until(condition, timeout: float = 30, every: float = 0.005) -> bool:
    """Wait until condition() is true (True); fail if it is not within `timeout` seconds."""
    ends = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= ends:
            raise AssertionError(f"still not so after {timeout} s")
        time.sleep(every)
    return True


def fail_a_spinning_send(monkeypatch, most: int = 10_000) -> None:
    """Fail a send that asks the system clock `most` times without waiting in between: it spins, and on its own would
    hang at full CPU. A count of questions decides, not a time (a whole send of a few hundred asks a few hundred)."""
    from nyhetsbrev.mail import limits

    asked = [0]

    def counted(real):
        def ask(self):
            asked[0] += 1
            if asked[0] > most:
                raise AssertionError(f"the send asked the time {most} times without waiting: it spins")
            return real(self)
        return ask

    real_sleep = limits.Clock.sleep

    def sleep(self, seconds, stop=None):
        asked[0] = 0
        return real_sleep(self, seconds, stop)

    monkeypatch.setattr(limits.Clock, "time", counted(limits.Clock.time))
    monkeypatch.setattr(limits.Clock, "monotonic", counted(limits.Clock.monotonic))
    monkeypatch.setattr(limits.Clock, "sleep", sleep)


def send(project: Path, lists=("politiker",), **kwargs):
    """sender.send with small back-off delays."""
    from nyhetsbrev.mail.dispatch import Options
    from nyhetsbrev.mail.sender import send as send_issue

    options = kwargs.pop("options", None) or Options(retry_base=0.05, connections=kwargs.pop("connections", 4))
    return send_issue(project, "22:1", list(lists), options=options, **kwargs)


def held_send(smtp: FaultServer, argv: list[str], stops: dict, *, env: dict | None = None,
              **popen) -> tuple[int, bytes | str, bytes | str]:
    """A send in its own process that the test server holds at each stop (that many messages accepted) while the
    stop's action runs (given the process), then lets go on to the next stop; (exit status, stdout, stderr)."""
    import subprocess

    points = sorted(stops)
    smtp.hold(points[0])
    process = subprocess.Popen(argv, env=env or dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, **popen)
    try:
        for index, point in enumerate(points):
            assert smtp.wait_until_held(timeout=120), process.stderr.read() if process.poll() is not None else "stuck"
            assert process.poll() is None  # still sending
            stops[point](process)
            smtp.hold(points[index + 1] if index + 1 < len(points) else None)  # the messages on the wire are answered
        stdout, stderr = process.communicate(timeout=120)
    finally:
        smtp.hold(None)
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, stdout, stderr


def stopped_midway(smtp: FaultServer, argv: list[str], signum: int, *, at: int = 20, **popen) -> tuple[int, bytes, bytes]:
    """A send in its own process stopped by signum while the test server holds it at message `at` (so it is surely
    sending), then let go: a stop finishes and records the messages on the wire; (exit status, stdout, stderr)."""
    return held_send(smtp, argv, {at: lambda process: process.send_signal(signum)}, **popen)
