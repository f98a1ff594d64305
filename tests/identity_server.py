"""A local stand-in of Microsoft's sign-in service (Entra ID's v2.0 endpoints) over HTTPS on 127.0.0.1.

Microsoft itself cannot be reached from the tests, so this speaks the same protocol MSAL speaks to it: the tenant's
OpenID configuration, the device-code endpoint (RFC 8628, 'authorization_pending' until approved) and the token
endpoint (device code and refresh-token grants, id_token and client_info as Entra ID returns them). Its certificate
is signed by a certificate authority the test makes with openssl, handed to MSAL as its `verify` bundle.
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

USERNAME = "nyhetsbrev@example.org"  # the mailbox of tests/smtp_server.py and tests/mailserver.py
TENANT = "4f1c9a2e-0b7d-4e55-9c3a-2d8e6f7a1b90"
CLIENT_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


def make_authority(folder: Path) -> tuple[Path, Path, Path]:
    """A test certificate authority and a certificate for 127.0.0.1 signed by it: (ca.pem, cert.pem, key.pem)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key, cert, key = folder / "ca.pem", folder / "ca.key", folder / "cert.pem", folder / "key.pem"
    if cert.exists():
        return ca, cert, key
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", *ec, "-days", "2", "-subj", "/CN=nyhetsbrev test CA", "-keyout", str(ca_key), "-out", str(ca),
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    (folder / "leaf.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                                     "extendedKeyUsage=serverAuth\n")
    run("req", *ec, "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(folder / "leaf.csr"))
    run("x509", "-req", "-in", str(folder / "leaf.csr"), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-days", "2", "-out", str(cert), "-extfile", str(folder / "leaf.ext"))
    return ca, cert, key


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class IdentityServer:
    """The sign-in stand-in: approves device codes after `pending_polls` polls, refreshes while `refresh_ok`."""

    def __init__(self, certificate: tuple[Path, Path], username: str) -> None:
        self.username = username
        self.lock = threading.Lock()
        self.pending_polls = 1
        self.refresh_ok = True
        self.expires_in = 3600
        self.issued: list[str] = []  # every access and refresh token handed out
        self.access_tokens: set[str] = set()  # the ones an SMTP or IMAP stand-in should accept now
        self.requests: list[tuple[str, dict]] = []  # (path, form fields) of every POST
        self.user_code = "KQ7-M4XP"
        self._polls = 0
        self._device_scope = ""
        self._refresh_tokens: set[str] = set()
        handler = type("Handler", (_Handler,), {"server_state": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*[str(p) for p in certificate])
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "IdentityServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def grants(self, kind: str) -> int:
        """How many token requests of this grant type came in."""
        with self.lock:
            return sum(1 for path, form in self.requests if form.get("grant_type", "").endswith(kind))

    # -- what the endpoints answer ------------------------------------------
    def configuration(self) -> dict:
        root = f"{self.base}/{TENANT}"
        return {
            "issuer": f"{root}/v2.0",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "response_types_supported": ["code"],
        }

    def device_code(self, form: dict) -> tuple[int, dict]:
        if form.get("client_id") != CLIENT_ID:
            return 400, {"error": "unauthorized_client", "error_description": "AADSTS700016: application not found"}
        self._polls = 0
        self._device_scope = form.get("scope", "")  # what the tokens of this sign-in are for
        return 200, {"device_code": "dc-" + secrets.token_hex(8), "user_code": self.user_code,
                     "verification_uri": "https://microsoft.com/devicelogin", "expires_in": 900, "interval": 1,
                     "message": f"To sign in, open https://microsoft.com/devicelogin and enter {self.user_code}"}

    def token(self, form: dict) -> tuple[int, dict]:
        grant = form.get("grant_type", "")
        if grant.endswith("device_code"):
            self._polls += 1
            if self._polls <= self.pending_polls:
                return 400, {"error": "authorization_pending", "error_description": "AADSTS70016: pending"}
            return 200, self._tokens({**form, "scope": self._device_scope})
        if grant == "refresh_token":
            if not self.refresh_ok or form.get("refresh_token") not in self._refresh_tokens:
                return 400, {"error": "invalid_grant", "error_description": "AADSTS700082: The refresh token has expired"}
            return 200, self._tokens(form)
        return 400, {"error": "unsupported_grant_type"}

    def _tokens(self, form: dict) -> dict:
        access, refresh = "at-" + secrets.token_urlsafe(24), "rt-" + secrets.token_urlsafe(24)
        self.issued += [access, refresh]
        self.access_tokens.clear()  # like a rotated key: only the newest access token is good
        self.access_tokens.add(access)
        self._refresh_tokens = {refresh}
        oid, now = "0d3c2b1a-aaaa-4bbb-8ccc-123456789abc", int(time.time())
        claims = {"iss": self.configuration()["issuer"], "aud": CLIENT_ID, "iat": now, "nbf": now, "exp": now + 3600,
                  "sub": "sub-" + oid, "oid": oid, "tid": TENANT, "preferred_username": self.username,
                  "name": "Nyhetsbrev Exempel"}
        id_token = ".".join([_b64url(b'{"alg":"none","typ":"JWT"}'), _b64url(json.dumps(claims).encode()), ""])
        return {"token_type": "Bearer", "scope": form.get("scope", ""), "expires_in": self.expires_in,
                "ext_expires_in": self.expires_in, "access_token": access, "refresh_token": refresh,
                "id_token": id_token, "client_info": _b64url(json.dumps({"uid": oid, "utid": TENANT}).encode())}


class _Handler(BaseHTTPRequestHandler):
    server_state: IdentityServer

    def log_message(self, *args) -> None:  # quiet: the tests read the recorded requests instead
        pass

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        state = self.server_state
        if urllib.parse.urlsplit(self.path).path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
            return self._answer(200, state.configuration())
        return self._answer(404, {"error": "not_found"})

    def do_POST(self) -> None:
        state = self.server_state
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        path = urllib.parse.urlsplit(self.path).path
        with state.lock:
            state.requests.append((path, form))
            if path == f"/{TENANT}/oauth2/v2.0/devicecode":
                return self._answer(*state.device_code(form))
            if path == f"/{TENANT}/oauth2/v2.0/token":
                return self._answer(*state.token(form))
        return self._answer(404, {"error": "not_found"})


@pytest.fixture(scope="session")
def authority_files(tmp_path_factory):
    """(ca.pem, cert.pem, key.pem): a certificate authority made for this run and the stand-in's certificate."""
    return make_authority(tmp_path_factory.mktemp("identity"))


@pytest.fixture
def identity(authority_files, monkeypatch):
    """The sign-in stand-in, running, with nyhetsbrev (MSAL) pointed at it."""
    ca, cert, key = authority_files
    with IdentityServer((cert, key), USERNAME) as server:
        monkeypatch.setenv("NYHETSBREV_OAUTH_AUTHORITY", server.base)
        monkeypatch.setenv("NYHETSBREV_OAUTH_CAFILE", str(ca))
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        yield server
