"""The mutation score's rule for equivalent mutants: a change of letter case counts as equivalent only where it cannot
change what the program does (tools/mutation_score.py)."""

from __future__ import annotations

import json

import pytest

from tools.mutation_score import _case_only_lines, _status

# store/suppressions.py: whether anyone has been forgotten (the reason is compared case-sensitively by SQLite)
FORGOTTEN = '    if db.execute("SELECT 1 FROM suppressions WHERE reason = \'forgotten\' LIMIT 1").fetchone() is None:'


def _mutant(line: str, literal: str, changed: str) -> tuple[list[str], list[str]]:
    assert line.count(literal) == 1, literal
    return [line], [line.replace(literal, changed)]


@pytest.mark.parametrize(("line", "literal", "changed"), [
    (FORGOTTEN, "SELECT 1 FROM suppressions WHERE reason = 'forgotten' LIMIT 1",
     "select 1 from suppressions where reason = 'forgotten' limit 1"),                      # keywords and names only
    ('    row = db.execute("SELECT reason FROM suppressions WHERE email_key = ?", [key])',
     "SELECT reason FROM suppressions WHERE email_key = ?", "SELECT REASON FROM SUPPRESSIONS WHERE EMAIL_KEY = ?"),
    ('        message_id = clean_id(msg.get("Message-ID"))', "Message-ID", "message-id"),
    ('    name = part.get_param("name", header="content-disposition")', "content-disposition", "CONTENT-DISPOSITION"),
    ('    values = msg.get_all("To", [])', "To", "TO"),
    ('    subject = msg["Subject"]', "Subject", "SUBJECT"),
    ('    text = payload.decode("utf-8", "replace")', "utf-8", "UTF-8"),
    ('    text = chunk.decode(charset if charset else "utf-8")', "utf-8", "UTF-8"),
])
def test_a_change_of_case_that_cannot_matter_is_equivalent(line, literal, changed):
    assert _case_only_lines(*_mutant(line, literal, changed))


@pytest.mark.parametrize(("line", "literal", "changed"), [
    (FORGOTTEN, "SELECT 1 FROM suppressions WHERE reason = 'forgotten' LIMIT 1",
     "SELECT 1 FROM SUPPRESSIONS WHERE REASON = 'FORGOTTEN' LIMIT 1"),                      # a value: case-sensitive
    ('    db.execute("SELECT reason FROM suppressions WHERE email_key = :key", {"key": key})',
     "SELECT reason FROM suppressions WHERE email_key = :key", "SELECT REASON FROM SUPPRESSIONS WHERE EMAIL_KEY = :KEY"),
    ('    raise StoreError("could not update the list")', "could not update the list", "COULD NOT UPDATE THE LIST"),
    ('    raise StoreError("Could not UPDATE the list")', "Could not UPDATE the list", "could not update the list"),
    ("    db.execute('SELECT 1 FROM suppressions')", "SELECT 1 FROM suppressions", "select 1 from suppressions"),
    ('    db.execute("SELECT " + \'reason\' + " FROM suppressions")', "'reason'", "'REASON'"),
    ('    db.execute(f"SELECT {column} FROM suppressions")', "SELECT {column} FROM", "SELECT {COLUMN} FROM"),
    ('    subject = base["subject"]', '"subject"', '"SUBJECT"'),                                    # a dict: not a message
    ('    method = environ.get("Date")', "Date", "DATE"),
    ('    fields = {"Subject": subject}', "Subject", "subject"),
    ('    charset = "utf-8"', "utf-8", "UTF-8"),
    ('    text = msg.get("utf-8")', "utf-8", "UTF-8"),                                          # a codec where a header goes
    ('    address = row.Email', "Email", "email"),                                               # a name, no literal
])
def test_a_change_of_case_that_can_matter_is_not_equivalent(line, literal, changed):
    assert not _case_only_lines(*_mutant(line, literal, changed))


def test_a_mutant_that_changes_more_than_case_is_not_equivalent():
    assert not _case_only_lines([FORGOTTEN], [FORGOTTEN.replace("LIMIT 1", "LIMIT 2")])
    assert not _case_only_lines([FORGOTTEN], [FORGOTTEN, FORGOTTEN])
    assert not _case_only_lines([], [])


@pytest.mark.parametrize(("code", "status"), [
    (1, "killed"), (3, "killed"), (37, "killed"), (0, "survived"), (5, "no tests"), (33, "no tests"),
    (34, "skipped"), (36, "timeout"), (-24, "timeout"), (255, "timeout"), (None, "not checked"), (35, "suspicious"),
    (-11, "segfault"), (2, "check was interrupted by user"), (99, "suspicious"),
])
def test_mutmuts_verdict_is_read_as_mutmut_reads_it_and_a_type_check_counts_as_killed(code, status):
    assert _status(code) == status


MUTATED = """\
def x_f__mutmut_orig():
    return 1
def x_f__mutmut_1():
    return 2
def x_f__mutmut_2():
    return 1 + 0
def x_f__mutmut_3():
    return 3
def x_g__mutmut_orig():
    return 1
def x_g__mutmut_1():
    return 0
"""
SPANS = {"x_f__mutmut_orig": [1, 2], "x_f__mutmut_1": [3, 4], "x_f__mutmut_2": [5, 6], "x_f__mutmut_3": [7, 8],
         "x_g__mutmut_orig": [9, 10], "x_g__mutmut_1": [11, 12]}
NAMED = "## Equivalent mutants\n\n- `pkg.mod.x_f__mutmut_2`: why.\n- `pkg.mod.x_g__mutmut_1`: why.\n"


