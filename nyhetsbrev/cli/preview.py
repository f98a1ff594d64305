"""The preview command: a live-reloading preview of an issue in the browser."""

from __future__ import annotations

import typer

from .app import app, console, err_console, escape, project_root
from ..i18n import N_, _


@app.command()
def preview(
    ctx: typer.Context,
    issue: str = typer.Argument(..., help=N_("Issue id, e.g. 22:1")),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help=N_("Port on 127.0.0.1 (another free one if taken).")),
    no_open: bool = typer.Option(False, "--no-open", help=N_("Do not open the browser.")),
) -> None:
    """Preview an issue in the browser, desktop and phone side by side; it rebuilds whenever you save."""
    from ..web.preview import serve

    def ready(server) -> None:
        if server.port_note:
            err_console.print(_("[yellow]note:[/] {port_note}").format(port_note=escape(server.port_note)), soft_wrap=True)
        console.print(_("Previewing {issue_id} at [bold]{url}[/]  (Ctrl-C to stop)").format(issue_id=server.issue_id, url=escape(server.url)), soft_wrap=True)
        failure = server.state.failure
        if failure is not None:
            err_console.print(_("[bold red]error:[/] {message}").format(message=escape(failure.message)), soft_wrap=True)

    def built(event) -> None:
        if event.failure is not None:
            err_console.print(_("[bold red]error:[/] {message}").format(message=escape(event.failure.message)), soft_wrap=True)
        else:
            found = f", {event.errors} error(s)" if event.errors else ""
            found += f", {event.warnings} warning(s)" if event.warnings else ""
            console.print(_("Rebuilt in {value:.0f} ms{found}").format(value=event.seconds * 1000, found=found), soft_wrap=True)

    serve(project_root(ctx), issue, port=port, open_browser=not no_open, on_ready=ready, on_build=built)
    console.print(_("Preview stopped."))
