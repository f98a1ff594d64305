"""Read recipients from CSV or XLSX files: columns mapped, addresses cleaned and checked, one row at a time."""

from __future__ import annotations

import csv
import datetime as dt
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NoEmailColumn, RecipientFileError
from .tokens import normalise_address
from ..i18n import N_, _, group_digits

# The recipient fields a column can fill, and the column names (casefolded, letters and digits only) that mean them.
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "email": ("epost", "epostadress", "email", "emailadress", "emailaddress", "mail", "mailadress", "mejl",
              "mejladress", "emejl"),
    "name": ("namn", "name", "fullständigtnamn", "fullname"),
    "first_name": ("förnamn", "firstname", "givenname"),
    "last_name": ("efternamn", "lastname", "surname", "familyname"),
    "organisation": ("organisation", "organization", "förvaltning", "org"),
    "municipality": ("kommun", "municipality"),
    "title": ("roll", "titel", "title", "role", "befattning"),
    "lists": ("listor", "lists"),  # written by an export of several lists; an import names its lists itself
}
_FIELD_OF = {alias: name for name, aliases in COLUMN_NAMES.items() for alias in aliases}
FIELDS = ("name", "organisation", "municipality", "title")
CSV_SUFFIXES = (".csv", ".txt")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
HEADER_SEARCH_ROWS = 10
MAX_ROWS = 200_000  # data rows in one file: beyond this the file is refused with one line (split it)
MAX_CSV_BYTES = 100 * 1024 * 1024
MAX_XLSX_UNPACKED = 400 * 1024 * 1024  # all parts of a workbook, as its zip directory declares them
MAX_SHARED_STRINGS = 60 * 1024 * 1024  # the one part openpyxl reads whole into memory
_SPLIT_HINT = N_("split it into files of at most {max_rows} rows (or save one sheet as CSV) and import each")
_STRIP = " \t\u00a0\u202f\u2007\u200b\ufeff"
_FORBIDDEN = re.compile(r"[\r\n\x00]")
_ANGLE = re.compile(r"^(.*?)\s*<([^<>]*)>$")
# Plain ASCII addresses that email-validator always accepts; anything else is checked by email-validator itself.
_FAST_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
from .address_reasons import SPECIAL_TLDS as _SPECIAL_TLDS  # noqa: E402


@dataclass(slots=True)
class FileRow:
    """One data row of a recipients file: where it was, what it holds, and why it is skipped (problem)."""

    row: int
    email: str = ""
    email_key: str = ""
    email_ascii: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
    duplicate_of: int = 0  # the row of the same address earlier in the file (then problem says so)


@dataclass
class RecipientFile:
    """An opened recipients file: its kind, the columns found, how they map, and its rows (read lazily)."""

    path: Path
    kind: str
    columns: list[str]
    mapping: dict[str, str]
    header_row: int
    size_hint: int
    rows: Iterator[FileRow]
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None


def clean(value: object) -> str:
    """A cell as text: spaces, NBSP and byte-order marks trimmed; numbers and dates written plainly.

    A leading ' before = + - @ (how an export keeps Excel from running a cell as a formula) is taken off.
    """
    if type(value) is str:
        value = value.strip(_STRIP)
        return value[1:] if value[:1] == "'" and value[1:2] in ("=", "+", "-", "@") else value
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, dt.datetime):
        value = value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    elif isinstance(value, dt.date):
        value = value.isoformat()
    return str(value).strip(_STRIP)


def column_key(header: str) -> str:
    """A header reduced for matching: casefolded, letters and digits only ('E-post ' -> 'epost')."""
    return "".join(ch for ch in clean(header).casefold() if ch.isalnum())


def map_columns(headers: list[str]) -> dict[str, int]:
    """Recipient field -> column index for the headers that name one (the first such column wins)."""
    found: dict[str, int] = {}
    for index, header in enumerate(headers):
        name = _FIELD_OF.get(column_key(header))
        if name and name not in found:
            found[name] = index
    return found


