"""Benchmark: `nyhetsbrev recipients import` of a 100 000-row CSV against `sqlite-utils insert --csv` of the same file.

Run: .venv/bin/python bench/import.py [ROWS]. Prints median wall times of 3 runs each, their ratio (target <= 1.5)
and the peak memory of each command. Both run as subprocesses in the same run, on the same file.
"""

from __future__ import annotations

import csv
import os
import random
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import run_command  # noqa: E402

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


def main() -> None:
    """Run the benchmark and print the figures."""
    with tempfile.TemporaryDirectory(prefix="nyhetsbrev-bench-") as tmp:
        folder = Path(tmp)
        data = folder / "mottagare.csv"
        make_csv(data, ROWS)
        env = {k: v for k, v in os.environ.items() if not k.startswith("NYHETSBREV_")}
        ours, theirs = [], []
        for run in range(RUNS):
            ours.append(run_command(
                [str(VENV_BIN / "nyhetsbrev"), "recipients", "import", str(data), "--list", "Bench"],
                env={**env, "NYHETSBREV_DB": str(folder / f"ours{run}.db")},
            ))
            theirs.append(run_command(
                [str(VENV_BIN / "sqlite-utils"), "insert", str(folder / f"base{run}.db"), "recipients", str(data), "--csv"],
                env=env,
            ))
        ours_s = statistics.median(r.seconds for r in ours)
        theirs_s = statistics.median(r.seconds for r in theirs)
        ratio = ours_s / theirs_s
        print(f"rows:                          {ROWS}")
        print(f"nyhetsbrev recipients import:  {ours_s:.2f} s (median of {RUNS}), "
              f"peak {max(r.peak_mib for r in ours):.0f} MiB")
        print(f"sqlite-utils insert --csv:     {theirs_s:.2f} s (median of {RUNS}), "
              f"peak {max(r.peak_mib for r in theirs):.0f} MiB")
        print(f"ratio:                         {ratio:.2f} (target <= {TARGET}) {'OK' if ratio <= TARGET else 'OVER'}")


if __name__ == "__main__":
    main()
