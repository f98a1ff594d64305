"""The preview command: a live-reloading preview of an issue in the browser."""

from __future__ import annotations

import typer

from .app import app, console, err_console, escape, project_root


@app.command()
def preview(
    ctx: typer.Context,
    issue: str = typer.Argument(..., help="Issue id, e.g. 22:1"),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port on 127.0.0.1 (another free one if taken)."),
    no_open: bool = typer.Option(False, "--no-open", help="Do not open the browser."),
) -> None:
    """Preview an issue in the browser, desktop and phone side by side; it rebuilds whenever you save."""
    from ..web.preview import serve

    def ready(server) -> None:
        if server.port_note:
            err_console.print(f"[yellow]note:[/] {escape(server.port_note)}", soft_wrap=True)
        console.print(f"Previewing {server.issue_id} at [bold]{escape(server.url)}[/]  (Ctrl-C to stop)", soft_wrap=True)
        failure = server.state.failure
        if failure is not None:
            err_console.print(f"[bold red]error:[/] {escape(failure.message)}", soft_wrap=True)

    def built(event) -> None:
        if event.failure is not None:
            err_console.print(f"[bold red]error:[/] {escape(event.failure.message)}", soft_wrap=True)
        else:
            found = f", {event.errors} error(s)" if event.errors else ""
            found += f", {event.warnings} warning(s)" if event.warnings else ""
            console.print(f"Rebuilt in {event.seconds * 1000:.0f} ms{found}", soft_wrap=True)

    serve(project_root(ctx), issue, port=port, open_browser=not no_open, on_ready=ready, on_build=built)
    console.print("Preview stopped.")
