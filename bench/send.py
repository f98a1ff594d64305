"""Sending 2 000 personalised messages of issue 22:1 to a local SMTP sink, against baselines measured in the same run.

(1) the whole `nyhetsbrev send` process (start-up, reading and rendering the issue, the ledger, personalising,
    delivering) vs raw smtplib sending one pre-built message over the same number of connections
    (ratio of throughputs, target ≥ 0.8);
(2) the same against a sink that takes 20 ms per message: speed-up over one connection (target ≥ 6×);
(3) mailmerge (one connection per message, as it works) on the same sink and list, as the peer baseline;
(4) the ledger's work per batch (reply written, people checked, next messages claimed: one transaction) against the
    SMTP round trips of that batch's messages, as raw smtplib takes them on the same sink (target: below 1).

Run: python bench/send.py [--count N]. The sink runs in its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import run_command  # noqa: E402
from tests.golden import copy_repo_project  # noqa: E402

LIST = "bench"
RUNS = 5  # runs of each contestant in (1), taking turns; the best of each counts
SENDER = "nyhetsbrev@example.se"


# -- the sink: a minimal SMTP server that accepts everything -------------------------------------------------------


def run_sink(delay: float, pipelining: bool) -> None:
    """Serve SMTP on 127.0.0.1 (a free port, printed first); every message is accepted after `delay` seconds."""
    extensions = b"250-8BITMIME\r\n" + (b"250-PIPELINING\r\n" if pipelining else b"") + b"250 SIZE 52428800\r\n"
    count = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        writer.write(b"220 sink ESMTP\r\n")
        while True:
            line = await reader.readline()
            if not line:
                break
            verb = line[:4].upper()
            if verb == b"EHLO":
                writer.write(b"250-sink\r\n" + extensions)
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                await reader.readuntil(b"\r\n.\r\n")
                if delay:
                    await asyncio.sleep(delay)
                count += 1
                writer.write(b"250 2.0.0 OK\r\n")
            elif verb == b"STAT":
                writer.write(f"250 {count}\r\n".encode())
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 OK\r\n")
            await writer.drain()
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, limit=64 * 1024 * 1024)
        print(server.sockets[0].getsockname()[1], flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class Sink:
    """The sink in its own process."""

    def __init__(self, delay: float, pipelining: bool = False) -> None:
        argv = [sys.executable, __file__, "--sink", str(delay)] + (["--pipelining"] if pipelining else [])
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline())

    def count(self) -> int:
        with smtplib.SMTP("127.0.0.1", self.port) as smtp:
            return int(smtp.docmd("STAT")[1])

    def close(self) -> None:
        self.process.terminate()
        self.process.wait()


# -- the contestants ---------------------------------------------------------------------------------------------


def make_project(folder: Path) -> Path:
    """A copy of this repository's 22:1 project with one-click unsubscribe and web copies configured."""
    copy_repo_project(folder)
    settings = (folder / "nyhetsbrev.toml").read_text(encoding="utf-8")
    lines = [line for line in settings.splitlines() if not line.startswith(("archive_url", "unsubscribe_url"))]
    extra = ['unsubscribe_url = "https://www.example.se/avregistrera"', 'archive_url = "https://www.example.se/nyhetsbrev"']
    (folder / "nyhetsbrev.toml").write_text("\n".join(extra + lines) + "\n", encoding="utf-8")
    return folder


def addresses(count: int) -> list[str]:
    return [f"mottagare{n}@example.org" for n in range(count)]


def fresh_database(folder: Path, count: int) -> None:
    """A new database with `count` invented people on the bench list."""
    from nyhetsbrev.store import import_recipients, open_db

    path = folder / f"db-{time.monotonic_ns()}" / "nyhetsbrev.db"
    os.environ["NYHETSBREV_DB"] = str(path)
    csv = folder / f"people-{count}.csv"
    if not csv.exists():
        rows = ["email,name"] + [f"{a},Östen Åberg {n}" for n, a in enumerate(addresses(count))]
        csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    db = open_db(path)
    import_recipients(db, csv, [LIST])
    db.close()


