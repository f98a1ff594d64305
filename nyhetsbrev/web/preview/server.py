"""The preview server: builds the issue, serves the preview page on 127.0.0.1 and rebuilds on every change."""

from __future__ import annotations

import errno
import html
import json
import math
import mimetypes
import os
import secrets
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, unquote, urlsplit

from ...project import config
from ...errors import IssueIdError, IssueNotFound, PreviewError
from ...project.models import IssueId
from .builds import BuildFailure, PreviewBuild, describe_failure, frame_html, make_build, page_html, read_asset
from .watcher import Watcher
from ...i18n import _

HOST = "127.0.0.1"
LONG_POLL_SECONDS = 20.0
PORT_TRIES = 10  # the asked port, then the next ones, then any free port
_ASSET_TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript"}


@dataclass(frozen=True)
class BuildEvent:
    """What one rebuild did, for whoever prints progress."""

    seconds: float
    failure: BuildFailure | None = None
    warnings: int = 0
    errors: int = 0


class PreviewState:
    """The last good build, the last failure and an epoch that moves whenever the page should reload."""

    def __init__(self) -> None:
        self.instance = secrets.token_hex(6)  # tells the page that the server was restarted
        self.epoch = 0
        self.good: PreviewBuild | None = None
        self.failure: BuildFailure | None = None
        self._cond = threading.Condition()
        self._closing = False

    def publish(self, good: PreviewBuild | None, failure: BuildFailure | None) -> bool:
        """Swap in a finished build (or a failure, keeping the last good build); True if the epoch moved."""
        with self._cond:
            new_good = good if good is not None else self.good
            if (good is None or good == self.good) and failure == self.failure:
                return False
            self.good, self.failure = new_good, failure
            self.epoch += 1
            self._cond.notify_all()
            return True

    def current(self) -> tuple[int, PreviewBuild | None, BuildFailure | None]:
        """(epoch, last good build, failure) taken together."""
        with self._cond:
            return self.epoch, self.good, self.failure

    def wait(self, after: int, timeout: float) -> int:
        """Block until the epoch differs from `after` (or timeout, or shutdown); return the epoch."""
        with self._cond:
            self._cond.wait_for(lambda: self.epoch != after or self._closing, timeout)
            return self.epoch

    def close(self) -> None:
        """Release every waiting long-poll."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()


class PreviewServer:
    """A live-reloading preview of one issue; start() serves in background threads, stop() ends them."""

    def __init__(
        self,
        root: Path,
        issue_id: IssueId | str,
        port: int = 8000,
        *,
        poll_interval: float = 0.05,
        debounce: float = 0.05,
        on_build: Callable[[BuildEvent], None] | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.issue_id = issue_id if isinstance(issue_id, IssueId) else IssueId.parse(issue_id)
        self.requested_port = port
        self.port: int | None = None
        self.port_note: str | None = None  # why another port than the asked one is used
        self.state = PreviewState()
        self.on_build = on_build
        self.builds = 0
        self._poll_interval, self._debounce = poll_interval, debounce
        self._build_lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._watcher: Watcher | None = None

    @property
    def url(self) -> str:
        """The address of the preview page."""
        return f"http://{HOST}:{self.port}/"

    def watched_paths(self) -> list[Path]:
        """The files and folders whose changes trigger a rebuild."""
        return [
            self.root / "issues" / self.issue_id.folder,
            self.root / config.ROSTER_FILE,
            self.root / config.SETTINGS_FILE,
            self.root / "templates",
        ]

    def start(self) -> "PreviewServer":
        """Build once, bind the port and serve; an unknown issue raises IssueNotFound before anything starts."""
        watcher = Watcher(
            self.watched_paths(), lambda _paths: self.rebuild(), interval=self._poll_interval, quiet=self._debounce)
        watcher.prime()  # a save during the first build is then still seen
        self.rebuild(first=True)
        self._httpd = self._bind()
        self._httpd.preview = self  # type: ignore[attr-defined]
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="nyhetsbrev-preview-http", daemon=True)
        self._thread.start()
        self._watcher = watcher.start()
        return self

    def stop(self) -> None:
        """Stop watching and serving; returns when the port is free again."""
        if self._watcher is not None:
            self._watcher.stop()
        self.state.close()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> "PreviewServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def rebuild(self, *, first: bool = False) -> BuildEvent:
        """Build the issue now and publish the result; a failure keeps the last good build."""
        with self._build_lock:  # one build at a time; the page only ever sees finished ones
            started = time.perf_counter()
            self.builds += 1
            try:
                build = make_build(self.root, self.issue_id)
            except (IssueNotFound, IssueIdError) as exc:
                if first:
                    raise
                failure, build = describe_failure(self.root, exc, str(self.issue_id)), None
            except Exception as exc:  # noqa: BLE001 - a broken file must never stop the preview
                failure, build = describe_failure(self.root, exc, str(self.issue_id)), None
            else:
                failure = None
            self.state.publish(build, failure)
        problems = build.problems if build else ()
        event = BuildEvent(
            seconds=time.perf_counter() - started, failure=failure,
            warnings=sum(p["level"] == "warning" for p in problems), errors=sum(p["level"] == "error" for p in problems),
        )
        if self.on_build is not None and not first:
            try:
                self.on_build(event)
            except Exception:  # noqa: BLE001 - printing progress must not stop the preview
                pass
        return event

    def _bind(self) -> ThreadingHTTPServer:
        asked = self.requested_port
        candidates = [asked] + ([asked + i for i in range(1, PORT_TRIES) if asked + i < 65536] + [0] if asked else [])
        first_problem = None
        for port in candidates:
            try:
                httpd = _Server((HOST, port), _Handler)
            except OSError as exc:
                if first_problem is None:
                    first_problem = (_("port {port} is in use") if exc.errno == errno.EADDRINUSE else
                                     _("port {port} cannot be used ({reason})")).format(port=asked, reason=exc.strerror)
                continue
            if port != asked:
                self.port_note = _("{problem}; using port {port} instead").format(problem=first_problem,
                                                                                  port=httpd.server_address[1])
            return httpd
        raise PreviewError(_("no free port on {host} to serve the preview").format(host=HOST), hint=_("close another preview or pass --port"))


def serve(
    root: Path,
    issue_id: IssueId | str,
    port: int = 8000,
    open_browser: bool = True,
    on_ready: Callable[[PreviewServer], None] | None = None,
    on_build: Callable[[BuildEvent], None] | None = None,
) -> PreviewServer:
    """Serve a live preview of the issue until Ctrl-C; opens the browser unless told not to."""
    server = PreviewServer(root, issue_id, port, on_build=on_build)
    try:
        server.start()
        if on_ready is not None:
            on_ready(server)
        if open_browser:
            import webbrowser

            webbrowser.open(server.url)
        while True:  # until Ctrl-C (a plain sleep is interruptible on every platform)
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return server


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a long-poll in progress never holds up Ctrl-C
    # A restarted preview takes its port straight back; on Windows the same flag would let two servers share a port.
    allow_reuse_address = os.name != "nt"
    preview: PreviewServer

    def handle_error(self, request, client_address) -> None:
        pass  # one broken request (a reset, garbage on the socket) must not print a traceback into the terminal


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "nyhetsbrev-preview"

    def log_message(self, format, *args):  # noqa: A002 - silence the per-request log on stderr
        pass

    def do_GET(self) -> None:  # noqa: N802 - the http.server naming
        try:
            self._route()
        except Exception as exc:  # a bad request never kills the preview or prints a traceback
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, f"preview error: {exc}".encode("utf-8"), "text/plain")

    def _route(self) -> None:
        preview = self.server.preview
        if not self._host_allowed():
            return self._send(HTTPStatus.FORBIDDEN, b"forbidden host", "text/plain")
        parts = urlsplit(self.path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        epoch, good, failure = preview.state.current()
        if path in ("/", "/index.html"):
            return self._send(HTTPStatus.OK, page_html("page.html"), "text/html; charset=utf-8")
        if path.startswith("/assets/"):
            return self._asset(path[len("/assets/"):])
        if path == "/api/state":
            return self._json(self._state_json(epoch, good, failure))
        if path == "/api/wait":
            after = int(_number(query, "epoch", -1))
            now = preview.state.wait(after, max(0.0, min(_number(query, "timeout", LONG_POLL_SECONDS), LONG_POLL_SECONDS)))
            return self._json({"instance": preview.state.instance, "epoch": now})
        if path == "/email.html":
            if good is None:
                return self._no_build(failure)
            page = frame_html(good.email_html, markers=_flag(query, "markers", True), dark=_flag(query, "dark", False))
            return self._send(HTTPStatus.OK, page.encode("utf-8"), "text/html; charset=utf-8")
        if path == "/web.html":
            if good is None:
                return self._no_build(failure)
            return self._send(HTTPStatus.OK, good.web_html.encode("utf-8"), "text/html; charset=utf-8")
        if path == "/link/unsubscribe":
            if good is not None and good.unsubscribe_page:
                return self._send(HTTPStatus.OK, good.unsubscribe_page, "text/html; charset=utf-8")
            return self._send(HTTPStatus.OK, page_html("unsubscribe.html"), "text/html; charset=utf-8")  # mailto only
        if path == "/favicon.ico":
            return self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
        return self._issue_file(path, good)

    def _state_json(self, epoch: int, good: PreviewBuild | None, failure: BuildFailure | None) -> dict:
        preview = self.server.preview
        return {
            "instance": preview.state.instance, "epoch": epoch, "issue": str(preview.issue_id),
            "build": good.to_json() if good else None, "error": failure.to_json() if failure else None,
            # the check panel: the error that stopped the last build, else what the check of the build found
            "problems": [failure.as_problem()] if failure else list(good.problems) if good else [],
        }

    def _issue_file(self, path: str, good: PreviewBuild | None) -> None:
        """Images and other files the email links relative to the issue folder (never outside it)."""
        image = good.images.get(path.lstrip("/")) if good else None
        if image is not None:  # an image made fit for email, as the message carries it
            return self._send(HTTPStatus.OK, image.data, f"image/{image.kind}")
        folder = (good.issue_folder if good else self.server.preview.root / "issues" /
                  self.server.preview.issue_id.folder).resolve()
        try:
            target = (folder / path.lstrip("/")).resolve()
            found = target.is_relative_to(folder) and target.is_file()
        except (OSError, ValueError):  # a NUL byte or an over-long name in the URL
            found = False
        kind = mimetypes.guess_type(path)[0] or ""
        if not found or not kind.startswith(("image/", "application/pdf")):
            return self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
        return self._send(HTTPStatus.OK, target.read_bytes(), kind)

    def _no_build(self, failure: BuildFailure | None) -> None:
        message = failure.message if failure else _("the issue has not been built yet")
        body = html.escape(message)
        page = ("<!doctype html><meta charset='utf-8'><body style='font:15px system-ui,sans-serif;padding:24px'>"
                f"<p><strong>Nothing to show yet.</strong></p><p>{body}</p>"
                "<p>Fix the file and save it: the preview rebuilds by itself.</p></body>")
        self._send(HTTPStatus.SERVICE_UNAVAILABLE, page.encode("utf-8"), "text/html; charset=utf-8")

    def _asset(self, name: str) -> None:
        kind = _ASSET_TYPES.get(Path(name).suffix)
        body = read_asset(name) if kind else None
        if body is None:
            return self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
        return self._send(HTTPStatus.OK, body, f"{kind}; charset=utf-8")

    def _json(self, data: dict) -> None:
        self._send(HTTPStatus.OK, json.dumps(data, ensure_ascii=False).encode("utf-8"), "application/json")

    def _send(self, status: HTTPStatus, body: bytes, kind: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the page went away mid-answer (reload, closed tab)
            pass

    def _host_allowed(self) -> bool:
        # Refuse pages of other sites that reach the preview through a hostname pointed at 127.0.0.1.
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
        return host in ("", "127.0.0.1", "localhost")


def _number(query: dict, name: str, default: float) -> float:
    try:
        value = float(query.get(name, [""])[0])
    except ValueError:
        return default
    return value if math.isfinite(value) else default


def _flag(query: dict, name: str, default: bool) -> bool:
    value = query.get(name, [""])[0]
    return default if value == "" else value not in ("0", "false", "no", "off")
