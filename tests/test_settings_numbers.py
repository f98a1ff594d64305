"""Every number in nyhetsbrev.toml is checked at its line (finite, in range, the right type), and a host name as a host
name: one line naming the file, the line and what is allowed, from `check` and `send` alike, and nothing is sent."""

from __future__ import annotations

import pytest

from nyhetsbrev.errors import ConfigError
from nyhetsbrev.project.config import load_settings
from tests.fixtures import one_line_error
from tests.send_helpers import SETTINGS, add_people, ledger_rows, make_project, smtp  # noqa: F401  (fixtures)

pytestmark = pytest.mark.timeout(60)

BAD = [
    ("timeout = inf", "'timeout' in [smtp] must be a number from 1 to 600, not inf"),
    ("timeout = 1e308", "'timeout' in [smtp] must be a number from 1 to 600, not 1e+308"),
    ("timeout = nan", "'timeout' in [smtp] must be a number from 1 to 600, not nan"),
    ("timeout = true", "'timeout' in [smtp] must be a number from 1 to 600, not true"),
    (f'host = "{"a" * 300}"', "'host' in [smtp] is not a host name"),
    ('host = "smtp..example.se"', "'host' in [smtp] is not a host name"),
    ('host = "smtp example.se"', "'host' in [smtp] is not a host name"),
    ("port = true", "'port' in [smtp] must be a whole number from 1 to 65535, not true"),
    ("port = 2525.9", "'port' in [smtp] must be a whole number from 1 to 65535, not 2525.9"),
    ("port = 0", "'port' in [smtp] must be a whole number from 1 to 65535, not 0"),
    ("port = 70000", "'port' in [smtp] must be a whole number from 1 to 65535, not 70000"),
    ('rate = "1e-320/s"', "'rate' '1e-320/s' is not a rate a send can keep: from 1/h to 1000/s"),
    ('rate = "1/day"', "'rate' '1/day' has an unknown unit"),
    ("daily_limit = 2.5", "'daily_limit' in [smtp] must be a whole number from 1 to 10000000, not 2.5"),
    ("daily_limit = false", "'daily_limit' in [smtp] must be a whole number from 1 to 10000000, not false"),
]


def _settings(line: str, table: str = "smtp") -> str:
    return SETTINGS + f'\n[{table}]\nsecurity = "none"\n{line}\n'


@pytest.mark.parametrize("line, message", BAD, ids=[line[:24] for line, _ in BAD])
def test_a_bad_number_or_host_is_one_error_at_its_line(tmp_path, line, message):
    path = tmp_path / "nyhetsbrev.toml"
    path.write_text(_settings(line), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert message in str(caught.value)
    assert caught.value.path == path and caught.value.line == len(SETTINGS.splitlines()) + 4


@pytest.mark.parametrize("line, message", [
    ("port = true", "'port' in [imap] must be a whole number from 1 to 65535, not true"),
    ("port = 993.5", "'port' in [imap] must be a whole number from 1 to 65535, not 993.5"),
    ("timeout = -inf", "'timeout' in [imap] must be a number from 1 to 600, not -inf"),
    (f'host = "{"b" * 64}.example.se"', "'host' in [imap] is not a host name"),
])
def test_imap_numbers_are_checked_at_their_own_line_not_at_the_smtp_ones(tmp_path, line, message):
    path = tmp_path / "nyhetsbrev.toml"
    smtp_table = '\n[smtp]\nhost = "smtp.example.se"\nport = 587\ntimeout = 30\n'
    path.write_text(SETTINGS + smtp_table + f'\n[imap]\n{line}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert message in str(caught.value)
    assert caught.value.line == len((SETTINGS + smtp_table).splitlines()) + 3


@pytest.mark.parametrize("line", ['host = "smtp.example.se"', 'host = "e-post.kommun.se."', 'host = "127.0.0.1"',
                                  'host = "::1"', 'host = "smtp.exempel-å.se"', "port = 25", "timeout = 1",
                                  "timeout = 2.5", 'rate = "1/h"', 'rate = "1000/s"', "daily_limit = 10000"])
def test_good_settings_still_read(tmp_path, line):
    path = tmp_path / "nyhetsbrev.toml"
    path.write_text(_settings(line), encoding="utf-8")
    load_settings(path)


@pytest.mark.parametrize("name, value, message", [
    ("NYHETSBREV_SMTP_PORT", "2525.9", "NYHETSBREV_SMTP_PORT must be a whole number from 1 to 65535, not '2525.9'"),
    ("NYHETSBREV_SMTP_PORT", "true", "NYHETSBREV_SMTP_PORT must be a whole number from 1 to 65535, not 'true'"),
    ("NYHETSBREV_SMTP_HOST", "x" * 300, "NYHETSBREV_SMTP_HOST is not a host name"),
])
def test_environment_overrides_are_checked_too(tmp_path, monkeypatch, name, value, message):
    path = tmp_path / "nyhetsbrev.toml"
    path.write_text(_settings("port = 25"), encoding="utf-8")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("[", r"\[")):
        load_settings(path)


@pytest.mark.parametrize("line, allowed", [
    ("timeout = inf", "from 1 to 600"), ("timeout = 1e308", "from 1 to 600"), ("timeout = nan", "from 1 to 600"),
    (f'host = "{"a" * 300}"', "is not a host name"), ("port = true", "from 1 to 65535"),
    ("port = 2525.9", "from 1 to 65535"), ('rate = "1e-320/s"', "from 1/h to 1000/s"),
])
def test_check_and_send_say_it_in_one_line_and_nothing_is_sent(tmp_path, smtp, cli, line, allowed):
    project = make_project(tmp_path / "project", settings=_settings(f'host = "127.0.0.1"\nport = {smtp.port}\n{line}'
                                                                    if not line.startswith(("host", "port")) else line))
    add_people(3, ["politiker"])
    for args in (["check", "22:1"], ["send", "22:1", "--list", "politiker", "--yes"]):
        result = cli("--project", project, *args, env={"NYHETSBREV_SMTP_HOST": "", "NYHETSBREV_SMTP_PORT": ""})
        error = one_line_error(result)
        assert f"nyhetsbrev.toml:{len(SETTINGS.splitlines()) + 4 + (2 if line[:4] not in ('host', 'port') else 0)}" \
            in error and allowed in error, error
    assert smtp.received == [] and ledger_rows() == {}
