"""The classifier on real-shaped messages: Postfix, Exim, Exchange Online, Gmail, ARF, out-of-office, people."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from tests.language_helpers import swedish  # noqa: F401  (fixture)

from nyhetsbrev.inbox.classify import AUTO_REPLY, BOUNCE, COMPLAINT, OTHER, UNSUBSCRIBE, Verdict, classify
from tests.inbox_helpers import SAMPLES, UNSUBSCRIBE_ADDRESS, bounce_for, plain_message

FAKE_TOKEN = "YW5uYUBleGFtcGxlLnNl.AAAAAAAAAAAAAAAAAAAAAA"  # token-shaped; verifying is apply's job


def _classify(raw: bytes):
    return classify(raw.replace(b"{{token}}", FAKE_TOKEN.encode()), unsubscribe_address=UNSUBSCRIBE_ADDRESS)


@pytest.mark.parametrize(
    "name, kind, addresses, permanent, returned",
    [
        ("postfix-captured.eml", BOUNCE, ("okand@example.org",), True, "<22-1.abc.1@example.org>"),
        ("postfix-delayed.eml", BOUNCE, ("karin.lund@example.se",), False, "<22-1.5f3a9c0d2e4b6a18.7@example.org>"),
        ("exim-failed.eml", BOUNCE, ("erik.oberg@kommun.example.se",), True, "<22-1.5f3a9c0d2e4b6a18.4@example.org>"),
        ("exchange-online-ndr.eml", BOUNCE, ("mia.berg@kommun.example.se",), True, "<22-1.5f3a9c0d2e4b6a18.5@example.org>"),
        ("gmail-forwarded-dsn.eml", BOUNCE, ("anna.privat@example.net",), True, "<22-1.5f3a9c0d2e4b6a18.6@example.org>"),
        ("arf-abuse.eml", COMPLAINT, ("per.nilsson@example.org",), False, "<22-1.5f3a9c0d2e4b6a18.8@example.org>"),
        ("out-of-office-sv.eml", AUTO_REPLY, (), False, None),
        ("out-of-office-en.eml", AUTO_REPLY, (), False, None),
        ("human-reply.eml", OTHER, (), False, None),
        ("unsubscribe-mailto.eml", UNSUBSCRIBE, (), False, None),
        ("unsubscribe-words.eml", UNSUBSCRIBE, (), False, None),
    ],
)
def test_each_sample_is_sorted_right(name, kind, addresses, permanent, returned):
    verdict = _classify((SAMPLES / name).read_bytes())
    assert verdict.kind == kind
    assert verdict.addresses == addresses
    assert verdict.permanent is permanent
    if returned:
        assert verdict.returned_ids[0] == returned
    assert verdict.key.startswith("<") and verdict.date and verdict.date.endswith("Z")


def test_bounce_details_carry_the_status_code():
    assert _classify((SAMPLES / "exchange-online-ndr.eml").read_bytes()).detail.startswith("5.1.10")
    assert "5.1.1" in _classify((SAMPLES / "exim-failed.eml").read_bytes()).detail
    assert _classify((SAMPLES / "postfix-delayed.eml").read_bytes()).detail.startswith("4.4.1")


def test_the_mailto_link_gives_its_token_and_words_give_none():
    assert _classify((SAMPLES / "unsubscribe-mailto.eml").read_bytes()).tokens == (FAKE_TOKEN,)
    words = _classify((SAMPLES / "unsubscribe-words.eml").read_bytes())
    assert words.tokens == () and words.asks and words.sender == "Mia.Berg@Example.SE"


def test_a_reply_quoting_the_newsletter_is_not_an_unsubscribe():
    """The quoted footer holds 'Avregistrera' and the person's own link: a reply must still reach a person."""
    verdict = _classify((SAMPLES / "human-reply.eml").read_bytes())
    assert verdict.kind == OTHER and verdict.tokens == () and not verdict.asks


