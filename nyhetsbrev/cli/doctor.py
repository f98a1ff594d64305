"""The doctor command: one line per check (✓, ✗, or – when not checked), and for each ✗ what to ask IT for."""

from __future__ import annotations

import enum
import json

import typer

from ..i18n import N_, ngettext
from .app import app, console, escape, project_root, terminal_json


class Format(str, enum.Enum):
    """What --format writes: lines for a person, or JSON for a script."""

    text = "text"
    json = "json"


MARKS = {"ok": "[green]✓[/]", "fail": "[bold red]✗[/]", "skipped": "[dim]–[/]"}


@app.command()
def doctor(
    ctx: typer.Context,
    offline: bool = typer.Option(False, "--offline", help=N_("Only the checks that need no network; no request is made.")),
    output: Format = typer.Option(Format.text, "--format", "-f", help=N_("text or json.")),
) -> None:
    """Check before sending that the mail will arrive: settings, the domain's DNS, relay, mailbox, web addresses."""
    from ..doctor.run import run_doctor

    report = run_doctor(project_root(ctx), offline=offline)
    if output is Format.json:
        typer.echo(terminal_json(json.dumps(report.as_dict(), ensure_ascii=False, indent=2)))
    else:
        _show(report)
    if report.failed:
        raise typer.Exit(1)


def _show(report) -> None:
    for check in report.checks:
        console.print(f"{MARKS[check.status]} {escape(check.title)}: {escape(check.detail)}")
        if check.advice:
            console.print(f"    → {escape(check.advice[:1].upper() + check.advice[1:])}")
        if check.record:
            console.print(f"    DNS: {escape(check.record)}")
    failed, total = len(report.failed), len(report.failed) + len(report.passed)
    if failed:
        console.print(ngettext("{failed} of {total} check failed: send the lines marked ✗, with what follows them, to IT.",
                               "{failed} of {total} checks failed: send the lines marked ✗, with what follows them, to IT.",
                               total).format(failed=failed, total=total))
    elif report.offline:
        console.print(ngettext("The {total} check that needs no network passed; run without --offline to check the DNS "
                               "and the servers.", "All {total} checks that need no network passed; run without "
                               "--offline to check the DNS and the servers.", total).format(total=total))
    else:
        console.print(ngettext("The {total} check passed.", "All {total} checks passed.", total).format(total=total))
