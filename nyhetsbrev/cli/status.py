"""The status command: where the send of an issue stands, and what to do about the messages nobody knows about."""

from __future__ import annotations

import typer
from rich.table import Table

from ..i18n import N_, _, ngettext
from .app import app, console, escape, project_root
from .send import show_failed, skipped_line

UNKNOWN_SHOWN = 200


@app.command()
def status(ctx: typer.Context, issue: str = typer.Argument(..., help=N_("Issue id, e.g. 22:1"))) -> None:
    """Show per list how many were sent, pending, deferred, failed, unknown and skipped, and why some failed."""
    from ..store.ledger import issue_status

    report = issue_status(project_root(ctx), issue)
    if not report.per_list:
        console.print(_("{issue} has not been sent to any list yet.").format(issue=report.issue))
        return
    states = [N_("sent"), N_("pending"), N_("deferred"), N_("failed"), N_("unknown")] + (
        [N_("skipped")] if report.skipped else []) + ([N_("sending")] if report.running else [])
    title = _("Status of {issue} (a send is running)") if report.running else _("Status of {issue}")
    table = Table(_("list"), *(_(state) for state in states), title=title.format(issue=report.issue), title_justify="left")
    for name, counts in sorted(report.per_list.items()):
        table.add_row(escape(name), *(str(counts.get(state, 0)) for state in states))
    console.print(table)
    if report.versions:
        _show_versions(report.versions)
    if report.failed:
        show_failed(report.failed)
    if report.skipped:
        console.print(skipped_line(report.skipped))
    if report.unknown:
        _show_unknown(report.issue, report.unknown)
    if report.next_attempt:
        console.print(_("Deferred messages can be retried from {time} (local time): run the same send command again.").format(
            time=_ledger_time(report.next_attempt)))


def _ledger_time(iso: str) -> str:
    """A time as the ledger writes it (UTC, ISO 8601) as the local date and time: '3 december 2026 20:14'."""
    from ..mail.limits import from_iso, local_time

    try:
        return local_time(from_iso(iso))
    except ValueError:
        return iso


def _show_unknown(issue: str, unknown: list[tuple[str, str, str]]) -> None:
    """The unknown ones with their Message-IDs, and how to find out in the relay's own log whether it has them."""
    table = Table(_("address, delivery unknown"), _("Message-ID"), _("went out"), title_justify="left")
    for address, message_id, at in unknown[:UNKNOWN_SHOWN]:
        table.add_row(escape(address), escape(message_id), escape(_ledger_time(at) if at else ""))
    console.print(table)
    if len(unknown) > UNKNOWN_SHOWN:
        console.print(_("… and {count} more.").format(count=len(unknown) - UNKNOWN_SHOWN))
    console.print(ngettext(
        "{count} unknown: the send stopped while this message was on its way, so the relay may or may not have it.",
        "{count} unknown: the send stopped while these messages were on their way, so the relay may or may not have them.",
        len(unknown)).format(count=len(unknown)), soft_wrap=True)
    console.print(_(
        "Look each Message-ID up in the relay's own log: in Microsoft 365, the Exchange admin center's message trace "
        "(Mail flow → Message trace; the Message-ID is the search key). One the relay has was delivered: leave it. "
        "If the relay has none of them, resend with 'nyhetsbrev send {issue} --list … --resend-unknown'; if it has "
        "some, resending sends those people the issue twice (see docs/sending.md).").format(issue=issue), soft_wrap=True)


def _show_versions(versions: list[tuple[str, str, int, str]]) -> None:
    """The versions sent: audience version, content (a hash: two of them for one version means it was edited), count."""
    table = Table(_("version"), _("content"), _("sent"), _("first sent"), title=_("Versions sent"), title_justify="left")
    for key, fingerprint, count, first in versions:
        table.add_row(escape(_("audience {key}").format(key=key) if key else _("everyone")), fingerprint[:10], str(count),
                      escape(_ledger_time(first) if first else ""))
    console.print(table)
    edited = {key for key, *_ in versions if sum(1 for other, *_ in versions if other == key) > 1}
    for key in sorted(edited):
        version = _("The {key} version").format(key=key) if key else _("The public version")
        console.print(_("{version} was edited during the send: its recipients got different content.").format(version=version))
