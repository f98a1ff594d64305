"""The serve command: the one-click unsubscribe page behind unsubscribe_url, for a team that has a server."""

from __future__ import annotations

import sys

import typer

from .app import app, console, err_console, escape, project_root
from ..i18n import N_, _


@app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help=N_("Address to listen on (keep 127.0.0.1 behind a web server).")),
    port: int = typer.Option(8080, "--port", min=0, max=65535, help=N_("Port to listen on (0: any free port).")),
    quiet: bool = typer.Option(False, "--quiet", help=N_("No access log lines.")),
) -> None:
    """Serve one-click unsubscribe (RFC 8058) for the newsletter's unsubscribe_url until Ctrl-C.

    A GET shows a page with a button and changes nothing; a POST unsubscribes. It writes to the
    recipients database, so run it where that database is, behind the organisation's web server.
    """
    from ..web.unsubscribe import serve as serve_unsubscribe

    def ready(info) -> None:
        console.print(_("Serving one-click unsubscribe at [bold]{url}[/]  (Ctrl-C to stop)").format(url=escape(info.url)))
        console.print(_("  database: {db_path}").format(db_path=escape(info.db_path)))
        if not info.unsubscribe_url:
            err_console.print(_("[yellow]warning:[/] unsubscribe_url is not set in nyhetsbrev.toml: the emails do not link here yet"))
        elif not info.unsubscribe_url.startswith("https://"):
            err_console.print(_("[yellow]warning:[/] unsubscribe_url is not https: mail clients will not offer one-click unsubscribe"))
        sys.stdout.flush()

    def log(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    serve_unsubscribe(project_root(ctx), host, port, on_ready=ready, log=None if quiet else log)
    console.print(_("Stopped."))