@pytest.mark.parametrize(
    "subject, body, to, expected",
    [
        ("Avregistrera%20" + FAKE_TOKEN, "", UNSUBSCRIBE_ADDRESS, (FAKE_TOKEN,)),  # a client that kept the %20
        ("", f"https://www.example.org/avregistrera?token={FAKE_TOKEN}", UNSUBSCRIBE_ADDRESS, (FAKE_TOKEN,)),
        ("Ta bort mig", f"min länk: mailto:{UNSUBSCRIBE_ADDRESS}?subject=Avregistrera%20{FAKE_TOKEN}", "x@example.org",
         (FAKE_TOKEN,)),
        ("Fråga", f"Hej! {FAKE_TOKEN}", "redaktion@example.org", ()),  # a token-shaped word, not to unsubscribe
    ],
)
def test_tokens_are_found_bare_or_in_a_whole_link(subject, body, to, expected):
    verdict = _classify(plain_message("anna@example.se", subject, body, to=to))
    assert verdict.tokens == expected
    assert verdict.kind == (UNSUBSCRIBE if expected else OTHER)


@pytest.mark.parametrize("words", ["Avregistrera mig, tack", "Please unsubscribe me", "Jag vill avsluta prenumerationen"])
def test_asking_in_words_at_the_top_is_an_unsubscribe(words):
    verdict = _classify(plain_message("anna@example.se", "Nyhetsbrevet", words + "\n\nMvh Anna"))
    assert verdict.kind == UNSUBSCRIBE and verdict.asks


def test_words_only_in_the_quoted_part_are_not_asking():
    body = "Tack, mycket bra!\n\n> Avregistrera: https://www.example.org/avregistrera\n"
    assert _classify(plain_message("anna@example.se", "SV: Nyhetsbrev", body)).kind == OTHER


@pytest.mark.parametrize(
    "headers, subject",
    [
        ({"Auto-Submitted": "auto-generated"}, "Nyhetsbrev"),
        ({"X-Autoreply": "yes"}, "Nyhetsbrev"),
        ({"Precedence": "auto_reply"}, "Nyhetsbrev"),
        ({}, "Frånvaromeddelande: Nyhetsbrev"),
        ({}, "Autosvar: Nyhetsbrev"),
        ({}, "Out of Office: Nyhetsbrev"),
        ({}, "Automatic reply: Nyhetsbrev"),
    ],
)
def test_auto_replies_are_recognised_by_header_or_subject(headers, subject):
    assert _classify(plain_message("a@example.se", subject, "Borta.", headers=headers)).kind == AUTO_REPLY


def test_a_mail_service_unsubscribing_for_the_reader_is_not_an_auto_reply():
    """Some services send the mailto link's message themselves, marked Auto-Submitted."""
    raw = plain_message("anna@example.se", f"Avregistrera {FAKE_TOKEN}", "This message was automatically generated.",
                        to=UNSUBSCRIBE_ADDRESS, headers={"Auto-Submitted": "auto-generated"})
    verdict = _classify(raw)
    assert verdict.kind == UNSUBSCRIBE and verdict.tokens == (FAKE_TOKEN,)


def test_auto_submitted_no_is_a_person():
    raw = plain_message("a@example.se", "Hej", "En fråga.", headers={"Auto-Submitted": "no"})
    assert _classify(raw).kind == OTHER


def test_a_success_report_is_ignored_and_a_delay_is_temporary():
    delivered = bounce_for("<x@example.org>", "a@example.se", status="2.0.0", action="delivered")
    assert (_classify(delivered).kind, _classify(delivered).detail) == (AUTO_REPLY, "delivery report without failures")
    delayed = _classify(bounce_for("<x@example.org>", "a@example.se", status="4.4.1", action="delayed"))
    assert delayed.kind == BOUNCE and not delayed.permanent and delayed.addresses == ("a@example.se",)
    assert delayed.detail == "4.4.1 451 4.4.1 try again later"  # what the inbox report shows for the person


def test_a_read_receipt_is_ignored():
    raw = (
        "From: Eva Nord <eva.nord@example.org>\r\nTo: redaktion@example.org\r\nSubject: =?utf-8?q?L=C3=A4st=3A_Nyhetsbrev?=\r\n"
        "Message-ID: <mdn.1@example.org>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nDitt meddelande har lästs.\r\n"
        "--b\r\nContent-Type: message/disposition-notification\r\n\r\nFinal-Recipient: rfc822;eva.nord@example.org\r\n"
        "Original-Message-ID: <22-1.x.1@example.org>\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n--b--\r\n"
    ).encode("utf-8")
    assert _classify(raw) == Verdict(AUTO_REPLY, key="<mdn.1@example.org>", message_id="<mdn.1@example.org>", date=None,
                                     sender="eva.nord@example.org", subject="Läst: Nyhetsbrev", detail="read receipt")


