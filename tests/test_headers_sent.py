"""Subject and unsubscribe headers end to end: what check passes, send accepts and delivers exactly
(real SMTP server on 127.0.0.1, real SQLite file)."""

from __future__ import annotations

import re

import pytest

from tests.send_helpers import ISSUE, SETTINGS, add_people, ledger_rows, make_project, send, smtp  # noqa: F401
from tests.header_helpers import decoded, raw_header

pytestmark = pytest.mark.timeout(60)


def test_a_subject_with_equals_question_mark_passes_check_and_arrives_exactly(tmp_path, smtp, cli):
    root = make_project(tmp_path / "p", issue=ISSUE.replace('subject = "Nyhetsbrev om barnens bästa – våren"',
                                                            'subject = "Vad blir 2+2=?"'))
    assert cli("--project", root, "check", "22:1").exit_code == 0
    add_people(2, ["politiker"])
    report = send(root)
    assert report.tally.sent == 2
    for received in smtp.received:
        assert received.message["Subject"] == "Vad blir 2+2=? (22:1)"
        assert decoded(raw_header(received.data, "Subject")) == "Vad blir 2+2=? (22:1)"


@pytest.mark.parametrize("key, value", [("subject", '"Hej\\nBcc: victim@example.org"'), ("preheader", '"Rad ett\\r\\nrad två"')])
def test_a_line_break_in_subject_or_preheader_is_a_check_error_with_its_line_and_send_refuses(tmp_path, smtp, cli, key, value):
    issue = re.sub(rf"(?m)^{key} = .*$", lambda _: f"{key} = {value}", ISSUE)
    root = make_project(tmp_path / "p", issue=issue)
    line = next(n for n, text in enumerate(issue.splitlines(), start=1) if text.startswith(f"{key} ="))
    checked = cli("--project", root, "check", "22:1")
    assert checked.exit_code == 1 and f"issue.toml:{line}: " in checked.stderr and re.search("line break|carriage return", checked.stderr)
    add_people(2, ["politiker"])
    sent = cli("--project", root, "send", "22:1", "--list", "politiker", "--yes")
    assert sent.exit_code != 0 and f"issue.toml:{line}: " in sent.stderr
    assert smtp.attempts == [] and ledger_rows() == {}


@pytest.mark.parametrize("https", [False, True])
def test_one_click_post_only_with_an_https_link(tmp_path, smtp, https):
    settings = SETTINGS if https else SETTINGS.replace('unsubscribe_url = "https://www.example.org/avregistrera"\n', "")
    root = make_project(tmp_path / "p", settings=settings)
    add_people(1, ["politiker"])
    send(root)
    msg = smtp.received[-1].message
    links = re.findall(r"<([^>]+)>", msg["List-Unsubscribe"])
    mailto = re.fullmatch(r"mailto:avregistrera@example.org\?subject=Avregistrera%20([A-Za-z0-9_.~-]+)", links[-1])
    assert mailto  # the personal token rides in the subject of the mailto link
    if https:
        assert links[0] == f"https://www.example.org/avregistrera?token={mailto.group(1)}"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    else:
        assert len(links) == 1 and msg["List-Unsubscribe-Post"] is None
