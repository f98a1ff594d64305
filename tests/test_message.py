"""The message: built once per audience, personalised per recipient, parsed back with the stdlib."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
from email.header import decode_header, make_header

import pytest

from nyhetsbrev.mail import message
from nyhetsbrev.publish import pipeline
from nyhetsbrev.errors import HeaderInjection
from nyhetsbrev.project.models import UNSUBSCRIBE_PLACEHOLDER, WEB_PLACEHOLDER
from nyhetsbrev.store.tokens import make_token, verify_token, web_version_folder
from tests.send_helpers import project  # noqa: F401  (fixture)

KEY = b"k" * 32


def _parse(data: bytes):
    return email.message_from_bytes(data, policy=email.policy.default)


def _template(project, audience=frozenset({"politiker"}), **changes):
    proj, issue = pipeline.load(project, "22:1")
    if changes:
        proj = dataclasses.replace(proj, settings=dataclasses.replace(proj.settings, **changes))
    return message.build_template(proj.settings, issue, pipeline.render(proj, issue, audience), key=KEY), issue


def _personal(template, address="asa.oberg@example.org", name="Åsa Öberg"):
    token = make_token(KEY, address)
    mid = f"<22-1.{token[-12:]}@{template.domain}>"
    _, data = template.personalise(address, name, message_id=mid, token=token)
    return data, token


def test_a_personalised_message_parses_back_with_its_links_and_letters(project):
    template, issue = _template(project)
    data, token = _personal(template)
    msg = _parse(data)
    assert str(msg["To"]) == "Åsa Öberg <asa.oberg@example.org>"
    assert msg["Subject"] == "Nyhetsbrev om barnens bästa – våren (22:1)"
    assert msg["From"].addresses[0].display_name == "FoU Sörmland"
    assert msg["Reply-To"] == "redaktion@example.org"
    assert msg["List-Id"] == '"Tillsammans för barnens bästa" <nyhetsbrev.example.org>'
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    link = f"https://www.example.org/avregistrera?token={token}"
    assert verify_token(KEY, token) == "asa.oberg@example.org"
    assert link in text and link in html and link in msg["List-Unsubscribe"]
    web = f"https://www.example.org/nyhetsbrev/22-1/{web_version_folder(KEY, '22-1', 'politiker')}/"
    assert web in text and web in html
    assert UNSUBSCRIBE_PLACEHOLDER not in text + html and WEB_PLACEHOLDER not in text + html
    assert "Här är nyhetsbrevet med åäö och ÅÄÖ." in text and "åäö och ÅÄÖ" in html
    assert "Endast för politikerlistan" in text and "Endast för professionslistan" not in text
    # the image is embedded and the HTML points at it
    related = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(related) == 1
    cid = related[0]["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html and 'src="images/' not in html
    optimised = pipeline.build(project, "22:1").out_dir / "images" / related[0].get_filename()
    assert re.fullmatch(r"logga-[0-9a-f]{10}\.png", related[0].get_filename())
    assert related[0].get_content() == optimised.read_bytes()  # the image fit for email, as build writes it


def test_personalising_changes_only_the_personal_parts(project):
    template, _ = _template(project)
    first, _ = _personal(template, "anna@example.org", "Anna")
    second, token = _personal(template, "bo@example.org", "Bo")
    one, two = _parse(first), _parse(second)
    assert one.get_boundary() == two.get_boundary()  # encoded once, not rebuilt per recipient
    assert one["Message-ID"] != two["Message-ID"]
    assert [a.addr_spec for a in two["To"].addresses] == ["bo@example.org"]
    assert token in two.get_body(("html",)).get_content() and token not in first.decode("ascii")


@pytest.mark.parametrize("offset", range(0, 90, 7))
def test_lines_stay_short_wherever_the_link_falls(project, offset):
    proj, issue = pipeline.load(project, "22:1")
    rendered = pipeline.render(proj, issue, frozenset())
    long_line = "å" * offset + f'<a href="{UNSUBSCRIBE_PLACEHOLDER}">x</a>' + "ö=." * 3000
    rendered = dataclasses.replace(rendered, email_html=rendered.email_html.replace("</body>", long_line + "</body>"))
    template = message.build_template(proj.settings, issue, rendered)
    data, token = _personal(template)
    lines = data.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    body_lines = data.partition(b"\r\n\r\n")[2].split(b"\r\n")
    assert max(len(line) for line in body_lines) <= 76
    assert b"\n" not in data.replace(b"\r\n", b"")
    html = _parse(data).get_body(("html",)).get_content()
    assert "å" * offset + f'<a href="https://www.example.org/avregistrera?token={token}">x</a>' + "ö=." * 3000 in html


def test_image_base_url_links_images_instead_of_embedding(project):
    template, _ = _template(project, image_base_url="https://bilder.example.org/nb")
    msg = _parse(_personal(template)[0])
    assert msg.get_content_type() == "multipart/alternative"
    assert not [p for p in msg.walk() if p.get_content_maintype() == "image"]
    html = msg.get_body(("html",)).get_content()
    [name] = re.findall(r'src="https://bilder\.example\.org/nb/22-1/images/(logga-[0-9a-f]{10}\.png)"', html)
    assert (pipeline.build(project, "22:1").out_dir / "images" / name).is_file()  # build/22-1 is what to upload


def test_mailto_only_when_no_unsubscribe_url(project):
    template, _ = _template(project, unsubscribe_url=None)
    data, token = _personal(template)
    msg = _parse(data)
    assert msg["List-Unsubscribe"] == f"<mailto:avregistrera@example.org?subject=Avregistrera%20{token}>"
    assert f"mailto:avregistrera@example.org?subject=Avregistrera%20{token}" in msg.get_body(("plain",)).get_content()


def test_one_click_header_only_with_an_https_link(project):
    assert _parse(_personal(_template(project)[0])[0])["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    for url in (None, "http://www.example.org/avregistrera"):
        msg = _parse(_personal(_template(project, unsubscribe_url=url)[0])[0])
        assert msg["List-Unsubscribe-Post"] is None, url  # RFC 8058: one-click needs an https URI


@pytest.mark.parametrize("name", ["Eve\r\nBcc: victim@example.org", "Eve\nBcc: victim@example.org", "Eve\x00",
                                  "=?utf-8?q?Eve=0D=0ABcc:_victim@example.org?="])
def test_injection_in_a_name_stays_text_in_one_display_name(project, name):
    template, _ = _template(project)
    data, _ = _personal(template, name=name)
    head = data.partition(b"\r\n\r\n")[0]
    assert not re.search(rb"(?mi)^(bcc|cc):", head) and b"victim" not in head
    to = _parse(data)["To"]
    assert [a.addr_spec for a in to.addresses] == ["asa.oberg@example.org"]
    assert to.addresses[0].display_name == " ".join(name.replace("\x00", " ").split())


def test_injection_in_the_subject_is_refused(project):
    proj, issue = pipeline.load(project, "22:1")
    issue = dataclasses.replace(issue, subject="Hej\r\nBcc: victim@example.org")
    with pytest.raises(HeaderInjection) as caught:
        message.build_template(proj.settings, issue, pipeline.render(proj, issue, None))
    assert "subject" in str(caught.value)


def test_an_encoded_word_in_the_subject_is_sent_as_the_text_it_is(project):
    proj, issue = pipeline.load(project, "22:1")
    subject = "=?utf-8?q?Hej=0ABcc:_victim@example.org?="
    issue = dataclasses.replace(issue, subject=subject)
    template = message.build_template(proj.settings, issue, pipeline.render(proj, issue, None))
    data, _ = _personal(template)
    msg = _parse(data)
    assert msg["Subject"] == f"{subject} (22:1)" and msg["Bcc"] is None


def test_injection_in_an_address_is_refused():
    for address in ("a@example.org\r\nRCPT TO:<b@example.org>", "a@example.org>\nBcc: b@example.org"):
        with pytest.raises(HeaderInjection):
            message.envelope_address(address)


def test_a_long_name_is_folded_and_decodes_whole(project):
    template, _ = _template(project)
    name = "Åsa-Britt Öberg Lindqvist, utvecklingsledare för barn och unga i Sörmlands län"
    data = _personal(template, name=name)[0]
    raw = _parse(data)
    folded = re.search(rb"^To:.*?\r\n(?! )", data, re.M | re.S).group(0)
    assert all(len(line) <= 78 for line in folded.split(b"\r\n"))
    decoded = str(make_header(decode_header(folded.decode("ascii")[4:].replace("\r\n", "").rsplit("<", 1)[0])))
    assert decoded.strip() == name
    assert raw["To"].addresses[0].addr_spec == "asa.oberg@example.org"


def test_idn_domains_go_out_in_ascii(project):
    template, _ = _template(project)
    data, _ = _personal(template, "anna@räksmörgås.se", "Anna")
    assert _parse(data)["To"].addresses[0].addr_spec == "anna@xn--rksmrgs-5wao1o.se"
    assert message.envelope_address("anna@räksmörgås.se") == "anna@xn--rksmrgs-5wao1o.se"


def _smtp_data(data: bytes) -> bytes:
    """What smtplib sends for a message: every line that starts with '.' gets another, then CRLF . CRLF."""
    data = re.sub(rb"(?m)^\.", b"..", data)
    return data + (b"" if data.endswith(b"\r\n") else b"\r\n") + b".\r\n"


@pytest.mark.parametrize("name", [None, "Åsa Öberg", ".Punkt Först", "Anna Andersson"])
def test_the_message_as_sent_is_the_message_dot_stuffed_as_smtplib_does_it(project, name):
    """wire() stuffs the fixed parts once and only what is personal per message: the bytes must be exactly those of
    stuffing the whole message, also where a line starting with a dot follows a personal part."""
    section = project / "issues" / "22-1" / "01-inledning.md"
    section.write_text(section.read_text(encoding="utf-8") + "\n.5 procent fler\n\n.\n\n..två\n", encoding="utf-8")
    for audience in (frozenset({"politiker"}), frozenset()):
        template, _ = _template(project, audience)
        for address in ("asa.oberg@example.org", "b@example.org"):
            token = make_token(KEY, address)
            plain = template.personalise(address, name, message_id="<m@example.org>", token=token, date="D")
            wired = template.wire(address, name, message_id="<m@example.org>", token=token, date="D")
            assert wired == (plain[0], _smtp_data(plain[1]))
            assert b"\r\n..5 procent fler" in wired[1]


def test_dot_stuffing_across_the_joins_of_fixed_and_personal_parts(project):
    template, _ = _template(project)
    joined = message.MessageTemplate(
        (b".Subject-like: a\r\n", b".after: b\r\n\r\n"), (b".top ", b"\r\n.middle", b"\r\n.end"),
        message._encode_body(f".a\n.b\n{UNSUBSCRIBE_PLACEHOLDER}\n.c"), message._encode_body(f".{UNSUBSCRIBE_PLACEHOLDER}."),
        template.settings, template.sender, template.domain)
    plain = joined.personalise("a@example.org", "Åsa", message_id="<m@example.org>", token="t", date="D")
    assert joined.wire("a@example.org", "Åsa", message_id="<m@example.org>", token="t", date="D") == (
        plain[0], _smtp_data(plain[1]))
    assert plain[1].startswith(b".Subject") and joined.wire("a@example.org", None, message_id="<m@example.org>",
                                                             token="t")[1].startswith(b"..Subject")
