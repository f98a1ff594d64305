"""Real mail servers for the tests: Dovecot (IMAP, LMTP) and Postfix on 127.0.0.1, each with its own config in a temp dir.

`Dovecot` serves maildirs over IMAP (TLS on one port, STARTTLS on another) and takes deliveries over LMTP;
users live in a passwd-file. `extra_passdb` and `extra_config` let a test add authentication (e.g. an oauth2
passdb with an introspection URL) or change capabilities. `Postfix` relays to Dovecot over LMTP, so an unknown
user makes it write a real delivery status notification back to the sender.
"""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.fixtures import require_program
from tests.smtp_server import make_certificate

DOVECOT = shutil.which("dovecot") or next((p for p in ("/usr/sbin/dovecot",) if os.path.exists(p)), None)
POSTFIX = shutil.which("postfix") or next((p for p in ("/usr/sbin/postfix",) if os.path.exists(p)), None)
LMTP = "/usr/lib/dovecot/lmtp"
PASSWORD = "hemligt-lösen-för-imap"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited ({process.returncode}): {log.read_text(errors='replace') if log.exists() else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}: {log.read_text(errors='replace') if log.exists() else ''}")


def _private_dir(prefix: str) -> Path:
    """A temp folder the servers' own users can reach (pytest's tmp_path is private to the test's user)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    return folder


class Dovecot:
    """A Dovecot 2.3 on 127.0.0.1: IMAP with TLS (imaps_port), IMAP with STARTTLS (imap_port), LMTP (lmtp_port)."""

    def __init__(self, *, extra_passdb: str = "", extra_config: str = "", binary: str | None = None) -> None:
        self.binary = binary or DOVECOT
        self.folder = _private_dir("nyhetsbrev-dovecot-")
        self.cert, self.key = make_certificate(self.folder / "tls")
        self.imap_port, self.imaps_port, self.lmtp_port = free_port(), free_port(), free_port()
        self.extra_passdb, self.extra_config = extra_passdb, extra_config
        self.users: dict[str, str] = {}
        self._serial = 0
        self.process: subprocess.Popen | None = None
        self.log = self.folder / "dovecot.log"
        if os.geteuid() == 0:  # Dovecot refuses mail as root; the Debian package's users own the mail instead
            self.mail_user, self.login_user = "dovecot", "dovenull"
        else:
            self.mail_user = self.login_user = pwd.getpwuid(os.geteuid()).pw_name
        entry = pwd.getpwnam(self.mail_user)
        self.uid, self.gid = entry.pw_uid, entry.pw_gid
        (self.folder / "mail").mkdir()
        os.chown(self.folder / "mail", self.uid, self.gid)

    def config(self) -> str:
        """The complete dovecot.conf of this instance."""
        f = self.folder
        return f"""\
