"""Start-up of `nyhetsbrev --help` and `nyhetsbrev lists` in Swedish (the catalog loaded) against English (none).

All run in the same session, taking turns; the figures that matter are ratios (target: Swedish ≤ 1.10 × English).
Each run's CPU time (user + system) is reported beside the wall-clock time: on a machine shared with other work
the wall-clock time swings by a fifth from run to run, the CPU time far less.
With BENCH_BASELINE=PYTHON:TREE (a Python with the old dependencies and a checkout of the old code) the old
commands are timed in the same turns too, e.g. to compare with the code before the Swedish interface:

    git worktree add /tmp/before <commit>
    BENCH_BASELINE=/path/to/old/.venv/bin/python:/tmp/before .venv/bin/python bench/startup.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import baseline_nyhetsbrev, installed_env, interleaved_runs, median_ms  # noqa: E402

RUNS = 21


def main() -> None:
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "nyhetsbrev.db")  # none there: lists says so, as on a first day
        plain = ["env", "-u", "LANG", "-u", "LANGUAGE", "-u", "LC_ALL", "-u", "LC_MESSAGES", f"NYHETSBREV_DB={db}"]
        commands = {
            "--help (en)": [*plain, "NYHETSBREV_LANGUAGE=en", python, "-m", "nyhetsbrev", "--help"],
            "--help (sv)": [*plain, "NYHETSBREV_LANGUAGE=sv", python, "-m", "nyhetsbrev", "--help"],
            "lists (en)": [*plain, "NYHETSBREV_LANGUAGE=en", python, "-m", "nyhetsbrev", "lists"],
            "lists (sv)": [*plain, "NYHETSBREV_LANGUAGE=sv", python, "-m", "nyhetsbrev", "lists"],
        }
        baseline = baseline_nyhetsbrev()
        if baseline:
            old = [*plain, *baseline]
            commands["--help (before)"] = [*old, "--help"]
            commands["lists (before)"] = [*old, "lists"]
        runs = interleaved_runs(commands, RUNS, cwd=tmp, env=installed_env(Path(tmp) / "bytecode"))
    times = {name: median_ms([run.cpu_seconds for run in done]) for name, done in runs.items()}
    print(f"start-up benchmark, median of {RUNS} runs each (CPU time; wall-clock time in brackets)")
    for name in commands:
        print(f"  {name:<18} {times[name]:7.1f} ms   ({median_ms([run.seconds for run in runs[name]]):7.1f} ms)")
    for command in ("--help", "lists"):
        print(f"{command}: Swedish/English = {times[f'{command} (sv)'] / times[f'{command} (en)']:.2f} (target ≤ 1.10)")
        if baseline:
            print(f"{command}: Swedish/before = {times[f'{command} (sv)'] / times[f'{command} (before)']:.2f} (target ≤ 1.10)")


if __name__ == "__main__":
    main()
