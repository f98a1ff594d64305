"""The addresses in a file given with --from-file: a CSV or XLSX with an e-mail column, or one address a line."""

from __future__ import annotations

from pathlib import Path

from ..errors import NyhetsbrevError, RecipientFileError
from ..i18n import _
from .recipient_files import XLSX_SUFFIXES, decode_csv, open_recipient_file


def addresses_in_file(path: Path) -> list[str]:
    """Each address in the file, as written; lines that are empty or start with # are passed over."""
    path = Path(path)
    try:
        source = open_recipient_file(path)
    except RecipientFileError:
        if path.suffix.lower() in XLSX_SUFFIXES:
            raise  # a workbook without an e-mail column: its own one-line reason
        return _lines(path)
    try:
        return [row.email for row in source.rows if row.email]
    finally:
        source.rows.close()


def _lines(path: Path) -> list[str]:
    try:
        text, _encoding = decode_csv(path.read_bytes(), path)
    except OSError as exc:
        raise NyhetsbrevError(_("cannot read the file: {value}").format(value=exc.strerror or exc), path=path,
                              hint=_("check the path")) from None
    lines = (line.strip(" \t\ufeff\u00a0") for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]
