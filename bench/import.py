"""Benchmark: `nyhetsbrev recipients import` of a 100 000-row CSV against `sqlite-utils insert --csv` of the same file.

Run: .venv/bin/python bench/import.py [ROWS]. Prints median wall times of 3 runs each, their ratio (target <= 1.5)
and the peak memory of each command. Both run as subprocesses in the same run, on the same file.
"""

from __future__ import annotations

import csv
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
RUNS = 3
TARGET = 1.5

FIRST = ["Anna", "Erik", "Åsa", "Örjan", "Maria", "Lars", "Karin", "Björn", "Eva", "Jonas", "Sofia", "Mikael"]
LAST = ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Ström"]
PLACES = ["Eskilstuna", "Flen", "Gnesta", "Katrineholm", "Nyköping", "Oxelösund", "Strängnäs", "Trosa", "Vingåker"]
ROLES = ["Rektor", "Socialsekreterare", "Enhetschef", "Skolsköterska", "Förskollärare", "Politiker"]


def make_csv(path: Path, rows: int) -> None:
    """A recipients CSV with invented people at example.se/example.org and the columns a municipality exports."""
    rnd = random.Random(22)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["E-post", "Namn", "Organisation", "Kommun", "Roll", "Telefon"])
        for i in range(rows):
            first, last, place = rnd.choice(FIRST), rnd.choice(LAST), rnd.choice(PLACES)
            domain = "example.se" if i % 3 else "example.org"
            writer.writerow([
                f"{first.lower()}.{last.lower()}{i}@{domain}".replace("å", "a").replace("ö", "o"),
                f"{first} {last}", f"{place} kommun", place, rnd.choice(ROLES), f"0{rnd.randrange(10**8, 10**9)}",
            ])


def timed(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall time in seconds and peak memory in MiB of one command (which must succeed)."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{proc.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss // 1024


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="nyhetsbrev-bench-") as tmp:
        folder = Path(tmp)
        data = folder / "mottagare.csv"
        make_csv(data, ROWS)
        env = {k: v for k, v in os.environ.items() if not k.startswith("NYHETSBREV_")}
        ours, theirs, ours_mem, theirs_mem = [], [], [], []
        for run in range(RUNS):
            db = folder / f"ours{run}.db"
            seconds, mib = timed(
                [str(VENV_BIN / "nyhetsbrev"), "recipients", "import", str(data), "--list", "Bench"],
                {**env, "NYHETSBREV_DB": str(db)},
            )
            ours.append(seconds)
            ours_mem.append(mib)
            seconds, mib = timed(
                [str(VENV_BIN / "sqlite-utils"), "insert", str(folder / f"base{run}.db"), "recipients", str(data), "--csv"],
                env,
            )
            theirs.append(seconds)
            theirs_mem.append(mib)
        ours_s, theirs_s = statistics.median(ours), statistics.median(theirs)
        ratio = ours_s / theirs_s
        print(f"rows:                          {ROWS}")
        print(f"nyhetsbrev recipients import:  {ours_s:.2f} s (median of {RUNS}), peak {max(ours_mem)} MiB")
        print(f"sqlite-utils insert --csv:     {theirs_s:.2f} s (median of {RUNS}), peak {max(theirs_mem)} MiB")
        print(f"ratio:                         {ratio:.2f} (target <= {TARGET}) {'OK' if ratio <= TARGET else 'OVER'}")


if __name__ == "__main__":
    main()
