"""Shared by the serve tests: `nyhetsbrev serve` as a real subprocess on a free loopback port, and plain HTTP calls."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from tests.fixtures import REPO
from tests.send_helpers import make_project

ONE_CLICK = "List-Unsubscribe=One-Click"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Answer:
    """One HTTP response as received (no redirects followed, nothing decoded but the body)."""

    status: int
    headers: dict[str, str]
    header_names: list[str]
    body: str


@dataclass
class Served:
    """A running `nyhetsbrev serve`: its process, base URL and what it printed so far."""

    process: subprocess.Popen
    url: str
    output: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname

    @property
    def port(self) -> int:
        return urlsplit(self.url).port

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    def link(self, token: str) -> str:
        """The path and query of a personal unsubscribe link."""
        return f"{self.path}?token={quote(token, safe='')}"

    def request(self, method: str, target: str, body: bytes | str | None = None, headers: dict | None = None,
                connection: http.client.HTTPConnection | None = None) -> Answer:
        """Send one request (on the given keep-alive connection, or a new one)."""
        own = connection is None
        conn = connection or http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, target, body=body.encode("utf-8") if isinstance(body, str) else body,
                         headers=headers or {})
            response = conn.getresponse()
            data = response.read()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()},
                          [k.lower() for k, _ in response.getheaders()], data.decode("utf-8", "replace"))
        finally:
            if own:
                conn.close()

    def stop(self) -> tuple[int, str]:
        """SIGTERM (as systemd stops it); the exit code and everything it printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._reader.join(5)
        return code, "".join(self.output)


class ServedHere(Served):
    """The same service in this process: the application under the service's own waitress server (create_server,
    AccessLog), in a thread on a free loopback port. Same requests, same answers, same database file. `limits` go to
    create_server as they are."""

    def __init__(self, root: Path, **limits) -> None:
        from nyhetsbrev.web.unsubscribe import AccessLog, UnsubscribeApp
        from nyhetsbrev.web.unsubscribe.server import create_server

        self.app = UnsubscribeApp(root)
        output: list[str] = []
        self.server = create_server(AccessLog(self.app, lambda line: output.append(line + "\n")), "127.0.0.1", 0, **limits)
        super().__init__(None, f"http://127.0.0.1:{self.server.effective_port}{self.app.path}", output)
        self._thread = threading.Thread(target=self.server.run, daemon=True)
        self._thread.start()

    def stop(self) -> tuple[int, str]:
        """Close every connection from the server's own thread (its loop then ends), then its worker threads."""
        from waitress import wasyncore

        self.server.trigger.pull_trigger(lambda: wasyncore.close_all(self.server._map))
        self._thread.join(10)
        self.server.task_dispatcher.shutdown()
        self.app.close()
        return 0, "".join(self.output)


def start_serve(root: Path, *extra: str, env: dict | None = None) -> Served:
    """Start `nyhetsbrev serve --port 0` for the project and wait for the line that names its URL."""
    environment = dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="300", **(env or {}))
    process = subprocess.Popen(
        [sys.executable, "-m", "nyhetsbrev", "--project", str(root), "serve", "--port", "0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment, cwd=REPO,
    )
    first = process.stdout.readline()
    if "http://" not in first:
        rest = process.communicate(timeout=15)[0]
        raise AssertionError(f"serve did not start: {first}{rest}")
    served = Served(process, "http://" + first.split("http://", 1)[1].split()[0], [first])

    def read() -> None:
        for line in process.stdout:
            served.output.append(line)

    served._reader = threading.Thread(target=read, daemon=True)
    served._reader.start()
    return served


def open_database():
    """The test's real database file, opened as the CLI opens it."""
    from nyhetsbrev.store import open_db

    return open_db(Path(os.environ["NYHETSBREV_DB"]))


def token_for(address: str) -> str:
    """The personal token that a sent email would carry for address (the newsletter's own key)."""
    from nyhetsbrev.store import signing_key
    from nyhetsbrev.store.tokens import make_token

    db = open_database()
    try:
        return make_token(signing_key(db), address)
    finally:
        db.close()


def events(address: str) -> list[tuple[str, str]]:
    """(event, source) of every subscription event of the person, oldest first."""
    db = open_database()
    try:
        return [tuple(row) for row in db.execute(
            "SELECT e.event, e.source FROM subscription_events e JOIN recipients r ON r.id = e.recipient_id"
            " WHERE r.email = ? ORDER BY e.id", [address])]
    finally:
        db.close()


def suppression(address: str) -> str | None:
    """Why the address gets no mail, or None."""
    from nyhetsbrev.store import is_suppressed

    db = open_database()
    try:
        return is_suppressed(db, address)
    finally:
        db.close()


@pytest.fixture
def served_project(tmp_path):
    """A project whose unsubscribe_url is https://www.example.org/avregistrera (people are added by each test).

    No database yet: a test that needs one adds people.
    """
    return make_project(tmp_path / "project", lists=())


@pytest.fixture(params=["subprocess", "in-process"])
def served_either(request, served_project):
    """The service for served_project, run as `nyhetsbrev serve` and in this process (where a test run can follow
    which code each request reaches); stopped after the test."""
    from tests.send_helpers import add_people

    add_people(1, ["alla"], prefix="start")  # the database must exist before serve starts
    running = start_serve(served_project) if request.param == "subprocess" else ServedHere(served_project)
    yield running
    running.stop()


@pytest.fixture
def served(served_project):
    """`nyhetsbrev serve` running for served_project; stopped (SIGTERM) after the test."""
    from tests.send_helpers import add_people

    add_people(1, ["alla"], prefix="start")  # the database must exist before serve starts
    running = start_serve(served_project)
    yield running
    running.stop()


class SlowClients:
    """Connections on loopback that each send the start of a request and then one header line every `every` seconds,
    never finishing it (as a client that holds connections open to keep others out). Bounded: `count` connections,
    and the clients stop by themselves after `lasting` seconds (or at close()).
    """

    def __init__(self, host: str, port: int, count: int, *, every: float = 1.0, lasting: float = 60.0) -> None:
        import socket

        self.sockets = []
        self._closed: set[int] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        for _ in range(count):
            sock = socket.create_connection((host, port), timeout=10)
            sock.sendall(b"POST /avregistrera?token=x HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            sock.setblocking(False)
            self.sockets.append(sock)
        self._every, self._lasting = every, lasting
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()

    def _trickle(self) -> None:
        import time

        ends = time.monotonic() + self._lasting
        line = 0
        while not self._stop.wait(self._every) and time.monotonic() < ends:
            line += 1
            self.closed_by_server()  # notes the ones the server has closed
            for n, sock in enumerate(self.sockets):
                if n not in self._closed:
                    try:
                        sock.send(f"X-Slow-{line}: {'a' * 20}\r\n".encode("ascii"))
                    except OSError:
                        with self._lock:
                            self._closed.add(n)
        self.close()

    @property
    def running(self) -> bool:
        """Still trickling (neither stopped nor past `lasting`)."""
        return self._thread.is_alive()

    def closed_by_server(self) -> int:
        """How many of the connections the server has closed so far."""
        import select

        for n, sock in enumerate(self.sockets):
            if n in self._closed or sock.fileno() < 0:
                continue
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                try:
                    gone = sock.recv(65536) == b""
                except BlockingIOError:
                    gone = False
                except OSError:
                    gone = True
                if gone:
                    with self._lock:
                        self._closed.add(n)
        return len(self._closed)

    def close(self) -> None:
        """Stop trickling and close every connection."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(10)
        for sock in self.sockets:
            sock.close()
