"""The classifier on real-shaped messages: Postfix, Exim, Exchange Online, Gmail, ARF, out-of-office, people."""

from __future__ import annotations

import pytest

from tests.language_helpers import swedish  # noqa: F401  (fixture)

from nyhetsbrev.inbox.classify import AUTO_REPLY, BOUNCE, COMPLAINT, OTHER, UNSUBSCRIBE, classify
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
    assert _classify(raw).kind == AUTO_REPLY


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
