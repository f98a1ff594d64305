"""Export the members of lists: to a file that Swedish Excel opens as it is (.xlsx, or .csv with BOM, ';' and CRLF),
or as plain CSV to standard output for a script.

A file's column names are the interface language's and are ones `recipients import` recognises, so importing an
export (also with --replace) changes nothing. Every export makes a cell Excel would run as a formula inert.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import IO

from ..i18n import N_, _
from .db import Database
from .recipient_files import FIELDS, XLSX_SUFFIXES
from .recipients import list_recipients, save_export

HEADERS = {"email": N_("E-mail"), "name": N_("Name"), "organisation": N_("Organisation"),
           "municipality": N_("Municipality"), "title": N_("Title"), "lists": N_("Lists")}
# The columns of the CSV on standard output, which scripts read: the same in every language.
STREAM_HEADERS = {"email": "Email", "name": "Name", "organisation": "Organisation", "municipality": "Municipality",
                  "title": "Title", "lists": "Lists"}


def member_rows(db: Database, lists: list[str] | None, *, headers: dict[str, str], inert: bool = True) -> list[list[str]]:
    """The header row and one row per active member of the named lists (all lists when none).

    A Lists column when more than one list is exported, then the extra columns by name. Every cell Excel would run as
    a formula gets a leading ' unless inert is False (a workbook whose cells are all typed as text).
    """
    people = list_recipients(db, lists)
    extra = sorted({name for person in people for name in person["attributes"]})
    with_lists = not lists or len(lists) > 1
    rows = [[headers[f] for f in ("email", *FIELDS)] + ([headers["lists"]] if with_lists else []) + extra]
    for person in people:
        values = [person["email"], *(person[f] or "" for f in FIELDS)]
        if with_lists:
            values.append(", ".join(person["lists"]))
        rows.append(values + [person["attributes"].get(name, "") for name in extra])
    return [[_inert(v) for v in row] for row in rows] if inert else rows


def write_lists_csv(db: Database, lists: list[str] | None, stream: IO[str]) -> int:
    """Write the active members of the named lists (all lists when none) as CSV (UTF-8, comma; attributes as extra columns); the count."""
    rows = member_rows(db, lists, headers=STREAM_HEADERS)
    csv.writer(stream, lineterminator="\n").writerows(rows)
    return len(rows) - 1


def save_lists_file(db: Database, lists: list[str], path: Path) -> int:
    """Write the lists' members to path (.xlsx, else Swedish-Excel CSV) in one step, private; the number of people."""
    path = Path(path)
    workbook = path.suffix.lower() in XLSX_SUFFIXES
    headers = {k: _(v) for k, v in HEADERS.items()}
    rows = member_rows(db, lists, headers=headers, inert=not workbook)  # a workbook's cells are all typed as text
    data = _xlsx(rows) if workbook else _excel_csv(rows)
    save_export(path, data)
    return len(rows) - 1


def _excel_csv(rows: list[list[str]]) -> bytes:
    """UTF-8 with a byte-order mark, semicolons and CRLF: what Excel set to Swedish writes and opens."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows(rows)
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
