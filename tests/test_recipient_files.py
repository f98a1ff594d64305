"""Reading recipients files: encodings, separators, column names, cleaning and checking addresses, row numbers."""

from __future__ import annotations

import pytest

from nyhetsbrev.errors import RecipientFileError
from nyhetsbrev.store.recipient_files import check_address, decode_csv, detect_delimiter, map_columns, open_recipient_file
from tests.recipient_helpers import (
    BOM_OK, BOM_SKIPPED, QUIRKS_OK, QUIRKS_SKIPPED, XLSX_OK, XLSX_SKIPPED, bom_csv, quirks_csv, quirks_xlsx,
)


def _split(source):
    rows = list(source.rows)
    ok = {r.email for r in rows if r.problem is None}
    skipped = {r.row: r.problem for r in rows if r.problem}
    return rows, ok, skipped


def _assert_skipped(skipped: dict[int, str], expected: dict[int, str]) -> None:
    assert sorted(skipped) == sorted(expected)
    for row, reason in expected.items():
        assert reason in skipped[row], (row, skipped[row])


def test_semicolon_cp1252_file_with_every_quirk(tmp_path):
    source = open_recipient_file(quirks_csv(tmp_path))
    assert (source.kind, source.encoding, source.delimiter) == ("csv", "cp1252", ";")
    assert source.columns[1] == "Förnamn"
    rows, ok, skipped = _split(source)
    assert ok == QUIRKS_OK
    assert len(rows) == 10  # 13 rows minus the header and two blank ones
    _assert_skipped(skipped, QUIRKS_SKIPPED)
    by_row = {r.row: r for r in rows}
    assert by_row[2].fields == {
        "name": "Anna Andersson", "organisation": "Socialförvaltningen", "municipality": "Flen", "title": "Enhetschef",
    }
    assert by_row[4].attributes == {"Anteckning": "ringer ibland"}
    assert by_row[3].email_key == "erik.oberg@example.se"
    assert "\n" not in by_row[12].email and by_row[12].email == "per.nilsson@example.org"


def test_utf8_bom_in_first_header_and_english_columns(tmp_path):
    source = open_recipient_file(bom_csv(tmp_path))
    assert (source.encoding, source.delimiter) == ("utf-8-sig", ",")
    assert source.mapping["email"] == "Email"
    rows, ok, skipped = _split(source)
    assert ok == BOM_OK
    _assert_skipped(skipped, BOM_SKIPPED)
    assert rows[0].attributes == {"Phone": "0155-123456"}
    assert rows[0].fields["title"] == "Strateg"


def test_bom_is_stripped_even_when_the_rest_is_windows_1252(tmp_path):
    path = tmp_path / "blandat.csv"
    path.write_bytes(b"\xef\xbb\xbfE-post;Namn\r\nolle@example.se;Olle \xc5berg\r\n")
    source = open_recipient_file(path)
    assert source.encoding == "cp1252" and source.mapping["email"] == "E-post"
    assert [r.fields["name"] for r in source.rows] == ["Olle Åberg"]


def test_xlsx_with_blank_row_duplicates_and_numbers(tmp_path):
    source = open_recipient_file(quirks_xlsx(tmp_path))
    assert (source.kind, source.sheet) == ("xlsx", "Mottagare")
    rows, ok, skipped = _split(source)
    assert ok == XLSX_OK
    _assert_skipped(skipped, XLSX_SKIPPED)
    assert rows[0].attributes == {"Telefon": "15512345"}


def test_idn_domain_kept_as_given_with_ascii_form():
    given, key, ascii_form = check_address(" Bjorn.Ek@Exämple.SE\u00a0")
    assert given == "Bjorn.Ek@Exämple.SE"
    assert key == "bjorn.ek@exämple.se"
    assert ascii_form == "Bjorn.Ek@xn--exmple-cua.se"
    assert check_address("bjorn@xn--exmple-cua.se")[1] == "bjorn@exämple.se"


