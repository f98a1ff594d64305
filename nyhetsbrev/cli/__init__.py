"""Command line: thin Typer commands that call one core function each and print with rich."""

from . import build, doctor, inbox, login, preview, publish, recipients, recipients_import, send, serve, status  # noqa: F401  (each registers its commands on app)
from .app import app, pipe_closed


def main() -> None:
    """Entry point of the console script."""
    import sys

    readable_anywhere()
    try:
        try:
            app(prog_name="nyhetsbrev")
        finally:
            sys.stdout.flush()  # the output's last part, written here where a closed pipe can still end quietly
    except BrokenPipeError:
        sys.exit(pipe_closed())


def readable_anywhere() -> None:
    """Output never fails on a character the console or log file cannot show (a Windows cp1252 log: ✓ becomes ?).

    å, ä and ö are in cp1252 and stay; only what the encoding lacks is replaced, instead of a UnicodeEncodeError.
    """
    import sys

    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="replace")
            except (OSError, ValueError):  # a stream that cannot change now (already closed, or not a text file)
                pass
