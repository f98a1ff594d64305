"""Find the project and read nyhetsbrev.toml, validated in one place (roster.toml: project/roster.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ProjectNotFound, SendError
from ..i18n import N_, _
from .headers import check_header_text, check_header_value, envelope_address
from .models import (ACCESSIBILITY_STATUSES, DIGG_REPORT_URL, AccessibilitySettings, ImapSettings, Project, Rate,
                     Settings, SmtpSettings)
from .roster import ROSTER_FILE, load_roster
from .toml_file import TableChecker, host_problem, line_of, read_toml

SETTINGS_FILE = "nyhetsbrev.toml"
SECURITY_MODES = ("starttls", "tls", "none")
LANGUAGES = ("sv", "en")

_SETTINGS_KEYS = {
    "name", "language", "interface_language", "from", "reply_to", "subject", "archive_url", "image_base_url",
    "unsubscribe_email", "unsubscribe_url", "organisation", "list_id", "smtp", "imap", "accessibility",
}
_ACCESSIBILITY_KEYS = {"organisation", "contact", "status", "shortcomings", "reviewed", "supervisory_url"}
_SMTP_KEYS = {"host", "port", "security", "username", "timeout", "password", "auth", "tenant", "client_id",
              "rate", "daily_limit", "dkim_selectors", "dkim_domain"}
AUTH_MODES = ("password", "oauth2")
# What numbers in nyhetsbrev.toml may be (inclusive): anything else is an error at its line.
PORTS = (1, 65535)
TIMEOUTS = (1, 600)  # seconds to wait for the server's next reply
DAILY_LIMITS = (1, 10_000_000)
RATES = (1 / 3600, 1000.0)  # messages a second: from one an hour to a thousand a second
RATE_UNITS = {"s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0}
# Exchange Online's limits per mailbox (30 messages a minute, 10 000 recipients in any 24 hours).
OFFICE365_HOST = "smtp.office365.com"
OFFICE365_RATE = "30/min"
OFFICE365_DAILY_LIMIT = 10_000


def is_office365_host(host: str | None) -> bool:
    """True for Microsoft 365's relay, smtp.office365.com (in any case, with or without the final dot)."""
    return (host or "").lower().rstrip(".") == OFFICE365_HOST


_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$")
_IMAP_KEYS = {"host", "port", "security", "username", "auth", "tenant", "client_id", "folder", "processed_folder",
              "timeout", "password"}
IMAP_SECURITY_MODES = ("tls", "starttls")


def find_root(start: Path | None = None, explicit: str | Path | None = None) -> Path:
    """The project root: --project / NYHETSBREV_PROJECT, else the nearest folder with nyhetsbrev.toml."""
    named = explicit or os.environ.get("NYHETSBREV_PROJECT")
    if named:
        root = Path(named).expanduser().resolve()
        if not (root / SETTINGS_FILE).is_file():
            raise ProjectNotFound(
                _("no {settings_file} in {root}").format(settings_file=SETTINGS_FILE, root=root),
                hint=_("point --project at a nyhetsbrev project, or create one with 'nyhetsbrev init DIR'"),
            )
        return root
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / SETTINGS_FILE).is_file():
            return folder
    raise ProjectNotFound(
        _("no {settings_file} in {here} or any folder above it").format(settings_file=SETTINGS_FILE, here=here),
        hint=_("run this inside a nyhetsbrev project, use --project DIR, or create one with 'nyhetsbrev init DIR'"),
    )


def load_project(root: Path) -> Project:
    """Read and validate the settings and roster of the project at root."""
    return Project(root=root, settings=load_settings(root / SETTINGS_FILE), roster=load_roster(root / ROSTER_FILE))


