"""Benchmark: `nyhetsbrev recipients import` of a 100 000-row CSV against `sqlite-utils insert --csv` of the same file;
then `import --replace --yes` of a file with 10 % changed against a list of 100 000, against a plain import of that file
into a copy of the same list.

Run: .venv/bin/python bench/import.py [ROWS] [RUNS]. The commands take turns (so machine noise hits them alike); it
prints the best wall time of RUNS runs each (default 5), the ratios of the best (target <= 1.5), the ratio of their CPU
time, the peak memory of each command, and the load average before and after. All run as subprocesses in the same run,
on the same files.
"""

from __future__ import annotations

import csv
import os
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import run_command  # noqa: E402

VENV_BIN = Path(sys.executable).parent
ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
TARGET = 1.5

FIRST = ["Anna", "Erik", "Åsa", "Örjan", "Maria", "Lars", "Karin", "Björn", "Eva", "Jonas", "Sofia", "Mikael"]
LAST = ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Ström"]
PLACES = ["Eskilstuna", "Flen", "Gnesta", "Katrineholm", "Nyköping", "Oxelösund", "Strängnäs", "Trosa", "Vingåker"]
ROLES = ["Rektor", "Socialsekreterare", "Enhetschef", "Skolsköterska", "Förskollärare", "Politiker"]


def make_changed_csv(source: Path, path: Path) -> None:
    """The same people with 10 % changed: every 20th row gets a new organisation, every 20th (offset) is a new person."""
    with source.open(encoding="utf-8", newline="") as inp, path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        for i, row in enumerate(csv.reader(inp)):
            if i and i % 20 == 0:
                row[2] = "Region Sörmland"
            elif i and i % 20 == 10:
                row[0] = f"ny{i}@example.org"
            writer.writerow(row)


def replace_figures(folder: Path, data: Path, env: dict) -> None:
    """--replace of a file with 10 % changed against a plain import of it, each into a copy of the same list."""
    changed = folder / "mottagare-ny.csv"
    make_changed_csv(data, changed)
    base = folder / "list.db"
    run_command([str(VENV_BIN / "nyhetsbrev"), "recipients", "import", str(data), "--list", "Bench"],
                env={**env, "NYHETSBREV_DB": str(base)})
    plain, replace = [], []
    for run in range(RUNS):
        for kind, results, extra in (("plain", plain, []), ("replace", replace, ["--replace", "--yes"])):
            db = folder / f"{kind}{run}.db"
            shutil.copy(base, db)
            results.append(run_command(
                [str(VENV_BIN / "nyhetsbrev"), "recipients", "import", str(changed), "--list", "Bench", *extra],
                env={**env, "NYHETSBREV_DB": str(db)},
            ))
            db.unlink()
    report("import --replace (10 % changed)", replace, "plain import of the same file", plain)


def report(name: str, runs: list, baseline_name: str, baseline: list) -> None:
    """Print the best and median wall times of a command and its baseline, the ratio of the best, and CPU and memory."""
    best, base = min(r.seconds for r in runs), min(r.seconds for r in baseline)
    ratio = best / base
    for label, results in ((name, runs), (baseline_name, baseline)):
        print(f"{label + ':':<36}best {min(r.seconds for r in results):.2f} s, median "
              f"{statistics.median(r.seconds for r in results):.2f} s of {len(results)}, CPU best "
              f"{min(r.cpu_seconds for r in results):.2f} s, peak {max(r.peak_mib for r in results):.0f} MiB")
    cpu = min(r.cpu_seconds for r in runs) / min(r.cpu_seconds for r in baseline)
    print(f"{'ratio of the best:':<36}{ratio:.2f} (target <= {TARGET}) {'OK' if ratio <= TARGET else 'OVER'}; "
          f"CPU {cpu:.2f}; load average now {os.getloadavg()[0]:.2f}", flush=True)


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
        print(f"rows: {ROWS}, {RUNS} runs each; load average at the start {os.getloadavg()[0]:.2f}", flush=True)
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
        report("nyhetsbrev recipients import", ours, "sqlite-utils insert --csv", theirs)
        replace_figures(folder, data, env)


if __name__ == "__main__":
    main()