@pytest.mark.parametrize(
    "address",
    [
        "a@example.se", "Anna.Andersson@Example.SE", "x+tag@sub.example.org", "o'neil@example.se",
        "a.b.c@a-b.example.se", "first_last@example.museum", "1@example.se", "a@example.test", "a@example.local",
        "a..b@example.se", ".a@example.se", "a.@example.se", "a@-example.se", "a@example-.se", "a@example.s",
        "a@example.123", "a@xn--exmple-cua.se", "a@xn--zz.se", "a@" + "b" * 64 + ".se", "a" * 65 + "@example.se",
        "a@" + ".".join(["abcdefghij"] * 25) + ".se", "a@localhost", "a@example.onion", "a@EXAMPLE.ARPA",
        "a\"b@example.se", "a@exa_mple.se", "a@[127.0.0.1]", "ABC@EXAMPLE.SE", "a@example.se.",
    ],
)
def test_fast_check_agrees_with_email_validator(address):
    from email_validator import EmailNotValidError, validate_email

    try:
        expected = validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        expected = None
    try:
        got = check_address(address)
    except ValueError:
        got = None
    assert (got is None) == (expected is None), (address, got, expected)
    if expected is not None:
        assert got[2] == (expected.ascii_email or expected.normalized)


def test_name_and_angle_address_form(tmp_path):
    path = tmp_path / "outlook.csv"
    path.write_text('E-post,Kommun\n"Eva Ek <eva.ek@example.se>",Flen\nmailto:bo@example.se,Trosa\n', encoding="utf-8")
    rows = list(open_recipient_file(path).rows)
    assert [(r.email, r.fields.get("name")) for r in rows] == [("eva.ek@example.se", "Eva Ek"), ("bo@example.se", None)]


@pytest.mark.parametrize(
    "header,field",
    [("E-post", "email"), ("E-postadress", "email"), ("EPOST", "email"), ("Mail", "email"), ("e-mail", "email"),
     ("Email ", "email"), ("Namn", "name"), ("name", "name"), ("Förnamn", "first_name"), ("Efternamn", "last_name"),
     ("Organisation", "organisation"), ("Organization", "organisation"), ("Förvaltning", "organisation"),
     ("KOMMUN", "municipality"), ("Municipality", "municipality"), ("Roll", "title"), ("Titel", "title"),
     ("Title", "title")],
)
def test_column_names_in_swedish_and_english(header, field):
    assert map_columns(["Annat", header]) == {field: 1}


def test_full_name_wins_over_split_name_which_is_kept(tmp_path):
    path = tmp_path / "namn.csv"
    path.write_text("Epost,Namn,Förnamn,Efternamn\nab@example.se,Anna Berg,Anna,Berg\n", encoding="utf-8")
    (row,) = open_recipient_file(path).rows
    assert row.fields == {"name": "Anna Berg"}
    assert row.attributes == {"Förnamn": "Anna", "Efternamn": "Berg"}


def test_header_below_title_rows(tmp_path):
    path = tmp_path / "rubrik.csv"
    path.write_text("Sändlista Flen 2022;\n\nNamn;E-post\nOla;ola@example.se\n", encoding="utf-8")
    source = open_recipient_file(path)
    assert source.header_row == 3
    assert [(r.row, r.email) for r in source.rows] == [(4, "ola@example.se")]


