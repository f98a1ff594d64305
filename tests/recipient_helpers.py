"""Generated recipients files that reproduce what the region's and municipalities' exports really look like.

Every person here is invented, at example.se / example.org. Each builder returns the file path; the EXPECTED_*
constants say exactly what an import of that file must report.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

NBSP = "\u00a0"

# Semicolon-separated, Windows-1252, Swedish headers (split name), blank lines and every common mistake.
QUIRKS_ROWS = [
    "E-post;Förnamn;Efternamn;Förvaltning;Kommun;Titel;Anteckning",            # 1 header
    "anna.andersson@example.se;Anna;Andersson;Socialförvaltningen;Flen;Enhetschef;",  # 2 ok
    "Erik.Oberg@Example.SE ;Erik;Öberg;Barn- och utbildning;Gnesta;Rektor;",   # 3 ok, trailing space, upper case
    f"{NBSP}karin.lund@example.org{NBSP};Karin;Lund;Region Sörmland;;Utvecklare;ringer ibland",  # 4 ok, NBSP
    "",                                                                          # 5 blank line
    "ANNA.ANDERSSON@EXAMPLE.SE;Anna;A;;Flen;;",                                  # 6 case duplicate of row 2
    "kalle@;Kalle;Ek;;Trosa;;",                                                  # 7 invalid
    "bjorn.ek@exämple.se;Björn;Ek;Kultur;Vingåker;Samordnare;",                  # 8 ok, IDN domain
    ";Tom;Utan;;Flen;;",                                                         # 9 no address
    ";;;;;;",                                                                    # 10 blank (only separators)
    "sara svensson@example.se;Sara;Svensson;;Nyköping;;",                        # 11 invalid (space)
    'per.nilsson@example.org;Per;Nilsson;;Trosa;;"rad ett\r\nrad två"',          # 12 line break in a field
    "mia.berg@example.se;Mia;Berg;;Strängnäs;;",                                 # 13 ok
]
QUIRKS_OK = {
    "anna.andersson@example.se", "Erik.Oberg@Example.SE", "karin.lund@example.org", "bjorn.ek@exämple.se",
    "mia.berg@example.se",
}
QUIRKS_SKIPPED = {6: "duplicate of row 2", 7: "not a valid e-mail address", 9: "no e-mail address",
                  11: "not a valid e-mail address", 12: "line break"}


def quirks_csv(folder: Path, name: str = "kommun.csv") -> Path:
    """The quirks file as a municipality's Excel exports it: semicolons, CRLF, Windows-1252."""
    path = folder / name
    path.write_bytes("\r\n".join(QUIRKS_ROWS).encode("cp1252") + b"\r\n")
    return path


# Comma-separated UTF-8 with a byte-order mark glued to the first header name; English headers.
BOM_ROWS = [
    "Email,Name,Organization,Municipality,Role,Phone",
    "lena.strom@example.se,Lena Ström,Region Sörmland,Nyköping,Strateg,0155-123456",
    "jonas.karlsson@example.org,Jonas Karlsson,FoU Sörmland,Eskilstuna,Forskare,",
    "Jonas.Karlsson@example.org,Jonas K,,,,",
    ",,,,,",
    "asa.ost@example.se,Åsa Öst,,Oxelösund,,",
]
BOM_OK = {"lena.strom@example.se", "jonas.karlsson@example.org", "asa.ost@example.se"}
BOM_SKIPPED = {4: "duplicate of row 3"}


def bom_csv(folder: Path, name: str = "region.csv") -> Path:
    """UTF-8 with BOM, commas, LF line ends."""
    path = folder / name
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(BOM_ROWS).encode("utf-8") + b"\n")
    return path


XLSX_ROWS = [
    ["E-postadress", "Namn", "Organisation", "Kommun", "Roll", "Telefon"],      # 1
    ["maria.olsson@example.se", "Maria Olsson", "Katrineholms kommun", "Katrineholm", "Rektor", 15512345],  # 2 ok
    [None, None, None, None, None, None],                                       # 3 blank
    ["MARIA.OLSSON@example.se", "Maria O", None, None, None, None],             # 4 duplicate of row 2
    ["lars.persson@example", "Lars Persson", None, None, None, None],          # 5 invalid (no dot in domain)
    ["eva.nord@example.org ", "Eva\nNord", None, None, None, None],            # 6 line break in a field
    ["  olof.lind@example.se", "Olof Lind", None, "Trosa", None, None],         # 7 ok, leading spaces
]
XLSX_OK = {"maria.olsson@example.se", "olof.lind@example.se"}
XLSX_SKIPPED = {4: "duplicate of row 2", 5: "not a valid e-mail address", 6: "line break"}


def quirks_xlsx(folder: Path, name: str = "lista.xlsx") -> Path:
    """An Excel workbook with one sheet, a number cell, a blank row and the usual mistakes."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Mottagare"
    for row in XLSX_ROWS:
        sheet.append(row)
    path = folder / name
    book.save(path)
    return path


def simple_csv(folder: Path, rows: list[tuple[str, str]], name: str = "enkel.csv") -> Path:
    """A plain UTF-8 CSV of (address, name) rows."""
    path = folder / name
    lines = ["E-post,Namn"] + [f"{address},{person}" for address, person in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def all_text_in_db(db) -> str:
    """Every value of every row of every table, as one string (for 'no trace left' checks)."""
    parts = []
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        for row in db.execute(f'SELECT * FROM "{table}"').fetchall():
            parts.extend(str(value) for value in row)
    return "\n".join(parts)


@contextlib.contextmanager
def database():
    """The test's database (NYHETSBREV_DB), opened as the CLI opens it, for the with-block; closed after."""
    from nyhetsbrev.store import open_db

    handle = open_db(Path(os.environ["NYHETSBREV_DB"]))
    try:
        yield handle
    finally:
        handle.close()


def person_row(n: int, organisation: str = "Flens kommun") -> list[str]:
    """One invented politician's row: address, name, organisation, municipality."""
    return [f"politiker{n:03d}@example.se", f"Politiker {n}", organisation, "Flen"]


def rows_csv(path: Path, rows: list[list[str]]) -> Path:
    """A UTF-8, semicolon-separated file with the E-post/Namn/Organisation/Kommun header and the rows."""
    lines = ["E-post;Namn;Organisation;Kommun"] + [";".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def members(name: str) -> set[str]:
    """The addresses on list `name` now."""
    from nyhetsbrev import store

    with database() as db:
        return {p["email"] for p in store.list_recipients(db, [name])}
