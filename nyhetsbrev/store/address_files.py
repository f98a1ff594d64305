"""The addresses in a file given with --from-file: a CSV or XLSX with an e-mail column, or one address a line."""

from __future__ import annotations

from pathlib import Path

from ..errors import NoEmailColumn, RecipientFileError
from ..i18n import _
from .recipient_files import RecipientFile, check_address, csv_from_text, file_kind, open_recipient_file, read_text

_STRIP = " \t\ufeff\u00a0"
_DELIMITERS = (";", "\t", ",")


def addresses_in_file(path: Path) -> list[str]:
    """Each address in the file, as written; lines that are empty or start with # are passed over.

    A file that is not a workbook is read once: as a CSV with an e-mail column, else (a single column and no such
    header) as one address a line. An address that is no valid address refuses the whole file with its line.
    """
    path = Path(path)
    if file_kind(path) in ("xlsx", "xls"):
        return _addresses(open_recipient_file(path))
    text, encoding = read_text(path)
    try:
        source = csv_from_text(path, text, encoding)
    except NoEmailColumn:
        if not _one_column(text):
            raise  # a table whose e-mail column has another name: its cells are no addresses
        return _lines(path, text)
    return _addresses(source)


def _addresses(source: RecipientFile) -> list[str]:
    """The addresses of a file's rows (rows without one passed over); RecipientFileError at a row that is no address."""
    out = []
    try:
        for row in source.rows:
            if not row.email:
                continue
            if row.problem and not row.duplicate_of:
                raise RecipientFileError(_("'{address}': {reason}").format(address=row.email, reason=row.problem),
                                         path=source.path, line=row.row, hint=_("correct or delete that row, then run again"))
            out.append(row.email)
    finally:
        source.rows.close()
    return out


def _one_column(text: str) -> bool:
    """Whether the first lines (comments and blank lines left out) hold no column delimiter."""
    sample = [line for line in (raw.strip(_STRIP) for raw in text[:65536].splitlines()[:20])
              if line and not line.startswith("#")][:5]
    return not any(d in line for line in sample for d in _DELIMITERS)


def _lines(path: Path, text: str) -> list[str]:
    """One address a line; RecipientFileError at the first line that is no valid e-mail address."""
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip(_STRIP)
        if not line or line.startswith("#"):
            continue
        try:
            check_address(line)
        except ValueError as exc:
            raise RecipientFileError(_("'{address}': {reason}").format(address=line, reason=exc), path=path,
                                     line=number, hint=_("correct or delete that line, then run again")) from None
        out.append(line)
    return out
