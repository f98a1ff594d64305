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
from ...interrupts import stop_signals
from ...store.tokens import TOKEN_PATTERN
from .app import UnsubscribeApp
from ...i18n import _

THREADS = 4
MAX_REQUEST_BODY = 16 * 1024  # waitress refuses more itself; the application's own limit is lower
CONNECTION_LIMIT = 500  # open connections at once (one file descriptor each); at the limit the slowest make room
REQUEST_DEADLINE = 10  # seconds a connection has to send a whole request (head and body) once it waits for one
IDLE_TIMEOUT = 30  # seconds without any traffic before waitress closes a connection


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
    """A path as one safe log line: at most 200 characters, control characters and spaces replaced, and neither a
    token nor an address: a link whose '?' a mail program encoded (`/avregistrera%3Ftoken%3D…`) puts its token in
    the path, and a client may put anything there."""
    path = TOKEN_PATTERN.sub("…", path[:1000])
    path = "/".join("…" if "@" in part else part for part in path.split("/"))
    return "".join(ch if ch.isprintable() and not ch.isspace() else "?" for ch in path[:200]) or "/"


def create_server(app, host: str, port: int, threads: int = THREADS, *, connection_limit: int = CONNECTION_LIMIT,
                  request_deadline: float = REQUEST_DEADLINE):
    """A waitress server for app on host:port (port 0: any free one); ServeError when the port cannot be had.

    Slow clients cannot keep others out: a connection that has not sent its whole request within request_deadline
    seconds of starting to wait for one is closed, and at connection_limit the connections that have waited longest
    for their request are closed to make room (waitress on its own counts only idle time, and stops accepting).
    """
    from waitress.adjustments import Adjustments
    from waitress.server import MultiSocketServer
    from waitress.task import ThreadedTaskDispatcher

    for name in ("waitress", "waitress.queue"):  # "task queue depth" notes are normal under load
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        adj = Adjustments(
            host=host, port=port, threads=threads, ident="nyhetsbrev", connection_limit=connection_limit,
            max_request_body_size=MAX_REQUEST_BODY, max_request_header_size=16 * 1024, channel_timeout=IDLE_TIMEOUT,
            cleanup_interval=1, clear_untrusted_proxy_headers=True, expose_tracebacks=False,
        )
        dispatcher = ThreadedTaskDispatcher()
        dispatcher.set_thread_count(adj.threads)
        connections: dict = {}
        server_class = _guarded_server_class()
        servers = [server_class(app, connections, dispatcher=dispatcher, adj=adj, sockinfo=sockinfo,
                                request_deadline=request_deadline) for sockinfo in adj.listen]
    except OSError as exc:
        what = (_("{address} is in use") if exc.errno == errno.EADDRINUSE else
                _("{address} cannot be used ({reason})")).format(address=f"{host}:{port}", reason=exc.strerror or exc)
        raise ServeError(what, hint=_("stop the other program or choose another --port")) from None
    if len(servers) == 1:
        return servers[0]
    listening = [(server.effective_host, server.effective_port) for server in servers]
    return MultiSocketServer(connections, adj, listening, dispatcher, servers[0].log_info)


def _guarded_server_class():
    """waitress's TCP server with a deadline for each request and room made for new clients at the limit."""
    from waitress.channel import HTTPChannel
    from waitress.server import TcpWSGIServer

    class Channel(HTTPChannel):
        """A connection that knows since when it has been waiting for a request (not serving or sending one)."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.waiting_since = self.creation_time

        def busy(self) -> bool:
            """Serving a request, or sending an answer: not waiting for the client."""
            return bool(self.requests or self.total_outbufs_len)

    class Server(TcpWSGIServer):
        channel_class = Channel

        def __init__(self, *args, request_deadline: float, **kwargs) -> None:
            self.request_deadline = request_deadline
            super().__init__(*args, **kwargs)

        def maintenance(self, now: float) -> None:
            """waitress's idle timeout, then: close each connection whose request is not all there in time."""
            super().maintenance(now)
            cutoff = now - self.request_deadline
            for channel in list(self.active_channels.values()):
                if channel.busy():
                    channel.waiting_since = now
                elif channel.waiting_since < cutoff:
                    channel.will_close = True

        def readable(self) -> bool:
            """Accept new connections; at the limit first close those that have waited longest for a request."""
            if self.accepting and len(self._map) >= self.adj.connection_limit:
                self.make_room()
            return super().readable()

        def make_room(self) -> None:
            """Close the tenth of the connections (at least one) that have waited longest for their request."""
            waiting = [c for c in self.active_channels.values() if not c.will_close and not c.busy()]
            waiting.sort(key=lambda channel: channel.waiting_since)
            for channel in waiting[:max(1, self.adj.connection_limit // 10)]:
                channel.will_close = True

    return Server


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
    """systemd stops a service with SIGTERM (Windows: Ctrl-Break): end as on Ctrl-C, closing the database cleanly."""
    if threading.current_thread() is not threading.main_thread():
        return

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    for signum in stop_signals():
        if signum != signal.SIGINT:  # Ctrl-C raises KeyboardInterrupt already (unless it is ignored, as it stays)
            signal.signal(signum, stop)
