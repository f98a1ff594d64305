"""Workbooks written by hand (zip + XML), for the hostile and huge ones openpyxl would never write."""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Lista" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>'
)
SHEET_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>{doctype}'
              '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
SHEET_TAIL = "</sheetData></worksheet>"


def row_xml(*values: str) -> str:
    """One sheet row of inline strings (numbered by its place, as Excel allows)."""
    cells = "".join(f'<c t="inlineStr"><is><t>{value}</t></is></c>' for value in values)
    return f"<row>{cells}</row>"


def workbook(path: Path, rows: Iterable[str], *, doctype: str = "") -> Path:
    """A one-sheet .xlsx whose sheet holds these <row> elements (and a DOCTYPE, for hostile ones)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(SHEET_HEAD.format(doctype=doctype).encode())
            for row in rows:
                sheet.write(row.encode())
            sheet.write(SHEET_TAIL.encode())
    return path


def inflating_workbook(path: Path, unpacked_mb: int) -> Path:
    """A small .xlsx whose sheet really inflates to about unpacked_mb MB of bad rows (a zip bomb, made in a second).

    One 1 MB block of rows is deflated once after a full flush, so the same compressed bytes stand for every copy.
    """
    block = "".join(row_xml("inte en adress", "Anna") for _ in range(20_000)).encode()[: 1 << 20]
    block = block[: block.rindex(b"</row>") + 6]
    head = (SHEET_HEAD.format(doctype="") + row_xml("E-post", "Namn")).encode()
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = packer.compress(head) + packer.flush(zlib.Z_FULL_FLUSH)
    repeated = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    last = packer.compress(SHEET_TAIL.encode()) + packer.flush()
    crc = zlib.crc32(head)
    for _ in range(unpacked_mb):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(SHEET_TAIL.encode(), crc)
    size = len(head) + len(block) * unpacked_mb + len(SHEET_TAIL)
    workbook(path, [])  # the other parts, then the sheet replaced by the bomb below
    with zipfile.ZipFile(path) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist() if "worksheets" not in info.filename}
    with open(path, "wb") as out:
        directory = b""
        for name, data in [*parts.items(), ("xl/worksheets/sheet1.xml", None)]:
            offset = out.tell()
            if data is None:
                body_size = len(first) + len(repeated) * unpacked_mb + len(last)
                header_crc, usize = crc, size
            else:
                packed = zlib.compressobj(6, zlib.DEFLATED, -15)
                body = packed.compress(data) + packed.flush()
                body_size, header_crc, usize = len(body), zlib.crc32(data), len(data)
            fields = struct.pack("<HHHHHIIIHH", 20, 0, 8, 0, 0, header_crc, body_size, usize, len(name), 0)
            out.write(b"PK\x03\x04" + fields + name.encode())
            if data is None:
                out.write(first)
                for _ in range(unpacked_mb):
                    out.write(repeated)
                out.write(last)
            else:
                out.write(body)
            directory += (b"PK\x01\x02" + struct.pack("<HHHHHHIIIHHHHHII", 20, 20, 0, 8, 0, 0, header_crc, body_size,
                                                      usize, len(name), 0, 0, 0, 0, 0, offset) + name.encode())
        start = out.tell()
        out.write(directory)
        out.write(b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, len(parts) + 1, len(parts) + 1, len(directory), start, 0))
    return path