def test_nul_in_a_field_is_refused_with_its_row(tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(b"E-post,Namn\nett@example.se,Ett\ntva@example.se,T\x00va\n")
    rows = list(open_recipient_file(path).rows)
    assert [r.problem for r in rows][0] is None
    assert rows[1].row == 3 and "NUL" in rows[1].problem


def test_quoted_line_break_keeps_following_row_numbers(tmp_path):
    path = tmp_path / "radbrytning.csv"
    path.write_text('E-post,Not\na@example.se,"x\ny"\nb@example.se,z\n', encoding="utf-8")
    rows = list(open_recipient_file(path).rows)
    assert [(r.row, r.problem is None) for r in rows] == [(2, False), (3, True)]


def test_no_email_column_names_the_columns_found(tmp_path):
    path = tmp_path / "fel.csv"
    path.write_text("Namn;Telefon;Adress\nOla;123;Gatan 1\n", encoding="utf-8")
    with pytest.raises(RecipientFileError) as caught:
        open_recipient_file(path)
    message = str(caught.value)
    assert "no e-mail column" in message and "'Namn', 'Telefon', 'Adress'" in message
    assert "fel.csv" in message


@pytest.mark.parametrize("name,data,words", [
    ("lista.pdf", b"%PDF-1.4", "not a CSV or XLSX"),
    ("lista.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ".xls"),
    ("trasig.xlsx", b"PK\x03\x04 not really a zip", "not a readable XLSX"),
])
def test_files_that_are_not_csv_or_xlsx(tmp_path, name, data, words):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(RecipientFileError) as caught:
        open_recipient_file(path)
    assert words in str(caught.value)


def test_undecodable_bytes_give_the_line():
    with pytest.raises(RecipientFileError) as caught:
        decode_csv("E-post\nå@example.se\n".encode("cp1252") + b"\x81\n", __import__("pathlib").Path("x.csv"))
    assert caught.value.line == 3


def test_delimiter_detection():
    assert detect_delimiter("E-post;Namn\na@example.se;A\n") == ";"
    assert detect_delimiter("E-post,Namn;x\na@example.se,A\n") == ","
    assert detect_delimiter("E-post\tNamn\n") == "\t"
    assert detect_delimiter("E-post\n") == ","


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_excel_unicode_text_is_utf16_with_a_bom_and_tabs(tmp_path, codec):
    """Excel's "Unicode text" (.txt): UTF-16 with a byte-order mark, tab-separated, CRLF, quoted where needed."""
    lines = [
        "E-post\tNamn\tOrganisation\tKommun",
        "asa.ost@example.se\tÅsa Öst\tBarn, utbildning; kultur\tOxelösund",
        '"Björn Ek <bjorn.ek@example.org>"\t"Ek, Björn"\t\tVingåker',
        "\t\t\t",
        "inte en adress\tNamnlös\t\t",
    ]
    path = tmp_path / "unicode-text.txt"
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode(codec))
    source = open_recipient_file(path)
    assert (source.kind, source.encoding, source.delimiter) == ("csv", "utf-16", "\t")
    assert source.columns == ["E-post", "Namn", "Organisation", "Kommun"]  # no BOM glued to the first header
    rows = list(source.rows)
    assert [(r.row, r.email, r.fields) for r in rows if r.problem is None] == [
        (2, "asa.ost@example.se", {"name": "Åsa Öst", "organisation": "Barn, utbildning; kultur", "municipality": "Oxelösund"}),
        (3, "bjorn.ek@example.org", {"name": "Ek, Björn", "municipality": "Vingåker"}),
    ]
    assert [(r.row, r.email) for r in rows if r.problem] == [(5, "inte en adress")]


def test_the_email_column_may_be_on_a_later_sheet(tmp_path):
    """A workbook whose first sheet is instructions: the first sheet with an e-mail column is the list."""
    import openpyxl

    book = openpyxl.Workbook()
    notes = book.active
    notes.title = "Instruktioner"
    notes.append(["Så här fyller du i listan"])
    notes.append(["Skriv en person per rad på bladet Mottagare."])
    people = book.create_sheet("Mottagare")
    people.append(["Namn", "E-post", "Kommun"])
    people.append(["Åsa Öst", "asa.ost@example.se", "Oxelösund"])
    people.append(["Olof Lind", "olof.lind@example.se", "Trosa"])
    book.create_sheet("Tom")
    path = tmp_path / "med-instruktioner.xlsx"
    book.save(path)
    source = open_recipient_file(path)
    assert (source.sheet, source.header_row, source.mapping["email"]) == ("Mottagare", 1, "E-post")
    assert [(r.row, r.email, r.fields["name"]) for r in source.rows] == [
        (2, "asa.ost@example.se", "Åsa Öst"), (3, "olof.lind@example.se", "Olof Lind")]

    del book["Mottagare"]
    book.save(path)
    with pytest.raises(RecipientFileError) as caught:  # no sheet has one: the first sheet's columns are named
        open_recipient_file(path)
    assert "no e-mail column found (sheet 'Instruktioner')" in str(caught.value)
    assert "'Så här fyller du i listan'" in str(caught.value)


def test_date_and_number_cells_are_written_as_a_person_reads_them(tmp_path):
    """Excel keeps dates as numbers with a format: an attribute holds 2026-01-15, not 2026-01-15 00:00:00 or 46037."""
    import datetime as dt

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["E-post", "Startdatum", "Möte", "Antal", "Andel"])
    sheet.append(["asa.ost@example.se", dt.date(2026, 1, 15), dt.datetime(2026, 2, 3, 8, 30), 3.0, 0.5])
    sheet.append(["olof.lind@example.se", dt.datetime(2026, 3, 1), None, 12, None])
    path = tmp_path / "datum.xlsx"
    book.save(path)
    rows = list(open_recipient_file(path).rows)
    assert [r.attributes for r in rows] == [
        {"Startdatum": "2026-01-15", "Möte": "2026-02-03 08:30:00", "Antal": "3", "Andel": "0.5"},
        {"Startdatum": "2026-03-01", "Antal": "12"},
    ]
    from nyhetsbrev.store.recipient_files import clean

    assert clean(dt.date(2026, 1, 15)) == "2026-01-15"  # a date (not a datetime), as other readers give it
    assert clean(46701234567.0) == "46701234567"  # a whole number read as a float (a phone number in 4.6701234567E10)
