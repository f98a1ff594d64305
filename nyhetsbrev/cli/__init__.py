"""Command line: thin Typer commands that call one core function each and print with rich."""

from .app import app
from . import build as _build  # noqa: F401  (registers init, new, build, check)

for _optional in ("preview", "recipients", "send"):
    try:
        __import__(f"{__name__}.{_optional}")
    except ModuleNotFoundError as _exc:  # pragma: no cover - while a command module is not written yet
        if _exc.name != f"{__name__}.{_optional}":
            raise


def main() -> None:
    """Entry point of the console script."""
    app(prog_name="nyhetsbrev")
