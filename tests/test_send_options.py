"""Options of send that contradict each other are one error before anything is read, sent or written (exit 2)."""

from __future__ import annotations

import pytest

from tests.send_helpers import add_people, ledger_rows, project, smtp  # noqa: F401  (fixtures)

pytestmark = pytest.mark.timeout(60)

CONTRADICTIONS = [
    (["--test", "t@example.org", "--outbox", "{outbox}"], "--test", "--outbox"),
    (["--test", "t@example.org", "--resend-unknown"], "--test", "--resend-unknown"),
    (["--test", "t@example.org", "--allow-changes"], "--test", "--allow-changes"),
    (["--test", "t@example.org", "--rate", "30/min"], "--test", "--rate"),
    (["--test", "t@example.org", "--connections", "2"], "--test", "--connections"),
    (["--list", "politiker", "--outbox", "{outbox}", "--resend-unknown"], "--outbox", "--resend-unknown"),
    (["--list", "politiker", "--outbox", "{outbox}", "--allow-changes"], "--outbox", "--allow-changes"),
    (["--list", "politiker", "--outbox", "{outbox}", "--rate", "2/s"], "--outbox", "--rate"),
    (["--list", "politiker", "--outbox", "{outbox}", "--connections", "8"], "--outbox", "--connections"),
]


@pytest.mark.parametrize("args, first, second", CONTRADICTIONS, ids=[f"{a}+{b}" for _, a, b in CONTRADICTIONS])
def test_contradictory_options_are_one_error_and_nothing_is_sent_or_written(project, smtp, cli, tmp_path, args, first,
                                                                           second):
    add_people(3, ["politiker"])
    outbox = tmp_path / "utkorg"
    argv = [a.format(outbox=outbox) for a in args]
    for extra in ([], ["--yes"], ["--dry-run"]):
        result = cli("--project", project, "send", "22:1", *argv, *extra)
        assert result.exit_code == 2, result.output
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output, result.output
        assert first in lines[0] and second in lines[0]
        assert not outbox.exists()
        assert smtp.received == [] and smtp.connections == 0
        assert ledger_rows() == {}


def test_options_that_go_together_still_work(project, smtp, cli, tmp_path):
    add_people(2, ["politiker"])
    test = cli("--project", project, "send", "22:1", "--test", "t@example.org", "--list", "politiker", "--yes")
    assert test.exit_code == 0, test.output
    outbox = cli("--project", project, "send", "22:1", "--list", "politiker", "--outbox", tmp_path / "ut", "--yes")
    assert outbox.exit_code == 0 and len(list((tmp_path / "ut").glob("*.eml"))) == 2
    plan = cli("--project", project, "send", "22:1", "--list", "politiker", "--dry-run", "--resend-unknown",
               "--allow-changes", "--rate", "30/min", "--connections", "2")
    assert plan.exit_code == 0, plan.output