def check_address(raw: str) -> tuple[str, str, str]:
    """(address as given, comparison key, ASCII form to send to); ValueError with the reason when invalid."""
    address = raw.strip(_STRIP)
    if address[:7].lower() == "mailto:":
        address = address[7:].strip(_STRIP)
    if not address:
        raise ValueError(_("no e-mail address"))
    if len(address) <= 254 and _FAST_ADDRESS.fullmatch(address):
        local, _at, domain = address.rpartition("@")
        domain = domain.lower()
        if len(local) <= 64 and domain.rpartition(".")[2] not in _SPECIAL_TLDS and "xn--" not in domain:
            return address, normalise_address(address), f"{local}@{domain}"
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(address, check_deliverability=False)
    except EmailNotValidError:  # its reasons are English sentences: ours say the same in the user's language
        from .address_reasons import invalid_reason

        raise ValueError(_("not a valid e-mail address ({reason})").format(reason=invalid_reason(address))) from None
    if not result.local_part.isascii():
        raise ValueError(_(
            "'{local}' before the @ is not plain ASCII: only a mail server offering SMTPUTF8 takes such "
            "an address, and nyhetsbrev sends without SMTPUTF8; ask the person for an address without å, ä, ö before the @"
        ).format(local=result.local_part))
    return address, normalise_address(address), f"{result.local_part}@{result.ascii_domain}"


def open_recipient_file(path: Path) -> RecipientFile:
    """Open a CSV or XLSX recipients file; RecipientFileError when it is neither or has no e-mail column."""
    path = Path(path)
    kind = file_kind(path)
    if kind == "xlsx":
        return _open_xlsx(path)
    if kind == "xls":
        raise RecipientFileError(
            _("old Excel format (.xls) is not supported"), path=path, hint=_("open it in Excel and save as .xlsx or CSV")
        )
    if kind == "csv":
        return _open_csv(path)
    raise RecipientFileError(
        _("not a CSV or XLSX file ({value})").format(value=path.suffix.lower() or _('no extension')),
        path=path,
        hint=_("save the list as .csv (comma or semicolon) or .xlsx"),
    )


def file_kind(path: Path) -> str | None:
    """'xlsx', 'xls' or 'csv' by the file's name and first bytes, None when it is none of them; RecipientFileError when missing."""
    if not path.is_file():
        raise RecipientFileError(_("file not found"), path=path, hint=_("check the file name"))
    suffix = path.suffix.lower()
    with path.open("rb") as handle:
        magic = handle.read(4)
    if suffix in XLSX_SUFFIXES or (magic == b"PK\x03\x04" and suffix not in CSV_SUFFIXES):
        return "xlsx"
    if suffix == ".xls" or magic == b"\xd0\xcf\x11\xe0":
        return "xls"
    if suffix in CSV_SUFFIXES or (suffix == "" and b"\x00" not in magic):
        return "csv"
    return None


def decode_csv(data: bytes, path: Path) -> tuple[str, str]:
    """The text of a CSV file and its encoding: strict UTF-8 (with or without BOM) first, then Windows-1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8-sig"), "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError:
        pass
    try:  # a BOM in front of Windows-1252 text happens when a tool adds one to a file it did not convert
        return data.removeprefix(b"\xef\xbb\xbf").decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RecipientFileError(
            _("the file is neither UTF-8 nor Windows-1252 text"), path=path, line=line, hint=_("save it as CSV UTF-8")
        ) from None


def detect_delimiter(text: str) -> str:
    """Semicolon, tab or comma: whichever the first lines use most (comma when none)."""
    sample = [line for line in text[:65536].splitlines()[:20] if line.strip(_STRIP)][:5]
    counts = {d: sum(line.count(d) for line in sample) for d in (";", "\t", ",")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _too_many_rows(path: Path, what: str) -> RecipientFileError:
    return RecipientFileError(_("the file has more than {max_rows} rows ({what}); nothing more is read").format(max_rows=group_digits(MAX_ROWS), what=what),
                              path=path, hint=_(_SPLIT_HINT).format(max_rows=group_digits(MAX_ROWS)))


def _open_csv(path: Path) -> RecipientFile:
    text, encoding = read_text(path)
    return csv_from_text(path, text, encoding)


def read_text(path: Path) -> tuple[str, str]:
    """The decoded text of a CSV or text file and its encoding; refused when larger than an import takes."""
    size = path.stat().st_size
    if size > MAX_CSV_BYTES:
        raise RecipientFileError(_("the file is {value:.0f} MB; at most {value2} MB is imported").format(value=size / 2**20, value2=MAX_CSV_BYTES // 2**20),
                                 path=path, hint=_(_SPLIT_HINT).format(max_rows=group_digits(MAX_ROWS)))
    return decode_csv(path.read_bytes(), path)


def csv_from_text(path: Path, text: str, encoding: str) -> RecipientFile:
    """A CSV file's decoded text opened as a recipients file (NoEmailColumn when its first rows name none)."""
    if text.count("\n") > MAX_ROWS + HEADER_SEARCH_ROWS:
        raise _too_many_rows(path, f"{group_digits(text.count(chr(10)))} lines")
    delimiter = detect_delimiter(text)
    reader = csv.reader(_lines(text), delimiter=delimiter)
    records = ((number, row) for number, row in enumerate(_csv_records(reader, path), start=1))
    size_hint = text.count("\n") + 1
    return _build(path, "csv", records, size_hint, encoding=encoding, delimiter=delimiter)


