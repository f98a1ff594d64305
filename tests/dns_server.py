"""A real DNS server for the tests: Debian's dnsmasq on 127.0.0.1, answering only the records a test writes.

Every domain a zone names is `local`: a name without records is NXDOMAIN, a name without the type asked
is an empty answer (both are "void" look-ups to SPF), and nothing is ever forwarded anywhere.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.fixtures import require_program

DNSMASQ = shutil.which("dnsmasq") or next((p for p in ("/usr/sbin/dnsmasq",) if os.path.exists(p)), None)


def require_dnsmasq() -> str:
    """Debian's dnsmasq (package dnsmasq-base); skip without it, fail in CI (NYHETSBREV_REQUIRE_DNS)."""
    return require_program(DNSMASQ, "dnsmasq (a DNS server)", "NYHETSBREV_REQUIRE_DNS", "dnsmasq-base")


class Zone:
    """The records a test serves: TXT, MX, A and CNAME, by name (the domains they are under answer nothing else)."""

    def __init__(self, *domains: str) -> None:
        self.domains = set(domains)
        self.lines: list[str] = []

    def txt(self, name: str, *texts: str) -> "Zone":
        """A TXT record per text (a long text is written as several strings of one record, as DNS requires)."""
        for text in texts:
            chunks = [text[i:i + 200] for i in range(0, len(text), 200)] or [""]
            self.lines.append(f"txt-record={name}," + ",".join(f'"{chunk}"' for chunk in chunks))
        return self

    def mx(self, name: str, host: str, preference: int = 10) -> "Zone":
        self.lines.append(f"mx-host={name},{host},{preference}")
        return self

    def a(self, name: str, *addresses: str) -> "Zone":
        self.lines.append(f"host-record={name},{','.join(addresses)}")
        return self

    def cname(self, name: str, target: str) -> "Zone":
        self.lines.append(f"cname={name},{target}")
        return self

    def config(self, port: int) -> str:
        """dnsmasq's configuration: this port on 127.0.0.1 only, no upstream servers, no /etc/hosts."""
        head = [f"port={port}", "listen-address=127.0.0.1", "bind-interfaces", "no-resolv", "no-hosts", "no-poll",
                "no-negcache", *(f"local=/{domain}/" for domain in sorted(self.domains))]
        return "\n".join(head + self.lines) + "\n"


def _free_udp_and_tcp_port() -> int:
    for _attempt in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port on 127.0.0.1")


class DnsServer:
    """dnsmasq serving one Zone on 127.0.0.1:port; `address` is what NYHETSBREV_DNS takes."""

    def __init__(self, zone: Zone, binary: str | None = None) -> None:
        self.binary = binary or DNSMASQ
        self.zone = zone
        self.folder = Path(tempfile.mkdtemp(prefix="nyhetsbrev-dns-"))
        self.port = _free_udp_and_tcp_port()
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "DnsServer":
        """Write the configuration, run dnsmasq in the foreground of a child process, wait until it answers."""
        conf = self.folder / "dnsmasq.conf"
        conf.write_text(self.zone.config(self.port), encoding="utf-8")
        args = [self.binary, "--keep-in-foreground", f"--conf-file={conf}", "--pid-file=",
                f"--log-facility={self.folder / 'log'}"]
        if os.geteuid() == 0:
            args.append("--user=root")  # stay as the test's user: nothing to drop to in a container
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        self._wait()
        return self

    def _wait(self, timeout: float = 15.0) -> None:
        import dns.message
        import dns.query

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dnsmasq exited ({self.process.returncode}): {self.process.stderr.read().decode()}")
            try:
                dns.query.udp(dns.message.make_query("ready.invalid.", "TXT"), "127.0.0.1", port=self.port, timeout=0.5)
                return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError(f"dnsmasq does not answer on 127.0.0.1:{self.port}")

    def stop(self) -> None:
        """Stop dnsmasq and remove its folder."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(10)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
            self.process.stderr.close()
        self.process = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "DnsServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
