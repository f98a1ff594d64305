"""Command line: thin Typer commands that call one core function each and print with rich."""

from . import build, doctor, inbox, login, preview, publish, recipients, recipients_import, send, serve, status  # noqa: F401  (each registers its commands on app)
from .app import app, pipe_closed


def main() -> None:
    """Entry point of the console script."""
    import sys

    try:
        try:
            app(prog_name="nyhetsbrev")
        finally:
            sys.stdout.flush()  # the output's last part, written here where a closed pipe can still end quietly
    except BrokenPipeError:
        sys.exit(pipe_closed())
