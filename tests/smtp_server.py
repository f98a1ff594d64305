"""A real aiosmtpd server on 127.0.0.1 with scripted faults, optional STARTTLS/TLS and AUTH, recording everything."""

from __future__ import annotations

import asyncio
import base64
import binascii
import email
import email.policy
import logging
import ssl
import subprocess
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's own chatter is not what the tests read

DROP = "drop"  # a scripted reply that closes the connection instead of answering
USERNAME = "nyhetsbrev@example.org"
PASSWORD = "hemligt-Lösen-7f3a9c"


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1 (cert file, key file), made with openssl."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    if not cert.exists():
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-days", "2", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-keyout", str(key), "-out", str(cert),
            ],
            check=True, capture_output=True,
        )
    return cert, key


@dataclass
class Received:
    """One message the server accepted with 250."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool
    login: str | None
    at: float = 0.0  # when it arrived, on the server's clock (a test's fake clock when it sets one)

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)


@dataclass
class Attempt:
    """One command the server answered (or dropped): stage, address and the reply given."""

    stage: str
    address: str
    reply: str


class _Handler:
    def __init__(self, server: "FaultServer") -> None:
        self.s = server

    async def _scripted(self, smtp: SMTP, stage: str, address: str) -> str | None:
        s = self.s
        with s.lock:
            queue = s.scripts.get((stage, address.lower()))
            reply = queue.popleft() if queue else None
            if reply is None and stage == "mail" and s.mail_script:
                reply = s.mail_script.popleft()
            if reply is None:
                reply = s.always.get(stage)
            s.attempts.append(Attempt(stage, address, reply or "250"))
        if reply == DROP:
            smtp.transport.close()
            await asyncio.sleep(30)  # cancelled when the connection is gone
        if reply and reply.startswith("421"):
            await smtp.push(reply)
            smtp.transport.close()
            await asyncio.sleep(30)
        return reply

    async def handle_EHLO(self, smtp, session, envelope, hostname, responses):
        with self.s.lock:
            away = self.s.away
        if away:  # a connection is taken, then dropped at its greeting: the sender cannot get through
            smtp.transport.close()
            await asyncio.sleep(30)  # cancelled when the connection is gone
        session.host_name = hostname
        if self.s.pipelining:  # commands are read one line at a time, so pipelined ones simply wait their turn
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, smtp, session, envelope, address, options):
        reply = await self._scripted(smtp, "mail", address)
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, smtp, session, envelope, address, options):
        reply = await self._scripted(smtp, "rcpt", address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, smtp, session, envelope):
        if self.s.delay:
            await asyncio.sleep(self.s.delay)
        await self._held()
        reply = None
        for address in envelope.rcpt_tos:
            reply = reply or await self._scripted(smtp, "data", address)
        if reply:
            return reply
        login = getattr(session.auth_data, "login", None)
        if isinstance(login, bytes):
            login = login.decode()
        with self.s.lock:
            self.s.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content, _is_tls(smtp, session), login,
                         self.s.clock())
            )
            gone = self.s.gone_at is not None and len(self.s.received) >= self.s.gone_at
            if self.s.away_at is not None and len(self.s.received) >= self.s.away_at and not self.s.away:
                self.s.away, self.s.mail_before_away, self.s.always["mail"] = True, self.s.always.get("mail"), DROP
        if gone:  # this message is accepted; then no new connection, and every open one dropped at its next MAIL
            self.s.always["mail"] = DROP
            self.s.controller.server.close()
        return "250 2.0.0 OK queued"


    async def _held(self) -> None:
        """While a hold is set and reached, the message waits for its reply: the sender stands still at a known point."""
        s = self.s
        if s.hold_at is None or len(s.received) < s.hold_at:
            return
        with s.lock:
            s.waiting += 1
        try:
            while s.hold_at is not None and len(s.received) >= s.hold_at:
                await asyncio.sleep(0.005)
        finally:
            with s.lock:
                s.waiting -= 1

    async def auth_XOAUTH2(self, smtp, args):
        """SASL XOAUTH2 as Microsoft 365 speaks it: the initial response must be exactly user=…^Aauth=Bearer …^A^A."""
        try:
            raw = await smtp.challenge_auth("") if len(args) == 1 else base64.b64decode(args[1], validate=True)
            text = raw.decode() if isinstance(raw, bytes) else ""
        except (binascii.Error, UnicodeDecodeError):
            return AuthResult(success=False, handled=False)
        with self.s.lock:
            ok = any(text == f"user={USERNAME}\x01auth=Bearer {token}\x01\x01" for token in self.s.bearer_tokens)
            self.s.auth_attempts.append(("XOAUTH2", USERNAME if ok else "?", _is_tls(smtp, smtp.session)))
        if ok:
            return AuthResult(success=True, auth_data=LoginPassword(USERNAME.encode(), b""))
        # Like Exchange Online: the reasons as a base64 JSON challenge, then 535 after the client's empty answer.
        await smtp.challenge_auth('{"status":"401","schemes":"bearer","scope":"https://outlook.office.com/SMTP.Send"}')
        return AuthResult(success=False, handled=False, message="535 5.7.3 Authentication unsuccessful")


def _is_tls(smtp: SMTP, session) -> bool:
    return bool(session.ssl) or smtp.transport.get_extra_info("ssl_object") is not None


class _Controller(Controller):
    """Binds a free port (port 0) and counts the connections made to it."""

    def __init__(self, owner: "FaultServer", **kwargs) -> None:
        super().__init__(_Handler(owner), hostname="127.0.0.1", port=0, **kwargs)
        self.owner = owner

    def factory(self):
        self.owner.connections += 1
        return super().factory()

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class FaultServer:
    """An SMTP server on 127.0.0.1 with per-recipient and per-attempt scripted replies."""

    def __init__(
        self,
        *,
        certificate: tuple[Path, Path] | None = None,
        starttls: bool = False,
        implicit_tls: bool = False,
        auth: bool = False,
        delay: float = 0.0,
        pipelining: bool = True,
        auth_mechanisms: tuple[str, ...] | None = None,
    ) -> None:
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.attempts: list[Attempt] = []
        self.auth_attempts: list[tuple[str, str, bool]] = []
        self.scripts: dict[tuple[str, str], deque] = defaultdict(deque)
        self.mail_script: deque = deque()
        self.always: dict[str, str] = {}
        self.delay = delay
        self.pipelining = pipelining
        self.connections = 0
        self.hold_at: int | None = None  # messages beyond this many wait for their reply (see hold)
        self.waiting = 0  # messages waiting at the hold now
        self.gone_at: int | None = None  # the server goes away after accepting this many messages (see gone_after)
        self.away_at: int | None = None  # the server cannot be reached after this many messages, until back() (see away_after)
        self.away = False
        self.mail_before_away: str | None = None  # the MAIL reply a test had set before away_after took it over
        self.clock = time.monotonic  # what Received.at is read from
        self.bearer_tokens: set[str] = set()  # access tokens the XOAUTH2 mechanism accepts
        kwargs: dict = {"ready_timeout": 10, "data_size_limit": 10_000_000}
        context = None
        if certificate:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*[str(p) for p in certificate])
        if implicit_tls:
            kwargs["ssl_context"] = context
        elif starttls:
            kwargs.update(tls_context=context, require_starttls=True)
        if auth:
            # Offered even without TLS, so that a client that logs in over plain text is caught.
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
            if auth_mechanisms is not None:  # only these are offered (aiosmtpd offers LOGIN, PLAIN and XOAUTH2 here)
                kwargs["auth_exclude_mechanism"] = [m for m in ("LOGIN", "PLAIN", "XOAUTH2") if m not in auth_mechanisms]
        self.controller = _Controller(self, **kwargs)

    def _authenticate(self, smtp, session, envelope, mechanism, data):
        ok = isinstance(data, LoginPassword) and data.login.decode() == USERNAME and data.password.decode() == PASSWORD
        login = data.login.decode() if isinstance(data, LoginPassword) else "?"
        with self.lock:
            self.auth_attempts.append((mechanism, login, _is_tls(smtp, session)))
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    # -- scripting -------------------------------------------------------
    def script(self, address: str, stage: str, *replies: str) -> None:
        """The next attempts for address at stage ('rcpt' or 'data') get these replies in turn, then 250."""
        with self.lock:
            self.scripts[(stage, address.lower())].extend(replies)

    def script_mail(self, *replies: str) -> None:
        """The next MAIL commands (whoever they are for) get these replies in turn."""
        with self.lock:
            self.mail_script.extend(replies)

    def always_reply(self, stage: str, reply: str | None) -> None:
        """Every attempt at stage gets this reply (None: back to normal)."""
        with self.lock:
            if reply is None:
                self.always.pop(stage, None)
            else:
                self.always[stage] = reply

    def hold(self, after: int | None) -> None:
        """Accept the first `after` messages, then let every further one wait for its reply (None: let all go on).

        With a hold reached the sender cannot get further: what it has claimed but not had answered is all there is.
        """
        self.hold_at = after

    def gone_after(self, count: int) -> None:
        """After accepting count messages the server is gone: it takes no new connection and drops the open ones.

        Messages already past MAIL on another connection are still accepted, as a real server finishing its work.
        """
        self.gone_at = count

    def away_after(self, count: int) -> None:
        """After accepting count messages the server cannot be reached until back(): the open connections are dropped
        at their next MAIL, and each new one at its greeting."""
        self.away_at = count

    def back(self) -> None:
        """The server can be reached again (after away_after)."""
        with self.lock:
            if self.away and self.always.get("mail") == DROP:
                if self.mail_before_away is None:
                    self.always.pop("mail", None)
                else:
                    self.always["mail"] = self.mail_before_away
            self.away_at, self.away, self.mail_before_away = None, False, None

    def wait_until_held(self, timeout: float = 60.0) -> bool:
        """Wait until the hold is reached and a message waits at it (the sender has got to that point)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.hold_at is not None and len(self.received) >= self.hold_at and self.waiting:
                return True
            time.sleep(0.005)
        return False

    # -- running ---------------------------------------------------------
    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return self.controller.port

    def start(self) -> "FaultServer":
        self.controller.start()
        self.connections = 0  # the controller's own readiness probe does not count
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> "FaultServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for(self, count: int, timeout: float = 30.0) -> bool:
        """Wait until at least count messages were accepted."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received) >= count:
                return True
            time.sleep(0.005)
        return False

    def recipients(self) -> list[str]:
        """Every RCPT of every accepted message, in order."""
        with self.lock:
            return [r for message in self.received for r in message.rcpt_tos]

    def env(self, security: str = "none", cafile: Path | None = None, username: bool = False) -> dict[str, str]:
        """Environment variables that point nyhetsbrev at this server."""
        env = {
            "NYHETSBREV_SMTP_HOST": "127.0.0.1",
            "NYHETSBREV_SMTP_PORT": str(self.port),
            "NYHETSBREV_SMTP_SECURITY": security,
        }
        if cafile:
            env["NYHETSBREV_SMTP_CAFILE"] = str(cafile)
        if username:
            env["NYHETSBREV_SMTP_USERNAME"] = USERNAME
            env["NYHETSBREV_SMTP_PASSWORD"] = PASSWORD
        return env
