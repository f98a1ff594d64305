"""The recipients database on a real SQLite file: imports, consent, suppression, forget, and who a send reaches."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest

from nyhetsbrev import store
from nyhetsbrev.errors import StoreError, TokenError, UnknownList
from nyhetsbrev.store import importing
from nyhetsbrev.store.tokens import address_hash, load_or_create_key, make_token, verify_token
from tests.fixtures import assert_nowhere
from tests.recipient_helpers import (
    BOM_OK, QUIRKS_OK, QUIRKS_SKIPPED, XLSX_OK, all_text_in_db, bom_csv, quirks_csv, quirks_xlsx, simple_csv,
)

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def db():
    database = store.open_db(Path(os.environ["NYHETSBREV_DB"]))
    yield database
    database.close()


def _counts(db) -> dict[str, int]:
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def _emails(db) -> set[str]:
    return {r[0] for r in db.execute("SELECT email FROM recipients")}


def test_import_quirks_file_exact_counts(db, tmp_path):
    report = store.import_recipients(db, quirks_csv(tmp_path), ["Styrgrupp"])
    assert (report.imported, report.updated, report.unchanged) == (5, 0, 0)
    assert {s.row: s.reason for s in report.skipped}.keys() == QUIRKS_SKIPPED.keys()
    assert report.lists_created == ["Styrgrupp"]
    assert _emails(db) == QUIRKS_OK
    counts = _counts(db)
    assert (counts["recipients"], counts["memberships"], counts["subscription_events"]) == (5, 5, 5)
    event = db.execute(
        "SELECT e.event, e.source_file, e.source_row, e.at FROM subscription_events e JOIN recipients r"
        " ON r.id = e.recipient_id WHERE r.email = 'mia.berg@example.se'"
    ).fetchone()
    assert event[:3] == ("subscribed", "kommun.csv", 13)
    assert ISO_UTC.match(event[3])
    row = db.execute("SELECT email_ascii, name FROM recipients WHERE email = 'bjorn.ek@exämple.se'").fetchone()
    assert row == ("bjorn.ek@xn--exmple-cua.se", "Björn Ek")


def test_reimport_is_idempotent(db, tmp_path):
    path = quirks_csv(tmp_path)
    store.import_recipients(db, path, ["Styrgrupp"])
    before = _counts(db)
    snapshot = db.execute("SELECT * FROM recipients ORDER BY id").fetchall()
    report = store.import_recipients(db, path, ["Styrgrupp"])
    assert (report.imported, report.updated, report.unchanged, len(report.skipped)) == (0, 0, 5, 5)
    assert _counts(db) == before
    assert db.execute("SELECT * FROM recipients ORDER BY id").fetchall() == snapshot


def test_all_three_formats_into_two_lists(db, tmp_path):
    store.import_recipients(db, quirks_csv(tmp_path), ["Styrgrupp"])
    store.import_recipients(db, bom_csv(tmp_path), ["Nätverk"])
    report = store.import_recipients(db, quirks_xlsx(tmp_path), ["Nätverk", "Styrgrupp"])
    assert (report.imported, len(report.skipped)) == (2, 3)
    assert _emails(db) == QUIRKS_OK | BOM_OK | XLSX_OK
    info = {i.name: (i.members, i.suppressed) for i in store.list_lists(db)}
    assert info == {"Styrgrupp": (7, 0), "Nätverk": (5, 0)}


def test_update_fills_details_without_erasing(db, tmp_path, monkeypatch):
    store.import_recipients(db, simple_csv(tmp_path, [("ola@example.se", "Ola")]), ["A"])
    created = store.find_recipient(db, "ola@example.se")["created_at"]
    path = tmp_path / "mer.csv"
    path.write_text("E-post;Namn;Kommun\nOLA@example.se;;Flen\n", encoding="utf-8")
    monkeypatch.setattr(importing, "utc_now", lambda: "2030-01-02T03:04:05Z")
    report = store.import_recipients(db, path, ["A"])
    assert (report.imported, report.updated, report.unchanged) == (0, 1, 0)
    person = store.find_recipient(db, "ola@example.se")
    assert (person["name"], person["municipality"], person["email"]) == ("Ola", "Flen", "ola@example.se")
    assert (person["created_at"], person["updated_at"]) == (created, "2030-01-02T03:04:05Z")
    monkeypatch.setattr(importing, "utc_now", lambda: "2031-01-01T00:00:00Z")
    assert store.import_recipients(db, path, ["A"]).unchanged == 1
    assert store.find_recipient(db, "ola@example.se")["updated_at"] == "2030-01-02T03:04:05Z"  # nothing changed


def test_dry_run_writes_nothing(db, tmp_path):
    before = _counts(db)
    report = store.import_recipients(db, quirks_csv(tmp_path), ["Ny lista"], dry_run=True)
    assert (report.imported, len(report.skipped), report.lists_created) == (5, 5, ["Ny lista"])
    assert _counts(db) == before


def test_import_commits_in_batches_and_importing_again_finishes_a_stopped_one(db, tmp_path, monkeypatch):
    rows = [(f"p{i}@example.se", f"P {i}") for i in range(4500)]
    path = simple_csv(tmp_path, rows)
    monkeypatch.setattr(importing, "BATCH", 1000)
    monkeypatch.setattr(importing, "PROGRESS_EVERY", 500)

    def stop(done, total):
        if done >= 3500:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.import_recipients(db, path, ["A"], progress=stop)
    assert _counts(db)["recipients"] == 3000 and _counts(db)["memberships"] == 3000  # three whole batches
    again = store.import_recipients(db, path, ["A"])
    assert (again.imported, again.unchanged) == (1500, 3000)
    assert _counts(db)["recipients"] == 4500 and _counts(db)["subscription_events"] == 4500


def test_import_says_busy_only_when_another_program_holds_the_database(db, tmp_path, monkeypatch, another_writer):
    path = simple_csv(tmp_path, [("a@example.se", "A")])
    monkeypatch.setattr(importing, "PATIENCE", 0.2)
    another_writer.hold()
    db.execute("PRAGMA busy_timeout=0")
    with pytest.raises(StoreError, match="database is busy.*nothing was imported"):
        store.import_recipients(db, path, ["A"])
    another_writer.let_go()
    db.execute("PRAGMA query_only=ON")  # writing fails for another reason than a lock
    with pytest.raises(StoreError) as failed:
        store.import_recipients(db, path, ["A"])
    message = str(failed.value)
    assert "cannot be written" in message and "readonly database" in message and "is busy" not in message
    assert os.environ["NYHETSBREV_DB"] in message
    db.execute("PRAGMA query_only=OFF")
    assert store.import_recipients(db, path, ["A"]).imported == 1  # nothing half-written before


def test_unsubscribe_then_reimport_stays_unsubscribed(db, tmp_path):
    path = quirks_csv(tmp_path)
    store.import_recipients(db, path, ["Styrgrupp"])
    assert store.unsubscribe(db, "MIA.BERG@example.se") is True
    assert store.unsubscribe(db, "mia.berg@example.se") is False
    report = store.import_recipients(db, path, ["Styrgrupp", "Ny"])
    reasons = {s.row: s.reason for s in report.skipped}
    assert re.fullmatch(r"unsubscribed \d{4}-\d\d-\d\d; not added again", reasons[13]), reasons[13]  # since which day
    assert store.is_suppressed(db, "Mia.Berg@Example.se") == "unsubscribed"
    reached = {r["email"] for r, _ in store.recipients_for_lists(db, ["Styrgrupp", "Ny"])}
    assert reached == QUIRKS_OK - {"mia.berg@example.se"}
    assert {i.name: (i.members, i.suppressed) for i in store.list_lists(db)} == {"Styrgrupp": (4, 1), "Ny": (4, 0)}
    with pytest.raises(StoreError, match="unsubscribed"):
        store.add_recipient(db, "mia.berg@example.se", ["Styrgrupp"])


def test_unsubscribing_an_unknown_address_blocks_its_import(db, tmp_path):
    store.unsubscribe(db, "ny@example.se", source="e-post")
    report = store.import_recipients(db, simple_csv(tmp_path, [("Ny@Example.se", "Ny")]), ["A"])
    assert report.imported == 0 and "unsubscribed" in report.skipped[0].reason


def test_bounce_suppresses_and_is_recorded(db, tmp_path):
    store.import_recipients(db, simple_csv(tmp_path, [("a@example.se", "A"), ("b@example.se", "B")]), ["A"])
    assert store.suppress(db, "b@example.se", "bounced", "send 22:1", detail="550 5.1.1 no such user")
    assert store.is_suppressed(db, "b@example.se") == "bounced"
    assert store.is_suppressed(db, "a@example.se") is None
    assert [r["email"] for r, _ in store.recipients_for_lists(db, ["A"])] == ["a@example.se"]
    events = store.export_person(db, "b@example.se")["events"]
    assert [e["event"] for e in events] == ["subscribed", "bounced"]
    with pytest.raises(StoreError) as refused:
        store.suppress(db, "b@example.se", "annoyed", "x")
    assert str(refused.value).startswith("unknown suppression reason 'annoyed'")
    assert refused.value.hint == "use one of: unsubscribed, bounced"  # what the caller can give instead


def test_recipients_for_lists_is_a_union_each_address_once(db, tmp_path):
    store.import_recipients(db, simple_csv(tmp_path, [("a@example.se", "A"), ("b@example.se", "B")]), ["Ett"])
    store.import_recipients(db, simple_csv(tmp_path, [("B@example.se", "B"), ("c@example.se", "C")]), ["Två"])
    store.import_recipients(db, simple_csv(tmp_path, [("d@example.se", "D")]), ["Tre"])
    got = {r["email_key"]: lists for r, lists in store.recipients_for_lists(db, ["ett", "Två"])}
    assert got == {"a@example.se": {"Ett"}, "b@example.se": {"Ett", "Två"}, "c@example.se": {"Två"}}
    with pytest.raises(UnknownList, match="Tre"):
        store.recipients_for_lists(db, ["Fyra"])


def _raw_bytes(db_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db_path.parent.iterdir() if p.name.startswith(db_path.name))


def test_forget_leaves_only_the_keyed_hash(db, tmp_path):
    db_path = Path(os.environ["NYHETSBREV_DB"])
    store.import_recipients(db, quirks_csv(tmp_path), ["Styrgrupp"])
    store.import_recipients(db, bom_csv(tmp_path), ["Nätverk"])
    target = "Erik.Oberg@Example.SE"
    store.unsubscribe(db, target)
    store.suppress(db, target, "bounced", "send", detail=f"550 <{target}> unknown")
    # A table added by a later feature (like the send ledger) holding the address and the recipient id.
    recipient_id = store.find_recipient(db, target)["id"]
    db.execute("CREATE TABLE later_feature (recipient_id INTEGER, note TEXT, n INTEGER)")
    db.execute("INSERT INTO later_feature VALUES (?, 'welcome', 1), (NULL, 'to erik.oberg@example.se', 2), (99, 'other', 3)",
               [recipient_id])
    result = store.forget(db, target.upper())
    assert result.clean
    # What `recipients forget` reports erased: every row about the person, table by table.
    assert result.rows == {"later_feature": 2, "memberships": 1, "subscription_events": 3, "recipients": 1,
                           "suppressions": 2}
    text = all_text_in_db(db).casefold()
    for needle in ("erik.öberg", "erik", "öberg", "barn- och utbildning", "gnesta"):
        assert needle not in text
    raw = _raw_bytes(db_path)
    for form in ("Erik.Öberg", "erik.öberg", "Öberg", "Barn- och utbildning"):
        assert form.encode("utf-8") not in raw, form
    key = load_or_create_key(db_path.with_suffix(".key"))
    hashed = address_hash(key, target)
    assert db.execute("SELECT reason, email_key, detail, address_hash, source FROM suppressions").fetchall() == [
        ("forgotten", None, None, hashed, "cli")
    ]
    assert hashed.encode() in raw
    assert db.execute("SELECT count(*) FROM later_feature").fetchone()[0] == 1
    assert store.is_suppressed(db, "erik.oberg@example.se") == "forgotten"
    report = store.import_recipients(db, quirks_csv(tmp_path), ["Styrgrupp"])
    assert {s.row: s.reason for s in report.skipped}[3] == "forgotten on request; not added again"
    assert report.unchanged == 4
    person = store.export_person(db, target)
    assert person["recipient"] is None and [s["reason"] for s in person["suppressions"]] == ["forgotten"]


def test_forget_refuses_what_is_not_an_address_and_erases_nothing(db):
    store.add_recipient(db, "ola@example.se", ["A"])
    with pytest.raises(StoreError) as refused:
        store.forget(db, "ola")
    assert str(refused.value).startswith("'ola' is not an e-mail address")
    assert refused.value.hint == "give the whole address, name@example.se"
    assert store.find_recipient(db, "ola@example.se") is not None and _counts(db)["suppressions"] == 0


def test_forget_erases_the_ascii_form_of_an_international_address(db):
    """A later table that wrote the address as the mail server saw it (xn--…) is erased too."""
    store.add_recipient(db, "Asa@Bäckebo.example.se", ["A"])
    row = db.execute("SELECT email, email_ascii FROM recipients").fetchone()
    assert row[1] and row[1] != row[0]
    db.execute("CREATE TABLE later_feature (note TEXT)")
    db.execute("INSERT INTO later_feature VALUES (?), ('other')", [f"bounce for <{row[1]}>"])
    result = store.forget(db, "asa@bäckebo.example.se", source="inbox")
    assert result.rows["later_feature"] == 1 and result.rows["recipients"] == 1
    assert db.execute("SELECT note FROM later_feature").fetchall() == [("other",)]
    assert db.execute("SELECT source FROM suppressions").fetchall() == [("inbox",)]


def test_forget_then_resubscribe_on_request(db, tmp_path):
    store.forget(db, "ola@example.se")
    with pytest.raises(StoreError, match="forgotten"):
        store.add_recipient(db, "ola@example.se", ["A"])
    assert store.add_recipient(db, "Ola@example.se", ["A"], resubscribe=True) == "added"
    assert store.is_suppressed(db, "ola@example.se") is None
    assert _counts(db)["suppressions"] == 0


def test_add_remove_and_events(db):
    assert store.add_recipient(db, "eva@example.se", ["A", "B"], details={"name": "Eva"}) == "added"
    assert store.add_recipient(db, "EVA@example.se", ["A"]) == "unchanged"
    assert store.add_recipient(db, "eva@example.se", ["A"], details={"title": "Rektor"}) == "updated"
    assert store.remove_recipient(db, "eva@example.se", ["b"]) == ["B"]
    assert store.remove_recipient(db, "eva@example.se", ["B"]) == []
    with pytest.raises(UnknownList):
        store.remove_recipient(db, "eva@example.se", ["C"])
    with pytest.raises(StoreError, match="not in the recipients database"):
        store.remove_recipient(db, "noone@example.se")
    person = store.export_person(db, "eva@example.se")
    assert [(e["event"], e["list"]) for e in person["events"]] == [("subscribed", "A"), ("subscribed", "B"),
                                                                   ("removed", "B")]
    assert [m["list"] for m in person["lists"]] == ["A"]
    assert person["recipient"]["title"] == "Rektor"
    json.dumps(person)
    with pytest.raises(StoreError, match="line breaks"):
        store.add_recipient(db, "x@example.se", ["A"], details={"name": "X\nBcc: y@example.se"})
    with pytest.raises(StoreError, match="not a valid"):
        store.add_recipient(db, "x@", ["A"])


def test_list_names_are_checked(db):
    with pytest.raises(StoreError, match="cannot be a list name"):
        store.add_recipient(db, "x@example.se", ["bad\nname"])


def test_lists_csv_round_trip(db, tmp_path):
    store.import_recipients(db, bom_csv(tmp_path), ["Nätverk"])
    store.unsubscribe(db, "asa.ost@example.se")
    out = tmp_path / "utdrag" / "export.csv"  # a folder that does not exist yet
    assert store.save_lists_file(db, ["Nätverk"], out) == 2
    assert [p.name for p in out.parent.iterdir()] == ["export.csv"]  # no temp file left
    other = store.open_db(tmp_path / "other.db")
    report = store.import_recipients(other, out, ["Kopia"])
    assert report.imported == 2 and not report.skipped
    assert store.find_recipient(other, "lena.strom@example.se")["attributes"] == {"Phone": "0155-123456"}
    assert store.find_recipient(other, "lena.strom@example.se")["organisation"] == "Region Sörmland"


def test_tokens_round_trip_and_refuse_forgeries(db, tmp_path):
    key = store.signing_key(db)
    token = make_token(key, "Asa.Ost@Exämple.se")
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", token)
    assert verify_token(key, token) == "Asa.Ost@Exämple.se"
    payload, mac = token.split(".")
    other = make_token(key, "someone@example.se").split(".")[0]
    for bad in (f"{other}.{mac}", payload, "", "x.y", token[:-2], f"{payload}.{mac}A"):
        with pytest.raises(TokenError):
            verify_token(key, bad)
    with pytest.raises(TokenError):
        verify_token(os.urandom(32), token)
    store.add_recipient(db, "asa.ost@exämple.se", ["A"])
    assert store.unsubscribe_token(db, token) == ("Asa.Ost@Exämple.se", True)
    assert store.recipients_for_lists(db, ["A"]) == []


def test_key_file_is_private_and_stable(db):
    db_path = Path(os.environ["NYHETSBREV_DB"])
    key = store.signing_key(db)
    key_path = db_path.with_suffix(".key")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert store.signing_key(db) == key and len(key) == 32
    assert_nowhere(key.hex(), files=[db_path], data=False, repository=False)  # the key file holds it; the database never
    assert_nowhere(key, files=[db_path], data=False, repository=False)  # made at run time: no committed file can hold it
    assert address_hash(key, " A@Exämple.SE ") == address_hash(key, "a@xn--exmple-cua.se")


def test_key_file_from_environment(db, tmp_path, monkeypatch):
    monkeypatch.setenv("NYHETSBREV_KEY_FILE", str(tmp_path / "secret" / "k.key"))
    key = store.signing_key(db)
    assert (tmp_path / "secret" / "k.key").read_text().strip() == key.hex()
    (tmp_path / "secret" / "k.key").write_text("nonsense")
    with pytest.raises(StoreError, match="not a nyhetsbrev key"):
        store.signing_key(db)


def test_list_recipients_filters(db, tmp_path):
    store.import_recipients(db, simple_csv(tmp_path, [("a@example.se", "A"), ("b@example.se", "B")]), ["Ett"])
    store.add_recipient(db, "c@example.se", ["Två"])
    store.unsubscribe(db, "a@example.se")
    assert [p["email"] for p in store.list_recipients(db, ["Ett"])] == ["b@example.se"]
    everyone = store.list_recipients(db, include_suppressed=True)
    assert [(p["email"], p["status"], p["lists"]) for p in everyone] == [
        ("a@example.se", "unsubscribed", ["Ett"]), ("b@example.se", "active", ["Ett"]), ("c@example.se", "active", ["Två"])
    ]


def test_forget_touches_no_one_whose_address_merely_contains_it(db):
    from nyhetsbrev.store import ledger

    store.add_recipient(db, "a@example.se", ["A"])
    store.add_recipient(db, "anna@example.se", ["A"])
    entries = [
        ledger.Entry(email_key=p["email_key"], email=p["email"], recipient_id=p["id"], lists=tuple(sorted(lists)))
        for p, lists in store.recipients_for_lists(db, ["A"])
    ]
    ledger.enqueue(db, "22:1", entries)
    db.execute("CREATE TABLE later_feature (note TEXT)")
    db.execute("INSERT INTO later_feature VALUES ('bounce for a@example.se.'), ('to anna@example.se'), ('xa@example.se')")
    result = store.forget(db, "a@example.se")
    assert result.rows["send_ledger"] == 1 and result.rows["later_feature"] == 1
    assert [r[0] for r in db.execute("SELECT email FROM send_ledger")] == ["anna@example.se"]
    assert sorted(r[0] for r in db.execute("SELECT note FROM later_feature")) == ["to anna@example.se", "xa@example.se"]
    assert _emails(db) == {"anna@example.se"}


def test_forget_erases_every_mention_whatever_the_column_and_however_the_domain_is_written(db):
    """A later feature may keep the address in any column: SQLite keeps text in a JSON, BLOB or untyped column too."""
    store.add_recipient(db, "Bo@bäckebo.example.se", ["A"])
    store.add_recipient(db, "bo@example.se", ["A"])
    db.execute("CREATE TABLE later_feature (n INTEGER, untyped, payload JSON, raw BLOB, note VARCHAR(80), long CLOB,"
               " address TEXT, tag TEXT)")
    rows = [  # (n, untyped, payload, raw, note, long, address, tag): each names the person in one column only
        (1, "till bo@bäckebo.example.se", None, None, None, None, None, "a"),
        (2, None, '{"to": "bo@bäckebo.example.se"}', None, None, None, None, "a"),
        (3, None, None, b"\xff\x00 <bo@b\xc3\xa4ckebo.example.se> \xfe", None, None, None, "a"),
        (4, None, None, None, "550 <Bo@BÄCKEBO.example.se>", None, None, "a"),
        (5, None, None, None, None, "svar från BO@BÄCKEBO.EXAMPLE.SE", None, "a"),
        (6, None, None, None, None, None, "Bo@BÄCKEBO.Example.se", "a"),
        (7, "till bo@example.se", '{"to": "bo@example.se"}', b"bo@example.se", "n\xe4mnd: 7@b\xe4ckebo.example.se",
         None, "bo@example.se", "other"),
        (8, None, None, None, None, None, None, "bo@bäckebo.example.se.org"),
    ]
    db.execute("INSERT INTO later_feature VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows)),
               [value for row in rows for value in row])
    ids = {p["email_key"]: p["id"] for p, _ in store.recipients_for_lists(db, ["A"])}
    db.execute("CREATE TABLE later_ids (recipient_id INTEGER)")  # a feature that keeps only whom a row is about
    db.execute("INSERT INTO later_ids VALUES (?), (?)", [ids["bo@bäckebo.example.se"], ids["bo@example.se"]])
    result = store.forget(db, "bo@bäckebo.example.se")
    assert result.rows["later_feature"] == 6 and result.rows["later_ids"] == 1
    assert [r[0] for r in db.execute("SELECT n FROM later_feature ORDER BY n")] == [7, 8]
    assert db.execute("SELECT recipient_id FROM later_ids").fetchall() == [(ids["bo@example.se"],)]
    assert _emails(db) == {"bo@example.se"}
    assert store.is_suppressed(db, "Bo@BÄCKEBO.example.se") == "forgotten"


def test_forget_erases_the_address_as_the_list_wrote_it(db):
    """A list saved on a Mac writes ä as a + ¨ (NFD); forget typed with ä still finds the rows that copied it."""
    import unicodedata

    as_written = unicodedata.normalize("NFD", "Asa@bäckebo.example.se")
    store.add_recipient(db, as_written, ["A"])
    assert db.execute("SELECT email FROM recipients").fetchone()[0] == as_written
    db.execute("CREATE TABLE later_feature (note TEXT)")
    db.execute("INSERT INTO later_feature VALUES (?), ('other')", [f"bounce for <{as_written}>"])
    result = store.forget(db, "asa@bäckebo.example.se")
    assert result.rows["later_feature"] == 1 and result.rows["recipients"] == 1
    assert db.execute("SELECT note FROM later_feature").fetchall() == [("other",)]


def test_forget_leaves_no_trace_in_the_space_sqlite_freed_earlier(db):
    """SQLite's own default keeps a deleted or rewritten row's bytes in the file until the page is reused.

    Some builds zero them (Debian's); python.org's and most others do not: forget rewrites the whole file.
    """
    db_path = Path(os.environ["NYHETSBREV_DB"])
    db.execute("PRAGMA secure_delete=OFF")
    for n in range(30):
        store.add_recipient(db, f"p{n}@example.se", ["A"])
    store.add_recipient(db, "Ola.Person@Example.se", ["A"], details={"name": "Ola Tidigarenamn", "title": "Rektor"})
    store.unsubscribe(db, "ola.person@example.se")
    store.add_recipient(db, "ola.person@example.se", ["A"], resubscribe=True, details={"name": "Ola"})
    for n in range(30, 40):
        store.add_recipient(db, f"p{n}@example.se", ["A"])
    assert store.forget(db, "ola.person@example.se").clean
    raw = _raw_bytes(db_path).lower()
    for trace in (b"ola.person", b"tidigarenamn"):
        assert trace not in raw, trace


@pytest.mark.parametrize("setting", [0, 1])
def test_forget_gives_the_connection_back_with_its_own_secure_delete_setting(db, setting):
    """forget zeroes what it deletes, then leaves the connection as it found it (this build's default or the caller's)."""
    db.execute(f"PRAGMA secure_delete={setting}")
    store.add_recipient(db, "ola.person@example.se", ["A"])
    store.forget(db, "ola.person@example.se")
    assert db.execute("PRAGMA secure_delete").fetchone()[0] == setting


def test_checking_a_list_against_the_suppressions_hashes_addresses_only_when_someone_is_forgotten(db):
    """Only a forgotten person's hash needs the key: with nobody forgotten no address is hashed (nor the key read)."""
    from nyhetsbrev.store.suppressions import address_hasher, load_suppressed

    store.suppress(db, "b@example.se", "bounced", "send 22:1")
    hashed: list[str] = []
    real = address_hasher(db)

    def hash_of(key: str) -> str:
        hashed.append(key)
        return real(key)

    suppressed = load_suppressed(db)
    assert suppressed.reason("a@example.se", hash_of) is None
    assert re.fullmatch(r"bounced \d{4}-\d\d-\d\d", suppressed.reason("b@example.se", hash_of))
    assert hashed == []
    store.forget(db, "c@example.se")
    suppressed = load_suppressed(db)
    assert suppressed.reason("c@example.se", hash_of) == "forgotten on request"
    assert suppressed.reason("a@example.se", hash_of) is None and hashed == ["c@example.se", "a@example.se"]


def test_a_suppression_holds_what_it_was_told_and_never_brings_a_forgotten_person_back(db):
    store.add_recipient(db, "Bo@Example.se", ["A"])
    with pytest.raises(StoreError) as refused:
        store.suppress(db, "bo", "bounced", "send 22:1")
    assert str(refused.value).startswith("'bo' is not an e-mail address")
    assert refused.value.hint == "give the whole address, name@example.se"
    assert _counts(db)["suppressions"] == 0
    assert store.suppress(db, " BO@example.se ", "bounced", "send 22:1", detail="550 5.1.1 no such user") is True
    assert store.suppress(db, "bo@example.se", "bounced", "send 22:2") is False  # the first one stands
    key = store.signing_key(db)
    row = db.execute("SELECT reason, email_key, address_hash, source, detail, at FROM suppressions").fetchall()
    assert [r[:5] for r in row] == [
        ("bounced", "bo@example.se", address_hash(key, "bo@example.se"), "send 22:1", "550 5.1.1 no such user")]
    events = db.execute("SELECT event, source, at, list_id FROM subscription_events ORDER BY id").fetchall()
    assert events[1:] == [("bounced", "send 22:1", row[0][5], None)] and ISO_UTC.match(row[0][5])

    store.forget(db, "bo@example.se")
    for reason in ("bounced", "unsubscribed"):  # a late bounce or click: the person stays forgotten, no address kept
        assert store.suppress(db, "bo@example.se", reason, "inbox", secret=key) is False
    assert db.execute("SELECT reason, email_key, detail FROM suppressions").fetchall() == [("forgotten", None, None)]
    assert store.is_suppressed(db, "Bo@example.se") == "forgotten"
