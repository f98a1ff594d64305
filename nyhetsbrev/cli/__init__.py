"""Command line: thin Typer commands that call one core function each and print with rich."""

from . import build, inbox, login, preview, publish, recipients, send, serve  # noqa: F401  (each registers its commands on app)
from .app import app


def main() -> None:
    """Entry point of the console script."""
    app(prog_name="nyhetsbrev")
