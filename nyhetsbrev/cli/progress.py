"""A progress bar on stderr that appears with the first update and only on a terminal."""

from __future__ import annotations

import time

from .app import err_console

LINE_EVERY = 5.0  # seconds between progress lines when there is no terminal for a bar (a scheduled run's log)


class Bar:
    """A rich progress bar with the given columns; start() it on the first update, leave it with `with`."""

    first_line_waits = False  # without a terminal: the first progress line only after LINE_EVERY seconds

    def __init__(self, *columns) -> None:
        from rich.progress import Progress

        self.terminal = err_console.is_terminal
        self.progress = Progress(*columns, console=err_console, transient=True, disable=not self.terminal)
        self.task = None
        self.last_line = time.monotonic() if self.first_line_waits else None

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

    def show(self, done: int, total: int | None) -> None:
        """Move the bar to done of total (it appears with the first call, on a terminal only)."""
        self.start("", total)
        self.progress.update(self.task, completed=done, total=total)

    def line_due(self) -> bool:
        """Without a terminal: True when a progress line is due, at most one every LINE_EVERY seconds."""
        now = time.monotonic()
        if self.last_line is not None and now - self.last_line < LINE_EVERY:
            return False
        self.last_line = now
        return True
