"""Addresses: one comparison key (IDNA 2008 / UTS 46, ß stays ß) for import, add, unsubscribe, forget, ledger and send."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nyhetsbrev import store
from nyhetsbrev.project.headers import envelope_address
from nyhetsbrev.store.recipient_files import check_address
from nyhetsbrev.store.tokens import normalise_address
from tests.send_helpers import project, send, smtp  # noqa: F401


@pytest.fixture
def db():
    database = store.open_db(Path(os.environ["NYHETSBREV_DB"]))
    yield database
    database.close()


def test_strasse_with_sharp_s_and_with_ss_are_two_people(db):
    assert normalise_address("Anna@STRASSE.de") == "anna@strasse.de"
    assert normalise_address(" anna@Straße.de ") == "anna@straße.de"
    assert normalise_address("anna@xn--strae-oqa.de") == "anna@straße.de"
    assert check_address("anna@straße.de")[2] == "anna@xn--strae-oqa.de"
    assert envelope_address("anna@straße.de") == "anna@xn--strae-oqa.de"
    assert store.add_recipient(db, "anna@straße.de", ["A"], details={"name": "Anna Straße"}) == "added"
    assert store.add_recipient(db, "anna@strasse.de", ["A"], details={"name": "Anna Strasse"}) == "added"
    names = {p["email"]: p["name"] for p in store.list_recipients(db)}
    assert names == {"anna@straße.de": "Anna Straße", "anna@strasse.de": "Anna Strasse"}
    assert store.unsubscribe(db, "anna@strasse.de") is True
    assert store.is_suppressed(db, "anna@straße.de") is None
    store.forget(db, "anna@strasse.de")
    assert store.find_recipient(db, "anna@straße.de")["name"] == "Anna Straße"
    assert store.is_suppressed(db, "ANNA@XN--STRAE-OQA.DE") is None and store.is_suppressed(db, "anna@strasse.de")


def test_a_test_copy_to_a_sharp_s_domain_goes_to_that_domain(project, smtp):
    report = send(project, test=["anna@straße.de"])
    assert [kind for _, kind, _ in report.test_results] == ["sent"]
    assert smtp.recipients() == ["anna@xn--strae-oqa.de"]


def test_import_refuses_a_non_ascii_local_part_with_its_row_and_why(db, tmp_path, cli):
    path = tmp_path / "people.csv"
    path.write_text("E-post,Namn\nanna@example.se,Anna\njöns@example.se,Jöns\nbjorn@exämple.se,Björn\n", encoding="utf-8")
    report = store.import_recipients(db, path, ["A"])
    assert report.imported == 2
    [skipped] = report.skipped
    assert skipped.row == 3 and skipped.email == "jöns@example.se"
    assert "'jöns' before the @ is not plain ASCII" in skipped.reason and "SMTPUTF8" in skipped.reason
    result = cli("recipients", "add", "jöns@example.se", "--list", "A")
    assert result.exit_code == 1 and "SMTPUTF8" in result.stderr and "Traceback" not in result.output


_LOCAL = st.text(st.characters(codec="utf-8", blacklist_categories=["Cs"]), min_size=0, max_size=12)
_DOMAIN = st.one_of(
    st.text(st.characters(codec="utf-8", blacklist_categories=["Cs"]), max_size=20),
    st.lists(st.sampled_from(["straße", "STRASSE", "exämple", "xn--strae-oqa", "xn--", "ÅÄÖ", "ﬀ", "İ", "ς", "a\u200db",
                              "se", "", "xn--zz", "Ⅻ", "\u00a0"]), min_size=1, max_size=4).map(".".join),
)


@given(local=_LOCAL, domain=_DOMAIN, at=st.booleans())
def test_normalisation_is_idempotent_and_never_raises(local, domain, at):
    address = f"{local}@{domain}" if at else local + domain
    key = normalise_address(address)
    assert normalise_address(key) == key
    assert ("@" in key) == ("@" in address.strip(" \t\u00a0\u202f\u2007\ufeff\u200b"))


@given(raw=st.text(max_size=40))
def test_check_address_either_accepts_with_a_sendable_ascii_form_or_says_why(raw):
    try:
        given_address, key, ascii_form = check_address(raw)
    except ValueError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert ascii_form.isascii() and normalise_address(given_address) == key == normalise_address(key)
    assert envelope_address(ascii_form) == ascii_form


def test_keys_filed_the_old_way_are_made_again_with_their_suppressions(db):
    """A database from before IDNA 2008: anna@straße.de filed, and unsubscribed, under anna@strasse.de."""
    db.execute("INSERT INTO recipients (email, email_key, email_ascii, name, attributes, created_at, updated_at)"
               " VALUES ('Anna@Straße.de', 'anna@strasse.de', 'Anna@xn--strae-oqa.de', 'Anna', '{}', 'x', 'x')")
    db.execute("INSERT INTO suppressions (reason, email_key, address_hash, at, source)"
               " VALUES ('unsubscribed', 'anna@strasse.de', 'h', 'x', 'cli')")
    db.execute("INSERT INTO send_ledger (issue, email_key, email, state, updated_at)"
               " VALUES ('22:1', 'anna@strasse.de', 'Anna@Straße.de', 'sent', 'x')")
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm005_address_keys_idna2008'")
    db.close()
    again = store.open_db(Path(os.environ["NYHETSBREV_DB"]))
    try:
        assert again.execute("SELECT email_key FROM recipients").fetchall() == [("anna@straße.de",)]
        assert store.is_suppressed(again, "anna@straße.de") == "unsubscribed"
        assert store.is_suppressed(again, "anna@strasse.de") is None
        assert again.execute("SELECT email_key FROM send_ledger").fetchall() == [("anna@straße.de",)]
        assert store.add_recipient(again, "anna@straße.de", ["A"], resubscribe=True) == "updated"  # the same person
        assert again.execute("SELECT count(*) FROM recipients").fetchone()[0] == 1
    finally:
        again.close()


def test_mail_to_the_unsubscribe_address_in_its_ascii_form_is_mail_to_it():
    from nyhetsbrev.inbox.classify import UNSUBSCRIBE, classify

    token = "YW5uYUBleGFtcGxlLnNl.AAAAAAAAAAAAAAAAAAAAAA"  # token-shaped: only mail to that address is searched for one
    raw = ("From: Anna <anna@example.se>\r\nTo: Nyhetsbrev <AVREGISTRERA@xn--strae-oqa.de>\r\n"
           f"Subject: Hej\r\nMessage-ID: <1@example.se>\r\n\r\n{token}\r\n").encode()
    assert classify(raw, unsubscribe_address="avregistrera@straße.de").kind == UNSUBSCRIBE
    assert classify(raw, unsubscribe_address="avregistrera@strasse.de").kind != UNSUBSCRIBE
