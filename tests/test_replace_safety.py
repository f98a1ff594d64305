"""A replace changes only what was shown, never takes a person off for a problem in their row, and is all or nothing:
someone added while the question waits, a line break in a row, and a replace killed half-way (real SQLite file)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from nyhetsbrev import store
from nyhetsbrev.cli import recipients_import
from tests.fixtures import REPO, one_line_error
from tests.recipient_helpers import database
from tests.recipient_helpers import members as _members
from tests.recipient_helpers import person_row as _person
from tests.recipient_helpers import rows_csv as _csv


def test_someone_added_while_the_question_waits_is_not_taken_off_unseen(cli, tmp_path, monkeypatch):
    cli("recipients", "import", _csv(tmp_path / "a.csv", [_person(n) for n in range(6)]), "--list", "styrgrupp")
    smaller = _csv(tmp_path / "b.csv", [_person(n) for n in range(5)] + [_person(7)])

    def a_colleague_adds_someone_meanwhile(question: str) -> bool:
        with database() as db:
            store.add_recipient(db, "sen@example.se", ["styrgrupp"], source="add")
        return True

    monkeypatch.setattr(recipients_import, "_terminal", lambda: True)
    monkeypatch.setattr(recipients_import, "confirm", a_colleague_adds_someone_meanwhile)
    result = cli("recipients", "import", smaller, "--list", "styrgrupp", "--replace")
    line = one_line_error(result)
    assert "changed while" in line and "nothing was changed" in line
    assert "politiker005@example.se" in result.stdout and "sen@example.se" not in result.stdout  # the plan shown
    # nothing changed: the newcomer and the one the plan took off are both still there, the new person not added
    assert _members("styrgrupp") == {f"politiker{n:03d}@example.se" for n in range(6)} | {"sen@example.se"}
    again = cli("recipients", "import", smaller, "--list", "styrgrupp", "--replace", "--yes")
    assert again.exit_code == 0, again.output
    assert "1 added, 0 changed, 2 taken off" in again.stdout  # run again, the new plan shows the newcomer


def test_a_problem_row_never_takes_its_own_person_off_and_the_replace_changes_nothing(cli, tmp_path):
    cli("recipients", "import", _csv(tmp_path / "a.csv", [_person(n) for n in range(4)]), "--list", "styrgrupp")
    path = tmp_path / "b.csv"
    path.write_text('E-post;Namn;Organisation;Kommun\n'
                    + "".join(";".join(_person(n)) + "\n" for n in range(2))
                    + 'politiker002@example.se;Politiker 2;"Flens\nkommun";Flen\n'  # a line break inside a cell
                    + "inte-en-adress;Politiker 9;Flens kommun;Flen\n"
                    + ";".join(_person(9)) + "\n", encoding="utf-8")
    dry = cli("recipients", "import", path, "--list", "styrgrupp", "--replace", "--dry-run", "--format", "json")
    assert dry.exit_code == 0, dry.output
    plan = json.loads(dry.stdout)["replace"]
    assert plan["taken_off_addresses"] == ["politiker003@example.se"]  # not politiker002: their row names them
    assert plan["problem_rows"] == 2
    table = cli("recipients", "import", path, "--list", "styrgrupp", "--replace", "--dry-run")
    assert "would be refused" in table.stdout
    result = cli("recipients", "import", path, "--list", "styrgrupp", "--replace", "--yes")
    line = one_line_error(result)
    assert "2 rows" in line and "not replacing" in line
    assert _members("styrgrupp") == {f"politiker{n:03d}@example.se" for n in range(4)}


_HELD = """
import sys
from nyhetsbrev.store import replacing

def held(*args, **kwargs):  # the replace has written the file's people and is about to take the others off
    print("held", flush=True)
    sys.stdin.readline()  # killed here
    raise SystemExit("not killed")

replacing.{point} = held
from nyhetsbrev.cli import app
app(sys.argv[1:], prog_name="nyhetsbrev")
"""


@pytest.mark.timeout(120)
def test_a_replace_killed_half_way_leaves_the_list_as_it_was(cli, tmp_path):
    cli("recipients", "import", _csv(tmp_path / "a.csv", [_person(n) for n in range(10)]), "--list", "styrgrupp")
    new_file = _csv(tmp_path / "b.csv", [_person(n, "Region Sörmland") for n in range(6)] + [_person(20), _person(21)])
    args = ["recipients", "import", str(new_file), "--list", "styrgrupp", "--replace", "--yes", "--format", "json"]
    process = subprocess.Popen([sys.executable, "-c", _HELD.format(point="_take_off"), *args], cwd=REPO,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ))
    try:
        assert process.stdout.readline().strip() == "held", process.stderr.read()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    with database() as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert _members("styrgrupp") == {f"politiker{n:03d}@example.se" for n in range(10)}
        assert store.find_recipient(db, "politiker020@example.se") is None
        assert store.find_recipient(db, "politiker000@example.se")["organisation"] == "Flens kommun"
    again = cli("recipients", "import", new_file, "--list", "styrgrupp", "--replace", "--yes")
    assert again.exit_code == 0, again.output
    assert "2 added, 6 changed, 4 taken off" in again.stdout
    assert _members("styrgrupp") == {f"politiker{n:03d}@example.se" for n in [*range(6), 20, 21]}
