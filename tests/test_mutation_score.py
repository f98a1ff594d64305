"""The mutation score's rule for equivalent mutants: a change of letter case counts as equivalent only where it cannot
change what the program does (tools/mutation_score.py)."""

from __future__ import annotations

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
