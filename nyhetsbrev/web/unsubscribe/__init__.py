"""One-click unsubscribe (RFC 8058): the WSGI application behind unsubscribe_url and the waitress server for it.

A site that runs its own WSGI server mounts `make_app(project_root)`; `nyhetsbrev serve` runs `serve()`.
"""

from pathlib import Path

from .app import UnsubscribeApp, served_path
from .server import AccessLog, Ready, serve


def make_app(root: str | Path, db_path: str | Path | None = None) -> UnsubscribeApp:
    """The WSGI application for the project at root (database: NYHETSBREV_DB or recipients/nyhetsbrev.db)."""
    return UnsubscribeApp(Path(root), Path(db_path) if db_path else None)


__all__ = ["AccessLog", "Ready", "UnsubscribeApp", "make_app", "serve", "served_path"]
