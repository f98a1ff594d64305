"""The status command: where the send of an issue stands, and what to do about the messages nobody knows about."""

from __future__ import annotations

import typer
from rich.table import Table

from ..i18n import _, ngettext
from .app import app, console, escape, project_root
from .send import show_failed, skipped_line

UNKNOWN_SHOWN = 200


@app.command()
def status(ctx: typer.Context, issue: str = typer.Argument(..., help="Issue id, e.g. 22:1")) -> None:
    """Show per list how many were sent, pending, deferred, failed, unknown and skipped, and why some failed."""
    from ..store.ledger import issue_status

    report = issue_status(project_root(ctx), issue)
    if not report.per_list:
        console.print(f"{report.issue} has not been sent to any list yet.")
        return
    states = ["sent", "pending", "deferred", "failed", "unknown"] + (["skipped"] if report.skipped else []) + (
        ["sending"] if report.running else [])
    table = Table("list", *states, title=f"Status of {report.issue}" + (" (a send is running)" if report.running else ""),
                  title_justify="left")
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
        console.print(f"Deferred messages can be retried from {report.next_attempt} (UTC): run the same send command again.")


def _show_unknown(issue: str, unknown: list[tuple[str, str, str]]) -> None:
    """The unknown ones with their Message-IDs, and how to find out in the relay's own log whether it has them."""
    table = Table(_("address, delivery unknown"), "Message-ID", _("went out (UTC)"), title_justify="left")
    for address, message_id, at in unknown[:UNKNOWN_SHOWN]:
        table.add_row(escape(address), escape(message_id), escape(at or ""))
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
    table = Table("version", "content", "sent", "first sent (UTC)", title="Versions sent", title_justify="left")
    for key, fingerprint, count, first in versions:
        table.add_row(escape(f"audience {key}" if key else "everyone"), fingerprint[:10], str(count), escape(first or ""))
    console.print(table)
    edited = {key for key, *_ in versions if sum(1 for other, *_ in versions if other == key) > 1}
    for key in sorted(edited):
        console.print(f"The {key or 'public'} version was edited during the send: its recipients got different content.")
