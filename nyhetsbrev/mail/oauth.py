"""Microsoft 365 sign-in (OAuth 2.0 with MSAL): the device-code flow, a protected token cache, silent renewal."""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Protocol

from ..errors import SignInError, SignInRequired
from ..i18n import N_, _

AUTHORITY_HOST = "https://login.microsoftonline.com"
AUTHORITY_ENV = "NYHETSBREV_OAUTH_AUTHORITY"  # another sign-in service (tests: a local stand-in of Microsoft's)
CAFILE_ENV = "NYHETSBREV_OAUTH_CAFILE"  # the certificate authority of that service
CACHE_ENV = "NYHETSBREV_TOKEN_CACHE"  # the folder of the token cache
SCOPES = {
    "smtp": "https://outlook.office.com/SMTP.Send",
    "imap": "https://outlook.office.com/IMAP.AccessAsUser.All",
}
LOGIN_HINT = N_("run 'nyhetsbrev login' (it takes a minute in the browser), then the same command again")


class OAuthSettings(Protocol):
    """What sign-in needs from [smtp] or [imap]: the app registration and the mailbox."""

    tenant: str | None
    client_id: str | None
    username: str | None


@dataclass(frozen=True)
class SignedIn:
    """Who is signed in, until when the current access token holds, and how the sign-in is stored."""

    username: str
    expires_at: float | None  # epoch; renewed silently with the stored sign-in before it runs out
    protected: bool  # encrypted by the operating system (DPAPI, Keychain, libsecret), else a file only you can read
    cache_path: Path


@dataclass(frozen=True)
class DeviceCode:
    """What the person signing in is shown: the address to open and the code to type there."""

    url: str
    code: str
    expires_at: float


def xoauth2(username: str, token: str) -> str:
    """The SASL XOAUTH2 initial response (before base64): user, bearer token, ^A separators."""
    return f"user={username}\x01auth=Bearer {token}\x01\x01"


def cache_folder() -> Path:
    """Where the token cache lives: NYHETSBREV_TOKEN_CACHE, else the user's own cache folder (never the project)."""
    named = os.environ.get(CACHE_ENV)
    if named:
        return Path(named).expanduser()
    if sys.platform.startswith("win"):
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "nyhetsbrev"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "nyhetsbrev"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nyhetsbrev"


_apps: dict[tuple[str, ...], tuple[object, "_CheckedFile", bool]] = {}
_lock = threading.Lock()  # one renewal at a time, however many connections open at once


def _application(settings: OAuthSettings):
    """The MSAL public client of this app registration, with its persisted cache (one per process)."""
    return _registered(settings)[0]


def _registered(settings: OAuthSettings) -> tuple[object, "_CheckedFile", bool]:
    authority_base = (os.environ.get(AUTHORITY_ENV) or AUTHORITY_HOST).rstrip("/")
    cafile = os.environ.get(CAFILE_ENV)
    key = (authority_base, cafile or "", str(cache_folder()), settings.tenant or "", settings.client_id or "")
    if key not in _apps:
        import msal

        extra = {} if authority_base == AUTHORITY_HOST else {"instance_discovery": False}
        cache, stored, protected = _cache(settings)
        try:
            app = msal.PublicClientApplication(
                settings.client_id, authority=f"{authority_base}/{settings.tenant}", token_cache=cache,
                http_client=_http_client(cafile), **extra,
            )
        except ValueError as exc:  # MSAL could not read the sign-in service's configuration
            raise SignInError(_("the sign-in service for tenant {tenant} cannot be used: {exc}").format(tenant=settings.tenant, exc=exc),
                              hint=_("check tenant and client_id in nyhetsbrev.toml")) from None
        except Exception as exc:  # requests' connection and TLS errors
            raise _unreachable(exc) from None
        _apps[key] = (app, stored, protected)
    return _apps[key]


def _http_client(cafile: str | None):
    """A requests session with a timeout; a CA file named for the sign-in service wins over REQUESTS_CA_BUNDLE."""
    import functools

    import requests

    class Session(requests.Session):
        def merge_environment_settings(self, url, proxies, stream, verify, cert):
            merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if cafile:  # requests would otherwise let the environment's bundle replace the session's
                merged["verify"] = cafile
            return merged

    session = Session()
    session.mount("https://", requests.adapters.HTTPAdapter(max_retries=1))
    session.request = functools.partial(session.request, timeout=30)
    return session


def _cache(settings: OAuthSettings):
    """MSAL's token cache, persisted in _stored(settings); (cache, stored file, protected)."""
    from msal_extensions import PersistedTokenCache

    stored, protected = _stored(settings)
    return PersistedTokenCache(stored), stored, protected