def nyhetsbrev_send(project: Path, sink: Sink, count: int, connections: int) -> float:
    """Seconds for the whole send() (load, render, ledger, personalise, deliver), on a fresh database."""
    from nyhetsbrev.mail.dispatch import Options
    from nyhetsbrev.mail.sender import send

    fresh_database(project, count)
    os.environ.update(NYHETSBREV_SMTP_HOST="127.0.0.1", NYHETSBREV_SMTP_PORT=str(sink.port), NYHETSBREV_SMTP_SECURITY="none")
    start = time.perf_counter()
    report = send(project, "22:1", [LIST], options=Options(connections=connections))
    elapsed = time.perf_counter() - start
    assert report.tally.sent == count, report.tally
    return elapsed


def nyhetsbrev_process(project: Path, sink: Sink, count: int, connections: int, env: dict[str, str]) -> float:
    """Seconds for the whole `nyhetsbrev send` command as a user runs it (a new process), on a fresh database."""
    fresh_database(project, count)
    argv = [sys.executable, "-m", "nyhetsbrev", "--project", str(project), "send", "22:1", "--list", LIST, "--yes",
            "--connections", str(connections)]
    return run_command(argv, env={**env, "NYHETSBREV_DB": os.environ["NYHETSBREV_DB"],
                                  "NYHETSBREV_SMTP_PORT": str(sink.port)}, stdin=subprocess.DEVNULL).seconds


