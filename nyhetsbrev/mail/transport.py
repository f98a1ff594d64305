"""SMTP delivery: verified TLS, AUTH from the environment, one envelope per message, replies classified by code."""

from __future__ import annotations

import base64
import dataclasses
import functools
import ipaddress
import os
import re
import smtplib
import socket
import ssl
import threading
import time
from pathlib import Path

from ..errors import NyhetsbrevError, SmtpConfigError, SmtpUnavailable, TransportError
from ..project.models import SmtpSettings
from .replies import DEFERRED, FAILED, RECONNECT, SENT, UNKNOWN, Result, classify, is_bad_address  # noqa: F401  (used as transport.SENT …)
from ..i18n import _
from . import wire

PASSWORD_ENV = "NYHETSBREV_SMTP_PASSWORD"
CAFILE_ENV = "NYHETSBREV_SMTP_CAFILE"

def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_settings(smtp: SmtpSettings) -> None:
    """Refuse settings that cannot work or are unsafe, saying exactly what to set."""
    if not smtp.host:
        raise SmtpConfigError(
            _("no SMTP server is configured"),
            hint=_('add host = "smtp.example.se" (with port, security and username as your mail provider says) to the smtp section of nyhetsbrev.toml, or set NYHETSBREV_SMTP_HOST; put the password in NYHETSBREV_SMTP_PASSWORD; or use --outbox DIR to write .eml files instead'),
        )
    if smtp.security not in ("starttls", "tls", "none"):
        raise SmtpConfigError(_("SMTP security '{security}' is not known").format(security=smtp.security), hint=_("use starttls, tls or none"))
    if smtp.security == "none" and not is_loopback(smtp.host):
        raise SmtpConfigError(
            _('security = "none" would send in plain text to {host}').format(host=smtp.host),
            hint=_("use starttls (port 587) or tls (port 465); none is only allowed towards this computer (localhost)"),
        )
    if smtp.username and smtp.auth != "oauth2" and not smtp_password():
        raise SmtpConfigError(
            _("the SMTP username is {username} but {password_env} is not set").format(username=smtp.username, password_env=PASSWORD_ENV),
            hint=_("set {password_env} in the environment before sending (it is never stored)").format(password_env=PASSWORD_ENV),
        )


def smtp_password() -> str | None:
    """NYHETSBREV_SMTP_PASSWORD, or None; SmtpConfigError, showing no character of it, when it is not UTF-8 text."""
    return password_from_environment(PASSWORD_ENV, SmtpConfigError)


def password_from_environment(name: str, error: type[NyhetsbrevError]) -> str | None:
    """The password in the environment variable name, or None; error, showing no character of it, when it is not UTF-8."""
    password = os.environ.get(name)
    if password is not None:
        try:
            password.encode("utf-8")
        except UnicodeEncodeError:  # bytes that were not UTF-8, kept by Python as lone surrogates
            raise error(
                _("{name} is not valid UTF-8 text (the password is not shown)").format(name=name),
                hint=_("set {name} again from a terminal or password manager that uses UTF-8").format(name=name),
            ) from None
    return password


def check_sign_in(smtp: SmtpSettings) -> None:
    """With auth = "oauth2": a valid token now (renewed silently), else SignInRequired saying to run 'nyhetsbrev login'."""
    if smtp.auth == "oauth2":
        from .oauth import access_token

        access_token(smtp, "smtp")


def tls_context(cafile: str | Path | None = None) -> ssl.SSLContext:
    """A verifying TLS context: the system's CAs, or only the CA file given (NYHETSBREV_SMTP_CAFILE)."""
    cafile = cafile or os.environ.get(CAFILE_ENV) or None
    if cafile and not Path(cafile).is_file():
        raise SmtpConfigError(_("the CA file {cafile} does not exist").format(cafile=cafile), hint=_("fix {cafile_env} or remove it").format(cafile_env=CAFILE_ENV))
    context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


@functools.cache
def _local_hostname() -> str:
    name = socket.gethostname() or "localhost"
    return name if "." in name else f"{name}.localdomain"


def _text(raw: bytes | str) -> str:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    return " ".join(raw.split())


_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")