def _stored(settings: OAuthSettings) -> tuple["_CheckedFile", bool]:
    """Where the sign-in is kept: encrypted by the operating system where it can, else a 0600 file (`protected`)."""
    from msal_extensions import FilePersistence, build_encrypted_persistence

    folder = cache_folder()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = hashlib.sha256(f"{settings.tenant}\n{settings.client_id}".encode()).hexdigest()[:16]
    path = folder / f"msal-{name}.bin"
    try:
        persistence = build_encrypted_persistence(str(path))  # Windows: DPAPI; macOS: the Keychain; Linux: libsecret
    except Exception as exc:  # no keyring here (Linux without PyGObject or a Secret Service): a file only the user can read
        if sys.platform.startswith(("win", "darwin")):  # DPAPI and the Keychain are always there: never a plain file
            raise SignInError(
                _("the Microsoft 365 sign-in cannot be kept safe: {store} refused it ({name})").format(
                    store=_("the macOS Keychain") if sys.platform == "darwin" else _("Windows' data protection (DPAPI)"),
                    name=type(exc).__name__),
                path=path, hint=_("sign in to this computer as yourself (on a Mac: with the login Keychain unlocked), "
                                  "then run 'nyhetsbrev login' again"),
            ) from None
        persistence = FilePersistence(str(path))
        if path.exists() and os.name == "posix":  # Linux and the like only here: Windows and macOS raised above
            path.chmod(0o600)
    return _CheckedFile(persistence, path), bool(persistence.is_encrypted)


class _CheckedFile:
    """The token cache's persistence, read only when it holds what MSAL writes: else SignInRequired naming the file.

    A cache cut short, binary or of another shape would otherwise fail deep inside MSAL (JSONDecodeError,
    UnicodeDecodeError, AttributeError); only a new sign-in, which replaces the file, helps.
    """

    def __init__(self, persistence, path: Path) -> None:
        self.persistence, self.path = persistence, path
        self.is_encrypted = persistence.is_encrypted

    def load(self) -> str:
        """The cache's text, checked (PersistenceNotFound when there is none yet)."""
        return self._read()[0]

    def state(self) -> dict:
        """What the cache holds, read while no one writes it (nothing stored yet: {}); MSAL is not involved."""
        from msal_extensions import CrossPlatLock
        from msal_extensions.persistence import PersistenceNotFound

        with CrossPlatLock(f"{self.path}.lockfile"):  # as MSAL's writers do: never a half-written file
            try:
                return self._read()[1]
            except PersistenceNotFound:
                return {}

    def _read(self) -> tuple[str, dict]:
        import json

        from msal_extensions.persistence import PersistenceDecryptionError

        try:
            text = self.persistence.load()
            state = json.loads(text) if text else {}
        except PersistenceDecryptionError:
            raise self.damaged(_("it cannot be decrypted")) from None
        except UnicodeDecodeError:
            raise self.damaged(_("it is not text")) from None
        except (ValueError, RecursionError):
            raise self.damaged(_("it is not complete JSON")) from None
        if not _cache_shaped(state):
            raise self.damaged(_("its content is not a stored sign-in"))
        return text, state

    def damaged(self, why: str) -> SignInRequired:
        """The error for a cache file that cannot be used."""
        return SignInRequired(_("the stored Microsoft 365 sign-in cannot be read: {why}").format(why=why), path=self.path,
                              hint=_("run 'nyhetsbrev login' again: it replaces this file (it takes a minute in the browser)"))

    def replace_if_damaged(self) -> bool:
        """Remove the file when it cannot be read (a new sign-in is about to replace it); True if it was removed."""
        try:
            self.state()
        except SignInRequired:
            self.path.unlink(missing_ok=True)
            return True
        return False

    def save(self, content: str) -> None:
        self.persistence.save(content)

    def time_last_modified(self) -> float:
        return self.persistence.time_last_modified()

    def get_location(self) -> str:
        return self.persistence.get_location()


def _cache_shaped(state: object) -> bool:
    """True when a token cache's JSON has MSAL's shape: {kind: {key: {field: value}}}, access tokens with an expiry."""
    if not isinstance(state, dict) or not all(isinstance(kind, dict) for kind in state.values()):
        return False
    if not all(isinstance(entry, dict) for kind in state.values() for entry in kind.values()):
        return False
    return all(str(entry.get("expires_on", "")).isdigit() for entry in state.get("AccessToken", {}).values())


def _unreachable(exc: Exception) -> SignInError:
    return SignInError(_("cannot reach the Microsoft 365 sign-in service: {name}").format(name=type(exc).__name__),
                       hint=_("check the network connection and try again"))


def _scopes(purposes: Iterable[str]) -> list[str]:
    return [SCOPES[p] for p in purposes]


def _account(accounts: list[dict], username: str | None):
    """The cached account for the mailbox: the one with its address, else the only one signed in."""
    wanted = (username or "").lower()
    for account in accounts:
        if (account.get("username") or "").lower() == wanted:
            return account
    return accounts[0] if len(accounts) == 1 else None