base_dir = {f}/run
state_dir = {f}/state
instance_name = nyhetsbrev-{f.name}
log_path = {self.log}
listen = 127.0.0.1
protocols = imap lmtp
ssl = required
ssl_cert = <{self.cert}
ssl_key = <{self.key}
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{f}/mail/%u
first_valid_uid = 1
default_internal_user = {self.mail_user}
default_internal_group = {self._group()}
default_login_user = {self.login_user}
{self.extra_passdb}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {f}/users
}}
userdb {{
  driver = static
  args = uid={self.uid} gid={self.gid} home={f}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
}}
protocol lmtp {{
  postmaster_address = postmaster@example.org
}}
{self.extra_config}
"""

    def _group(self) -> str:
        import grp

        return grp.getgrgid(self.gid).gr_name

    def start(self) -> "Dovecot":
        """Write the config and start Dovecot in the foreground of a child process; wait until it listens."""
        for name in ("run", "state"):
            (self.folder / name).mkdir(exist_ok=True)
        (self.folder / "users").touch()
        (self.folder / "dovecot.conf").write_text(self.config(), encoding="utf-8")
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.folder / "dovecot.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
        )
        for port in (self.imaps_port, self.imap_port, self.lmtp_port):
            _wait_for_port(port, self.process, self.log)
        return self

    def stop(self) -> None:
        """Stop Dovecot (its whole process group: nothing in it is worth a graceful end) and remove its folder."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(10)
        self.process = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def add_user(self, address: str, password: str = PASSWORD) -> str:
        """A mailbox user (Dovecot re-reads the passwd-file when it changes); returns the address."""
        self.users[address] = password
        lines = "".join(f"{user}:{{PLAIN}}{secret}\n" for user, secret in self.users.items())
        (self.folder / "users").write_text(lines, encoding="utf-8")
        return address

    def deliver(self, address: str, raw: bytes, sender: str = "someone@example.net") -> None:
        """Deliver one message to a user's INBOX over LMTP, as an MTA would."""
        with smtplib.LMTP("127.0.0.1", self.lmtp_port) as lmtp:
            lmtp.sendmail(sender, [address], raw)

    def maildir(self, address: str, folder: str = "INBOX") -> Path:
        """The maildir of a user's folder (Maildir++: INBOX is the root, others are .Name)."""
        root = self.folder / "mail" / address
        return root if folder == "INBOX" else root / f".{folder}"

    def put(self, address: str, messages, folder: str = "INBOX") -> int:
        """Write many messages straight into a user's maildir (fast, for large mailboxes); the number written."""
        base = self.maildir(address, folder)
        for part in ("cur", "new", "tmp"):
            (base / part).mkdir(parents=True, exist_ok=True)
        stamp, count = int(time.time()), 0
        for raw in messages:
            count += 1
            self._serial += 1
            (base / "new" / f"{stamp}.P{os.getpid()}Q{self._serial}.nyhetsbrev-test").write_bytes(raw)
        for folder, _dirs, files in os.walk(self.folder / "mail" / address):
            os.chown(folder, self.uid, self.gid)
            for name in files:
                os.chown(os.path.join(folder, name), self.uid, self.gid)
        return count

    def client(self, address: str) -> imaplib.IMAP4_SSL:
        """An IMAP session as that user over verified TLS (for checking what the mailbox holds)."""
        context = ssl.create_default_context(cafile=str(self.cert))
        imap = imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port, ssl_context=context)
        imap.login(address, self.users[address]) if self.users[address].isascii() else imap.authenticate(
            "PLAIN", lambda _: f"\0{address}\0{self.users[address]}".encode("utf-8")
        )
        return imap

    def folder_state(self, address: str, folder: str = "INBOX") -> dict[str, set[str]]:
        """Message-ID -> flags of every message in a folder (read without changing anything)."""
        imap = self.client(address)
        try:
            from nyhetsbrev.inbox.mailbox import encode_folder  # modified UTF-7, checked on its own in test_mailbox

            typ, count = imap.select(encode_folder(folder), readonly=True)
            if typ != "OK" or count[0] == b"0":
                return {}
            typ, data = imap.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            state = {}
            for item in data:
                if isinstance(item, tuple):
                    flags = imaplib.ParseFlags(item[0])
                    mid = item[1].decode("ascii", "replace").partition(":")[2].strip()
                    state[mid] = {f.decode() for f in flags} - {"\\Recent"}  # a session flag, not stored
            return state
        finally:
            imap.logout()

    def imap_settings(self, address: str, *, security: str = "tls", processed: str = "Behandlat",
                      folder: str = "INBOX") -> str:
        """The [imap] table of nyhetsbrev.toml for this server and user."""
        port = self.imaps_port if security == "tls" else self.imap_port
        return (
            f'\n[imap]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "{security}"\nusername = "{address}"\n'
            f'folder = "{folder}"\nprocessed_folder = "{processed}"\n'
        )

    def env(self, address: str) -> dict[str, str]:
        """Environment for nyhetsbrev: the password and the test CA."""
        return {"NYHETSBREV_IMAP_PASSWORD": self.users[address], "NYHETSBREV_IMAP_CAFILE": str(self.cert)}


class Postfix:
    """A Postfix 3.x relay on 127.0.0.1 (smtpd on smtp_port) that delivers example.org to Dovecot over LMTP.

    Every address at example.org is accepted at RCPT time; one Dovecot does not know is bounced by Postfix
    itself, which writes a real DSN to the envelope sender.
    """

    MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
