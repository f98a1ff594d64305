"""A reply quoting the newsletter is never an unsubscribe by the token in its quoted footer, in any language or program."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from nyhetsbrev.inbox.classify import OTHER, UNSUBSCRIBE, classify
from nyhetsbrev.inbox.run import read_inbox
from tests.inbox_helpers import UNSUBSCRIBE_ADDRESS, inbox_project, record_sent, suppressed, token_for

pytestmark = pytest.mark.timeout(60)

WRITER = "sara.svensson@example.se"
NEWSLETTER = "FoU Sörmland <nyhetsbrev@example.org>"
LINK = "https://www.example.org/avregistrera?token={token}"

# Each: the writer's own words, then the quoted newsletter as her mail program writes it, its footer at once.
PLAIN_STYLES = {
    "outlook-sv": "Från: {n}\nSkickat: den 1 april 2022 05:02\nTill: Sara Svensson <{w}>\nÄmne: Nyhetsbrev\n\n",
    "outlook-de": "Von: {n}\nGesendet: Freitag, 1. April 2022 05:02\nAn: Sara Svensson <{w}>\nBetreff: Nyhetsbrev\n\n",
    "outlook-fi": "Lähettäjä: {n}\nLähetetty: perjantai 1. huhtikuuta 2022 5.02\nVastaanottaja: Sara <{w}>\nAihe: Nyhetsbrev\n\n",
    "outlook-no": "Fra: {n}\nSendt: fredag 1. april 2022 05:02\nTil: Sara Svensson <{w}>\nEmne: Nyhetsbrev\n\n",
    "outlook-da": "Fra: {n}\nSendt: 1. april 2022 05:02\nTil: Sara Svensson <{w}>\nEmne: Nyhetsbrev\n\n",
    "outlook-fr": "De : {n}\nEnvoyé : vendredi 1 avril 2022 05:02\nÀ : Sara Svensson <{w}>\nObjet : Nyhetsbrev\n\n",
    "outlook-bold": "*From:* {n}\n*Sent:* Friday, April 1, 2022 5:02 AM\n*To:* Sara <{w}>\n*Subject:* Nyhetsbrev\n\n",
    "outlook-zh": "发件人: {n}\n发送时间: 2022年4月1日 5:02\n收件人: Sara <{w}>\n主题: Nyhetsbrev\n\n",
    "outlook-separator": "________________________________\n{n}\n\n",
    "original-message": "-----Original Message-----\n{n}\n\n",
    "ursprungligt": "-----Ursprungligt meddelande-----\n{n}\n\n",
    "gmail-de": "Am Fr., 1. Apr. 2022 um 05:02 Uhr schrieb FoU Sörmland <\nnyhetsbrev@example.org>:\n\n",
    "gmail-fi": "pe 1. huhtik. 2022 klo 5.02 FoU Sörmland (nyhetsbrev@example.org) kirjoitti:\n\n",
    "gmail-fr": "Le ven. 1 avr. 2022 à 05:02, FoU Sörmland <nyhetsbrev@example.org> a\nécrit :\n\n",
    "gmail-en": "On Fri, Apr 1, 2022 at 5:02 AM FoU Sörmland <nyhetsbrev@example.org>\nwrote:\n\n",
    "gmail-da": "Den fre. 1. apr. 2022 kl. 05.02 skrev FoU Sörmland <nyhetsbrev@example.org>:\n\n",
    "gmail-no": "fre. 1. apr. 2022 kl. 05:02 skrev FoU Sörmland <nyhetsbrev@example.org>:\n\n",
    "apple-sv": "1 apr. 2022 kl. 05:02 skrev FoU Sörmland <nyhetsbrev@example.org>:\n\n",
    "apple-en": "On 1 Apr 2022, at 05:02, FoU Sörmland <nyhetsbrev@example.org> wrote:\n\n",
    "quoted": "> Välkommen till vårens nyhetsbrev!\n>\n> ",
}
HTML_STYLES = {
    "outlook-web": '<div id="divRplyFwdMsg" dir="ltr"><b>Från:</b> {n}</div><div>',
    "outlook-desktop": '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p><b>Von:</b> {n}</p></div><p>',
    "gmail": '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">Den fre 1 apr. 2022 skrev {n}:<br></div><div>',
    "apple": '<blockquote type="cite"><div>',
    "thunderbird": '<div class="moz-cite-prefix">Den 2022-04-01 kl. 05:02, skrev FoU:<br></div><div>',
}
OWN_WORDS = "Tack för brevet! Jag vill gärna fortsätta få det.\n\nVänliga hälsningar\nSara"


def _reply(quote: str, token: str, *, html: bool = False, own: str = OWN_WORDS) -> bytes:
    footer = "Avregistrera: " + LINK.format(token=token)
    msg = EmailMessage()
    msg["From"] = f"Sara Svensson <{WRITER}>"
    msg["To"] = UNSUBSCRIBE_ADDRESS  # the worst case: the reply goes to the unsubscribe mailbox itself
    msg["Subject"] = "SV: Nyhetsbrev"
    msg["Message-ID"] = f"<reply.{abs(hash((quote, token, own)))}@example.se>"
    quote = quote.format(n=NEWSLETTER, w=WRITER)
    if html:
        own_html = own.replace("\n", "<br>")
        msg.set_content(f"<html><body><p>{own_html}</p>{quote}Välkommen!<br><a href=\"{LINK.format(token=token)}\">"
                        f"Avregistrera</a></div></body></html>", subtype="html")
    else:
        msg.set_content(f"{own}\n\n{quote}{footer}\n")
    return msg.as_bytes()


FAKE = "c2FyYS5zdmVuc3NvbkBleGFtcGxlLnNl.AAAAAAAAAAAAAAAAAAAAAA"


@pytest.mark.parametrize("style", sorted(PLAIN_STYLES))
def test_a_plain_text_reply_is_not_an_unsubscribe(style):
    verdict = classify(_reply(PLAIN_STYLES[style], FAKE), unsubscribe_address=UNSUBSCRIBE_ADDRESS)
    assert verdict.tokens == () and verdict.kind == OTHER


@pytest.mark.parametrize("style", sorted(HTML_STYLES))
def test_an_html_reply_is_not_an_unsubscribe(style):
    verdict = classify(_reply(HTML_STYLES[style], FAKE, html=True), unsubscribe_address=UNSUBSCRIBE_ADDRESS)
    assert verdict.tokens == () and verdict.kind == OTHER


def test_the_writers_own_token_above_the_quote_still_counts():
    own = f"Avregistrera mig: {LINK.format(token=FAKE)}\n\nSara"
    for style in ("outlook-de", "gmail-fr", "quoted"):
        verdict = classify(_reply(PLAIN_STYLES[style], "b3RoZXJAZXhhbXBsZS5zZQ.BBBBBBBBBBBBBBBBBBBBBB", own=own),
                           unsubscribe_address=UNSUBSCRIBE_ADDRESS)
        assert verdict.kind == UNSUBSCRIBE and verdict.tokens == (FAKE,)


SWEDISH_REPLIES = {
    "colleague": "Hej!\n\nKan ni avregistrera min kollega Bo Ek? Han har gått i pension.\n"
                 "Jag vill själv gärna fortsätta få brevet.\n\nMvh Sara",
    "stay": "Hej,\n\nJag vill inte avregistrera mig, jag vill fortsätta få brevet. Men kan det komma "
            "lite mer sällan?\n\n/Sara",
}


@pytest.fixture
def sent(tmp_path) -> Path:
    project = inbox_project(tmp_path / "project")
    record_sent({WRITER: ("22:1", "<22-1.a.1@example.org>"), "bo.ek@example.se": ("22:1", "<22-1.a.2@example.org>")})
    return project


def test_the_two_swedish_replies_unsubscribe_no_one(cli, sent, tmp_path):
    folder = tmp_path / "replies"
    folder.mkdir()
    token = token_for(WRITER)
    for name, words in SWEDISH_REPLIES.items():
        (folder / f"{name}.eml").write_bytes(_reply(PLAIN_STYLES["outlook-sv"], token, own=words))
    result = cli("--project", sent, "inbox", "--from", folder)
    assert result.exit_code == 0, result.output
    assert suppressed() == {}
    report = read_inbox(sent, from_path=folder, dry_run=True)
    assert [o.action for o in report.for_a_person] == ["left for a person"] * 2
    assert all(o.command == f"nyhetsbrev recipients unsubscribe -- {WRITER}" for o in report.for_a_person)
    assert f"  nyhetsbrev recipients unsubscribe -- {WRITER}\n" in result.stdout


@pytest.mark.parametrize("style", ["outlook-de", "outlook-fi", "outlook-no", "outlook-da", "outlook-fr", "gmail-de",
                                   "gmail-fi", "gmail-fr"])
def test_replies_in_other_languages_unsubscribe_no_one(sent, tmp_path, style):
    folder = tmp_path / "replies"
    folder.mkdir()
    (folder / "reply.eml").write_bytes(_reply(PLAIN_STYLES[style], token_for(WRITER)))
    report = read_inbox(sent, from_path=folder)
    assert suppressed() == {}
    assert [o.action for o in report.for_a_person] == ["left for a person"]


def test_a_request_naming_another_person_gives_the_command_for_that_person(sent, tmp_path):
    folder = tmp_path / "replies"
    folder.mkdir()
    words = "Hej! Kan ni avregistrera bo.ek@example.se? Han har slutat.\n\nMvh Sara"
    (folder / "bo.eml").write_bytes(_reply(PLAIN_STYLES["outlook-sv"], token_for(WRITER), own=words))
    report = read_inbox(sent, from_path=folder)
    assert suppressed() == {}
    [outcome] = report.for_a_person
    assert outcome.command == "nyhetsbrev recipients unsubscribe -- bo.ek@example.se"
