"""The signals that stop a long-running command as Ctrl-C does (a send, serve)."""

from __future__ import annotations

import signal


def stop_signals() -> tuple[int, ...]:
    """Ctrl-C (SIGINT) and `kill` or systemd's stop (SIGTERM), and on Windows Ctrl-Break (SIGBREAK) too."""
    return (signal.SIGINT, signal.SIGTERM) + ((signal.SIGBREAK,) if hasattr(signal, "SIGBREAK") else ())
