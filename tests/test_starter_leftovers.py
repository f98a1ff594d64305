"""The starter that init writes: send to lists refuses its example From and Reply-To, before anything is written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nyhetsbrev.project.scaffold import init_project
from tests.fixtures import one_line_error
from tests.starter_helpers import make_own


@pytest.fixture
def starter(tmp_path):
    created = init_project(tmp_path / "p")
    return created.root, str(created.issue)


def _settings_without_example(root: Path, key: str) -> None:
    """Make only `key` of from and reply_to the team's own."""
    settings = root / "nyhetsbrev.toml"
    own = {"from": 'from = "Nyhetsbrevet <nyhetsbrev@example.org>"', "reply_to": 'reply_to = "redaktion@example.org"'}
    lines = [own[key] if line.startswith(f"{key} =") else line for line in settings.read_text(encoding="utf-8").splitlines()]
    settings.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("own, refused, line", [(None, "from", 6), ("from", "reply_to", 7)])
@pytest.mark.parametrize("dry_run", [False, True])
def test_send_to_lists_refuses_the_starters_sender_and_writes_nothing(cli, starter, own, refused, line, dry_run):
    root, issue = starter
    if own:
        _settings_without_example(root, own)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    result = cli("--project", root, "send", issue, "--list", "politiker", "--yes", *(["--dry-run"] * dry_run))
    assert result.exit_code == 2
    assert (f"{root / 'nyhetsbrev.toml'}:{line}: not sending to lists: '{refused}' in nyhetsbrev.toml is still the "
            "example address that 'nyhetsbrev init' wrote") in one_line_error(result)
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    assert not Path(os.environ["NYHETSBREV_DB"]).exists()


def test_the_outbox_works_with_the_starter_and_an_own_sender_sends(cli, starter, tmp_path):
    root, issue = starter
    assert cli("--project", root, "recipients", "add", "eva@example.org", "--list", "politiker").exit_code == 0
    outbox = cli("--project", root, "send", issue, "--list", "politiker", "--outbox", tmp_path / "ut")
    assert outbox.exit_code == 0, outbox.output
    assert len(list((tmp_path / "ut").glob("*.eml"))) == 1
    make_own(root)
    result = cli("--project", root, "send", issue, "--list", "politiker", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "not sending" not in result.output
