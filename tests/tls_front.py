"""TLS in front of a plain HTTP server on 127.0.0.1, as the organisation's web server stands in front of serve."""

from __future__ import annotations

import functools
import http.server
import select
import socket
import ssl
import threading
from pathlib import Path


class _InThread:
    """A server on 127.0.0.1 (self.port) run by a daemon thread (self._thread): start() or a with-block, then stop()."""

    scheme = "http"

    def url(self, path: str = "/") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class TlsFront(_InThread):
    """Accepts TLS on 127.0.0.1:port (the test certificate) and passes the bytes to 127.0.0.1:backend_port."""

    def __init__(self, certificate: tuple[Path, Path], backend_port: int) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(*[str(p) for p in certificate])
        self.backend_port = backend_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    scheme = "https"

    def stop(self) -> None:
        self._stopped.set()
        self.listener.close()
        self._thread.join(5)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _address = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        try:
            client.settimeout(30)
            secure = self.context.wrap_socket(client, server_side=True)
        except (OSError, ssl.SSLError):
            client.close()
            return
        backend = socket.create_connection(("127.0.0.1", self.backend_port), timeout=30)
        # One thread reads and writes both sides: OpenSSL does not allow one connection to be read in one thread
        # while another writes to it (under load that garbled records: the client saw "wrong version number").
        other = {secure: backend, backend: secure}
        try:
            while True:
                ready = [secure] if secure.pending() else select.select([secure, backend], [], [], 30)[0]
                if not ready:
                    return
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    other[source].sendall(data)
        except OSError:
            pass
        finally:
            for sock in (secure, backend):
                try:
                    sock.close()
                except OSError:
                    pass


class StaticSite(_InThread):
    """A plain HTTP server on 127.0.0.1 for a folder (the archive as the web server would hold it)."""

    def __init__(self, folder: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass
