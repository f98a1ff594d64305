"""One-click unsubscribe under load: `nyhetsbrev serve` against a bare waitress app that answers "ok", same run.

8 concurrent clients (keep-alive connections) POST `List-Unsubscribe=One-Click` for 1 000 different people:
(1) to `nyhetsbrev serve` alone, (2) to `nyhetsbrev serve` while a send of 22:1 to another list runs against a
local SMTP sink, (3) to a bare waitress application with the same threads that only answers "ok" (the baseline).
Prints requests per second and p99 latency of each, and the ratios to the baseline. Each server runs in its own
process; best of three rounds, taking turns.
Then (4): one reader's one-click POST on a new connection while 150 slow clients hold connections open (a request
line, then a header line every 5 s, never finished), against the same POST with no slow clients (its baseline).

Run: python bench/serve.py [--people N] [--clients N]
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.send import Sink, make_project  # noqa: E402

ROUNDS = 3
SENDING = 3000  # people on the list being sent to during (2)
SLOW = 150  # slow clients during (4)
SINGLE = 20  # one-click POSTs, one after another on new connections, in each part of (4)
ONE_CLICK = b"List-Unsubscribe=One-Click"
HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


def run_bare(threads: int) -> None:
    """The baseline: waitress with the same settings as serve, an application that answers "ok" (port printed)."""
    from nyhetsbrev.web.unsubscribe.server import create_server

    def ok(environ, start_response):
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    server = create_server(ok, "127.0.0.1", 0, threads)
    print(f"http://127.0.0.1:{server.effective_port}/avregistrera", flush=True)
    server.run()


class Server:
    """A server process that prints its URL on the first line of its output (kept in a file, never a full pipe)."""

    def __init__(self, argv: list[str], env: dict | None = None) -> None:
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, text=True,
                                        env=dict(os.environ, PYTHONUNBUFFERED="1", **(env or {})), cwd=REPO)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.log.seek(0)
            first = self.log.readline()
            if "http://" in first:
                url = first.split("http://", 1)[1].split()[0]
                self.host, rest = url.split(":", 1)
                self.port, self.path = int(rest.split("/", 1)[0]), "/" + rest.split("/", 1)[1]
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.log.seek(0)
        raise SystemExit(f"server did not start: {' '.join(argv)}\n{self.log.read()}")

    def close(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)
        self.log.close()


def load(server: Server, tokens: list[str], clients: int) -> tuple[float, list[float], int]:
    """POST one-click for every token from `clients` keep-alive connections; (seconds, latencies, non-200 count)."""
    shares = [tokens[n::clients] for n in range(clients)]
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def client(share: list[str]) -> None:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
        mine, bad = [], 0
        start.wait()
        for token in share:
            began = time.perf_counter()
            conn.request("POST", f"{server.path}?token={token}", body=ONE_CLICK, headers=HEADERS)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - began)
            bad += response.status != 200
        conn.close()
        with lock:
            latencies.extend(mine)
            failures[0] += bad

    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, latencies, failures[0]


def one_at_a_time(server: Server, tokens: list[str]) -> list[float]:
    """Seconds for each one-click POST, one after another, each on a new connection."""
    latencies = []
    for token in tokens:
        began = time.perf_counter()
        conn = http.client.HTTPConnection(server.host, server.port, timeout=120)
        conn.request("POST", f"{server.path}?token={token}", body=ONE_CLICK, headers=HEADERS)
        response = conn.getresponse()
        response.read()
        conn.close()
        assert response.status == 200, response.status
        latencies.append(time.perf_counter() - began)
    return latencies


def under_slow_clients(server: Server, tokens: list[str]) -> tuple[list[float], list[float], bool]:
    """(4): latencies of POSTs without, then with SLOW slow clients connected; whether they were all still there."""
    from tests.serve_helpers import SlowClients

    alone = one_at_a_time(server, tokens[:SINGLE])
    slow = SlowClients(server.host, server.port, SLOW, every=5.0, lasting=120)
    try:
        time.sleep(1.0)  # let the server take them all in
        loaded = one_at_a_time(server, tokens[SINGLE:2 * SINGLE])
        held = slow.running and slow.closed_by_server() == 0
    finally:
        slow.close()
    return alone, loaded, held


def p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100)[98]


def people(project: Path, count: int, rounds: int) -> list[list[str]]:
    """A fresh database: `2 * rounds` groups of `count` people who leave, and SENDING people on each list
    'bench0' … to send to; the leavers' tokens, by group."""
    from nyhetsbrev.store import import_recipients, open_db, signing_key
    from nyhetsbrev.store.tokens import make_token

    os.environ["NYHETSBREV_DB"] = str(project / "db" / "nyhetsbrev.db")
    leaving = [f"avgar{n}@example.org" for n in range(count * 2 * rounds)]
    lists = {"avgar": leaving}
    for round_ in range(rounds):
        lists[f"bench{round_}"] = [f"mottagare{round_}-{n}@example.org" for n in range(SENDING)]
    db = open_db(Path(os.environ["NYHETSBREV_DB"]))
    for name, addresses in lists.items():
        csv = project / f"{name}.csv"
        csv.write_text("email,name\n" + "".join(f"{a},Östen Åberg\n" for a in addresses), encoding="utf-8")
        import_recipients(db, csv, [name])
    key = signing_key(db)
    db.close()
    tokens = [make_token(key, address) for address in leaving]
    return [tokens[n * count:(n + 1) * count] for n in range(2 * rounds)]


