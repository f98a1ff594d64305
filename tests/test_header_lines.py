"""To and Subject written by hand: whatever a name or subject holds, a header never gains a line, a header
or an address, and no line passes 998 bytes (property tests with hypothesis, plus the names from real mishaps)."""

from __future__ import annotations

import email
import email.policy
import re

import pytest
from hypothesis import given, strategies as st

from nyhetsbrev.mail import message
from nyhetsbrev.mail.header_lines import single_line, subject_header, to_header
from nyhetsbrev.publish import pipeline
from tests.header_helpers import addresses, decoded, display_name, header_lines, raw_header
from tests.send_helpers import make_project

ADDRESS = "asa.oberg@example.org"
ADVERSARIAL = [
    '"Kommunstyrelsens-ordforande" <boss@evil.example>, "Bertil-Andersson-Kommunen"',
    '"' * 50 + "," * 50,
    'Eve <eve@evil.example>',
    'a\\"b\\\\c" , <x@y.example>; group: z@w.example;',
    "x" * 1000,
    "Åsa " * 250,
    "Anna (kommentar) <anna@evil.example>",
    "=?utf-8?q?Eve=0D=0ABcc:_victim@example.org?=",
    "Eve\r\nBcc: victim@example.org",
    "\u2028\u2029\x85Eve\x00\x1b[31m",
    "😀" * 40,
    "",
    " ",
]
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
tricky = st.text(alphabet='"\\<>,;:@()[]=? \t\r\nåÄö😀xY.', max_size=200)


def _check_lines(header: str, name: str) -> list[str]:
    assert header.endswith("\r\n") and header.isascii()
    lines = header[:-2].split("\r\n")
    assert lines[0].startswith(f"{name}: ") or lines[0] == f"{name}:"
    for line in lines:
        assert "\r" not in line and "\n" not in line and "\0" not in line
        assert len(line.encode("ascii")) <= 998
    for line in lines[1:]:  # a continuation, never a header of its own
        assert line.startswith(" ") and line.strip()
    return lines


def _one_address(header: str) -> tuple[str, str]:
    data = (header + "\r\n").encode("ascii")
    found = addresses(data)
    assert len(found) == 1 and found[0][1] == ADDRESS, found
    parsed = email.message_from_bytes(data, policy=email.policy.default)["To"]
    assert [a.addr_spec for a in parsed.addresses] == [ADDRESS]
    return found[0]


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_adversarial_names_give_exactly_one_address(name):
    header = to_header(ADDRESS, name)
    lines = _check_lines(header, "To")
    assert all(len(line) <= 78 for line in lines)
    written, _ = _one_address(header)
    assert decoded(written) == single_line(name)


@given(name=st.one_of(text, tricky))
def test_any_name_gives_one_to_header_with_exactly_the_recipient(name):
    header = to_header(ADDRESS, name)
    _check_lines(header, "To")
    written, _ = _one_address(header)
    assert decoded(written) == single_line(name)


@given(subject=st.one_of(text, tricky))
def test_any_subject_gives_one_subject_header_that_decodes_to_it(subject):
    header = subject_header(subject)
    _check_lines(header, "Subject")
    msg = email.message_from_bytes((header + "\r\n").encode("ascii"), policy=email.policy.default)
    assert list(msg.keys()) == ["Subject"]
    assert decoded(raw_header((header + "\r\n").encode("ascii"), "Subject")) == single_line(subject)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("headers") / "p", lists=())
    project, issue = pipeline.load(root, "22:1")
    return message.build_template(project.settings, issue, pipeline.render(project, issue, frozenset({"politiker"})))


def _names(data: bytes) -> list[str]:
    return [line.split(b":", 1)[0].decode("ascii").lower() for line in header_lines(data) if line[:1] not in (b" ", b"\t")]


@given(name=st.one_of(text, tricky, st.sampled_from(ADVERSARIAL)))
def test_a_whole_message_never_gains_a_header_or_a_recipient(template, name):
    _, plain = template.personalise(ADDRESS, None, message_id="<a@example.org>", token="t")
    _, data = template.personalise(ADDRESS, name, message_id="<a@example.org>", token="t")
    assert _names(data) == _names(plain)
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    assert display_name(data) == single_line(name)
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert [a.addr_spec for a in parsed["To"].addresses] == [ADDRESS] and parsed["Cc"] is None and parsed["Bcc"] is None


def test_plain_names_and_subjects_stay_readable():
    assert to_header(ADDRESS, "Anna Svensson") == f"To: Anna Svensson <{ADDRESS}>\r\n"
    assert subject_header("Nyhetsbrev 22:1") == "Subject: Nyhetsbrev 22:1\r\n"
    assert re.fullmatch(r"Subject: =\?utf-8\?b\?[A-Za-z0-9+/=]+\?=\r\n", subject_header("Vad blir 2+2=?"))
