"""The newsletter's secret key, keyed address hashes (for forget) and one-click unsubscribe tokens.

A token is the address encrypted with AES-SIV under a key derived from the newsletter's key: opaque (nothing personal
can be read from it, its length says only which 16-byte step the address falls in), authenticated, and checked
without the database. Tokens of issues sent before (the address in base64 and a MAC) still verify.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import re
import secrets
from urllib.parse import unquote
from pathlib import Path

from ..errors import StoreError, TokenError
from ..project.headers import unicode_domain
from ..i18n import _

KEY_ENV = "NYHETSBREV_KEY_FILE"
KEY_BYTES = 32
_SPACES = " \t\u00a0\u202f\u2007\ufeff\u200b"
_TOKEN_MAC_BYTES = 16
_TOKEN_BLOCK = 16  # the encrypted address is padded to a multiple of this: its exact length is not told
_TOKEN_CONTEXT = [b"nyhetsbrev unsubscribe token"]  # associated data: a token is valid only as a token
# A token as it appears in a link or a subject: base64url of the encrypted address (or, in tokens made before, of the
# address itself), a dot, the 16-byte tag or MAC (22 characters).
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


def _rename_unless_there(temp: Path, path: Path) -> None:
    """Move temp to path unless a key is there already (os.rename refuses an existing target on Windows)."""
    if path.exists():
        return
    try:
        os.rename(temp, path)
    except FileExistsError:
        pass


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
        except OSError:  # no hard links here (FAT, some network drives): os.rename on Windows never overwrites either
            _rename_unless_there(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return _read_key(path)


def read_key(path: Path) -> bytes | None:
    """The key in the key file, or None when there is none yet (nothing is created)."""
    try:
        return _read_key(Path(path))
    except FileNotFoundError:
        return None


def web_version_folder(key: bytes, issue_folder: str, version: str) -> str:
    """The folder of an audience version's web page in the archive: 'politiker-3f9a1c2b7e0d4a58'.

    The version key (render.issue.version_key) and 16 hex digits of an HMAC of issue and version with the
    newsletter's key: the same on every run, and not to be guessed from the public page's address.
    """
    message = b"web-version\0" + issue_folder.encode("utf-8") + b"\0" + version.encode("utf-8")
    return f"{version}-{hmac.new(key, message, hashlib.sha256).hexdigest()[:16]}"


def _read_key(path: Path) -> bytes:
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise StoreError(
            _("the key file is not a nyhetsbrev key"),
            path=path,
            hint=_("restore it from your backup; without it forgotten addresses and unsubscribe links cannot be checked"),
        )
    if os.name == "posix" and path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return key


def address_hash(key: bytes, address: str) -> str:
    """Keyed HMAC-SHA256 (hex) of the normalised address; what is kept of a forgotten person."""
    message = b"address\0" + normalise_address(address).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _token_mac(key: bytes, address: str) -> bytes:
    """The MAC of a token made before tokens were encrypted (still checked, so links in issues sent keep working)."""
    message = b"unsubscribe\0" + normalise_address(address).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).digest()[:_TOKEN_MAC_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@functools.lru_cache(maxsize=8)
def _cipher(key: bytes):
    """AES-256-SIV under a key of its own, derived from the newsletter's key (made once per key)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESSIV

    return AESSIV(hmac.new(key, b"unsubscribe token AES-SIV", hashlib.sha512).digest())


def make_token(key: bytes, address: str) -> str:
    """A URL-safe, opaque token for a personal one-click unsubscribe link: the address encrypted with AES-SIV."""
    data = address.strip(_SPACES).encode("utf-8") + b"\x80"  # ISO/IEC 7816-4 padding: 0x80, then zeros
    data += b"\0" * (-len(data) % _TOKEN_BLOCK)
    sealed = _cipher(key).encrypt(data, _TOKEN_CONTEXT)  # the 16-byte synthetic IV (the tag), then the ciphertext
    return f"{_b64(sealed[16:])}.{_b64(sealed[:16])}"


def verify_token(key: bytes, token: str) -> str:
    """The address a token was made for (today's or an earlier kind); TokenError when it is malformed or forged."""
    bad = TokenError(
        _("this unsubscribe token is not valid"),
        hint=_("copy the whole link from the newsletter, or unsubscribe by address instead"),
    )
    payload, dot, mac = (token or "").strip().partition(".")
    if not dot or not payload or not mac:
        raise bad
    try:
        body, tag = _unb64(payload), _unb64(mac)
    except (binascii.Error, ValueError):
        raise bad from None
    address = _opened(key, body, tag)
    if address is None:
        address = _earlier_token(key, body, tag)
    if address is None:
        raise bad
    return address


def _opened(key: bytes, body: bytes, tag: bytes) -> str | None:
    """The address in an encrypted token, or None when it is not one made with this key."""
    from cryptography.exceptions import InvalidTag

    if len(tag) != 16 or not body or len(body) % _TOKEN_BLOCK:
        return None
    try:
        data = _cipher(key).decrypt(tag + body, _TOKEN_CONTEXT)
    except InvalidTag:
        return None
    data = data.rstrip(b"\0")
    if not data.endswith(b"\x80"):
        return None
    try:
        address = data[:-1].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return address if "@" in address else None


def _earlier_token(key: bytes, body: bytes, mac: bytes) -> str | None:
    """The address of a token made before tokens were encrypted (base64 of the address, a MAC), or None."""
    try:
        address = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "@" not in address or not hmac.compare_digest(mac, _token_mac(key, address)):
        return None
    return address


def find_tokens(text: str) -> list[str]:
    """Every token-shaped string in text (a bare token, a whole https or mailto link, a subject), in order, once each."""
    return list(dict.fromkeys(TOKEN_PATTERN.findall(unquote(text or ""))))