def load_settings(path: Path) -> Settings:
    """Read nyhetsbrev.toml and apply NYHETSBREV_SMTP_* environment overrides."""
    data, text = read_toml(path)
    check = TableChecker(path, text)
    check.unknown(data, _SETTINGS_KEYS)
    language = check.text_value(data, "language", default="sv")
    if language not in LANGUAGES:
        raise check.fail(_("language '{language}' is not supported").format(language=language), "language", hint=_('use "sv" or "en"'))
    interface = check.text_value(data, "interface_language")  # the language of the commands (nyhetsbrev.i18n reads it)
    if interface is not None and interface not in LANGUAGES:
        raise check.fail(_("interface_language '{interface}' is not supported").format(interface=interface), "interface_language",
                         hint=_('use "sv" or "en"'))
    for key in ("archive_url", "image_base_url", "unsubscribe_url"):
        value = data.get(key)
        # an http:// unsubscribe_url (trying `serve` out) or archive_url (no padlock on the web copies) is
        # allowed: check warns, and mail gets no one-click header for the former
        schemes = ("https://", "http://") if key in ("unsubscribe_url", "archive_url") else ("https://",)
        if value and not (isinstance(value, str) and value.startswith(schemes)):
            raise check.fail(_("'{key}' must be an https:// address").format(key=key), key)
    smtp = _smtp_settings(_server_table(data, "smtp", _SMTP_KEYS, check), check)
    imap = _imap_settings(_server_table(data, "imap", _IMAP_KEYS, check), check)
    _check_header_settings(data, check)
    subject = check.text_value(data, "subject", default="{name} {issue}")
    try:
        subject.format(name="n", issue="22:1", subject="s", date="d")
    except (KeyError, IndexError, ValueError) as exc:
        raise check.fail(
            _("subject pattern cannot be filled ({exc})").format(exc=exc), "subject",
            hint=_("use only {name}, {issue}, {subject} and {date}"),
        ) from None
    return Settings(
        name=check.text_value(data, "name", required=True),
        sender=check.text_value(data, "from", required=True),
        language=language,
        reply_to=check.text_value(data, "reply_to"),
        subject=subject,
        archive_url=check.text_value(data, "archive_url"),
        image_base_url=check.text_value(data, "image_base_url"),
        unsubscribe_email=check.text_value(data, "unsubscribe_email"),
        unsubscribe_url=check.text_value(data, "unsubscribe_url"),
        organisation=check.text_value(data, "organisation"),
        list_id=check.text_value(data, "list_id"),
        smtp=smtp,
        imap=imap,
        accessibility=_accessibility_settings(data, check),
    )


def _accessibility_settings(data: dict[str, Any], check: TableChecker) -> AccessibilitySettings:
    """[accessibility]: the archive's accessibility statement (lag 2018:1937); missing parts are warned about, not refused."""
    import datetime as dt

    if "accessibility" not in data:
        return AccessibilitySettings()
    table = data["accessibility"]
    if not isinstance(table, dict):
        raise check.fail(_("'accessibility' must be a table: [accessibility]"), "accessibility")
    after = (line_of(check.text, "accessibility") or 1) - 1
    check.unknown(table, _ACCESSIBILITY_KEYS, " in [accessibility]", after=after)
    contact = check.text_value(table, "contact", after=after)
    if contact is not None and not (re.fullmatch(r"[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+", contact)
                                    or re.fullmatch(r"https://[^\s<>\"]+", contact)):
        raise check.fail(_("'contact' in [accessibility] is neither an email address nor an https:// address"),
                         "contact", after=after,
                         hint=_('write where readers report a problem, e.g. contact = "tillganglighet@example.se"'))
    status = check.text_value(table, "status", after=after)
    if status is not None and status not in ACCESSIBILITY_STATUSES:
        raise check.fail(_("'status' in [accessibility] must be \"full\", \"partial\" or \"not\", not '{status}'")
                         .format(status=status), "status", after=after,
                         hint=_("how well the archive meets WCAG 2.1 AA: fully, partially or not"))
    reviewed = table.get("reviewed")
    if reviewed is not None and (isinstance(reviewed, dt.datetime) or not isinstance(reviewed, dt.date)):
        raise check.fail(_("'reviewed' in [accessibility] must be a date without quotes, e.g. reviewed = 2026-12-01"),
                         "reviewed", after=after)
    supervisory = check.text_value(table, "supervisory_url", after=after) or DIGG_REPORT_URL
    if not re.fullmatch(r"https://[^\s<>\"]+", supervisory):
        raise check.fail(_("'supervisory_url' in [accessibility] must be an https:// address"), "supervisory_url",
                         after=after, hint=_("leave it out to link Digg's form, {url}").format(url=DIGG_REPORT_URL))
    return AccessibilitySettings(
        organisation=check.text_value(table, "organisation", after=after), contact=contact, status=status,
        shortcomings=check.text_list(table, "shortcomings", " in [accessibility]", after=after),
        reviewed=reviewed, supervisory_url=supervisory,
    )