@pytest.mark.parametrize(("feedback", "kind", "detail"), [
    (b"Feedback-Type: not-spam", AUTO_REPLY, "feedback report 'not-spam' (not a complaint)"),
    (b"X-No-Feedback-Type: x", AUTO_REPLY, "feedback report 'unknown' (not a complaint)"),
    (b"Feedback-Type: abuse", COMPLAINT, "feedback report: abuse"),
    (b"Feedback-Type: fraud", COMPLAINT, "feedback report: fraud"),
])
def test_feedback_that_is_not_abuse_or_fraud_is_not_a_complaint(feedback, kind, detail):
    """Only abuse and fraud reports unsubscribe the person; the others are listed with their type."""
    raw = (SAMPLES / "arf-abuse.eml").read_bytes().replace(b"Feedback-Type: abuse", feedback)
    verdict = _classify(raw)
    assert (verdict.kind, verdict.detail) == (kind, detail)


@pytest.mark.parametrize("returned", [b"message/rfc822", b"message/global", b"text/rfc822-headers",
                                      b"message/rfc822-headers", b"message/global-headers"])
def test_a_complaint_naming_no_recipient_is_about_the_to_of_the_message_it_returns_in_any_form(returned):
    """Without Original-Rcpt-To the complaint is about the returned message's To, whether the report returns the
    message whole or its headers only, also in the forms for international addresses (RFC 6533)."""
    raw = (SAMPLES / "arf-abuse.eml").read_bytes().replace(b"Original-Rcpt-To: <per.nilsson@example.org>\n", b"")
    raw = raw.replace(b"Content-Type: message/rfc822", b"Content-Type: " + returned)
    verdict = _classify(raw)
    assert (verdict.kind, verdict.addresses) == (COMPLAINT, ("per.nilsson@example.org",))


@pytest.mark.parametrize(("feedback", "detail"), [
    (b"Feedback-Type: not-spam", "återkopplingsrapport av typen 'not-spam' (inget klagomål)"),
    (b"Feedback-Type: abuse", "återkopplingsrapport: abuse"),
])
def test_what_a_feedback_report_is_is_said_in_swedish(swedish, feedback, detail):
    """The inbox report shows a feedback report's note in the interface language, not in English."""
    raw = (SAMPLES / "arf-abuse.eml").read_bytes().replace(b"Feedback-Type: abuse", feedback)
    assert _classify(raw).detail == detail


def test_a_message_without_message_id_gets_a_stable_key():
    raw = plain_message("a@example.se", "Hej", "Text").replace(b"Message-ID:", b"X-Old-ID:")
    first, second = _classify(raw), _classify(raw)
    assert first.key == second.key and first.key.startswith("sha256:") and first.message_id is None


def test_garbage_does_not_raise():
    for raw in (b"", b"\xff\xfe\x00garbage", b"Content-Type: multipart/report; report-type=delivery-status\r\n\r\nx"):
        result = _classify(raw)
        assert result.kind in (OTHER, AUTO_REPLY), raw  # never a bounce: a bounce suppresses people


# Whole verdicts: what the inbox report shows and what apply acts on, field by field.

PERSON_DATE = "2022-04-04T08:00:00Z"  # plain_message's Date in UTC


def _person(kind: str, subject: str, message_id: str, *, sender: str = "anna@example.se", **fields) -> Verdict:
    """The verdict expected for a plain_message from sender (its date, its Message-ID as the key)."""
    return Verdict(kind, key=message_id, message_id=message_id, date=PERSON_DATE, sender=sender, subject=subject,
                   **fields)


@pytest.mark.parametrize("header", ["To", "Cc", "Delivered-To", "X-Original-To"])
def test_a_bare_token_sent_to_the_unsubscribe_address_is_a_request_however_it_got_there(header):
    """Some mail programs put the mailto link's token in the text, not the subject; the message reaches the
    unsubscribe address as To, Cc, or (Bcc, a forward, an alias) only in the delivering server's headers."""
    raw = plain_message("anna@example.se", "Hej", FAKE_TOKEN, message_id="<bare.1@example.se>",
                        to=UNSUBSCRIBE_ADDRESS if header == "To" else "redaktion@example.org",
                        headers={} if header == "To" else {header: f"Avregistrering <{UNSUBSCRIBE_ADDRESS}>"})
    assert _classify(raw) == _person(UNSUBSCRIBE, "Hej", "<bare.1@example.se>", tokens=(FAKE_TOKEN,), detail="token")


