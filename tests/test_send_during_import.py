"""A large import while a send runs: the import commits in batches and the ledger outwaits every lock."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from nyhetsbrev.mail.dispatch import Options
from nyhetsbrev.store import db as store_db
from tests.send_helpers import add_people, ledger_rows, project, send, smtp  # noqa: F401

pytestmark = pytest.mark.timeout(240)
ROWS = 200_000


def _wait_for_the_import(path: str, importer: subprocess.Popen) -> None:
    """Until its first batch is in (at most 3 s: an import that commits nothing before the end is waited for no longer)."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and importer.poll() is None:
        try:
            with sqlite3.connect(path, timeout=0.1) as conn:
                if conn.execute("SELECT count(*) FROM recipients").fetchone()[0] > 40:
                    return
        except sqlite3.OperationalError:
            pass
        time.sleep(0.05)


def _watch_first_delivery(smtp, importer: subprocess.Popen, overlap: dict) -> None:
    """Note whether the import was still running when the server accepted the send's first message."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if smtp.recipients():
            overlap["importing"] = importer.poll() is None
            return
        time.sleep(0.01)


def test_a_send_during_an_import_of_200_000_rows_loses_nobody_and_marks_nobody_unknown(project, smtp, tmp_path,
                                                                                    monkeypatch):
    """The send's SQLite busy timeout is cut to 1 s so that any lock held longer than that would cost it."""
    people = add_people(40, ["politiker"])
    smtp.delay = 0.15  # a slow server: the send lasts several seconds, all of them during the import
    big = tmp_path / "stor.csv"
    big.write_text("E-post,Namn\n" + "".join(f"stor{i}@example.org,Person {i}\n" for i in range(ROWS)), encoding="utf-8")
    importer = subprocess.Popen([sys.executable, "-m", "nyhetsbrev", "recipients", "import", str(big), "--list", "Stora"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        _wait_for_the_import(os.environ["NYHETSBREV_DB"], importer)
        monkeypatch.setattr(store_db, "BUSY_TIMEOUT_MS", 1000)
        overlap: dict[str, bool] = {}
        watcher = threading.Thread(target=_watch_first_delivery, args=(smtp, importer, overlap), daemon=True)
        watcher.start()
        report = send(project, options=Options(connections=2, retry_base=0.05))
        watcher.join(timeout=5)
        out, err = importer.communicate(timeout=200)
    finally:
        if importer.poll() is None:
            importer.kill()
    assert importer.returncode == 0, err
    # How long each side takes depends on the machine's load; what must hold is that replies were
    # recorded in the ledger while the import was writing.
    assert overlap.get("importing"), "the import had finished before the first message arrived; nothing was tested"
    assert report.tally.sent == 40 and report.tally.unknown == 0
    states = ledger_rows()
    assert Counter(state for state, _, _ in states.values()) == Counter({"sent": 40})
    assert Counter(smtp.recipients()) == Counter(people)
    with sqlite3.connect(os.environ["NYHETSBREV_DB"]) as conn:
        assert conn.execute("SELECT count(*) FROM recipients").fetchone()[0] == ROWS + 40