def _check_header_settings(data: dict[str, Any], check: TableChecker) -> None:
    """Settings that end up in mail headers: refused here, with their line, before anything is built or sent."""
    from email.utils import parseaddr

    for key in ("name", "from", "reply_to", "subject", "list_id", "unsubscribe_email", "unsubscribe_url"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            continue  # missing or not text: reported where the value is read
        value = value.strip()
        try:
            # the subject pattern is encoded on its way into the header; the others go in as they are
            (check_header_text if key == "subject" else check_header_value)(value, f"'{key}' setting")
            if key in ("from", "reply_to", "unsubscribe_email"):
                address = value if key == "unsubscribe_email" else parseaddr(value)[1]
                if "@" not in address:
                    raise SendError(_("'{key}' is not an email address: {value}").format(key=key, value=value),
                                    hint=_('write it as "Name <address@example.se>"') if key != "unsubscribe_email" else _('write a plain address such as "avregistrera@example.se"'))
                envelope_address(address)
        except SendError as exc:
            what = exc.what if exc.what.startswith(("the '", f"'{key}'")) else f"'{key}': {exc.what}"
            raise check.fail(what, key, hint=exc.hint) from None
        if key == "unsubscribe_url" and any(ch in value for ch in " <>\"'"):
            raise check.fail(_("'unsubscribe_url' contains spaces, quotes or angle brackets"), key,
                             hint=_("write a plain https:// address"))


def _smtp_settings(table: dict[str, Any], check: TableChecker) -> SmtpSettings:
    env = os.environ
    in_smtp = _(" in [{table}]").format(table="smtp")
    check = check.within("smtp")
    host = _env_host("NYHETSBREV_SMTP_HOST") or check.host(table, "host", in_smtp)
    security = (env.get("NYHETSBREV_SMTP_SECURITY") or check.text_value(table, "security", default="starttls")).lower()
    if security not in SECURITY_MODES:
        raise check.fail(_("SMTP security '{security}' is not known").format(security=security), "security", hint=_("use starttls, tls or none"))
    port = _env_number("NYHETSBREV_SMTP_PORT", *PORTS) or check.number(
        table, "port", low=PORTS[0], high=PORTS[1], default=465 if security == "tls" else 587, whole=True,
        where=in_smtp, example="port = 587")
    username = env.get("NYHETSBREV_SMTP_USERNAME") or check.text_value(table, "username")
    timeout = check.number(table, "timeout", low=TIMEOUTS[0], high=TIMEOUTS[1], default=30, where=in_smtp,
                           example="timeout = 30")
    auth, tenant, client_id = oauth_settings(table, check, "smtp", username)
    rate_text = check.text_value(table, "rate")
    daily_limit = check.number(table, "daily_limit", low=DAILY_LIMITS[0], high=DAILY_LIMITS[1], whole=True,
                               where=in_smtp, example="daily_limit = 10000")
    limits_from = None
    if is_office365_host(host) and (rate_text is None or daily_limit is None):
        limits_from = N_("Microsoft 365's limits for smtp.office365.com")  # translated where shown
        rate_text = rate_text or OFFICE365_RATE
        daily_limit = daily_limit or OFFICE365_DAILY_LIMIT
    try:
        rate = rate_setting(rate_text) if rate_text else None
    except ValueError as exc:
        raise check.fail(f"'rate' {exc}", "rate", hint=_('write it as "30/min", "2/s" or "1000/h"')) from None
    selectors, dkim_domain = _dkim_settings(table, check)
    return SmtpSettings(host=host, port=port, security=security, username=username, timeout=float(timeout),
                        auth=auth, tenant=tenant, client_id=client_id, rate=rate, daily_limit=daily_limit,
                        limits_from=limits_from, dkim_selectors=selectors, dkim_domain=dkim_domain)


def _dkim_settings(table: dict[str, Any], check: TableChecker) -> tuple[tuple[str, ...], str | None]:
    """dkim_selectors (DNS labels) and dkim_domain of [smtp]: what doctor looks up for the relay's DKIM signature."""
    selectors = tuple(check.text_list(table, "dkim_selectors", " in [smtp]"))
    for selector in selectors:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63})*", selector):
            raise check.fail(_("'{selector}' in dkim_selectors is not a DKIM selector").format(selector=selector), "dkim_selectors",
                             hint=_('write the selector the relay signs with, e.g. dkim_selectors = ["s1"]'))
    domain = check.text_value(table, "dkim_domain")
    if domain is not None and not _DOMAIN.match(domain.rstrip(".")):
        raise check.fail(_("dkim_domain '{domain}' is not a domain name").format(domain=domain), "dkim_domain",
                         hint=_('the domain in d= of the relay\'s DKIM-Signature, e.g. dkim_domain = "example.se"'))
    return selectors, domain.rstrip(".").lower() if domain else None


