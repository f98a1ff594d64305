"""The mailbox over IMAP (the one imaplib module): verified TLS, login, messages streamed in batches, set aside."""

from __future__ import annotations

import base64
import imaplib
import os
import re
import ssl
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InboxError, MailboxUnavailable
from ..project.models import ImapSettings
from ..i18n import _

PASSWORD_ENV = "NYHETSBREV_IMAP_PASSWORD"
CAFILE_ENV = "NYHETSBREV_IMAP_CAFILE"
HANDLED_KEYWORD = "$NyhetsbrevHandled"  # set (with \Seen) when the server cannot MOVE
BATCH_BYTES = 8 * 1024 * 1024  # fetch at most this much at once: memory stays flat however big the mailbox
BATCH_COUNT = 250
FETCH_LIMIT = 256 * 1024  # bytes fetched of a message: all that is read of it (classify.PARSE_LIMIT)


@dataclass(frozen=True)
class Fetched:
    """One message as the server holds it: its UID in the folder and its first bytes (or why it cannot be read)."""

    key: int
    raw: bytes
    problem: str | None = None  # set when the message could not be read at all (raw is then empty)
    name: str | None = None  # what names it for a person when it cannot be read (an exported file's path)


def check_settings(imap: ImapSettings) -> None:
    """Refuse [imap] settings that cannot work, saying what to set."""
    if not imap.host:
        raise InboxError(
            _("no IMAP server is configured"),
            hint=_("add an [imap] section with host, username, folder and processed_folder to nyhetsbrev.toml and set {password_env}; or read exported messages with --from PATH").format(password_env=PASSWORD_ENV),
        )
    if imap.security not in ("tls", "starttls"):
        raise InboxError(_("IMAP security '{security}' is not known").format(security=imap.security), hint=_("use tls or starttls"))
    if not imap.username:
        raise InboxError(_("no IMAP username is configured"), hint=_('add username = "the mailbox address" to [imap]'))
    if imap.auth == "password" and not imap_password():
        raise InboxError(
            _("the IMAP username is {username} but {password_env} is not set").format(username=imap.username, password_env=PASSWORD_ENV),
            hint=_("set {password_env} in the environment (it is never stored)").format(password_env=PASSWORD_ENV),
        )


def imap_password() -> str | None:
    """NYHETSBREV_IMAP_PASSWORD, or None; InboxError, showing no character of it, when it is not UTF-8 text."""
    from ..mail.transport import password_from_environment

    return password_from_environment(PASSWORD_ENV, InboxError)


def tls_context() -> ssl.SSLContext:
    """A verifying TLS context: the system's CAs, or only NYHETSBREV_IMAP_CAFILE (else the SMTP one) when set."""
    from ..mail.transport import CAFILE_ENV as SMTP_CAFILE_ENV
    from ..mail.transport import tls_context as verifying_context

    cafile = os.environ.get(CAFILE_ENV) or os.environ.get(SMTP_CAFILE_ENV) or None
    if cafile and not Path(cafile).is_file():
        raise InboxError(_("the CA file {cafile} does not exist").format(cafile=cafile), hint=_("fix {cafile_env} or remove it").format(cafile_env=CAFILE_ENV))
    return verifying_context(cafile)


