"""Run the unsubscribe application with waitress, with an access log that holds no tokens and no addresses."""

from __future__ import annotations

import errno
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ...errors import ServeError
from .app import UnsubscribeApp

THREADS = 4
MAX_REQUEST_BODY = 16 * 1024  # waitress refuses more itself; the application's own limit is lower


@dataclass(frozen=True)
class Ready:
    """What the running service answers on, for whoever prints it."""

    url: str
    db_path: Path
    unsubscribe_url: str | None


class AccessLog:
    """WSGI middleware: one line per request with time, method, path (never the query: it holds the token),
    status, size and duration. No client address either: it is personal data the log does not need."""

    def __init__(self, app, write: Callable[[str], None]) -> None:
        self.app, self.write = app, write

    def __call__(self, environ: dict, start_response):
        started = time.perf_counter()
        status: list[str] = []

        def record(line, headers, exc_info=None):
            status.append(line.split(" ", 1)[0])
            return start_response(line, headers, exc_info) if exc_info else start_response(line, headers)

        body = self.app(environ, record)
        size = sum(len(chunk) for chunk in body)
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        note = environ.get("nyhetsbrev.note")
        self.write(
            f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')} {environ.get('REQUEST_METHOD', '-')} {_printable(path)} "
            f"{status[0] if status else '-'} {size} {(time.perf_counter() - started) * 1000:.1f}ms"
            + (f" ({note})" if note else "")
        )
        return body


def _printable(path: str) -> str:
    """A path as one safe log line: at most 200 characters, control characters and spaces replaced."""
    return "".join(ch if ch.isprintable() and not ch.isspace() else "?" for ch in path[:200]) or "/"


def create_server(app, host: str, port: int, threads: int = THREADS):
    """A waitress server for app on host:port (port 0: any free one); ServeError when the port cannot be had."""
    from waitress.server import create_server as waitress_server

    for name in ("waitress", "waitress.queue"):  # "task queue depth" notes are normal under load
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        return waitress_server(
            app, host=host, port=port, threads=threads, ident="nyhetsbrev",
            max_request_body_size=MAX_REQUEST_BODY, max_request_header_size=16 * 1024,
            channel_timeout=30, clear_untrusted_proxy_headers=True, expose_tracebacks=False,
        )
    except OSError as exc:
        reason = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror or exc})"
        raise ServeError(f"{host}:{port} {reason}", hint="stop the other program or choose another --port") from None


def serve(
    root: Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    on_ready: Callable[[Ready], None] | None = None,
    log: Callable[[str], None] | None = None,
    threads: int = THREADS,
) -> None:
    """Serve one-click unsubscribe for the project at root until Ctrl-C or SIGTERM."""
    app = UnsubscribeApp(root)
    server = None
    try:
        server = create_server(AccessLog(app, log) if log else app, host, port, threads)
        shown = f"[{host}]" if ":" in host else host
        bound = getattr(server, "effective_port", port)  # a name with several addresses gives several sockets
        ready = Ready(f"http://{shown}:{bound}{app.path}", app.db_path, app.settings.unsubscribe_url)
        if on_ready is not None:
            on_ready(ready)
        _stop_on_sigterm()
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.close()
        app.close()


def _stop_on_sigterm() -> None:
    """systemd stops a service with SIGTERM: end as on Ctrl-C, closing the database cleanly."""
    if threading.current_thread() is not threading.main_thread():
        return

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