def _env_host(name: str) -> str | None:
    """A host name from the environment variable name, checked as one; None when unset."""
    value = (os.environ.get(name) or "").strip()
    if value and (problem := host_problem(value)):
        raise ConfigError(_("{name} is not a host name: {why}").format(name=name, why=problem),
                          hint=_("set {name} to the server's name, e.g. smtp.example.se, or unset it").format(name=name))
    return value or None


def _env_number(name: str, low: int, high: int) -> int | None:
    """A whole number from the environment variable name, from low to high; None when unset."""
    value = (os.environ.get(name) or "").strip()
    if not value:
        return None
    if not re.fullmatch(r"[0-9]{1,9}", value) or not low <= int(value) <= high:
        raise ConfigError(_("{name} must be a whole number from {low} to {high}, not '{value}'").format(
            name=name, low=low, high=high, value=value), hint=_("set {name} again, or unset it").format(name=name))
    return int(value)


def parse_rate(text: str) -> float:
    """Messages per second from "N/s", "N/min" or "N/h" (a bare number is per second); ValueError saying why.

    A rate a send cannot keep (less than one message an hour, more than RATES[1] a second) is refused too.
    """
    number, _sep, unit = str(text).strip().partition("/")
    unit = unit.strip().lower() or "s"
    if unit not in RATE_UNITS:
        raise ValueError(_("'{text}' has an unknown unit '{unit}' (use /s, /min or /h)").format(text=text, unit=unit))
    try:
        count = float(number.strip().replace(" ", "").replace("\u00a0", ""))
    except ValueError:
        raise ValueError(_("'{text}' does not start with a number").format(text=text)) from None
    if not 0 < count < float("inf"):  # also NaN
        raise ValueError((_("'{text}' must be more than 0") if count <= 0 or count != count
                          else _("'{text}' is not a finite number")).format(text=text))
    per_second = count / RATE_UNITS[unit]
    if not RATES[0] <= per_second <= RATES[1]:
        raise ValueError(_("'{text}' is not a rate a send can keep: from 1/h to {most}/s").format(
            text=" ".join(str(text).split()), most=int(RATES[1])))
    return per_second


def rate_setting(text: str) -> Rate:
    """A rate as written ("30/min", "2/s", "1000/h") with its messages per second; ValueError saying why."""
    return Rate(" ".join(str(text).split()), parse_rate(text))