def _lines(text: str) -> Iterator[str]:
    """The lines of text with their endings (so quoted fields may span lines), without copying the whole text."""
    start, length = 0, len(text)
    while start < length:
        end = text.find("\n", start)
        end = length if end < 0 else end + 1
        yield text[start:end]
        start = end


def _csv_records(reader, path: Path) -> Iterator[list[str]]:
    try:
        yield from reader
    except csv.Error as exc:
        raise RecipientFileError(_("broken CSV: {exc}").format(exc=exc), path=path, line=reader.line_num,
                                 hint=_("check the quotes on that line")) from None


def _open_xlsx(path: Path) -> RecipientFile:
    """Open a workbook for streaming: sizes checked from the zip directory first, XML parsed by defusedxml."""
    _check_unpacked_size(path)
    import openpyxl

    handle = path.open("rb")  # a file object: openpyxl then does not refuse a workbook for its file name
    try:
        book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - whatever a broken or hostile workbook makes openpyxl raise
        handle.close()
        raise _unreadable(path, exc) from None
    first_error: RecipientFileError | None = None
    for sheet in book.worksheets:
        if (sheet.max_row or 0) > MAX_ROWS + HEADER_SEARCH_ROWS:
            book.close()
            handle.close()
            raise _too_many_rows(path, f"sheet '{sheet.title}' says {group_digits(sheet.max_row)}")
        records = _guarded(enumerate(sheet.iter_rows(values_only=True), start=1), path)
        try:
            opened = _build(path, "xlsx", records, sheet.max_row or 0, sheet=sheet.title)
        except RecipientFileError as exc:
            first_error = first_error or exc
            continue
        opened.rows = _closing(opened.rows, book, handle)
        return opened
    book.close()
    handle.close()
    raise first_error or RecipientFileError(_("the workbook has no sheets"), path=path)


def _check_unpacked_size(path: Path) -> None:
    """Refuse a workbook whose parts would unpack to more than the caps, before any of it is parsed."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _unreadable(path, exc) from None
    total = sum(part.file_size for part in parts)
    strings = sum(part.file_size for part in parts if part.filename.lower().endswith("sharedstrings.xml"))
    if total > MAX_XLSX_UNPACKED or strings > MAX_SHARED_STRINGS:
        raise RecipientFileError(
            _("the workbook unpacks to {value} MB, more than the {value2} MB nyhetsbrev reads; nothing was imported").format(
                value=group_digits(round(total / 2**20)), value2=group_digits(MAX_XLSX_UNPACKED // 2**20)),
            path=path, hint=_("save the list as CSV, or {split_hint}").format(split_hint=_(_SPLIT_HINT).format(max_rows=group_digits(MAX_ROWS))),
        )


_XML_REFUSALS = ("EntitiesForbidden", "DTDForbidden", "ExternalReferenceForbidden", "NotSupportedError")


def _unreadable(path: Path, exc: BaseException) -> RecipientFileError:
    """A workbook that cannot be read (not a zip, no workbook inside, broken or forbidden XML) as one line."""
    while (exc.__cause__ or exc.__context__) is not None and type(exc).__name__ not in _XML_REFUSALS + ("ParseError",):
        exc = exc.__cause__ or exc.__context__  # openpyxl wraps what the XML parser said
    kind = type(exc).__name__
    if kind in _XML_REFUSALS:
        why = _("it declares XML entities or external references, which nyhetsbrev never expands")
    elif kind == "ParseError":
        why = _("its XML is broken ({error})").format(error=exc)
    elif isinstance(exc, KeyError) or "no item named" in str(exc):
        why = _("it is a zip archive but holds no Excel workbook")
    elif isinstance(exc, zipfile.BadZipFile):
        why = _("it is not a zip archive as an .xlsx file is ({error})").format(error=exc)
    else:
        why = f"{kind}: {exc}"
    return RecipientFileError(_("not a readable XLSX workbook: {why}").format(why=why), path=path,
                              hint=_("open it in Excel and save as .xlsx or CSV"))


def _guarded(records, path: Path):
    """The sheet's rows; a broken or hostile part found while streaming becomes one RecipientFileError."""
    try:
        yield from records
    except RecipientFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - see _unreadable
        raise _unreadable(path, exc) from None


