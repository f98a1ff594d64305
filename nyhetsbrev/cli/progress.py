"""A progress bar on stderr that appears with the first update and only on a terminal."""

from __future__ import annotations

from .app import err_console


class Bar:
    """A rich progress bar with the given columns; start() it on the first update, leave it with `with`."""

    def __init__(self, *columns) -> None:
        from rich.progress import Progress

        self.terminal = err_console.is_terminal
        self.progress = Progress(*columns, console=err_console, transient=True, disable=not self.terminal)
        self.task = None

    def __enter__(self) -> "Bar":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.task is not None:
            self.progress.stop()

    def start(self, description: str, total: int | None, **fields) -> None:
        """Show the bar (once): the first update calls this."""
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task(description, total=total, **fields)