def start_send(project: Path, sink: Sink, name: str) -> threading.Thread:
    """Send 22:1 to list `name` against the sink in a thread; returns once the first messages have arrived."""
    from nyhetsbrev.mail.dispatch import Options
    from nyhetsbrev.mail.sender import send

    os.environ.update(NYHETSBREV_SMTP_HOST="127.0.0.1", NYHETSBREV_SMTP_PORT=str(sink.port),
                      NYHETSBREV_SMTP_SECURITY="none")
    before = sink.count()
    thread = threading.Thread(target=send, args=(project, "22:1", [name]),
                              kwargs={"options": Options(connections=4)}, daemon=True)
    thread.start()
    while sink.count() < before + 10 and thread.is_alive():
        time.sleep(0.02)
    return thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--bare", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare is not None:
        run_bare(args.bare)
        return
    from nyhetsbrev.web.unsubscribe.server import THREADS

    runs: dict[str, list[tuple[float, list[float], int]]] = {"bare": [], "alone": [], "sending": []}
    overlapped = []
    with tempfile.TemporaryDirectory(prefix="nyhetsbrev-bench-") as tmp:
        project = make_project(Path(tmp) / "project")
        groups = people(project, args.people, ROUNDS)
        serve = Server([sys.executable, "-m", "nyhetsbrev", "--project", str(project), "serve", "--port", "0"])
        bare = Server([sys.executable, __file__, "--bare", str(THREADS)])
        sink = Sink(0.002, pipelining=True)
        try:
            for round_ in range(ROUNDS):  # taking turns, so machine noise hits them alike
                runs["bare"].append(load(bare, groups[2 * round_], args.clients))
                runs["alone"].append(load(serve, groups[2 * round_], args.clients))
                sending = start_send(project, sink, f"bench{round_}")
                runs["sending"].append(load(serve, groups[2 * round_ + 1], args.clients))
                overlapped.append(sending.is_alive())
                sending.join()
            alone, loaded, held = under_slow_clients(serve, groups[0])
        finally:
            serve.close()
            bare.close()
            sink.close()
    count = args.people
    print(f"serve benchmark: {count} one-click POSTs for {count} people from {args.clients} concurrent clients, "
          f"{THREADS} server threads; best of {ROUNDS}")
    best = {name: min(found, key=lambda run: run[0]) for name, found in runs.items()}
    base_rate, base_p99 = count / best["bare"][0], p99(best["bare"][1])
    labels = {"bare": "bare waitress 'ok' (baseline)", "alone": "nyhetsbrev serve",
              "sending": f"nyhetsbrev serve, a send of {SENDING} running"}
    for name in ("bare", "alone", "sending"):
        seconds, latencies, failures = best[name]
        rate = count / seconds
        line = f"  {labels[name]:<42} {rate:6.0f} req/s   p99 {p99(latencies) * 1000:6.1f} ms   non-200: {failures}"
        if name != "bare":
            line += f"   ratio to baseline: req/s {rate / base_rate:.2f}, p99 {p99(latencies) / base_p99:.1f}×"
        print(line)
    print(f"  the send was still running at the end of {sum(overlapped)} of {ROUNDS} loaded rounds")
    base, slowed = statistics.median(alone), statistics.median(loaded)
    print(f"  (4) one-click POST on a new connection, {SINGLE} one after another: alone median {base * 1000:.1f} ms; "
          f"with {SLOW} slow clients connected median {slowed * 1000:.1f} ms, slowest {max(loaded) * 1000:.1f} ms, "
          f"ratio {slowed / base:.1f}× (the slow clients {'were all still connected' if held else 'had gone'})")


if __name__ == "__main__":
    main()
