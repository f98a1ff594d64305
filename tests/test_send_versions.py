"""The ledger remembers which content went out: a send resumed after the issue was edited is refused unless
--allow-changes, and status shows the versions (real SMTP server on 127.0.0.1, real SQLite file)."""

from __future__ import annotations

import re

import pytest

from tests.send_helpers import add_people, ledger_rows, project, smtp  # noqa: F401  (fixtures)

pytestmark = pytest.mark.timeout(60)


def _edit(project, old: str, new: str, name: str = "01-inledning.md") -> None:
    path = project / "issues/22-1" / name
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def _send(cli, project, *extra):
    return cli("--project", project, "send", "22:1", "--list", "politiker", "--list", "profession", "--yes", *extra)


def test_an_edit_between_runs_is_refused_then_allowed_and_status_shows_both_versions(project, smtp, cli):
    first = add_people(3, ["politiker"])
    assert _send(cli, project).exit_code == 0
    later = add_people(2, ["politiker"], start=10)
    _edit(project, "Här är nyhetsbrevet", "Här är det rättade nyhetsbrevet")
    refused = _send(cli, project)
    assert refused.exit_code == 2 and "3 recipient(s) got the earlier version" in refused.stderr
    assert "--allow-changes" in refused.stderr
    assert len(smtp.received) == 3
    assert set(ledger_rows()) == set(first)  # refused before the ledger: the new people are not even queued
    allowed = _send(cli, project, "--allow-changes")
    assert allowed.exit_code == 0, allowed.output
    texts = {r.rcpt_tos[0]: r.message.get_body(("plain",)).get_content() for r in smtp.received}
    assert all("det rättade" not in texts[a] for a in first) and all("det rättade" in texts[a] for a in later)
    status = cli("--project", project, "status", "22:1")
    versions = re.findall(r"politiker\s+.\s+([0-9a-f]{10})\s+.\s+(\d+)", status.stdout)
    assert sorted(int(count) for _, count in versions) == [2, 3] and len({fp for fp, _ in versions}) == 2, status.stdout
    assert "edited during the send" in status.stdout
    add_people(1, ["politiker"], start=20)  # the change was accepted once: the next run goes on without asking again
    assert _send(cli, project).exit_code == 0 and len(smtp.received) == 6


def test_a_rerun_of_an_unchanged_issue_and_an_edit_to_another_version_go_on(project, smtp, cli):
    add_people(2, ["politiker"])
    add_people(2, ["profession"], prefix="prof")
    assert _send(cli, project).exit_code == 0
    add_people(1, ["politiker"], start=10)
    assert _send(cli, project).exit_code == 0  # same content: no question
    _edit(project, "Endast för politikerlistan", "Endast för politikerlistan, rättad", "02-politiker.md")
    add_people(1, ["profession"], prefix="prof", start=10)
    refused = _send(cli, project)  # the politiker version changed: 3 got the earlier one
    assert refused.exit_code == 2 and "3 recipient(s) got the earlier version" in refused.stderr


def test_a_dry_run_says_so_too(project, smtp, cli):
    add_people(2, ["politiker"])
    assert _send(cli, project).exit_code == 0
    _edit(project, "Välkommen", "Välkomna")
    add_people(1, ["politiker"], start=10)
    result = _send(cli, project, "--dry-run")
    assert result.exit_code == 2 and "2 recipient(s) got the earlier version" in result.stderr
    assert _send(cli, project, "--allow-changes").exit_code == 0
    _edit(project, "Välkomna", "Välkomna alla")  # edited after everyone has it: nothing is left to refuse
    assert _send(cli, project, "--dry-run").exit_code == 0