lmtp      unix  - - n - - lmtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

    def __init__(self, dovecot: Dovecot, domain: str = "example.org", binary: str | None = None) -> None:
        self.binary = binary or POSTFIX
        self.folder = _private_dir("nyhetsbrev-postfix-")
        self.smtp_port = free_port()
        self.dovecot, self.domain = dovecot, domain
        self.log = self.folder / "maillog"
        self.process: subprocess.Popen | None = None

    def main_cf(self) -> str:
        """The main.cf of this instance."""
        f = self.folder
        return f"""\
compatibility_level = 3.6
queue_directory = {f}/queue
data_directory = {f}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = relay.{self.domain}
mydomain = {self.domain}
myorigin = {self.domain}
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_reject_unlisted_recipient = no
virtual_mailbox_domains = {self.domain}
virtual_transport = lmtp:inet:127.0.0.1:{self.dovecot.lmtp_port}
alias_maps =
alias_database =
local_recipient_maps =
maillog_file_prefixes = {f}
maillog_file = {self.log}
smtputf8_enable = no
biff = no
notify_classes =
delay_warning_time = 0
"""

    def start(self) -> "Postfix":
        """Write the config and run the Postfix master in the foreground of a child process; wait until it listens."""
        conf = self.folder / "conf"
        for name in ("conf", "queue", "data"):
            (self.folder / name).mkdir(exist_ok=True)
        entry = pwd.getpwnam("postfix")
        os.chown(self.folder / "data", entry.pw_uid, entry.pw_gid)
        (conf / "main.cf").write_text(self.main_cf(), encoding="utf-8")
        (conf / "master.cf").write_text(self.MASTER_CF.format(port=self.smtp_port), encoding="utf-8")
        self.process = subprocess.Popen(
            [self.binary, "-c", str(conf), "start-fg"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
        )
        _wait_for_port(self.smtp_port, self.process, self.log, timeout=30)
        return self

    def stop(self) -> None:
        """Stop Postfix (all its processes) and remove its folder."""
        if self.process is not None and self.process.poll() is None:
            subprocess.run([self.binary, "-c", str(self.folder / "conf"), "stop"], capture_output=True, timeout=30)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.process = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        """Wait until the mail log holds text; the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            if text in log:
                return log
            time.sleep(0.1)
        raise AssertionError(f"'{text}' never appeared in the Postfix log:\n{log}")


def require_dovecot() -> str:
    """Debian's dovecot (imapd and lmtpd); skip without it, fail in CI (NYHETSBREV_REQUIRE_DOVECOT)."""
    path = DOVECOT if DOVECOT and os.path.exists(LMTP) else None
    return require_program(path, "dovecot (imapd, lmtpd)", "NYHETSBREV_REQUIRE_DOVECOT", "dovecot-imapd dovecot-lmtpd")


def require_postfix() -> str:
    """Debian's postfix, run as root; skip without it, fail in CI (NYHETSBREV_REQUIRE_POSTFIX)."""
    path = require_program(POSTFIX, "postfix", "NYHETSBREV_REQUIRE_POSTFIX", "postfix")
    if os.geteuid() != 0:
        require_program(None, "postfix (its master process must start as root)", "NYHETSBREV_REQUIRE_POSTFIX", "postfix")
    return path


MAILBOX_USER = "nyhetsbrev@example.org"


@pytest.fixture
def dovecot():
    """A running Dovecot with one user, MAILBOX_USER (the mailbox the newsletter's bounces reach)."""
    server = Dovecot(binary=require_dovecot()).start()
    server.add_user(MAILBOX_USER)
    yield server
    server.stop()


@pytest.fixture
def postfix(dovecot):
    """A running Postfix relay delivering example.org into the `dovecot` fixture's server."""
    relay = Postfix(dovecot, binary=require_postfix()).start()
    yield relay
    relay.stop()


def numbered_message(n: int, subject: str = "Hej", body: str = "Meddelande {n} med åäö.\n") -> bytes:
    """Message n of a test mailbox: from person{n}@example.se to MAILBOX_USER, Message-ID <m{n}@example.se>."""
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = f"person{n}@example.se"
    msg["To"] = MAILBOX_USER
    msg["Subject"] = f"{subject} {n}"
    msg["Message-ID"] = f"<m{n}@example.se>"
    msg.set_content(body.format(n=n))
    return msg.as_bytes()