def test_a_bare_token_sent_elsewhere_is_left_for_a_person():
    """A token-shaped word in a mail to the editors, with no request in words, unsubscribes no one."""
    raw = plain_message("anna@example.se", "Hej", FAKE_TOKEN, message_id="<bare.2@example.se>",
                        headers={"Cc": "kollega@example.se"})
    assert _classify(raw) == _person(OTHER, "Hej", "<bare.2@example.se>")


def test_our_own_address_in_a_request_is_not_someone_to_unsubscribe():
    """The command listed for a request in words names the people the writer mentions, never the writer nor the
    unsubscribe address they wrote to."""
    body = f"Avregistrera mig och min kollega Per.Nilsson@Example.org, tack.\nJag skrev först till {UNSUBSCRIBE_ADDRESS}."
    raw = plain_message("anna@example.se", "Nyhetsbrevet", body, message_id="<words.1@example.se>")
    assert _classify(raw) == _person(UNSUBSCRIBE, "Nyhetsbrevet", "<words.1@example.se>", asks=True,
                                     named=("Per.Nilsson@Example.org",), detail="asked in words")


@pytest.mark.parametrize(("written", "named"), [
    ("Xenia.Berg@example.se.", ("Xenia.Berg@example.se",)),  # the sentence's full stop is not part of it
    ("X@example.se!", ("X@example.se",)),
    ("x@y", ("x@y",)),  # the shortest an address can be
    ("@kommunen, @anna och anna@", ()),  # handles and a cut-off word are no addresses
    ("a" * 240 + "@example.se.xx", ("a" * 240 + "@example.se.xx",)),  # 254 characters: the longest an address can be
    ("a" * 241 + "@example.se.xx", ()),
    (" ".join(f"person{n}@example.se" for n in range(11)), tuple(f"person{n}@example.se" for n in range(10))),
])
def test_the_people_a_request_names_are_listed_as_written(written, named):
    raw = plain_message("anna@example.se", "Avregistrera", f"Ta bort {written}", message_id="<named.1@example.se>")
    assert _classify(raw) == _person(UNSUBSCRIBE, "Avregistrera", "<named.1@example.se>", asks=True, named=named,
                                     detail="asked in words")


_EXIM_TEXT = (SAMPLES / "exim-failed.eml").read_bytes().split(b"\n\n", 1)[1]
_EXIM_FAILED = "erik.oberg@kommun.example.se"
_EXIM_DETAIL = "550 5.1.1 <erik.oberg@kommun.example.se>: Recipient address rejected: User unknown"


def _exim_text_with(headers: dict[str, str], content_type: str = "text/plain; charset=us-ascii",
                    body: bytes = _EXIM_TEXT) -> bytes:
    fields = {"From": "Kommunens e-post <e-post@kommun.example.se>", "To": "nyhetsbrev@example.org",
              "Subject": "Ditt meddelande", "Message-ID": "<ndr.1@kommun.example.se>",
              "Date": "Fri, 01 Apr 2022 10:15:03 +0200", "Content-Type": content_type, **headers}
    return "".join(f"{name}: {value}\n" for name, value in fields.items()).encode() + b"\n" + body


@pytest.mark.parametrize("headers", [
    {"X-Failed-Recipients": _EXIM_FAILED},
    {"Return-Path": "<>"},
    {"From": "Mail Delivery System <Mailer-Daemon@mx.kommun.example.se>"},
    {"Subject": "Mail delivery failed: returning message to sender"},
], ids=["x-failed-recipients", "null-return-path", "mailer-daemon", "subject"])
def test_a_report_in_a_servers_own_format_is_a_bounce_by_any_one_sign(headers):
    """A server that writes its failure report as plain text marks it in one of several ways, often only one: any
    one of them is enough for the failed address to be found and stopped."""
    verdict = _classify(_exim_text_with(headers))
    sender = "Mailer-Daemon@mx.kommun.example.se" if "From" in headers else "e-post@kommun.example.se"
    assert verdict == Verdict(
        BOUNCE, key="<ndr.1@kommun.example.se>", message_id="<ndr.1@kommun.example.se>", date="2022-04-01T08:15:03Z",
        sender=sender, subject=headers.get("Subject", "Ditt meddelande"), addresses=(_EXIM_FAILED,), permanent=True,
        returned_ids=("<22-1.5f3a9c0d2e4b6a18.4@example.org>",), detail=_EXIM_DETAIL)