def encode_folder(name: str) -> str:
    """A folder name as IMAP wants it on the wire: modified UTF-7 (RFC 3501 5.1.3), quoted."""
    out, pending = [], []

    def flush() -> None:
        if pending:
            data = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(data).decode("ascii").rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    text = "".join(out)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Mailbox:
    """One IMAP session on the configured folder; read_only (EXAMINE, no flags, no moves) for --dry-run."""

    def __init__(self, settings: ImapSettings, *, read_only: bool = False) -> None:
        check_settings(settings)
        self.settings = settings
        self.read_only = read_only
        self.where = f"{settings.host}:{settings.port}"
        self._imap: imaplib.IMAP4 | None = None
        self._capabilities: set[str] = set()
        self._processed_ready = False

    @property
    def describe(self) -> str:
        """Where the messages are read from, for the summary."""
        return _("{folder} on {where} ({username})").format(folder=self.settings.folder, where=self.where,
                                                             username=self.settings.username)

    def __enter__(self) -> "Mailbox":
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Connect over verified TLS, log in and select the folder; InboxError/MailboxUnavailable on any failure."""
        s = self.settings
        context = tls_context()
        try:
            if s.security == "tls":
                imap = imaplib.IMAP4_SSL(s.host, s.port, ssl_context=context, timeout=s.timeout)
            else:
                imap = imaplib.IMAP4(s.host, s.port, timeout=s.timeout)
        except ssl.SSLCertVerificationError as exc:
            raise self._untrusted(exc) from None
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxUnavailable(
                _("cannot connect to the IMAP server {where}: {value}").format(where=self.where, value=exc or type(exc).__name__),
                hint=_("check host, port and security in the [imap] section of nyhetsbrev.toml, and the network"),
            ) from None
        imap.debug = 0  # imaplib's debug output would print the login
        try:
            if s.security == "starttls":
                self._starttls(imap, context)
            self._login(imap)
            self._refresh_capabilities(imap)
            self._select(imap)
        except BaseException:
            _quietly_close(imap)
            raise
        self._imap = imap

    def _starttls(self, imap: imaplib.IMAP4, context: ssl.SSLContext) -> None:
        if "STARTTLS" not in imap.capabilities:
            raise InboxError(
                _("the IMAP server {where} does not offer STARTTLS; nothing was sent in plain text").format(where=self.where),
                hint=_('use security = "tls" (usually port 993) if the server speaks TLS directly'),
            )
        try:
            imap.starttls(context)
        except ssl.SSLCertVerificationError as exc:
            raise self._untrusted(exc) from None
        except (OSError, imaplib.IMAP4.error) as exc:
            raise InboxError(_("STARTTLS with {where} failed ({exc}); nothing was sent in plain text").format(where=self.where, exc=exc)) from None

    def _login(self, imap: imaplib.IMAP4) -> None:
        s = self.settings
        if s.auth == "oauth2":
            return self._login_oauth2(imap)
        password = imap_password() or ""
        offered = {c.upper() for c in imap.capabilities}
        try:
            if "AUTH=PLAIN" in offered:
                secret = b"\0" + s.username.encode("utf-8") + b"\0" + password.encode("utf-8")
                imap.authenticate("PLAIN", lambda _challenge: secret)
            elif "LOGINDISABLED" not in offered and s.username.isascii() and password.isascii():
                imap.login(s.username, password)
            else:
                raise InboxError(
                    _("the IMAP server {where} offers no login method nyhetsbrev can use").format(where=self.where),
                    hint=_("nyhetsbrev logs in with AUTHENTICATE PLAIN (or LOGIN) over TLS"),
                )
        except imaplib.IMAP4.error:
            raise InboxError(
                _("the IMAP server {where} refused the login for {username}").format(where=self.where, username=s.username),
                hint=_("check username in [imap] and {password_env}").format(password_env=PASSWORD_ENV),
            ) from None
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise MailboxUnavailable(_("the IMAP server {where} closed the connection during login: {name}").format(where=self.where, name=type(exc).__name__)) from None

    def _login_oauth2(self, imap: imaplib.IMAP4) -> None:
        """AUTHENTICATE XOAUTH2 with a token renewed silently (SignInRequired: run 'nyhetsbrev login')."""
        from ..mail.oauth import access_token, xoauth2

        s = self.settings
        token = access_token(s, "imap")
        if "AUTH=XOAUTH2" not in {c.upper() for c in imap.capabilities}:
            raise InboxError(_("the IMAP server {where} does not offer OAuth 2.0 login (XOAUTH2)").format(where=self.where),
                             hint=_('for Microsoft 365 use host = "outlook.office365.com", port 993, security = "tls"'))
        answers = iter([xoauth2(s.username, token).encode("utf-8")])
        try:  # a refused token comes back as a challenge with the reasons, answered with an empty line
            imap.authenticate("XOAUTH2", lambda _challenge: next(answers, b""))
        except (OSError, imaplib.IMAP4.abort) as exc:  # abort first: it is a kind of IMAP4.error
            raise MailboxUnavailable(_("the IMAP server {where} closed the connection during login: {name}").format(where=self.where, name=type(exc).__name__)) from None
        except imaplib.IMAP4.error:
            raise InboxError(
                _("the IMAP server {where} refused the Microsoft 365 sign-in for {username}").format(where=self.where, username=s.username),
                hint=_("run 'nyhetsbrev login' and try again; if it is refused again, ask IT whether IMAP is enabled for this mailbox (see docs/microsoft365.md)"),
            ) from None

    def _refresh_capabilities(self, imap: imaplib.IMAP4) -> None:
        """The capabilities after login (servers may announce more, e.g. MOVE, once logged in)."""
        typ, data = imap.capability()
        words = data[0].decode("ascii", "replace").upper().split() if typ == "OK" and data and data[0] else []
        self._capabilities = set(words) or {c.upper() for c in imap.capabilities}

    def _select(self, imap: imaplib.IMAP4) -> None:
        folder = self.settings.folder
        typ, data = imap.select(encode_folder(folder), readonly=self.read_only)
        if typ != "OK":
            raise InboxError(
                _("the folder '{folder}' cannot be opened on {where}: {text}").format(folder=folder, where=self.where, text=_text(data)),
                hint=_('check folder in [imap] (default "INBOX")'),
            )

    def _untrusted(self, exc: ssl.SSLCertVerificationError) -> InboxError:
        reason = getattr(exc, "verify_message", "") or str(exc)
        return InboxError(
            _("the certificate of the IMAP server {where} cannot be trusted ({reason}); nothing was sent").format(where=self.where, reason=reason),
            hint=_("the server must present a valid certificate for {host}; for a private certificate authority set {cafile_env} to its certificate file").format(host=self.settings.host, cafile_env=CAFILE_ENV),
        )

    @property
    def can_move(self) -> bool:
        """True when the server moves messages itself (RFC 6851 MOVE)."""
        return "MOVE" in self._capabilities

    def _command(self, what: str, *args) -> list:
        """One UID command; a dropped connection becomes MailboxUnavailable, a NO/BAD an InboxError."""
        try:
            typ, data = self._imap.uid(what, *args)
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise MailboxUnavailable(
                _("the IMAP server {where} dropped the connection ({value})").format(where=self.where, value=exc or type(exc).__name__),
                hint=_("run the same command again: what was already applied is not applied twice"),
            ) from None
        except imaplib.IMAP4.error as exc:
            raise InboxError(_("the IMAP server {where} refused {what}: {exc}").format(where=self.where, what=what, exc=exc)) from None
        if typ != "OK":
            raise InboxError(_("the IMAP server {where} refused {what}: {text}").format(where=self.where, what=what, text=_text(data)))
        return data

    def pending(self) -> list[tuple[int, int]]:
        """(UID, size) of every message not yet set aside, oldest first."""
        uids = [int(u) for u in b" ".join(d for d in self._command("SEARCH", "UNKEYWORD", HANDLED_KEYWORD) if d).split()]
        sizes: dict[int, int] = {}
        for chunk in _chunks(uids, 1000):
            for item in self._command("FETCH", _uid_set(chunk), "(RFC822.SIZE)"):
                text = item if isinstance(item, bytes) else item[0] if isinstance(item, tuple) else b""
                uid, size = re.search(rb"UID (\d+)", text), re.search(rb"RFC822\.SIZE (\d+)", text)
                if uid and size:
                    sizes[int(uid.group(1))] = int(size.group(1))
        return [(uid, sizes[uid]) for uid in sorted(uids) if uid in sizes]

    def messages(self, pending: Iterable[tuple[int, int]] | None = None) -> Iterator[Fetched]:
        """The messages (their first FETCH_LIMIT bytes, read without marking them seen), in batches of bounded size."""
        batch: list[int] = []
        held = 0
        for uid, size in (self.pending() if pending is None else pending):
            size = min(size, FETCH_LIMIT)
            if batch and (held + size > BATCH_BYTES or len(batch) >= BATCH_COUNT):
                yield from self._fetch(batch)
                batch, held = [], 0
            batch.append(uid)
            held += size
        if batch:
            yield from self._fetch(batch)

    def _fetch(self, uids: list[int]) -> Iterator[Fetched]:
        data = self._command("FETCH", _uid_set(uids), f"(UID BODY.PEEK[]<0.{FETCH_LIMIT}>)")
        found: dict[int, bytes] = {}
        for index, item in enumerate(data):
            if not isinstance(item, tuple):
                continue
            match = re.search(rb"UID (\d+)", item[0])
            if match is None and index + 1 < len(data) and isinstance(data[index + 1], bytes):
                match = re.search(rb"UID (\d+)", data[index + 1])  # some servers put UID after the literal
            if match:
                found[int(match.group(1))] = item[1]
        data.clear()
        for uid in uids:
            if uid in found:
                yield Fetched(uid, found.pop(uid))

    def set_aside(self, uids: list[int]) -> None:
        """Move handled messages to processed_folder (made when missing), or flag them \\Seen and handled."""
        if not uids or self.read_only:
            return
        if self.can_move:
            self._ensure_processed_folder()
            for chunk in _chunks(uids, 500):
                self._command("MOVE", _uid_set(chunk), encode_folder(self.settings.processed_folder))
        else:
            for chunk in _chunks(uids, 500):
                self._command("STORE", _uid_set(chunk), "+FLAGS.SILENT", f"(\\Seen {HANDLED_KEYWORD})")

    def has_folder(self, name: str) -> bool:
        """True when the folder exists on the server (LIST; nothing is created or changed)."""
        try:
            typ, data = self._imap.list('""', encode_folder(name))
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise MailboxUnavailable(_("the IMAP server {where} dropped the connection ({exc})").format(where=self.where, exc=exc)) from None
        return typ == "OK" and any(d for d in data or [])

    def flag_for_person(self, uids: list[int]) -> None:
        """Flag messages that wait for a person (\\Flagged, shown in every mail program); they stay where they are."""
        if not uids or self.read_only:
            return
        for chunk in _chunks(uids, 500):
            self._command("STORE", _uid_set(chunk), "+FLAGS.SILENT", "(\\Flagged)")

    def _ensure_processed_folder(self) -> None:
        if self._processed_ready:
            return
        name = encode_folder(self.settings.processed_folder)
        try:
            typ, data = self._imap.list('""', name)
            if typ == "OK" and not any(data and d for d in data):
                typ, data = self._imap.create(name)
                if typ != "OK" and b"ALREADYEXISTS" not in b" ".join(d for d in data if isinstance(d, bytes)).upper():
                    raise InboxError(
                        _("the folder '{processed_folder}' cannot be created on {where}: {text}").format(processed_folder=self.settings.processed_folder, where=self.where, text=_text(data)),
                        hint=_("create it in your mail program, or change processed_folder in [imap]"),
                    )
                self._imap.subscribe(name)
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise MailboxUnavailable(_("the IMAP server {where} dropped the connection ({exc})").format(where=self.where, exc=exc)) from None
        self._processed_ready = True

    def close(self) -> None:
        """Log out politely when possible; always drop the socket."""
        imap, self._imap = self._imap, None
        if imap is not None:
            try:
                imap.logout()
            except (OSError, imaplib.IMAP4.error, imaplib.IMAP4.abort):
                pass
            _quietly_close(imap)


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _uid_set(uids: list[int]) -> str:
    """A compact UID set: 1:5,9,12:14."""
    parts, ordered = [], sorted(uids)
    start = prev = ordered[0]
    for uid in ordered[1:] + [None]:
        if uid is not None and uid == prev + 1:
            prev = uid
            continue
        parts.append(f"{start}:{prev}" if prev != start else str(start))
        if uid is not None:
            start = prev = uid
    return ",".join(parts)


def _text(data) -> str:
    parts = [d.decode("utf-8", "replace") if isinstance(d, bytes) else str(d) for d in (data or []) if d]
    return " ".join(" ".join(parts).split()) or _("no reason given")


def _quietly_close(imap: imaplib.IMAP4) -> None:
    try:
        imap.shutdown()
    except (OSError, AttributeError):
        pass
