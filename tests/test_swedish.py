"""The interface in Swedish: with nothing set (no NYHETSBREV_LANGUAGE, no LANG) what a user reads holds no
English, from --help to a send's summary and the preview page; with NYHETSBREV_LANGUAGE=en it is English."""

from __future__ import annotations

import pytest

from tests.language_helpers import assert_swedish, english_words, swedish  # noqa: F401  (fixture)
from tests.send_helpers import add_people, make_project, project, smtp  # noqa: F401  (fixtures)

pytestmark = pytest.mark.timeout(90)


def _command_paths():
    """Every command and group of the CLI, as the words that name it (the top level is [])."""
    import typer

    from nyhetsbrev.cli import app

    paths = []

    def walk(command, path):
        paths.append(path)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


COMMANDS = _command_paths()


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "nyhetsbrev")
def test_help_of_every_command_is_swedish(cli, swedish, path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli(*path, "--help")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Användning:"), result.output
    assert_swedish(result.output.replace("Användning: root", "Användning: nyhetsbrev"))  # CliRunner's program name


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "nyhetsbrev")
def test_help_of_every_command_is_english_on_request(cli, path):
    result = cli(*path, "--help")
    assert result.output.startswith("Usage:") and "Show this message and exit." in result.output
    assert english_words(result.output)


def test_a_bad_argument_and_a_failing_check_are_swedish(cli, swedish, tmp_path):
    project = make_project(tmp_path / "p", issue='subject = ""\ndate = 2022-04-01\n')
    result = cli("--project", project, "check", "22:1")
    assert result.exit_code == 1
    assert "fel:" in result.stderr and "numret har ingen ämnesrad" in result.stderr
    assert_swedish(result.output)
    result = cli("--project", project, "send", "22:1", "--connections", "many")
    assert result.exit_code == 2 and "Ogiltigt värde för" in result.stderr and "är inte ett giltigt heltal" in result.stderr
    assert_swedish(result.output.replace(" root ", " nyhetsbrev "))  # CliRunner's program name


def test_build_and_publish_are_swedish(cli, swedish, repo_project):
    result = cli("--project", repo_project, "build", "22:1")
    assert result.exit_code == 0 and "Byggde 22:1" in result.stdout
    assert_swedish(result.output)
    result = cli("--project", repo_project, "publish")
    assert result.exit_code == 0 and "Publicerade" in result.stdout
    assert_swedish(result.output)


def test_a_dry_run_a_send_and_status_are_swedish(cli, swedish, project, smtp):
    add_people(3, ["politiker"])
    result = cli("--project", project, "send", "22:1", "--list", "politiker", "--dry-run")
    assert result.exit_code == 0 and "Provkörning: inget skickades." in result.stdout
    assert_swedish(result.output)
    result = cli("--project", project, "send", "22:1", "--list", "politiker", "--yes")
    assert result.exit_code == 0 and "Skickade 22:1" in result.stdout
    assert_swedish(result.output)
    result = cli("--project", project, "status", "22:1")
    assert result.exit_code == 0 and "Status för 22:1" in result.stdout
    assert_swedish(result.output)


def test_a_send_and_status_are_english_on_request(cli, project, smtp):
    add_people(2, ["politiker"])
    assert "Sent 22:1" in cli("--project", project, "send", "22:1", "--list", "politiker", "--yes").stdout
    assert "Status of 22:1" in cli("--project", project, "status", "22:1").stdout


def test_an_import_with_skipped_rows_says_why_in_swedish(cli, swedish, tmp_path):
    from tests.recipient_helpers import quirks_csv

    result = cli("recipients", "import", quirks_csv(tmp_path), "--list", "Styrgrupp")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Överhoppade rader" in out and "samma som rad 2" in out and "ingen e-postadress" in out
    assert "ingen giltig e-postadress" in out and "radbrytning" in out
    assert_swedish(out)


@pytest.mark.parametrize("address, reason", [
    ("anna.example.se", "den saknar @"),
    ("anna @example.se", "den innehåller ett mellanslag"),
    ("anna@example", "domänen example har ingen punkt"),
    ("anna@@example.se", "den har mer än ett @"),
    ("anna@exa_mple.se", "tecknet _ är inte tillåtet efter @"),
    ("anna@example.local", "domänen example.local kan inte ta emot e-post"),
])
def test_an_invalid_address_is_explained_in_our_own_words(swedish, address, reason):
    from nyhetsbrev.store.recipient_files import check_address

    with pytest.raises(ValueError) as caught:
        check_address(address)
    assert reason in str(caught.value) and "ingen giltig e-postadress" in str(caught.value)
    assert_swedish(str(caught.value))


def test_inbox_dry_run_is_swedish(cli, swedish, tmp_path):
    from tests.inbox_helpers import inbox_project, record_sent
    from tests.test_inbox import write_samples

    project = inbox_project(tmp_path / "project")
    record_sent()
    result = cli("--project", project, "inbox", "--dry-run", "--from", write_samples(tmp_path / "mail"))
    assert result.exit_code == 0, result.output
    assert "Provkörning: inget ändrades" in result.stdout and "Ändringar" in result.stdout and "Läste" in result.stdout
    # the table quotes what the messages say (server replies, subjects): only our own words are checked
    ours = "\n".join(line for line in result.stdout.splitlines() if not line.startswith("│"))
    assert_swedish(ours)


@pytest.mark.browser
def test_the_preview_page_is_swedish(swedish, repo_project, browser):
    from playwright.sync_api import expect

    from nyhetsbrev.web.preview import PreviewServer

    server = PreviewServer(repo_project, "22:1", port=0).start()
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(server.url)
        expect(page.locator("#built")).to_contain_text("byggd")
        expect(page.locator("#issue")).to_have_text("Förhandsgranska 22:1")
        assert page.locator("html").get_attribute("lang") == "sv"
        text = page.locator("body").inner_text()
        assert "Målgruppsmarkeringar" in text and "Inga fel eller varningar." in text
        assert not any(word in text for word in (" AM", " PM"))
        assert_swedish(text)
    finally:
        context.close()
        server.stop()
