"""The login command: Microsoft 365 sign-in (OAuth 2.0 device code) for send and inbox, and its status."""

from __future__ import annotations

import typer

from .app import app, console, err_console, escape, project_root
from ..i18n import N_, _


@app.command()
def login(
    ctx: typer.Context,
    show_status: bool = typer.Option(False, "--status", help=N_("Show who is signed in and until when; change nothing.")),
) -> None:
    """Sign in to Microsoft 365 in a browser (any device) so that send and inbox can use the mailbox."""
    from ..mail import oauth
    from ..mail.limits import local_time

    root = project_root(ctx)
    if show_status:
        settings, signed_in = oauth.status_project(root)
        if signed_in is None:
            console.print(_("Nobody is signed in for {username}: run 'nyhetsbrev login'.").format(username=escape(settings.username)))
            raise typer.Exit(1)
        _show(signed_in)
        return

    def show(device) -> None:
        console.print(_("Open [bold]{url}[/] in a browser and enter the code [bold]{code}[/]").format(url=escape(device.url), code=escape(device.code)))
        console.print(_("(waiting for the sign-in, until {local_time}; Ctrl-C stops)").format(local_time=local_time(device.expires_at)))

    def replaced(path) -> None:
        err_console.print(_("[yellow]warning:[/] the sign-in stored in {path} could not be read; this sign-in replaces it")
                          .format(path=escape(path)), soft_wrap=True)

    _show(oauth.login_project(root, show, replaced))


def _show(signed_in) -> None:
    import time

    from ..mail.limits import local_time

    console.print(_("Signed in as [bold]{username}[/].").format(username=escape(signed_in.username)))
    if signed_in.expires_at and signed_in.expires_at > time.time():
        console.print(_("access valid until {local_time}; renewed by itself while the sign-in is used (at least every 90 days)").format(local_time=local_time(signed_in.expires_at)))
    elif signed_in.expires_at:
        console.print(_("access ran out at {local_time}; renewed by itself at the next send or inbox if the sign-in "
                        "was used in the last 90 days").format(local_time=local_time(signed_in.expires_at)))
    stored = _("stored in {path} (encrypted by the operating system)") if signed_in.protected else _("stored in {path}")
    console.print(stored.format(path=escape(signed_in.cache_path)))
    if not signed_in.protected:
        err_console.print(
            _("[yellow]warning:[/] this computer has no keyring nyhetsbrev can use, so the sign-in is kept in a file only you can read (mode 0600), not encrypted; on Linux install python3-gi and gir1.2-secret-1 with a running keyring to have it encrypted"), soft_wrap=True,
        )
