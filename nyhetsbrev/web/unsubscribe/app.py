"""The one-click unsubscribe endpoint as a WSGI application (RFC 8058): a GET asks, a POST unsubscribes."""

from __future__ import annotations

import email.parser
import email.policy
import sqlite3
import threading
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from ...errors import NyhetsbrevError, TokenError
from ...project import config
from ...store import open_db, unsubscribe
from ...store.db import default_db_path, write_retrying
from ...store.suppressions import signing_key
from ...store.tokens import verify_token
from .pages import Page, Pages

DEFAULT_PATH = "/avregistrera"
MAX_BODY = 4096  # what mail clients and the page's form send is a few dozen bytes
WRITE_PATIENCE = 15.0  # seconds an unsubscribe waits for another program's write lock; then "try again" (503)
RETRY_AFTER = 60  # seconds, in the 503's Retry-After: the page says "try again in a minute"
ONE_CLICK = ("List-Unsubscribe", "One-Click")
SOURCE_ONE_CLICK = "one-click"  # the RFC 8058 body: sent by the mail client's own unsubscribe button
SOURCE_WEB = "web"  # the button on the page
# No cookies, no caching, no outside resources, no referrer (the address holds the token), never inside a frame.
_HEADERS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("X-Robots-Tag", "noindex, nofollow"),
    ("Content-Security-Policy",
     "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
]
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            413: "Content Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}


def served_path(unsubscribe_url: str | None) -> str:
    """The path the service answers on: that of unsubscribe_url, else /avregistrera."""
    if not unsubscribe_url:
        return DEFAULT_PATH
    path = unquote(urlsplit(unsubscribe_url).path) or "/"
    return path if path == "/" else path.rstrip("/")


class UnsubscribeApp:
    """The WSGI application; one database connection per server thread, opened when that thread first needs it."""

    def __init__(self, root: Path, db_path: Path | None = None) -> None:
        self.settings = config.load_settings(Path(root) / config.SETTINGS_FILE)
        self.path = served_path(self.settings.unsubscribe_url)
        self.pages = Pages(self.settings)
        self.db_path = Path(db_path) if db_path else default_db_path(root)
        first = open_db(self.db_path, create=False)  # a missing database is an error now, not on the first click
        try:
            self.key = signing_key(first)
        finally:
            first.close()  # none is kept from here: a server that forks workers after loading the app must not share it
        self._local = threading.local()
        self._open: list = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response):
        """Answer one request (PEP 3333)."""
        try:
            page, allow = self._answer(environ)
        except Exception as exc:  # noqa: BLE001 - a bug answers with a page; the log gets its name, never the request
            environ["nyhetsbrev.note"] = f"unexpected {type(exc).__name__}"
            page, allow = self.pages.error(), None
        headers = list(_HEADERS) + [("Content-Length", str(len(page.body)))]
        if allow:
            headers.append(("Allow", allow))
        if page.status == 503:
            headers.append(("Retry-After", str(RETRY_AFTER)))
        start_response(f"{page.status} {_REASONS.get(page.status, '')}".rstrip(), headers)
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else page.body]

    def close(self) -> None:
        """Close the database connections that this thread may close (call it when the server has stopped)."""
        with self._lock:
            for db in self._open:
                try:
                    db.close()
                except sqlite3.ProgrammingError:  # made in a server thread; SQLite closes it when the process ends
                    pass
            self._open.clear()

    def _answer(self, environ: dict) -> tuple[Page, str | None]:
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        if (path.rstrip("/") or "/") != self.path:
            return self.pages.not_found(), None
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD", "POST"):
            return self.pages.method_not_allowed(), "GET, HEAD, POST"
        token = _first(parse_qs(environ.get("QUERY_STRING", "")), "token")
        if method == "POST":
            body = _read_body(environ)
            if body is None:
                return self.pages.too_large(), None
            form = _form(body, environ.get("CONTENT_TYPE", ""))
            token = token or _first(form, "token")
        try:
            address = verify_token(self.key, token)
        except TokenError:
            return self.pages.invalid(), None
        if method != "POST":
            return self.pages.ask(token), None  # a GET never unsubscribes: mail scanners open every link
        source = SOURCE_ONE_CLICK if _first(form, ONE_CLICK[0]) == ONE_CLICK[1] else SOURCE_WEB
        try:
            db = self._db()
            write_retrying(db, lambda: unsubscribe(db, address, source, secret=self.key), patience=WRITE_PATIENCE)
        except (sqlite3.OperationalError, NyhetsbrevError) as exc:
            environ["nyhetsbrev.note"] = f"not saved: {type(exc).__name__}"  # the message could hold the address
            return self.pages.busy(), None
        return self.pages.done(), None

    def _db(self):
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = open_db(self.db_path, create=False)
            with self._lock:
                self._open.append(db)
        return db


def _first(values: dict[str, list[str]], name: str) -> str:
    found = values.get(name)
    return found[0] if found else ""


def _read_body(environ: dict) -> bytes | None:
    """The request body, or None when it is over MAX_BODY."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        return None
    stream = environ.get("wsgi.input")
    if stream is None or length <= 0:
        return b""
    return stream.read(length)


def _form(body: bytes, content_type: str) -> dict[str, list[str]]:
    """The fields of a form body: application/x-www-form-urlencoded or multipart/form-data (RFC 8058 allows both)."""
    if content_type.lower().startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + body)
        fields: dict[str, list[str]] = {}
        if message.is_multipart():
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if name:
                    payload = part.get_payload(decode=True) or b""
                    fields.setdefault(str(name), []).append(payload.decode("utf-8", "replace").strip())
        return fields
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