def test_a_person_pasting_a_failure_report_into_a_mail_suppresses_no_one():
    """Without any sign of a delivery report, text that reads like one is a person writing: whoever can write to
    the mailbox cannot stop someone's newsletter by pasting their address into a made-up report."""
    raw = _exim_text_with({"From": "Mallory <mallory@example.net>", "Return-Path": "<mallory@example.net>"})
    assert _classify(raw) == Verdict(
        OTHER, key="<ndr.1@kommun.example.se>", message_id="<ndr.1@kommun.example.se>", date="2022-04-01T08:15:03Z",
        sender="mallory@example.net", subject="Ditt meddelande")


@pytest.mark.parametrize("headers", [
    {"From": "Mail Delivery System <Mailer-Daemon@mx.kommun.example.se>"},
    {"Subject": "Mail delivery failed: returning message to sender"},
], ids=["mailer-daemon", "subject"])
def test_a_report_sent_as_a_whole_message_carries_its_status_code(headers):
    """A report passed on as one message (Content-Type: message/rfc822, Exim's report inside) is read with its
    parts: the status code written in the report's text is what the inbox report shows for the person."""
    raw = _exim_text_with(headers, content_type="message/rfc822", body=(SAMPLES / "exim-failed.eml").read_bytes())
    sender = "Mailer-Daemon@mx.kommun.example.se" if "From" in headers else "e-post@kommun.example.se"
    assert _classify(raw) == Verdict(
        BOUNCE, key="<ndr.1@kommun.example.se>", message_id="<ndr.1@kommun.example.se>", date="2022-04-01T08:15:03Z",
        sender=sender, subject=headers.get("Subject", "Ditt meddelande"), addresses=(_EXIM_FAILED,), permanent=True,
        returned_ids=("<E1naBcD-0003xY-Q1@mx.kommun.example.se>", "<22-1.5f3a9c0d2e4b6a18.4@example.org>"),
        recipients=("nyhetsbrev@example.org",),  # the To of the report it carries
        detail=_EXIM_DETAIL)


def test_a_delivery_report_in_a_language_we_do_not_know_is_a_bounce_by_its_type():
    """An RFC 3464 report is a bounce whatever its sender and subject say (a German Exchange server's, here)."""
    raw = bounce_for("<22-1.x.3@example.org>", "hans@example.de").replace(
        b"From: MAILER-DAEMON@relay.example.net (Mail Delivery System)",
        b"From: Microsoft Outlook <MicrosoftExchange329e71ec@example.de>").replace(
        b"Subject: Undelivered Mail Returned to Sender", b"Subject: Unzustellbar: Nyhetsbrev")
    assert _classify(raw) == Verdict(
        BOUNCE, key="<dsn.22-1.x.3@example.org>", message_id="<dsn.22-1.x.3@example.org>", date="2022-04-05T09:00:00Z",
        sender="MicrosoftExchange329e71ec@example.de", subject="Unzustellbar: Nyhetsbrev", addresses=("hans@example.de",),
        permanent=True, returned_ids=("<22-1.x.3@example.org>",), recipients=("hans@example.de",),
        detail="5.1.1 550 5.1.1 User unknown")


def _dsn(*blocks: str) -> bytes:
    """A delivery report from a mailer daemon with the given per-recipient blocks."""
    return (
        "From: MAILER-DAEMON@relay.example.net\r\nTo: nyhetsbrev@example.org\r\nSubject: Undelivered Mail\r\n"
        "Date: Tue, 05 Apr 2022 09:00:00 +0000\r\nMessage-ID: <dsn.9@relay.example.net>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nThe message could not be delivered.\r\n\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.example.net\r\n\r\n"
        + "\r\n".join(blocks) + "\r\n--b--\r\n"
    ).encode("utf-8")


@pytest.mark.parametrize(("blocks", "detail"), [
    (["Final-Recipient: rfc822; a@example.se\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 no such user\r\n",
      "Final-Recipient: rfc822; b@example.se\r\nAction: failed\r\nStatus: 5.2.2\r\nDiagnostic-Code: smtp; 552 mailbox full\r\n"],
     "5.1.1 550 no such user; 5.2.2 552 mailbox full"),
    (["Final-Recipient: rfc822; a@example.se\r\nAction: failed\r\n"], ""),  # no code anywhere: nothing made up
    (["Final-Recipient: rfc822; a@example.se\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; " + "x" * 400
      + "\r\n"], ("5.1.1 " + "x" * 300)[:300]),  # a long diagnostic is cut for the report's line
])
def test_a_bounce_detail_gives_each_status_once_and_in_short(blocks, detail):
    verdict = _classify(_dsn(*blocks))
    assert (verdict.kind, verdict.permanent, verdict.detail) == (BOUNCE, True, detail)


def test_an_auto_reply_with_a_null_sender_is_an_auto_reply_not_a_report():
    """An out-of-office sent with an empty Return-Path looks like a report but names no failure: it is filed as
    the automatic reply it is (not as a delivery report, nor left for a person)."""
    assert _classify((SAMPLES / "out-of-office-en.eml").read_bytes()) == Verdict(
        AUTO_REPLY, key="<autoreply.1648800300.5512@mail.example.org>",
        message_id="<autoreply.1648800300.5512@mail.example.org>", date="2022-04-01T08:05:00Z",
        sender="jonas.karlsson@example.org", subject="Re: Nyhetsbrev om barnens bästa", detail="automatic reply")


def test_a_person_whose_subject_reads_like_a_failure_still_reaches_a_person():
    raw = plain_message("anna@example.se", "Paketet kunde inte levereras", "Hej! Vet ni var det är?",
                        message_id="<paket.1@example.se>")
    assert _classify(raw) == _person(OTHER, "Paketet kunde inte levereras", "<paket.1@example.se>")


@pytest.mark.parametrize("headers", [{"X-Autorespond": "yes"}, {"X-Autoresponder": "yes"}, {"Precedence": "auto-reply"}])
def test_each_auto_reply_header_is_recognised(headers):
    raw = plain_message("a@example.se", "Nyhetsbrev", "Borta.", message_id="<borta.1@example.se>", headers=headers)
    assert _classify(raw) == _person(AUTO_REPLY, "Nyhetsbrev", "<borta.1@example.se>", sender="a@example.se",
                                     detail="automatic reply")


def test_a_bulk_mail_is_not_an_auto_reply():
    raw = plain_message("a@example.se", "Nyhetsbrev", "Vårt eget nyhetsbrev.", message_id="<bulk.1@example.se>",
                        headers={"Precedence": "bulk"})
    assert _classify(raw) == _person(OTHER, "Nyhetsbrev", "<bulk.1@example.se>", sender="a@example.se")


def test_a_complaint_names_who_complained_and_about_which_message():
    assert _classify((SAMPLES / "arf-abuse.eml").read_bytes()) == Verdict(
        COMPLAINT, key="<fbl.20220402140233.77aa@fbl.example.net>", message_id="<fbl.20220402140233.77aa@fbl.example.net>",
        date="2022-04-02T14:02:33Z", sender="feedback@fbl.example.net", subject="FW: Nyhetsbrev om barnens basta",
        addresses=("per.nilsson@example.org",), returned_ids=("<22-1.5f3a9c0d2e4b6a18.8@example.org>",),
        recipients=("per.nilsson@example.org",), detail="feedback report: abuse")


