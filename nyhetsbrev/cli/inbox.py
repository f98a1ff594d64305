"""The inbox command: read what came back (unsubscribes, bounces, complaints) and apply it."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Column, Table

from .app import app, console, err_console, escape, project_root
from .progress import Bar

SHOWN = 50


@app.command()
def inbox(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be done; change nothing, here or on the server."),
    from_path: Path = typer.Option(
        None, "--from", metavar="PATH", help="Read exported messages instead of the mailbox: a folder of .eml files, an mbox file or a maildir."
    ),
) -> None:
    """Read the mailbox the unsubscribe address and bounces reach, and apply what came back.

    Unsubscribe requests and complaints unsubscribe the person, permanent bounces (and temporary ones on three
    issues) stop mail to the address, auto-replies are ignored; handled messages are moved to processed_folder.
    Messages from people are left unread where they are, and listed. Running it again changes nothing more.
    """
    from ..inbox.run import read_inbox

    with _Bar() as bar:
        report = read_inbox(project_root(ctx), from_path=from_path, dry_run=dry_run, progress=bar.update)
    _show(report)


class _Bar(Bar):
    """How far the reading has got, in messages."""

    first_line_waits = True

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

        super().__init__(TextColumn("reading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())

    def update(self, done: int, total: int) -> None:
        if not self.terminal:  # a line every few seconds instead (a scheduled run's log)
            if done < total and self.line_due():
                err_console.print(f"reading: {done} of {total} messages")
            return
        self.show(done, total)


def _show(report) -> None:
    from ..inbox.apply import ALREADY, BOUNCED, COMPLAINT_HANDLED, IGNORED, PERSON, TEMPORARY, UNSUBSCRIBED

    verb = "would be " if report.dry_run else ""
    if report.changes:
        table = Table(Column("address", no_wrap=True), f"{verb}done", "why", "message date", title="Changes", title_justify="left")
        for outcome in report.changes[:SHOWN]:
            table.add_row(escape(outcome.address), outcome.action, escape(_short(outcome.note)), (outcome.verdict.date or "")[:10])
        console.print(table)
        if len(report.changes) > SHOWN:
            console.print(f"… and {len(report.changes) - SHOWN} more (see 'nyhetsbrev recipients export ADDRESS').")
    if report.for_a_person:
        table = Table(Column("from", no_wrap=True), "subject", "date", "why", title="Left for a person (unread, where they were)",
                      title_justify="left")
        for outcome in report.for_a_person[:SHOWN]:
            v = outcome.verdict
            table.add_row(escape(v.sender or "?"), escape(v.subject or "(no subject)"), (v.date or "")[:10], escape(outcome.note))
        console.print(table)
        if len(report.for_a_person) > SHOWN:
            console.print(f"… and {len(report.for_a_person) - SHOWN} more messages for a person.")
    columns = [UNSUBSCRIBED, BOUNCED, TEMPORARY, COMPLAINT_HANDLED, IGNORED, PERSON, ALREADY]
    summary = Table(*columns, title=f"Read {escape(report.source)}", title_justify="left")
    summary.add_row(*(str(report.counts.get(c, 0)) for c in columns))
    console.print(summary)
    if report.dry_run:
        console.print("Dry run: nothing was changed, in the database or on the server.")
    elif report.set_aside:
        where = "moved to the processed folder" if report.moved else "flagged as read and handled (the server cannot move)"
        console.print(f"{report.set_aside} handled message(s) {where}.")


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