@pytest.fixture
def run_folder(tmp_path, monkeypatch):
    """A mutants/ folder with one mutated module, docs/mutation.md and the pin file, in a temp dir."""
    import tools.mutation_score as score

    monkeypatch.setattr(score, "MUTANTS", tmp_path / "mutants")
    monkeypatch.setattr(score, "PINS", tmp_path / "equivalent_mutants.json")
    monkeypatch.setattr(score, "EQUIVALENT_LIST", tmp_path / "mutation.md")
    monkeypatch.setattr(score, "_modules", lambda: ["pkg/mod.py"])
    monkeypatch.setattr(score, "_mutmut_version", lambda: "3.8.1")
    (tmp_path / "mutation.md").write_text(NAMED, "utf-8")
    _write_mutated(score, MUTATED)
    yield score
    score._mutated.cache_clear()


def _write_mutated(score, text: str) -> None:
    (score.MUTANTS / "pkg").mkdir(parents=True, exist_ok=True)
    (score.MUTANTS / "pkg" / "mod.py").write_text(text, "utf-8")
    (score.MUTANTS / "pkg" / "mod.py.spans").write_text(json.dumps({"spans": SPANS}), "utf-8")
    score._mutated.cache_clear()


def _write_meta(score, codes: dict, hashes: dict) -> None:
    (score.MUTANTS / "pkg" / "mod.py.meta").write_text(json.dumps({
        "exit_code_by_key": codes, "hash_by_function_name": hashes, "type_check_error_by_key": {},
        "durations_by_key": {}, "estimated_durations_by_key": {}}), "utf-8")


def _pin_file(score, change: str | None = None, version: str = "3.8.1") -> None:
    change = change or score._change_hash("pkg/mod.py", "pkg.mod.x_f__mutmut_2")
    score.PINS.write_text(json.dumps({"mutmut": version, "modules": {"pkg/mod.py": {
        "functions": {"x_f": "aaa"}, "mutants": {"pkg.mod.x_f__mutmut_2": change}}}}), "utf-8")


def test_only_a_named_equivalent_that_survived_is_pinned_and_a_fresh_run_gets_it_as_skipped(run_folder):
    score = run_folder
    _write_meta(score, {"pkg.mod.x_f__mutmut_1": 1, "pkg.mod.x_f__mutmut_2": 0, "pkg.mod.x_f__mutmut_3": 0,
                        "pkg.mod.x_g__mutmut_1": 1}, {"x_f": "aaa", "x_g": "bbb"})
    assert score.main(["--pin"]) == 0
    # killed x_g__mutmut_1 is named but was not equivalent in this run; x_f__mutmut_3 survived unnamed
    change = score._change_hash("pkg/mod.py", "pkg.mod.x_f__mutmut_2")
    assert json.loads(score.PINS.read_text("utf-8")) == {"mutmut": "3.8.1", "modules": {
        "pkg/mod.py": {"functions": {"x_f": "aaa"}, "mutants": {"pkg.mod.x_f__mutmut_2": change}}}}
    assert change != score._change_hash("pkg/mod.py", "pkg.mod.x_f__mutmut_3")

    (score.MUTANTS / "pkg" / "mod.py.meta").unlink()
    assert score.main(["--seed"]) == 0
    seeded = json.loads((score.MUTANTS / "pkg" / "mod.py.meta").read_text("utf-8"))
    assert seeded["exit_code_by_key"] == {"pkg.mod.x_f__mutmut_2": score.SKIPPED}
    assert seeded["hash_by_function_name"] == {"x_f": "aaa"}
    assert score.main(["--seed"]) == 1, "seeding over a run's results would hide them"


def test_pins_made_with_another_mutmut_are_not_used(run_folder, capsys):
    score = run_folder
    _pin_file(score, version="3.7.0")   # another release may number the mutants differently
    assert score.main(["--seed"]) == 0
    assert not (score.MUTANTS / "pkg" / "mod.py.meta").exists()
    assert "every mutant is run" in capsys.readouterr().err


@pytest.mark.parametrize(("function_hash", "mutated", "expected"), [
    ("aaa", MUTATED, "1 equivalent (1 pinned, not re-run)"),
    ("changed", MUTATED, "1 skipped"),                                    # the function changed since it was judged
    ("aaa", MUTATED.replace("return 1 + 0", "return 1 + 5"), "1 skipped"),  # the same name, another change
])
def test_a_skipped_mutant_counts_as_equivalent_only_while_its_function_and_change_are_unchanged(
        run_folder, capsys, function_hash, mutated, expected):
    score = run_folder
    _pin_file(score)
    _write_mutated(score, mutated)
    _write_meta(score, {"pkg.mod.x_f__mutmut_1": 1, "pkg.mod.x_f__mutmut_2": score.SKIPPED}, {"x_f": function_hash})
    code = score.main([])
    out = capsys.readouterr().out
    assert expected in out
    if expected.startswith("1 equivalent"):
        assert code == 0 and "1/2      100.0%" in out
    else:
        assert code == 1 and "skipped     pkg.mod.x_f__mutmut_2" in out


def test_a_pin_whose_name_left_the_list_of_equivalents_is_dropped(run_folder):
    score = run_folder
    _pin_file(score)
    score.EQUIVALENT_LIST.write_text(NAMED.replace("- `pkg.mod.x_f__mutmut_2`: why.\n", ""), "utf-8")
    _write_meta(score, {"pkg.mod.x_f__mutmut_1": 1, "pkg.mod.x_f__mutmut_2": score.SKIPPED}, {"x_f": "aaa"})
    assert score.main(["--pin"]) == 0
    assert json.loads(score.PINS.read_text("utf-8")) == {"mutmut": "3.8.1", "modules": {}}