def _angled(address: str) -> str:
    """smtplib.quoteaddr(address), without parsing the address when it is a plain one (as nearly all are)."""
    return f"<{address}>" if _DOT_ATOM.fullmatch(address) else smtplib.quoteaddr(address)


class Connection:
    """One SMTP session that sends pre-built messages, one envelope each; reconnects on demand."""

    def __init__(self, smtp: SmtpSettings, *, cafile: str | Path | None = None, login: bool = True) -> None:
        check_settings(smtp if login else dataclasses.replace(smtp, username=None))  # no login: no password needed
        self.login = login
        self.settings = smtp
        self.cafile = cafile
        self._smtp: smtplib.SMTP | None = None

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    @property
    def is_open(self) -> bool:
        """True while a session is established."""
        return self._smtp is not None

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Connect, secure the session as configured and log in (not when made with login=False); TransportError on any failure."""
        self.close()
        s = self.settings
        context = tls_context(self.cafile) if s.security in ("starttls", "tls") else None
        try:
            if s.security == "tls":
                smtp = smtplib.SMTP_SSL(s.host, s.port, local_hostname=_local_hostname(), timeout=s.timeout, context=context)
            else:
                smtp = smtplib.SMTP(s.host, s.port, local_hostname=_local_hostname(), timeout=s.timeout)
        except ssl.SSLCertVerificationError as exc:
            raise self._untrusted(exc) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise SmtpUnavailable(
                _("cannot connect to the SMTP server {where}: {value}").format(where=self.where, value=_text(str(exc)) or type(exc).__name__),
                hint=_("check host and port in the smtp section of nyhetsbrev.toml (or NYHETSBREV_SMTP_HOST/PORT) and the network"),
            ) from None
        smtp.set_debuglevel(0)  # smtplib's debug output would print the AUTH exchange
        try:
            self._greet(smtp, context)
            if self.login:
                self._login(smtp)
        except BaseException:
            _quietly_close(smtp)
            raise
        self._smtp = smtp

    def offered_auth(self) -> list[str]:
        """The AUTH mechanisms the open session offers (after STARTTLS), upper case; [] when it offers none."""
        smtp = self._smtp
        return (smtp.esmtp_features.get("auth") or "").upper().split() if smtp and smtp.has_extn("auth") else []

    def _greet(self, smtp: smtplib.SMTP, context: ssl.SSLContext | None) -> None:
        try:
            code, text = smtp.ehlo()
            if code != 250:
                code, text = smtp.helo()
                if code != 250:
                    raise TransportError(_("{where} refused the greeting: {code} {text}").format(where=self.where, code=code, text=_text(text)))
            if self.settings.security != "starttls":
                return
            if not smtp.has_extn("starttls"):
                raise TransportError(
                    _("the SMTP server {where} does not offer STARTTLS; nothing was sent in plain text").format(where=self.where),
                    hint=_('use security = "tls" if the server speaks TLS directly (often port 465), or ask the mail administrator to enable STARTTLS'),
                )
            code, text = smtp.docmd("STARTTLS")
            if code != 220:
                raise TransportError(_("{where} refused STARTTLS: {code} {text}; nothing was sent in plain text").format(where=self.where, code=code, text=_text(text)))
            smtp.sock = context.wrap_socket(smtp.sock, server_hostname=self.settings.host)
            smtp.file = None
            smtp.helo_resp = smtp.ehlo_resp = None
            smtp.esmtp_features = {}
            smtp.does_esmtp = False
            code, text = smtp.ehlo()
            if code != 250:
                raise TransportError(_("{where} refused the greeting after STARTTLS: {code} {text}").format(where=self.where, code=code, text=_text(text)))
        except ssl.SSLCertVerificationError as exc:
            raise self._untrusted(exc) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise SmtpUnavailable(_("the SMTP server {where} closed the connection while greeting: {text}").format(where=self.where, text=_text(str(exc)))) from None

    def _login(self, smtp: smtplib.SMTP) -> None:
        username = self.settings.username
        if not username:
            return
        if self.settings.auth == "oauth2":
            return self._login_oauth2(smtp, username)
        password = smtp_password()
        if not password:
            raise SmtpConfigError(_("{password_env} is not set").format(password_env=PASSWORD_ENV), hint=_("set it in the environment before sending"))
        if not smtp.has_extn("auth"):
            raise TransportError(
                _("the SMTP server {where} does not offer login (AUTH) on this connection").format(where=self.where),
                hint=_("check port and security with your mail provider, or remove username if the relay needs no login"),
            )
        methods = (smtp.esmtp_features.get("auth") or "").upper().split()
        try:
            code, text = _authenticate(smtp, methods, username, password)
        except (OSError, smtplib.SMTPException) as exc:
            raise SmtpUnavailable(_("the SMTP server {where} closed the connection during login: {name}").format(where=self.where, name=type(exc).__name__)) from None
        if code is None:
            raise TransportError(
                _("the SMTP server {where} offers no login method nyhetsbrev knows ({join})").format(where=self.where, join=' '.join(methods)),
                hint=_("nyhetsbrev logs in with PLAIN or LOGIN over TLS"),
            )
        if code != 235:
            raise TransportError(
                _("the SMTP server {where} refused the login for {username}: {code} {text}").format(where=self.where, username=username, code=code, text=_text(text)),
                hint=_("check the username and {password_env}").format(password_env=PASSWORD_ENV),
            )

    def _login_oauth2(self, smtp: smtplib.SMTP, username: str) -> None:
        """AUTH XOAUTH2 with the initial response: the mailbox and a bearer token renewed silently when needed."""
        from .oauth import access_token, xoauth2

        token = access_token(self.settings, "smtp")
        methods = (smtp.esmtp_features.get("auth") or "").upper().split() if smtp.has_extn("auth") else []
        if "XOAUTH2" not in methods:
            raise TransportError(
                _("the SMTP server {where} does not offer OAuth 2.0 login (XOAUTH2) on this connection").format(where=self.where),
                hint=_('for Microsoft 365 use host = "smtp.office365.com", port 587, security = "starttls"'),
            )
        # On a refused token the server sends a 334 challenge with its reasons; the answer is an empty line.
        answer = functools.partial(_xoauth2_answer, xoauth2(username, token))
        try:
            code, text = smtp.auth("XOAUTH2", answer, initial_response_ok=True)
        except smtplib.SMTPAuthenticationError as exc:
            code, text = exc.smtp_code, exc.smtp_error
        except (OSError, smtplib.SMTPException) as exc:
            raise SmtpUnavailable(_("the SMTP server {where} closed the connection during login: {name}").format(where=self.where, name=type(exc).__name__)) from None
        if code != 235:
            raise TransportError(
                _("the SMTP server {where} refused the Microsoft 365 sign-in for {username}: {code} {text}").format(where=self.where, username=username, code=code, text=_text(text)),
                hint=_("run 'nyhetsbrev login' and try again; if it is refused again, ask IT whether SMTP AUTH is enabled for this mailbox (see docs/microsoft365.md)"),
            )

    def _untrusted(self, exc: ssl.SSLCertVerificationError) -> TransportError:
        reason = getattr(exc, "verify_message", "") or _text(str(exc))
        return TransportError(
            _("the certificate of the SMTP server {where} cannot be trusted ({reason}); nothing was sent").format(where=self.where, reason=reason),
            hint=_("the server must present a valid certificate for {host}; for a private certificate authority set {cafile_env} to its certificate file").format(host=self.settings.host, cafile_env=CAFILE_ENV),
        )

    def send(self, sender: str, recipient: str, data: bytes, *, stuffed: bool = False) -> Result:
        """Send one pre-built message to exactly one recipient (MAIL, one RCPT, DATA); never raises for replies.

        stuffed: data is as DATA sends it already (dot-stuffed, ended by CRLF . CRLF: MessageTemplate.wire).
        """
        if self._smtp is None:
            self.open()
        smtp = self._smtp
        data_sent = False
        try:
            code, text = self._envelope(smtp, sender, recipient)
            if code != 354:
                return self._rejected(code, text)
            smtp.send(data if stuffed else wire.ended(wire.dot_stuffed(data)))
            data_sent = True
            code, text = smtp.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            lost = f"connection lost ({_text(str(exc)) or type(exc).__name__})"
            return Result(UNKNOWN if data_sent else RECONNECT, None, lost)
        if code == 250:
            return Result(SENT, code, _text(text))
        return self._rejected(code, text, data_sent=True)

    def _envelope(self, smtp: smtplib.SMTP, sender: str, recipient: str) -> tuple[int, bytes]:
        """MAIL, RCPT and DATA: the first reply that is not a go-ahead, or DATA's 354."""
        if not smtp.has_extn("pipelining"):  # as smtplib's mail(), rcpt() and data() send them
            smtp.putcmd("mail", f"FROM:{_angled(sender)}")
            code, text = smtp.getreply()
            if code != 250:
                return code, text
            smtp.putcmd("rcpt", f"TO:{_angled(recipient)}")
            code, text = smtp.getreply()
            if code not in (250, 251):
                return code, text
            smtp.putcmd("data")
            return smtp.getreply()
        # RFC 2920: the three commands in one packet, then their three replies in order.
        smtp.send(f"MAIL FROM:{_angled(sender)}\r\nRCPT TO:{_angled(recipient)}\r\nDATA\r\n".encode("ascii"))
        replies = [smtp.getreply()]
        if replies[0][0] == 421:
            return replies[0]
        replies += [smtp.getreply(), smtp.getreply()]
        (mail, mail_text), (rcpt, rcpt_text), (go, go_text) = replies
        if go == 354 and (mail != 250 or rcpt not in (250, 251)):
            smtp.send(b".\r\n")  # a server that said 354 anyway gets an empty, recipient-less message ended at once
            smtp.getreply()
        if mail != 250:
            return mail, mail_text
        if rcpt not in (250, 251):
            return rcpt, rcpt_text
        return go, go_text

    def _rejected(self, code: int, text: bytes | str, *, data_sent: bool = False) -> Result:
        result = classify(code, _text(text), data_sent=data_sent)
        if result.kind in (RECONNECT, UNKNOWN):
            self.close()
        else:
            try:
                if self._smtp.rset()[0] != 250:
                    self.close()
            except (OSError, smtplib.SMTPException):
                self.close()
        return result

    def close(self) -> None:
        """End the session politely when possible; always drop the socket."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            _quietly_close(smtp)


def _authenticate(smtp: smtplib.SMTP, methods: list[str], username: str, password: str) -> tuple[int | None, bytes]:
    """AUTH PLAIN (else LOGIN) with UTF-8 credentials; smtplib's login() cannot send a non-ASCII password."""
    user, secret = username.encode("utf-8"), password.encode("utf-8")
    if "PLAIN" in methods:
        token = base64.b64encode(b"\0" + user + b"\0" + secret).decode("ascii")
        return smtp.docmd("AUTH", "PLAIN " + token)
    if "LOGIN" in methods:
        code, text = smtp.docmd("AUTH", "LOGIN")
        if code == 334:
            code, text = smtp.docmd(base64.b64encode(user).decode("ascii"))
        if code == 334:
            code, text = smtp.docmd(base64.b64encode(secret).decode("ascii"))
        return code, text
    return None, b""


def _xoauth2_answer(initial: str, challenge: bytes | None = None) -> str:
    return "" if challenge is not None else initial


def _quietly_close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.close()
    except OSError:
        pass


def deliver(conn: Connection, sender: str, recipient: str, data: bytes,
            stop: threading.Event | None = None, *, stuffed: bool = False) -> Result:
    """Send one message, on a new connection when the server dropped the last one before the message was complete."""
    result = None
    for attempt in range(3):
        if attempt:
            time.sleep(0.05 * (2 ** (attempt - 1)))
        _connect(conn, stop)
        result = conn.send(sender, recipient, data, stuffed=stuffed)
        if result.kind != RECONNECT:
            break
    return result


def _connect(conn: Connection, stop: threading.Event | None) -> None:
    """Open the connection if it is closed, waiting a little between tries while the server cannot be reached."""
    if conn.is_open:
        return
    for wait in (0.2, 0.5, 1.0, 2.0, None):
        try:
            conn.open()
            return
        except SmtpUnavailable:
            if wait is None or (stop is not None and stop.is_set()):
                raise
            time.sleep(wait)
