"""Benchmark: `nyhetsbrev inbox` on 2 000 messages in a local Dovecot against a bare imaplib FETCH of the same messages.

Run: .venv/bin/python bench/inbox.py [MESSAGES]. The mailbox holds a mix like a real one after an issue: permanent
and temporary bounces (Postfix-style, with the returned message), unsubscribe requests by the mailto link,
out-of-office replies and people writing back. Prints the median wall time of 3 runs of each (both whole processes
over verified TLS on 127.0.0.1), their ratio (target <= 1.5), and the peak memory of `inbox` on 5x as many messages
against the same mix at MESSAGES (target <= 1.3: the messages are streamed, never all held at once).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import nyhetsbrev_peak, run_command  # noqa: E402

MESSAGES = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
RUNS = 3
TARGET, MEMORY_TARGET = 1.5, 1.3
USER = "nyhetsbrev@example.org"

BARE_FETCH = """
import imaplib, os, ssl, sys
context = ssl.create_default_context(cafile=os.environ["NYHETSBREV_IMAP_CAFILE"])
imap = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=context)
secret = ("\\0" + sys.argv[2] + "\\0" + os.environ["NYHETSBREV_IMAP_PASSWORD"]).encode()
imap.authenticate("PLAIN", lambda _: secret)
imap.select("INBOX", readonly=True)
typ, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[])")
count = sum(1 for item in data if isinstance(item, tuple))
assert count == int(sys.argv[3]), count
imap.logout()
"""


def run_inbox(project: Path, env: dict, folder: Path) -> tuple[float, float]:
    """One `nyhetsbrev inbox` process: (seconds, its own peak memory in MiB)."""
    return nyhetsbrev_peak(["--project", str(project), "inbox"], folder / "peak.txt", env)


def mixed_messages(count: int, body: str, token_of):
    """count messages: 40% permanent bounces, 15% delays, 20% unsubscribes, 10% auto-replies, 15% people."""
    from tests.inbox_helpers import bounce_for, plain_message

    for n in range(count):
        address, mid = f"person{n}@example.org", f"<22-1.bench.{n}@example.org>"
        kind = n % 20
        if kind < 8:
            raw = bounce_for(mid, address).replace(b"The message could not be delivered.", body.encode())
        elif kind < 11:
            raw = bounce_for(mid, address, status="4.2.2", action="delayed")
        elif kind < 15:
            raw = plain_message(address, f"Avregistrera {token_of(address)}", "", to="avregistrera@example.org",
                                message_id=f"<unsub.{n}@example.org>")
        elif kind < 17:
            raw = plain_message(address, "Automatiskt svar: Nyhetsbrev", "Jag är ledig till måndag.",
                                message_id=f"<ooo.{n}@example.org>", headers={"Auto-Submitted": "auto-replied"})
        else:
            raw = plain_message(address, "SV: Nyhetsbrev", "Tack! En fråga om tidslinjen …\n\n> " + body[:2000],
                                message_id=f"<reply.{n}@example.org>")
        yield raw


def prepare_database(folder: Path, count: int) -> tuple[Path, Path]:
    """A database with count people on a list, each sent 22:1 with a known Message-ID; (db, key file)."""
    from nyhetsbrev.store import import_recipients, open_db
    from nyhetsbrev.store.ledger import SENT, Entry, Outcome, enqueue, write

    path, key = folder / "template.db", folder / "template.key"
    os.environ["NYHETSBREV_KEY_FILE"] = str(key)
    rows = folder / "people.csv"
    rows.write_text("email,name\n" + "".join(f"person{n}@example.org,Person {n}\n" for n in range(count)), encoding="utf-8")
    db = open_db(path)
    import_recipients(db, rows, ["bench"])
    people = [(f"person{n}@example.org", f"<22-1.bench.{n}@example.org>") for n in range(count)]
    enqueue(db, "22:1", [Entry(a, a, None, ("bench",)) for a, _ in people])
    write(db, "22:1", claims=[(a, m) for a, m in people])
    write(db, "22:1", outcomes=[Outcome(a, SENT) for a, _ in people])
    db.close()
    return path, key


def main() -> None:
    """Run the benchmark and print the figures."""
    from nyhetsbrev.store.tokens import load_or_create_key, make_token
    from tests.mailserver import DOVECOT, Dovecot
    from tests.send_helpers import make_project

    if not DOVECOT:
        print("dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd): inbox benchmark skipped")
        return
    body = ("Välkommen till vårens nyhetsbrev om barnens bästa i Sörmland. Här är tidslinjen för arbetet.\n" * 60)[:6000]
    with tempfile.TemporaryDirectory(prefix="nyhetsbrev-bench-") as tmp:
        folder = Path(tmp)
        biggest = MESSAGES * 5
        template, key_file = prepare_database(folder, biggest)
        key = load_or_create_key(key_file)
        server = Dovecot().start()
        try:
            server.add_user(USER)
            project = make_project(folder / "project", settings=_settings() + server.imap_settings(USER), lists=())
            env = {k: v for k, v in os.environ.items() if not k.startswith("NYHETSBREV_")}
            env.update(server.env(USER), NYHETSBREV_KEY_FILE=str(key_file))
            def fill(count: int, name: str) -> tuple[str, dict]:
                user = server.add_user(f"{name}@example.org")
                server.put(user, mixed_messages(count, body, lambda a: make_token(key, a)))
                database = folder / f"{name}.db"
                shutil.copyfile(template, database)
                run_env = {**env, **server.env(user), "NYHETSBREV_DB": str(database)}
                (project / "nyhetsbrev.toml").write_text(_settings() + server.imap_settings(user), encoding="utf-8")
                return user, run_env

            ours, bare = [], []
            for run in range(RUNS):
                user, run_env = fill(MESSAGES, f"run{run}")
                bare.append(run_command([sys.executable, "-c", BARE_FETCH, str(server.imaps_port), user, str(MESSAGES)],
                                        env=run_env))
                ours.append(run_inbox(project, run_env, folder))
            user, run_env = fill(biggest, "large")
            large = run_inbox(project, run_env, folder)
        finally:
            server.stop()
    ours_s, bare_s = statistics.median(s for s, _peak in ours), statistics.median(r.seconds for r in bare)
    small_peak = max(peak for _s, peak in ours)
    ratio, memory = ours_s / bare_s, large[1] / small_peak
    print(f"messages:                      {MESSAGES} (and {biggest} for memory)")
    print(f"nyhetsbrev inbox:              {ours_s:.2f} s (median of {RUNS}), peak {small_peak:.0f} MiB")
    print(f"bare imaplib UID FETCH 1:*:    {bare_s:.2f} s (median of {RUNS})")
    print(f"ratio:                         {ratio:.2f} (target <= {TARGET}) {'OK' if ratio <= TARGET else 'OVER'}")
    print(f"inbox on {biggest} messages:     {large[0]:.2f} s, peak {large[1]:.0f} MiB")
    print(f"memory ratio {biggest}/{MESSAGES}:     {memory:.2f} (target <= {MEMORY_TARGET}) "
          f"{'OK' if memory <= MEMORY_TARGET else 'OVER'}")


def _settings() -> str:
    from tests.send_helpers import SETTINGS

    return SETTINGS


if __name__ == "__main__":
    main()
