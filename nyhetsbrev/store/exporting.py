"""Export the members of lists to a file that Swedish Excel opens as it is: .xlsx, or .csv with BOM, ';' and CRLF.

The column names are the interface language's and are ones `recipients import` recognises, so importing an
export (also with --replace) changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from ..i18n import N_, _
from .db import Database
from .recipient_files import FIELDS, XLSX_SUFFIXES
from .recipients import list_recipients, save_export

HEADERS = {"email": N_("E-mail"), "name": N_("Name"), "organisation": N_("Organisation"),
           "municipality": N_("Municipality"), "title": N_("Title"), "lists": N_("Lists")}


def export_rows(db: Database, lists: list[str]) -> list[list[str]]:
    """The header row and one row per active member of the named lists (extra columns last, by name)."""
    people = list_recipients(db, lists)
    extra = sorted({name for person in people for name in person["attributes"]})
    with_lists = len(lists) > 1
    header = [_(HEADERS[f]) for f in ("email", *FIELDS)] + ([_(HEADERS["lists"])] if with_lists else []) + extra
    rows = [header]
    for person in people:
        values = [person["email"], *(person[f] or "" for f in FIELDS)]
        if with_lists:
            values.append(", ".join(person["lists"]))
        rows.append(values + [person["attributes"].get(name, "") for name in extra])
    return rows


def save_lists_file(db: Database, lists: list[str], path: Path) -> int:
    """Write the lists' members to path (.xlsx, else Swedish-Excel CSV) in one step, private; the number of people."""
    path = Path(path)
    rows = export_rows(db, lists)
    data = _xlsx(rows) if path.suffix.lower() in XLSX_SUFFIXES else _excel_csv(rows)
    save_export(path, data)
    return len(rows) - 1


def _excel_csv(rows: list[list[str]]) -> bytes:
    """UTF-8 with a byte-order mark, semicolons and CRLF: what Excel set to Swedish writes and opens."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows([[_inert(v) for v in row] for row in rows])
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


def _xlsx(rows: list[list[str]]) -> bytes:
    """A one-sheet workbook, every cell text (an address or a phone number is never taken for a number)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Recipients"))
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"  # never a formula or a number, whatever the text starts with
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


_PHONE = re.compile(r"[+-]?[\d\s()/-]*")
FORMULA_GUARD = "'"


def _inert(value: str) -> str:
    """A value Excel would run as a formula (=, @, or + and - before anything but a number) gets a leading '.

    Anyone can put such a name in a sign-up; the import takes the ' off again, so a round trip changes nothing.
    """
    first = value[:1]
    if first in ("=", "@", "\t", "\r") or (first in ("+", "-") and not _PHONE.fullmatch(value)):
        return FORMULA_GUARD + value
    return value