def _multipart(subtype: str, *parts: tuple[str, str, bool], to: str = UNSUBSCRIBE_ADDRESS) -> bytes:
    """A multipart message from Anna of (content type, text, attached) parts."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "anna@example.se", to, "Nyhetsbrevet"
    msg["Date"], msg["Message-ID"] = "Mon, 04 Apr 2022 10:00:00 +0200", "<multi.1@example.se>"
    msg.make_mixed() if subtype == "mixed" else msg.make_alternative()
    for kind, text, attached in parts:
        part = EmailMessage()
        part.set_content(text, subtype=kind.split("/")[1])
        if attached:
            part["Content-Disposition"] = 'attachment; filename="nyhetsbrev.txt"'
        msg.attach(part)
    return msg.as_bytes()


NEWSLETTER_FILE = f"Nyhetsbrev 22:1\n\nAvregistrera: https://www.example.org/avregistrera?token={FAKE_TOKEN}\n"


def test_a_request_written_in_plain_text_and_html_is_read_from_its_text():
    raw = _multipart("alternative", ("text/plain", "Avregistrera mig, tack.", False),
                     ("text/html", "<p>Avregistrera mig, tack.</p>", False), to="redaktion@example.org")
    assert _classify(raw) == _person(UNSUBSCRIBE, "Nyhetsbrevet", "<multi.1@example.se>", asks=True,
                                     detail="asked in words")


def test_an_attached_file_is_not_the_writers_text_before_or_after_it():
    """A newsletter saved as a file and attached carries someone's token and link: only the writer's own text asks."""
    raw = _multipart("mixed", ("text/plain", NEWSLETTER_FILE, True), ("text/plain", "Ta bort mig, tack.", False))
    assert _classify(raw) == _person(UNSUBSCRIBE, "Nyhetsbrevet", "<multi.1@example.se>", asks=True,
                                     detail="asked in words")


def test_a_token_only_in_an_attached_file_unsubscribes_no_one():
    raw = _multipart("mixed", ("text/html", "<p>Se bifogad fil.</p>", False), ("text/plain", NEWSLETTER_FILE, True))
    assert _classify(raw) == _person(OTHER, "Nyhetsbrevet", "<multi.1@example.se>")


@pytest.fixture
def swedish_clock(monkeypatch):
    """The machine's clock in Swedish time (CET/CEST), as on the team's computers."""
    import time

    if not hasattr(time, "tzset"):
        pytest.skip("the time zone of a running process can only be changed like this on Unix")
    monkeypatch.setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(("written", "utc"), [
    ("Mon, 04 Apr 2022 10:00:00 +0200", "2022-04-04T08:00:00Z"),
    ("Mon, 04 Apr 2022 10:00:00 -0000", "2022-04-04T10:00:00Z"),  # RFC 5322: UTC, the sender's zone not known
    ("Mon, 04 Apr 2022 10:00:00", "2022-04-04T10:00:00Z"),  # no zone at all: read as UTC
])
def test_a_messages_date_is_in_utc_whatever_the_computers_clock(swedish_clock, written, utc):
    """The date the inbox report and the export give is UTC, not shifted by the zone of the computer it runs on."""
    raw = plain_message("a@example.se", "Hej", "Text", message_id="<date.1@example.se>").replace(
        b"Mon, 04 Apr 2022 10:00:00 +0200", written.encode())
    assert _classify(raw) == Verdict(OTHER, key="<date.1@example.se>", message_id="<date.1@example.se>", date=utc,
                                     sender="a@example.se", subject="Hej")


def test_a_date_is_read_from_its_first_200_characters():
    """A Date header padded to any length costs no time: a zone written past its 200th character is not read."""
    written = "Mon, 04 Apr 2022 10:00:00" + " " * (198 - 25) + "EST"
    raw = plain_message("a@example.se", "Hej", "Text").replace(b"Mon, 04 Apr 2022 10:00:00 +0200", written.encode())
    assert _classify(raw).date == "2022-04-04T10:00:00Z"  # the 200 end in "ES": no zone, UTC (with "EST", 15:00Z)


def test_a_subject_in_an_unknown_character_set_is_shown_as_written_and_the_message_sorted():
    raw = plain_message("a@example.se", "placeholder", "Avregistrera mig.", message_id="<charset.1@example.se>")
    raw = raw.replace(b"Subject: placeholder", b"Subject: =?x-unknown?q?Hej?=")
    assert _classify(raw) == _person(UNSUBSCRIBE, "=?x-unknown?q?Hej?=", "<charset.1@example.se>", sender="a@example.se",
                                     asks=True, detail="asked in words")


def test_a_message_without_subject_or_sender_has_empty_ones():
    raw = plain_message("a@example.se", "placeholder", "Text", message_id="<bare.3@example.se>")
    raw = raw.replace(b"Subject: placeholder\n", b"").replace(b"From: a@example.se\n", b"")
    assert _classify(raw) == _person(OTHER, "", "<bare.3@example.se>", sender="")
