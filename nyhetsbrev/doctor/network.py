"""The servers doctor asks: the relay (nothing sent), the mailbox (nothing changed), unsubscribe_url and archive_url."""

from __future__ import annotations

import dataclasses
import socket
import ssl
import urllib.error
import urllib.request
from urllib.parse import quote

from ..errors import NyhetsbrevError
from ..i18n import _
from ..project.models import Settings
from .checks import Check, fail, ok, skipped

HTTP_TIMEOUT = 10.0  # seconds for one web request
INVALID_TOKEN = "nyhetsbrev-doctor-invalid-token"  # never verifies: a real token is signed with the project's key


def relay_checks(settings: Settings) -> list[Check]:
    """The relay answers and secures the session with a verified certificate, and offers the sign-in nyhetsbrev uses."""
    from ..mail import transport
    from ..mail.probe import USABLE_AUTH, probe_relay

    smtp = settings.smtp
    title = _("Relay {host}:{port}").format(host=smtp.host, port=smtp.port)
    try:  # without the login part: the relay can be asked before the password is set
        transport.check_settings(dataclasses.replace(smtp, username=None))
    except NyhetsbrevError:
        return []  # reported among the settings
    try:
        found = probe_relay(smtp)
    except NyhetsbrevError as exc:
        return [fail("relay", title, exc.what, exc.hint or _("Ask IT whether this computer may reach the relay"))]
    secured = {"starttls": _("STARTTLS with a verified certificate"), "tls": _("TLS with a verified certificate"),
               "none": _("no TLS (security = \"none\", this computer only)")}[found.security]
    checks = [ok("relay", title, _("answers; {secured}; nothing was sent").format(secured=secured))]
    sign_in = _("Sign-in at {host}").format(host=smtp.host)
    offered = " ".join(found.auth) or _("none")
    if smtp.auth == "oauth2":
        if "XOAUTH2" not in found.auth:
            checks.append(fail("relay.auth", sign_in, _("the relay offers no OAuth 2.0 sign-in (XOAUTH2); it offers: "
                                                        "{offered}").format(offered=offered), _(
                "Use host = \"smtp.office365.com\", port 587, security = \"starttls\"; and ask IT to allow SMTP AUTH "
                "for the mailbox {user} (Set-CASMailbox -SmtpClientAuthenticationDisabled $false, see "
                "docs/microsoft365.md)").format(user=smtp.username)))
            return checks
        try:
            transport.check_sign_in(smtp)
        except NyhetsbrevError as exc:
            checks.append(fail("relay.auth", sign_in, exc.what, exc.hint))
            return checks
        checks.append(ok("relay.auth", sign_in, _("offers XOAUTH2, and {user} is signed in").format(user=smtp.username)))
    elif smtp.username:
        usable = [m for m in USABLE_AUTH["password"] if m in found.auth]
        if usable:
            checks.append(ok("relay.auth", sign_in, _("offers {methods} for {user}").format(
                methods=", ".join(usable), user=smtp.username)))
        else:
            checks.append(fail("relay.auth", sign_in, _("the relay offers no login nyhetsbrev can use (PLAIN or LOGIN); "
                                                        "it offers: {offered}").format(offered=offered), _(
                "Ask IT whether the relay takes a login on port {port} (AUTH PLAIN or LOGIN over TLS), or remove "
                "username from [smtp] if it accepts mail from this computer without one").format(port=smtp.port)))
    else:
        checks.append(skipped("relay.auth", sign_in, _("no username in [smtp]: the relay must accept mail from this "
                                                       "computer without a login")))
    return checks


def mailbox_checks(settings: Settings) -> list[Check]:
    """IMAP: verified TLS, the login, the folder read (EXAMINE: nothing changes) and whether processed_folder exists."""
    from ..inbox.mailbox import Mailbox, check_settings

    imap = settings.imap
    if not imap.host:
        return []
    try:
        check_settings(imap)
    except NyhetsbrevError:
        return []  # reported among the settings
    title = _("Mailbox {user} at {host}").format(user=imap.username, host=imap.host)
    try:
        with Mailbox(imap, read_only=True) as box:
            has_processed = box.has_folder(imap.processed_folder)
    except NyhetsbrevError as exc:
        return [fail("mailbox", title, exc.what, exc.hint or _("Ask IT whether this computer may reach the mailbox"))]
    processed = (_("'{folder}' is there") if has_processed else _("'{folder}' is made by the first nyhetsbrev inbox"))
    return [ok("mailbox", title, _("logged in over TLS; '{folder}' opens; {processed}").format(
        folder=imap.folder, processed=processed.format(folder=imap.processed_folder)))]


def web_checks(settings: Settings) -> list[Check]:
    """unsubscribe_url turns away a link with an invalid token (400, as nyhetsbrev serve does); archive_url answers."""
    checks = []
    url = settings.unsubscribe_url
    title = f"unsubscribe_url {url}"
    if not url:
        checks.append(skipped("unsubscribe_url", _("unsubscribe_url"), _(
            "not set: the emails offer unsubscribing by mail only (Gmail and Yahoo ask senders of bulk mail for "
            "one-click unsubscribe over https)")))
    else:
        status, reason = http_get(f"{url}?token={quote(INVALID_TOKEN)}", follow=False)
        if status == 400:
            checks.append(ok("unsubscribe_url", title, _("answers a link with an invalid token with 400, as nyhetsbrev "
                                                         "serve does")))
        else:
            checks.append(fail("unsubscribe_url", title, _("a link with an invalid token gets {answer}, not 400").format(
                answer=reason), _(
                "Ask IT to pass {url} on to nyhetsbrev serve (see docs/unsubscribe.md), on a web server with a valid "
                "certificate").format(url=url)))
    url = settings.archive_url
    if url:
        title = f"archive_url {url}"
        status, reason = http_get(url, follow=True)
        if status is not None and 200 <= status < 300:
            checks.append(ok("archive_url", title, _("answers {answer}").format(answer=reason)))
        else:
            checks.append(fail("archive_url", title, _("gets {answer}").format(answer=reason), _(
                "Copy the output of nyhetsbrev publish to the web server at {url} (ask IT or the web team where it "
                "goes), or correct archive_url").format(url=url)))
    return checks


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def http_get(url: str, *, follow: bool, timeout: float = HTTP_TIMEOUT) -> tuple[int | None, str]:
    """GET url with a verified certificate: (status, how to say it) or (None, why there was no answer)."""
    context = ssl.create_default_context()
    handlers = [urllib.request.HTTPSHandler(context=context)] + ([] if follow else [_NoRedirect()])
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, headers={"User-Agent": "nyhetsbrev-doctor"})
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, f"{response.status} {response.reason}"
    except urllib.error.HTTPError as exc:
        where = exc.headers.get("Location") if 300 <= exc.code < 400 else None
        answer = f"{exc.code} {exc.reason}" + (" → " + where if where else "")
        return exc.code, answer
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ssl.SSLCertVerificationError):
            return None, _("a certificate that cannot be trusted ({reason})").format(
                reason=reason.verify_message or reason)
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return None, _("no answer within {seconds:g} s").format(seconds=timeout)
        return None, _("no answer ({reason})").format(reason=reason)
    except (TimeoutError, socket.timeout):
        return None, _("no answer within {seconds:g} s").format(seconds=timeout)
    except (OSError, ValueError) as exc:
        return None, _("no answer ({reason})").format(reason=exc)
