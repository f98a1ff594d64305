"""The inbox command: read what came back (unsubscribes, bounces, complaints) and apply it."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Column, Table

from .app import app, console, err_console, escape, project_root
from .progress import Bar
from ..i18n import N_, _, ngettext

SHOWN = 50
NEEDS_A_PERSON = 3  # exit status: a message could not be read and waits for a person


@app.command()
def inbox(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help=N_("Show what would be done; change nothing, here or on the server.")),
    from_path: Path = typer.Option(
        None, "--from", metavar=N_("PATH"), help=N_("Read exported messages instead of the mailbox: a folder of .eml files, an mbox file or a maildir.")
    ),
) -> None:
    """Read the mailbox the unsubscribe address and bounces reach, and apply what came back.

    Unsubscribe requests and complaints unsubscribe the person, permanent bounces (and temporary ones on three
    issues) stop mail to the address, auto-replies are ignored; handled messages are moved to processed_folder.
    Messages from people are left unread where they are, and listed. Running it again changes nothing more.
    Only what cannot be made up is applied: a valid token, or a report carrying the Message-ID of a message that
    was sent; requests in words and reports naming only an address are listed with the command that would apply them.

    Exit status: 0 when every message was read; 3 when a message could not be read (listed, left where it was,
    flagged on the server) and waits for a person; 1 on an error that stopped the run.
    """
    from ..inbox.run import read_inbox

    with _Bar() as bar:
        report = read_inbox(project_root(ctx), from_path=from_path, dry_run=dry_run, progress=bar.update)
    _show(report)
    if report.needs_a_person:
        raise typer.Exit(NEEDS_A_PERSON)


class _Bar(Bar):
    """How far the reading has got, in messages."""

    first_line_waits = True

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

        super().__init__(TextColumn(_("reading")), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())

    def update(self, done: int, total: int) -> None:
        if not self.terminal:  # a line every few seconds instead (a scheduled run's log)
            if done < total and self.line_due():
                err_console.print(_("reading: {done} of {total} messages").format(done=done, total=total))
            return
        self.show(done, total)


def _show(report) -> None:
    """What an inbox run did (or would do), what it left for a person, what it could not read, and the counts."""
    if report.changes:
        _show_changes(report)
    if report.for_a_person:
        _show_for_a_person(report)
    if report.unreadable:
        _show_unreadable(report)
    _show_counts(report)


def _show_changes(report) -> None:
    from ..project.front_matter import shorten  # only when there are changes to show: not on every command's start-up

    table = Table(Column(_("address"), no_wrap=True), _("would be done") if report.dry_run else _("done"), _("why"),
                  _("message date"), title=_("Changes"), title_justify="left")
    for outcome in report.changes[:SHOWN]:
        table.add_row(escape(outcome.address), _(outcome.action), escape(shorten(outcome.note, 90)), (outcome.verdict.date or "")[:10])
    console.print(table)
    if len(report.changes) > SHOWN:
        console.print(_("… and {value} more (see 'nyhetsbrev recipients export ADDRESS').").format(value=len(report.changes) - SHOWN))


def _show_for_a_person(report) -> None:
    """The messages left for a person, and the commands that would apply what they ask (run by nobody)."""
    table = Table(Column(_("from"), no_wrap=True), _("subject"), _("date"), _("why"), title=_("Left for a person (unread, where they were)"),
                  title_justify="left")
    for outcome in report.for_a_person[:SHOWN]:
        v = outcome.verdict
        table.add_row(escape(v.sender or "?"), escape(v.subject or _("(no subject)")), (v.date or "")[:10], escape(outcome.note))
    console.print(table)
    if len(report.for_a_person) > SHOWN:
        console.print(_("… and {value} more messages for a person.").format(value=len(report.for_a_person) - SHOWN))
    commands = [o.command for o in report.for_a_person[:SHOWN] if o.command]
    if commands:
        console.print(_("Read each message first: these commands would apply what it asks (nothing was done):"))
        for command in dict.fromkeys(commands):
            console.print(f"  {escape(command)}")


def _show_unreadable(report) -> None:
    from ..inbox.apply import STILL_UNREAD

    console.print(_("Could not be read (left where they were, for a person):"))
    for outcome in report.unreadable[:SHOWN]:
        v = outcome.verdict
        said = ", ".join(p for p in (v.sender and _("from {sender}").format(sender=v.sender), v.subject and f"'{v.subject}'",
                                     (v.date or "")[:10]) if p)
        again = " " + _("(listed before)") if outcome.action == STILL_UNREAD else ""
        console.print(f"  {escape(said + ': ' if said else '')}{escape(outcome.note)}{again}")


def _show_counts(report) -> None:
    """The count of each kind of message, and what became of the unreadable and the handled ones."""
    from ..inbox.apply import (
        ALREADY, BOUNCED, COMPLAINT_HANDLED, IGNORED, PERSON, STILL_UNREAD, TEMPORARY, UNREAD, UNSUBSCRIBED,
    )

    columns = [UNSUBSCRIBED, BOUNCED, TEMPORARY, COMPLAINT_HANDLED, IGNORED, PERSON, ALREADY]
    unread = report.counts.get(UNREAD, 0) + report.counts.get(STILL_UNREAD, 0)
    summary = Table(*(_(c) for c in columns), _("unreadable"), title=_("Read {source}").format(source=escape(report.source)), title_justify="left")
    summary.add_row(*(str(report.counts.get(c, 0)) for c in columns), str(unread))
    console.print(summary)
    if unread:
        if report.on_server and not report.dry_run:
            text = ngettext("{n} message could not be read; it is left where it was, flagged for a person.",
                            "{n} messages could not be read; they are left where they were, flagged for a person.", unread)
        else:
            text = ngettext("{n} message could not be read; it is left where it was, for a person.",
                            "{n} messages could not be read; they are left where they were, for a person.", unread)
        console.print(text.format(n=unread))
    if report.dry_run:
        console.print(_("Dry run: nothing was changed, in the database or on the server."))
    elif report.set_aside:
        if report.moved:
            console.print(ngettext("{count} handled message moved to the processed folder.",
                                   "{count} handled messages moved to the processed folder.", report.set_aside
                                   ).format(count=report.set_aside))
        else:
            console.print(ngettext("{count} handled message flagged as read and handled (the server cannot move).",
                                   "{count} handled messages flagged as read and handled (the server cannot move).",
                                   report.set_aside).format(count=report.set_aside))
