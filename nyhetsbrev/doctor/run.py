"""nyhetsbrev doctor: the local checks of the settings, then (unless offline) the DNS, relay, mailbox and web checks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import NyhetsbrevError
from ..i18n import _
from ..project import config
from ..project.models import Project
from .checks import Check, Report, fail, ok, skipped


def run_doctor(root: Path, *, offline: bool = False) -> Report:
    """Every check for the project at root; offline: only those that need no network (no request is made at all)."""
    project = config.load_project(root)
    checks = local_checks(project)
    if offline:
        checks.append(skipped("network", _("DNS, relay, mailbox, web addresses"), _("not checked (--offline)")))
        return Report(tuple(checks), offline=True)
    return Report(tuple(checks + network_checks(project)))


def local_checks(project: Project) -> list[Check]:
    """What can be known from nyhetsbrev.toml and the environment alone (quick, no network)."""
    from ..inbox import mailbox
    from ..mail import transport
    from ..publish.pipeline import settings_problems
    from .domain import dkim_settings_check

    settings = project.settings
    title = _("Settings")
    checks = [ok("settings", title, _("{file} is read; From {sender}").format(file=config.SETTINGS_FILE,
                                                                              sender=settings.sender))]
    for problem in settings_problems(project):
        where = f"{problem.path.name}:{problem.line}: " if problem.path and problem.line else ""
        checks.append(fail("settings", title, where + problem.message))
    relay = _("Relay settings")
    try:
        transport.check_settings(settings.smtp)
    except NyhetsbrevError as exc:
        checks.append(fail("relay.settings", relay, exc.what, exc.hint))
    else:
        login = _(", login as {user}").format(user=settings.smtp.username) if settings.smtp.username else ""
        checks.append(ok("relay.settings", relay, f"{settings.smtp.host}:{settings.smtp.port}, "
                                                  f"{settings.smtp.security}{login}"))
    box = _("Mailbox settings")
    if not settings.imap.host:
        checks.append(skipped("mailbox.settings", box, _("no [imap] host: nyhetsbrev inbox can read exported "
                                                         "messages with --from")))
    else:
        try:
            mailbox.check_settings(settings.imap)
        except NyhetsbrevError as exc:
            checks.append(fail("mailbox.settings", box, exc.what, exc.hint))
        else:
            checks.append(ok("mailbox.settings", box, f"{settings.imap.username} @ {settings.imap.host}:"
                                                      f"{settings.imap.port}, {settings.imap.security}"))
    return checks + dkim_settings_check(settings)


def network_checks(project: Project) -> list[Check]:
    """The DNS, relay, mailbox and web checks, each part in its own thread; shown in this order."""
    from .domain import dns_checks
    from .lookup import Lookup
    from .network import mailbox_checks, relay_checks, web_checks

    settings = project.settings

    def dns() -> list[Check]:
        try:
            lookup = Lookup()
        except NyhetsbrevError as exc:
            return [fail("dns", _("DNS"), exc.what, exc.hint)]
        return dns_checks(settings, lookup)

    parts = (dns, lambda: relay_checks(settings), lambda: mailbox_checks(settings), lambda: web_checks(settings))
    with ThreadPoolExecutor(max_workers=len(parts), thread_name_prefix="doctor") as pool:
        futures = [pool.submit(part) for part in parts]
        return [check for future in futures for check in future.result()]