def process_env(folder: Path) -> dict[str, str]:
    """The environment of the measured commands: the sink as the relay, bytecode cached as an installed copy has it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NYHETSBREV_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(NYHETSBREV_SMTP_HOST="127.0.0.1", NYHETSBREV_SMTP_SECURITY="none",
               PYTHONPYCACHEPREFIX=str(folder / "bytecode"))
    return env


def prebuilt_message(project: Path) -> bytes:
    """One personalised message, built once (what the raw baseline sends to everyone)."""
    from nyhetsbrev.mail import message
    from nyhetsbrev.publish import pipeline

    proj, issue = pipeline.load(project, "22:1")
    template = message.build_template(proj.settings, issue, pipeline.render(proj, issue, frozenset()))
    return template.personalise("mottagare0@example.org", "Östen Åberg", message_id="<x@example.se>", token="t.t")[1]


def raw_smtplib(sink: Sink, data: bytes, count: int, connections: int) -> float:
    """Seconds for plain smtplib to send the same bytes to every address over `connections` connections."""
    everyone = addresses(count)
    shares = [everyone[i::connections] for i in range(connections)]

    def work(share: list[str]) -> None:
        with smtplib.SMTP("127.0.0.1", sink.port) as smtp:
            for address in share:
                smtp.sendmail(SENDER, [address], data)

    start = time.perf_counter()
    threads = [threading.Thread(target=work, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def mailmerge(project: Path, sink: Sink, count: int) -> float | None:
    """Seconds for mailmerge to send the same issue (HTML and text) to the same list, or None if absent."""
    exe = shutil.which("mailmerge") or str(Path(sys.executable).with_name("mailmerge"))
    if not Path(exe).exists():
        return None
    from nyhetsbrev.publish import pipeline

    proj, issue = pipeline.load(project, "22:1")
    rendered = pipeline.render(proj, issue, frozenset())
    folder = project / "mailmerge"
    folder.mkdir(exist_ok=True)
    boundary = "nyhetsbrev-mailmerge-boundary"
    (folder / "template.txt").write_text(
        f"TO: {{{{email}}}}\nFROM: {SENDER}\nSUBJECT: {issue.subject}\nMIME-Version: 1.0\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\n\n'
        f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n\n{rendered.email_text}\n"
        f"--{boundary}\nContent-Type: text/html; charset=utf-8\n\n{rendered.email_html}\n--{boundary}--\n",
        encoding="utf-8",
    )
    rows = ["email,unsubscribe_url,web_url"] + [
        f"{a},https://www.example.se/avregistrera?token={n},https://www.example.se/nyhetsbrev/22-1/web.html"
        for n, a in enumerate(addresses(count))
    ]
    (folder / "database.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "server.conf").write_text(f"[smtp_server]\nhost = 127.0.0.1\nport = {sink.port}\nratelimit = 0\n", encoding="utf-8")
    start = time.perf_counter()
    subprocess.run(
        [exe, "--no-dry-run", "--no-limit", "--output-format", "raw", "--template", "template.txt",
         "--database", "database.csv", "--config", "server.conf"],
        cwd=folder, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


# -- the run ---------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--only", choices=("1", "2", "3", "4"), help="run only this part ((3) runs with (1))")
    parser.add_argument("--sink", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--pipelining", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink is not None:
        run_sink(args.sink, args.pipelining)
        return
    count = args.count
    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp))
        data = prebuilt_message(project)
        print(f"send benchmark: {count} messages of 22:1 ({len(data) // 1024} KB each) to a local sink")

        if args.only in (None, "1", "3"):
            part_one(project, data, count, Path(tmp))
        if args.only in (None, "2"):
            part_two(project, count)
        if args.only in (None, "4"):
            part_four(project, data, count)


def part_one(project: Path, data: bytes, count: int, folder: Path) -> None:
    """(1) and (3): the fast sink, without and with PIPELINING."""
    print("(1) fast sink: the whole `nyhetsbrev send` process (start-up, render, ledger, personalise, deliver) "
          "vs raw smtplib with one pre-built message")
    env = process_env(folder)
    ours, peer = {}, None
    for pipelining in (False, True):
        sink = Sink(0.0, pipelining)
        try:
            label = ("sink offers PIPELINING (nyhetsbrev uses it, smtplib cannot)" if pipelining
                     else "sink without PIPELINING (lockstep, like smtplib)")
            print(f"    {label}")
            nyhetsbrev_process(project, sink, 10, 1, env)  # warm-up: the bytecode cache is filled, as on install
            for connections in (1, 4):
                mine, raw = [], []
                for _ in range(RUNS):  # taking turns, the best of each
                    mine.append(nyhetsbrev_process(project, sink, count, connections, env))
                    raw.append(raw_smtplib(sink, data, count, connections))
                ours[(pipelining, connections)] = min(mine)
                print(f"      {connections} connection(s): nyhetsbrev {count / min(mine):6.0f} msg/s, raw smtplib "
                      f"{count / min(raw):6.0f} msg/s, ratio {min(raw) / min(mine):.2f} (target ≥ 0.8)")
            if pipelining:
                peer = mailmerge(project, sink, count)
            delivered = sink.count()
        finally:
            sink.close()
        expected = 10 + count * RUNS * 4 + (count if pipelining and peer else 0)
        assert delivered == expected, (delivered, expected)
    print("(3) mailmerge on the same sink and list: " + (
        f"{count / peer:6.0f} msg/s (a new connection per message); nyhetsbrev with 4 connections is "
        f"{peer / ours[(True, 4)]:.1f}× faster, with 1 connection {peer / ours[(True, 1)]:.1f}×" if peer else "not installed"))


def part_two(project: Path, count: int) -> None:
    """(2): a sink taking 20 ms per message, one connection against several."""
    slow = Sink(0.020, pipelining=True)
    try:
        print("(2) sink taking 20 ms per message (offers PIPELINING)")
        one = nyhetsbrev_send(project, slow, count, 1)
        print(f"    1 connection: {count / one:6.1f} msg/s")
        for connections in (4, 8, 16):
            many = nyhetsbrev_send(project, slow, count, connections)
            print(f"    {connections:2d} connections: {count / many:6.1f} msg/s, speed-up {one / many:.1f}× (target ≥ 6×)")
    finally:
        slow.close()


def part_four(project: Path, data: bytes, count: int) -> None:
    """(4): seconds in ledger.write per batch of claims, against the SMTP round trips of as many messages."""
    from nyhetsbrev.store import ledger

    print("(4) ledger work per batch vs the SMTP round trips of the batch's messages (sink without PIPELINING)")
    original = ledger.write
    sink = Sink(0.0, pipelining=False)
    try:
        for connections in (1, 4):
            spent, batches, claimed = 0.0, 0, 0

            def timed(*args, **kwargs):
                nonlocal spent, batches, claimed
                start = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    spent += time.perf_counter() - start
                    if kwargs.get("claims"):
                        batches, claimed = batches + 1, claimed + len(kwargs["claims"])

            ledger.write = timed
            try:
                nyhetsbrev_send(project, sink, count, connections)
            finally:
                ledger.write = original
            round_trips = raw_smtplib(sink, data, count, connections) * connections / count  # one message, one connection
            per_batch, size = spent / batches, claimed / batches
            print(f"    {connections} connection(s): {per_batch * 1000:.2f} ms of ledger work per batch of {size:.1f} "
                  f"messages; their SMTP round trips {round_trips * size * 1000:.2f} ms; ratio "
                  f"{per_batch / (round_trips * size):.2f} (target < 1)")
    finally:
        sink.close()


if __name__ == "__main__":
    main()
