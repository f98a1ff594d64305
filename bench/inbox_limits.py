"""Benchmark: reading one hostile or huge message that came back, against the standard library's own parser.

Run: .venv/bin/python bench/inbox_limits.py. Prints, as ratios measured in the same run:
- time to classify a 1 MB single-part text/html message (a body of '<' characters, the worst case the old regexes
  took minutes on, and ordinary HTML) against `email.message_from_bytes` on the same 1 MB (target <= 2);
- the peak memory a 50 MB message adds to `nyhetsbrev inbox --from` over the same run on a 1 KB message, against
  the message's size (target <= 3).
"""

from __future__ import annotations

import email
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import nyhetsbrev_peak  # noqa: E402

RUNS = 21  # alternating; the best of each (the least disturbed by other work on the machine)
TIME_TARGET, MEMORY_TARGET = 2.0, 3.0
MB = 1024 * 1024

def html_message(body: bytes) -> bytes:
    """A single-part text/html message around body."""
    head = (b"From: Anna <anna@example.se>\r\nTo: avregistrera@example.org\r\nSubject: Hej\r\n"
            b"Message-ID: <big.1@example.se>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n")
    return head + body


def _best(fn, raw: bytes) -> float:
    start = time.perf_counter()
    fn(raw)
    return time.perf_counter() - start


def timing() -> list[tuple[str, float, float]]:
    """(case, best classify seconds, best message_from_bytes seconds), the two taking turns."""
    from nyhetsbrev.inbox.classify import classify

    ordinary = (b"<div><p>V\xc3\xa4lkommen till <b>v\xc3\xa5rens</b> nyhetsbrev &amp; mer.</p><br></div>\r\n" * 20000)[:MB]
    cases = {"1 MB of '<'": html_message(b"<" * MB), "1 MB of ordinary HTML": html_message(ordinary)}
    results = []
    for name, raw in cases.items():
        ours, stdlib = [], []
        for _ in range(RUNS):
            ours.append(_best(lambda r: classify(r, unsubscribe_address="avregistrera@example.org"), raw))
            stdlib.append(_best(email.message_from_bytes, raw))
        results.append((name, min(ours), min(stdlib)))
    return results


def peak_mib(project: Path, folder: Path, env: dict) -> float:
    """The peak resident memory (MiB) of one `nyhetsbrev inbox --from folder` process."""
    return nyhetsbrev_peak(["--project", str(project), "inbox", "--from", str(folder)],
                           folder.parent / f"{folder.name}.peak", env)[1]


def memory() -> tuple[float, float, float]:
    """(peak MiB with a 1 KB message, peak MiB with a 50 MB message, the message's size in MiB)."""
    from tests.send_helpers import SETTINGS, make_project

    with tempfile.TemporaryDirectory(prefix="nyhetsbrev-bench-") as tmp:
        root = Path(tmp)
        project = make_project(root / "project", settings=SETTINGS, lists=())
        env = {k: v for k, v in os.environ.items() if not k.startswith("NYHETSBREV_")}
        env.update(NYHETSBREV_DB=str(root / "bench.db"), NYHETSBREV_KEY_FILE=str(root / "bench.key"))
        small, large = root / "small", root / "large"
        small.mkdir()
        large.mkdir()
        (small / "m.eml").write_bytes(html_message(b"<p>Hej</p>" * 100))
        line = b"<p>V\xc3\xa4lkommen till v\xc3\xa5rens nyhetsbrev, en rad av m\xc3\xa5nga.</p>\r\n"
        big = html_message(line * (50 * MB // len(line)))
        (large / "m.eml").write_bytes(big)
        size = len(big) / MB
        del big
        smalls, larges = [], []
        for _ in range(3):
            smalls.append(peak_mib(project, small, env))
            larges.append(peak_mib(project, large, env))
        return statistics.median(smalls), statistics.median(larges), size


def main() -> None:
    """Run the benchmark and print the figures."""
    for name, ours, stdlib in timing():
        ratio = ours / stdlib
        print(f"{name}: classify {ours * 1000:.1f} ms, email.message_from_bytes {stdlib * 1000:.1f} ms, "
              f"ratio {ratio:.2f} (target <= {TIME_TARGET}) {'OK' if ratio <= TIME_TARGET else 'OVER'}")
    small, large, size = memory()
    ratio = (large - small) / size
    print(f"inbox --from, 1 KB message: peak {small:.0f} MiB; {size:.0f} MB message: peak {large:.0f} MiB")
    print(f"memory the {size:.0f} MB message adds: {large - small:.1f} MiB, {ratio:.2f}x its size "
          f"(target <= {MEMORY_TARGET}) {'OK' if ratio <= MEMORY_TARGET else 'OVER'}")


if __name__ == "__main__":
    main()
