"""Unsubscribe tokens: opaque (nothing personal can be read from one), forgeries refused, and every link in issues
already sent keeps working — tokens made by the earlier algorithm (the address in base64 and a MAC), and the
Message-IDs of those sends, as 22:1 and 22:2 went out before tokens were encrypted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from urllib.parse import quote

import pytest

from nyhetsbrev.errors import TokenError
from nyhetsbrev.store.tokens import find_tokens, make_token, normalise_address, verify_token
from tests.inbox_helpers import bounce_for, database, inbox_project, record_sent, suppressed
from tests.serve_helpers import FORM, ONE_CLICK, start_serve

pytestmark = pytest.mark.timeout(60)

KEY = bytes(range(32))


def earlier_token(key: bytes, address: str) -> str:
    """A token exactly as nyhetsbrev made them before they were encrypted (copied from that version, never changed):
    base64url of the address, a dot, the first 16 bytes of HMAC-SHA256 over the normalised address."""
    address = address.strip(" \t\u00a0\u202f\u2007\ufeff\u200b")
    mac = hmac.new(key, b"unsubscribe\0" + normalise_address(address).encode("utf-8"), hashlib.sha256).digest()[:16]

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")

    return f"{b64(address.encode('utf-8'))}.{b64(mac)}"


def readable_forms(text: str) -> list[bytes]:
    """The ways a piece of an address could show in a token: as text, in base64 (any alignment), percent-quoted."""
    data = text.encode("utf-8")
    forms = [data, data.lower(), quote(text).encode("ascii")]
    for shift in range(3):
        encoded = base64.urlsafe_b64encode(b"\0" * shift + data).rstrip(b"=")
        forms.append(encoded[(shift * 4 + 2) // 3 + 1:-2])  # the middle, clear of the bytes around it
    return [form for form in forms if len(form) >= 4]


@pytest.mark.parametrize("address", ["karin.lindqvist@example.se", "Åsa.Öst@exämple.se", "bo@ek.se",
                                     "förnamn.efternamn-med-långt-namn@kommunen.example.se"])
def test_a_token_reveals_nothing_of_the_address_and_verifies(address):
    token = make_token(KEY, address)
    assert verify_token(KEY, token) == address
    assert find_tokens(f"https://www.example.org/avregistrera?token={token}") == [token]
    payload, _, tag = token.partition(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    local, _, domain = address.partition("@")
    for piece in (address, local, domain, *local.split("."), *domain.split(".")):
        for form in readable_forms(piece):
            assert form not in token.encode("ascii") and form not in raw, (piece, form)
    with pytest.raises(TokenError):
        verify_token(os.urandom(32), token)


def test_the_length_of_a_token_tells_only_a_step_of_16_bytes():
    lengths = {len(make_token(KEY, f"{'a' * n}@example.se")) for n in range(1, 5)}
    assert len(lengths) == 1
    assert len(make_token(KEY, "karin.lindqvist@example.se")) <= 70  # short enough for a link in a mail


def test_forged_and_damaged_tokens_are_refused():
    token = make_token(KEY, "karin.lindqvist@example.se")
    payload, _, tag = token.partition(".")
    other_payload, _, other_tag = make_token(KEY, "bertil@example.se").partition(".")
    flipped = payload[:5] + ("A" if payload[5] != "A" else "B") + payload[6:]
    for bad in (f"{other_payload}.{tag}", f"{payload}.{other_tag}", f"{flipped}.{tag}", payload, token[:-2],
                f"{payload}.{tag}A", f"{payload[:-4]}.{tag}", "", ".", "x.y", earlier_token(os.urandom(32), "a@b.se")):
        with pytest.raises(TokenError):
            verify_token(KEY, bad)


@pytest.mark.parametrize("address", ["karin.lindqvist@example.se", "Åsa.Öst@Exämple.se",
                                     "abcdefghijklmnopqrstu@example.se"])  # 32 bytes: a whole number of AES blocks
def test_tokens_made_before_still_verify_and_forgeries_of_them_do_not(address):
    token = earlier_token(KEY, address)
    assert verify_token(KEY, token) == address
    payload, _, mac = token.partition(".")
    other = base64.urlsafe_b64encode(b"bertil@example.se").decode().rstrip("=")
    for bad in (f"{other}.{mac}", f"{payload}.{earlier_token(KEY, 'bertil@example.se').partition('.')[2]}"):
        with pytest.raises(TokenError):
            verify_token(KEY, bad)


# -- 22:1 and 22:2 as they were sent before this change ---------------------------------------------------------

SENT_BEFORE = {  # as those sends recorded them: the counter kind of Message-ID
    "anna.alm@example.se": ("22:1", "<22-1.2e27cf7c4f73dde8.1@example.org>"),
    "bertil.berg@example.se": ("22:1", "<22-1.2e27cf7c4f73dde8.2@example.org>"),
    "cecilia.ceder@example.se": ("22:2", "<22-2.9b1d04e7aa5c3f60.1@example.org>"),
    "david.dahl@example.se": ("22:2", "<22-2.9b1d04e7aa5c3f60.2@example.org>"),
    "eva.ek@example.se": ("22:2", "<22-2.9b1d04e7aa5c3f60.3@example.org>"),
    "fredrik.fors@example.se": ("22:1", "<22-1.2e27cf7c4f73dde8.3@example.org>"),
}


@pytest.fixture
def sent_before(tmp_path):
    project = inbox_project(tmp_path / "project")
    record_sent(SENT_BEFORE)
    from nyhetsbrev.store import signing_key

    with database() as db:
        key = signing_key(db)
    return project, {address: earlier_token(key, address) for address in SENT_BEFORE}


def mailto_request(sender: str, token: str) -> bytes:
    """What a mail program writes when its reader opens the mailto link of those issues."""
    return (f"From: {sender}\r\nTo: avregistrera@example.org\r\nSubject: Avregistrera {token}\r\n"
            f"Date: Mon, 04 Apr 2022 10:00:00 +0200\r\nMessage-ID: <req.{sender}>\r\n\r\n\r\n").encode("utf-8")


def test_the_links_and_message_ids_of_issues_sent_before_still_work(cli, sent_before, tmp_path):
    project, tokens = sent_before
    folder = tmp_path / "mailbox"
    folder.mkdir()
    (folder / "1.eml").write_bytes(mailto_request("anna.alm@example.se", tokens["anna.alm@example.se"]))
    (folder / "2.eml").write_bytes(bounce_for(SENT_BEFORE["cecilia.ceder@example.se"][1], "cecilia.ceder@example.se"))
    result = cli("--project", project, "inbox", "--from", folder)
    assert result.exit_code == 0, result.output

    bare = cli("--project", project, "recipients", "unsubscribe", "--token", tokens["bertil.berg@example.se"])
    assert bare.exit_code == 0, bare.output
    mailto = f"mailto:avregistrera@example.org?subject=Avregistrera%20{tokens['david.dahl@example.se']}"
    link = cli("--project", project, "recipients", "unsubscribe", "--token", mailto)
    assert link.exit_code == 0, link.output

    served = start_serve(project)
    try:
        clicked = served.request("POST", served.link(tokens["eva.ek@example.se"]), ONE_CLICK, FORM)
        page = served.request("GET", f"/avregistrera?token={tokens['fredrik.fors@example.se']}")
    finally:
        code, log = served.stop()
    assert clicked.status == 200 and page.status == 200 and "fredrik.fors" not in page.body
    assert code == 0 and not any(token in log for token in tokens.values())

    assert suppressed() == {
        "anna.alm@example.se": "unsubscribed",        # the mailto link of 22:1
        "cecilia.ceder@example.se": "bounced",        # a bounce of 22:2, by its Message-ID
        "bertil.berg@example.se": "unsubscribed",     # the bare token
        "david.dahl@example.se": "unsubscribed",      # the whole mailto link
        "eva.ek@example.se": "unsubscribed",          # the https link, one click
    }
