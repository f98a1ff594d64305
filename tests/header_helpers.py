"""Reading header lines back the way RFC 5322 and RFC 2047 say (not the way one parser happens to)."""

from __future__ import annotations

from email.header import decode_header, make_header
from email.utils import getaddresses


def header_lines(data: bytes) -> list[bytes]:
    """The raw header lines of a message (folded lines kept apart)."""
    return data.partition(b"\r\n\r\n")[0].split(b"\r\n")


def raw_header(data: bytes, name: str) -> str:
    """The unfolded raw value of the one header called name (fails when there are several or none)."""
    found, current = [], None
    for line in header_lines(data):
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current.append(line)
            continue
        current = [line] if line.lower().startswith(name.lower().encode("ascii") + b":") else None
        if current is not None:
            found.append(current)
    assert len(found) == 1, f"{len(found)} {name} headers"
    return b"".join(found[0]).decode("ascii").split(":", 1)[1].strip()


def addresses(data: bytes, name: str = "To") -> list[tuple[str, str]]:
    """email.utils.getaddresses over the raw header: (display name as written, address) pairs."""
    return getaddresses([raw_header(data, name)])


def decoded(text: str) -> str:
    """Encoded words (RFC 2047) decoded; whitespace between two encoded words dropped as the RFC says."""
    return str(make_header(decode_header(text)))


def display_name(data: bytes) -> str:
    """The To header's display name, decoded."""
    (name, _), = addresses(data)
    return decoded(name)