def _closing(rows: Iterator[FileRow], book, handle) -> Iterator[FileRow]:
    """The rows, closing the workbook file when they are read (or abandoned)."""
    try:
        yield from rows
    finally:
        book.close()
        handle.close()


def _build(path: Path, kind: str, records, size_hint: int, **extra) -> RecipientFile:
    """Find the header row (the first of the first few rows with an e-mail column) and start reading rows."""
    first_headers: list[str] | None = None
    for number, values in records:
        headers = [clean(v) for v in values]
        if not any(headers):
            continue
        first_headers = first_headers if first_headers is not None else headers
        mapping = map_columns(headers)
        if "email" in mapping:
            rows = _rows(records, headers, mapping, path)
            named = {name: headers[i] for name, i in mapping.items()}
            return RecipientFile(path, kind, headers, named, number, size_hint, rows, **extra)
        if number >= HEADER_SEARCH_ROWS:
            break
    found = ", ".join(f"'{h}'" for h in (first_headers or []) if h) or "none"
    where = f" (sheet '{extra['sheet']}')" if extra.get("sheet") else ""
    raise NoEmailColumn(
        _("no e-mail column found{where}; columns found: {found}").format(where=where, found=found),
        path=path,
        hint=_("name the column E-post, E-postadress, Epost, Mail or Email"),
    )


def _rows(records, headers: list[str], mapping: dict[str, int], path: Path) -> Iterator[FileRow]:
    """FileRows for the data rows: blank rows dropped, problems noted, in-file duplicates marked."""
    email_at = mapping["email"]
    named = {i for i in mapping.values()}
    named_fields = [(name, i) for name, i in mapping.items() if name in FIELDS]
    split_name = "name" not in mapping and ("first_name" in mapping or "last_name" in mapping)
    if not split_name:  # first and last name columns beside a full name column are kept as attributes
        named -= {mapping.get("first_name"), mapping.get("last_name")}
    extra = [(i, h) for i, h in enumerate(headers) if i not in named and h]
    seen: dict[str, int] = {}
    last = None
    for number, values in records:
        if last is None:
            last = number + MAX_ROWS - 1
        if number > last:
            raise _too_many_rows(path, _("row {number} is past the last allowed, {last}").format(number=group_digits(number), last=group_digits(last)))
        cells = [clean(v) for v in values]
        if not any(cells):
            continue
        out = FileRow(row=number)
        width = len(cells)
        for index, value in enumerate(cells):
            if _FORBIDDEN.search(value):
                column = headers[index] if index < len(headers) and headers[index] else _("column {number}").format(number=index + 1)
                out.problem = _("'{column}' contains a line break or NUL character").format(column=column)
                break
        raw = cells[email_at] if email_at < width else ""
        if out.problem:  # skipped; a good address still gets its key, so a --replace knows whose row it is
            out.email = raw.replace("\r", "\\r").replace("\n", "\\n").replace("\x00", "\\0")
            if not _FORBIDDEN.search(raw):
                try:
                    _as_given, out.email_key, _ascii = check_address(_address_of(raw)[1])
                except ValueError:
                    pass
            yield out
            continue
        display, raw = _address_of(raw)
        try:
            out.email, out.email_key, out.email_ascii = check_address(raw)
        except ValueError as exc:
            out.email = raw
            out.problem = str(exc)
            yield out
            continue
        for name, index in named_fields:
            if index < width and cells[index]:
                out.fields[name] = cells[index]
        if split_name:
            parts = [cells[i] for i in (mapping.get("first_name"), mapping.get("last_name")) if i is not None and i < width]
            if any(parts):
                out.fields["name"] = " ".join(p for p in parts if p)
        if display and "name" not in out.fields:
            out.fields["name"] = display
        for index, header in extra:
            if index < width and cells[index]:
                out.attributes[header] = cells[index]
        first = seen.setdefault(out.email_key, number)
        if first != number:
            out.problem, out.duplicate_of = _("duplicate of row {row}").format(row=first), first
        yield out


def _address_of(raw: str) -> tuple[str, str]:
    """(display name, address) of a cell: 'Anna Berg <anna@example.se>' is split, a bare address has no name."""
    angle = _ANGLE.match(raw)
    return (angle.group(1).strip(_STRIP + '"'), angle.group(2)) if angle else ("", raw)
