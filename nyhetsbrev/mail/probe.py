"""What doctor asks the relay: that it answers and secures the session as send would, and which sign-ins it offers."""

from __future__ import annotations

from dataclasses import dataclass

from ..project.models import SmtpSettings

# The AUTH mechanisms nyhetsbrev logs in with, by the auth setting of [smtp].
USABLE_AUTH = {"password": ("PLAIN", "LOGIN"), "oauth2": ("XOAUTH2",)}


@dataclass(frozen=True)
class RelayProbe:
    """The relay as doctor found it: where, how the session was secured, the AUTH mechanisms it offers."""

    where: str
    security: str  # "starttls", "tls" or "none" (this computer only)
    auth: tuple[str, ...]

    @property
    def usable_auth(self) -> tuple[str, ...]:
        """The offered mechanisms nyhetsbrev can log in with for each auth setting, in its order of preference."""
        return tuple(m for methods in USABLE_AUTH.values() for m in methods if m in self.auth)


def probe_relay(smtp: SmtpSettings) -> RelayProbe:
    """Connect, greet and secure the session (verified certificate) as send does, read AUTH, quit: no login, nothing sent.

    TransportError (SmtpUnavailable when it cannot be reached) says why in one line; smtp.timeout bounds each step.
    """
    from .transport import Connection

    with Connection(smtp, login=False) as conn:
        conn.open()
        return RelayProbe(conn.where, smtp.security, tuple(conn.offered_auth()))
