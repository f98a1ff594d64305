"""The newsletter's secret key, keyed address hashes (for forget) and one-click unsubscribe tokens."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from urllib.parse import unquote
from pathlib import Path

from ..errors import StoreError, TokenError
from ..project.headers import unicode_domain

KEY_ENV = "NYHETSBREV_KEY_FILE"
KEY_BYTES = 32
_SPACES = " \t\u00a0\u202f\u2007\ufeff\u200b"
_TOKEN_MAC_BYTES = 16
# A token as it appears in a link or a subject: base64url of the address, a dot, the 16-byte MAC (22 characters).
TOKEN_PATTERN = re.compile(r"(?<![A-Za-z0-9_-])([A-Za-z0-9_-]{4,400}\.[A-Za-z0-9_-]{22})(?![A-Za-z0-9_-])")


def normalise_address(address: str) -> str:
    """The comparison key of an address: trimmed, lower case, domain in Unicode by IDNA 2008 / UTS 46 (ß stays ß).

    The one key used by import, add, unsubscribe, forget, the ledger and the send: two addresses are the same
    person exactly when their keys are equal.
    """
    text = address.strip(_SPACES)
    local, at, domain = text.rpartition("@")
    if not at:
        return text.lower()
    return f"{local.lower()}@{unicode_domain(domain)}"


def default_key_path(db_path: Path) -> Path:
    """NYHETSBREV_KEY_FILE when set, else the .key file next to the database."""
    named = os.environ.get(KEY_ENV)
    return Path(named).expanduser() if named else Path(db_path).with_suffix(".key")


def load_or_create_key(path: Path) -> bytes:
    """Read the key file, creating it (random, mode 0600) when it does not exist yet."""
    path = Path(path)
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(KEY_BYTES) + "\n")
        try:
            os.link(temp, path)  # atomic: never overwrites a key another process just made
        except FileExistsError:
            pass
    finally:
        temp.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise StoreError(
            "the key file is not a nyhetsbrev key",
            path=path,
            hint="restore it from your backup; without it forgotten addresses and unsubscribe links cannot be checked",
        )
    if os.name == "posix" and path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return key


def address_hash(key: bytes, address: str) -> str:
    """Keyed HMAC-SHA256 (hex) of the normalised address; what is kept of a forgotten person."""
    message = b"address\0" + normalise_address(address).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _token_mac(key: bytes, address: str) -> bytes:
    message = b"unsubscribe\0" + normalise_address(address).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).digest()[:_TOKEN_MAC_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(key: bytes, address: str) -> str:
    """A URL-safe token for a personal one-click unsubscribe link."""
    address = address.strip(_SPACES)
    return f"{_b64(address.encode('utf-8'))}.{_b64(_token_mac(key, address))}"


def verify_token(key: bytes, token: str) -> str:
    """The address a token was made for; TokenError when it is malformed or forged."""
    bad = TokenError(
        "this unsubscribe token is not valid",
        hint="copy the whole link from the newsletter, or unsubscribe by address instead",
    )
    payload, dot, mac = (token or "").strip().partition(".")
    if not dot or not payload or not mac:
        raise bad
    try:
        address = _unb64(payload).decode("utf-8")
        given = _unb64(mac)
    except (binascii.Error, ValueError):
        raise bad from None
    if "@" not in address or not hmac.compare_digest(given, _token_mac(key, address)):
        raise bad
    return address


def find_tokens(text: str) -> list[str]:
    """Every token-shaped string in text (a bare token, a whole https or mailto link, a subject), in order, once each."""
    return list(dict.fromkeys(TOKEN_PATTERN.findall(unquote(text or ""))))