def oauth_settings(table: dict[str, Any], check: TableChecker, section: str,
                   username: str | None) -> tuple[str, str | None, str | None]:
    """auth, tenant and client_id of an [smtp] or [imap] table; oauth2 needs all three and the mailbox's username."""
    auth = (check.text_value(table, "auth", default="password") or "password").lower()
    if auth not in AUTH_MODES:
        raise check.fail(_('\'auth\' in [{section}] must be "password" or "oauth2", not \'{auth}\'').format(section=section, auth=auth), "auth")
    tenant, client_id = check.text_value(table, "tenant"), check.text_value(table, "client_id")
    if auth != "oauth2":
        if tenant or client_id:
            raise check.fail(_('\'tenant\' and \'client_id\' in [{section}] are only used with auth = "oauth2"').format(section=section),
                             "tenant" if tenant else "client_id", hint=_('add auth = "oauth2" or remove them'))
        return auth, None, None
    app_hint = _("your IT department gets both from the app registration (see docs/microsoft365.md)")
    if not tenant or not (_GUID.match(tenant) or _DOMAIN.match(tenant)):
        raise check.fail(_('auth = "oauth2" in [{section}] needs tenant = the directory (tenant) ID or the organisation\'s domain{value}').format(section=section, value=f', not {tenant!r}' if tenant else ''), "tenant" if tenant else "auth",
                         hint=app_hint)
    if not client_id or not _GUID.match(client_id):
        raise check.fail(_('auth = "oauth2" in [{section}] needs client_id = the application (client) ID, e.g. 00000000-0000-0000-0000-000000000000{value}').format(section=section, value=f', not {client_id!r}' if client_id else ''),
                         "client_id" if client_id else "auth", hint=app_hint)
    if not username or "@" not in username:
        raise check.fail(_('auth = "oauth2" in [{section}] needs username = the mailbox\'s address').format(section=section), "username"
                         if username else "auth", hint=_('e.g. username = "nyhetsbrev@kommun.se"'))
    return auth, tenant, client_id


def _server_table(data: dict[str, Any], name: str, keys: set[str], check: TableChecker) -> dict[str, Any]:
    """The [smtp] or [imap] table: a table of known keys, never with the password (that comes from the environment)."""
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise check.fail(_("'{name}' must be a table: [{name}]").format(name=name), name)
    check.unknown(table, keys, f" in [{name}]")
    if "password" in table:
        raise check.fail(
            _("the {upper} password must not be written in nyhetsbrev.toml").format(upper=name.upper()), "password",
            hint=_("remove it and set NYHETSBREV_{upper}_PASSWORD in the environment instead").format(upper=name.upper()),
        )
    return table


def _imap_settings(table: dict[str, Any], check: TableChecker) -> ImapSettings:
    """The [imap] table: where `inbox` reads; TLS always (tls, or starttls that never falls back to plain text)."""
    check = check.within("imap")
    in_imap = _(" in [{table}]").format(table="imap")
    security = (check.text_value(table, "security", default="tls") or "tls").lower()
    if security not in IMAP_SECURITY_MODES:
        raise check.fail(_("IMAP security '{security}' is not known").format(security=security), "security",
                         hint=_("use tls (port 993) or starttls (port 143); the mailbox is never read in plain text"))
    port = check.number(table, "port", low=PORTS[0], high=PORTS[1], default=993 if security == "tls" else 143,
                        whole=True, where=in_imap, example="port = 993")
    username = check.text_value(table, "username")
    auth, tenant, client_id = oauth_settings(table, check, "imap", username)
    timeout = check.number(table, "timeout", low=TIMEOUTS[0], high=TIMEOUTS[1], default=30, where=in_imap,
                           example="timeout = 30")
    folder = check.text_value(table, "folder", default="INBOX") or "INBOX"
    processed = check.text_value(table, "processed_folder", default="Behandlat") or "Behandlat"
    for key, value in (("folder", folder), ("processed_folder", processed)):
        if any(ch in value for ch in "\r\n\x00*%"):
            raise check.fail(_("'{key}' in [imap] cannot hold line breaks, * or %").format(key=key), key)
    if folder.casefold() == processed.casefold():
        raise check.fail(_("'processed_folder' must differ from 'folder' in [imap]"), "processed_folder",
                         hint=_('e.g. processed_folder = "Behandlat"'))
    return ImapSettings(
        host=check.host(table, "host", in_imap), port=port, security=security,
        username=username, auth=auth, tenant=tenant, client_id=client_id, folder=folder, processed_folder=processed,
        timeout=float(timeout),
    )