def access_token(settings: OAuthSettings, purpose: str) -> str:
    """A valid access token for 'smtp' or 'imap', renewed silently; SignInRequired when only a new sign-in helps."""
    app = _application(settings)
    with _lock:
        account = _account(app.get_accounts(), settings.username)
        if account is None:
            raise SignInRequired(_("nobody is signed in to Microsoft 365 for {username}").format(username=settings.username), hint=_(LOGIN_HINT))
        try:
            result = app.acquire_token_silent_with_error(_scopes([purpose]), account=account)
        except Exception as exc:  # requests' connection and TLS errors
            raise _unreachable(exc) from None
    if not result or "access_token" not in result:
        reason = (result or {}).get("error") or _("no valid sign-in is stored")
        raise SignInRequired(_("the Microsoft 365 sign-in for {get} has expired or was revoked ({reason})").format(get=account.get('username'), reason=reason), hint=_(LOGIN_HINT))
    return result["access_token"]


def login(settings: OAuthSettings, purposes: Iterable[str], show: Callable[[DeviceCode], None],
          replaced: Callable[[Path], None] = lambda path: None) -> SignedIn:
    """The device-code flow: show the address and code, wait for the sign-in in a browser, store it protected.

    A stored sign-in that cannot be read is removed first (`replaced` is told its file): this sign-in replaces it.
    """
    app, stored, protected = _registered(settings)
    if stored.replace_if_damaged():
        replaced(stored.path)
    scopes = _scopes(purposes)
    try:
        flow = app.initiate_device_flow(scopes=scopes)
    except Exception as exc:
        raise _unreachable(exc) from None
    if "user_code" not in flow:
        raise SignInError(_("Microsoft 365 refused to start the sign-in: {value}").format(value=flow.get('error_description') or flow.get('error')),
                          hint=_("check tenant and client_id in nyhetsbrev.toml, and that the app registration allows public client flows (docs/microsoft365.md)"))
    show(DeviceCode(flow.get("verification_uri") or flow.get("verification_url", ""), flow["user_code"],
                    float(flow.get("expires_at") or time.time() + 900)))
    try:
        result = app.acquire_token_by_device_flow(flow)
    except Exception as exc:
        raise _unreachable(exc) from None
    if "access_token" not in result:
        raise SignInError(_("the sign-in did not complete: {value}").format(value=result.get('error_description') or result.get('error')),
                          hint=_("run 'nyhetsbrev login' again and finish the sign-in in the browser before the code expires"))
    username = (result.get("id_token_claims") or {}).get("preferred_username") or "?"
    for account in app.get_accounts():  # one sign-in per app registration: the previous person's is removed
        if (account.get("username") or "").lower() != username.lower():
            app.remove_account(account)
    return SignedIn(username, time.time() + float(result.get("expires_in") or 0), protected, stored.path)


def status(settings: OAuthSettings) -> SignedIn | None:
    """Who is signed in for this app registration and until when the stored access token holds.

    Only the local token cache is read: no sign-in service is asked, so it works offline.
    """
    stored, protected = _stored(settings)
    state = stored.state()  # not MSAL's search, which would also delete run-out access tokens: this only reads
    accounts = {a.get("home_account_id"): a for a in state.get("Account", {}).values()}  # one per person, as MSAL lists
    account = _account(list(accounts.values()), settings.username)
    if account is None:
        return None
    expiry = max((float(t["expires_on"]) for t in state.get("AccessToken", {}).values()
                  if t.get("home_account_id") == account.get("home_account_id")), default=0.0) or None
    return SignedIn(account.get("username") or "?", expiry, protected, stored.path)


def project_sign_in(root: Path) -> tuple[OAuthSettings, list[str]]:
    """The app registration the project signs in with, and what for ('smtp', 'imap'), from nyhetsbrev.toml."""
    from ..project.config import SETTINGS_FILE, load_settings

    settings = load_settings(root / SETTINGS_FILE)
    found = [(name, table) for name, table in (("smtp", settings.smtp), ("imap", getattr(settings, "imap", None)))
             if table is not None and getattr(table, "auth", None) == "oauth2"]
    if not found:
        raise SignInError(_("nyhetsbrev.toml does not use the Microsoft 365 sign-in"),
                          path=root / SETTINGS_FILE,
                          hint=_('add auth = "oauth2" with tenant and client_id to [smtp] (see docs/microsoft365.md)'))
    return found[0][1], [name for name, _ in found]


def login_project(root: Path, show: Callable[[DeviceCode], None],
                  replaced: Callable[[Path], None] = lambda path: None) -> SignedIn:
    """'nyhetsbrev login': sign in for everything the project uses OAuth 2.0 for."""
    settings, purposes = project_sign_in(root)
    return login(settings, purposes, show, replaced)


def status_project(root: Path) -> tuple[OAuthSettings, SignedIn | None]:
    """'nyhetsbrev login --status': the mailbox, and who is signed in for it (None: nobody)."""
    settings, _ = project_sign_in(root)
    return settings, status(settings)
