"""Helpers for benchmarks: timing whole processes (and their peak memory) and reporting medians and ratios."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Run:
    """One run of a command: wall-clock seconds, the peak resident memory of its process in MiB, and its CPU seconds.

    CPU time (user + system) is what a figure rests on when the machine is busy with other work: it does not
    count the time the process waited for a core, so it swings far less from run to run than wall-clock time.
    """

    seconds: float
    peak_mib: float
    cpu_seconds: float


def run_command(argv: list[str], **kwargs) -> Run:
    """Run a command once (it must succeed) and measure it; kwargs go to subprocess.Popen (env=, cwd=)."""
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a chatty command cannot block on a full pipe
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=errors, **kwargs)
        # wait4 gives this one child's own peak; getrusage(RUSAGE_CHILDREN) keeps the largest child ever seen.
        _pid, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"failed ({process.returncode}): {' '.join(argv)}\n{errors.read().decode(errors='replace')}")
    return Run(seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)  # ru_maxrss is in KiB on Linux


def interleaved_runs(commands: dict[str, list[str]], runs: int, **kwargs) -> dict[str, list[Run]]:
    """Run several commands `runs` times each, taking turns, so machine noise hits them alike (after one run each
    that is not counted: it fills the caches, such as the compiled bytecode)."""
    for argv in commands.values():
        run_command(argv, **kwargs)
    results: dict[str, list[Run]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            results[name].append(run_command(argv, **kwargs))
    return results


# Runs `nyhetsbrev ARGS` and writes the process's own peak resident memory (KiB) to $BENCH_PEAK_FILE. VmHWM belongs
# to the process image, so nothing of the parent is counted, unlike ru_maxrss, which a child inherits from the
# process it was forked from.
PEAK_WRAPPER = """
import atexit, os, sys
def report():
    with open("/proc/self/status") as status, open(os.environ["BENCH_PEAK_FILE"], "w") as out:
        out.write(status.read().split("VmHWM:")[1].split()[0])
atexit.register(report)
from nyhetsbrev.cli import main
sys.argv = ["nyhetsbrev", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    if exc.code not in (0, None):
        raise
"""


def nyhetsbrev_peak(args: list[str], peak_file: Path, env: dict) -> tuple[float, float]:
    """One `nyhetsbrev ARGS` process, which must succeed: (wall-clock seconds, its own peak memory in MiB)."""
    result = run_command([sys.executable, "-c", PEAK_WRAPPER, *args], env={**env, "BENCH_PEAK_FILE": str(peak_file)})
    return result.seconds, int(peak_file.read_text()) / 1024


def installed_env(bytecode: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """env (else this process's) with compiled bytecode kept in the folder `bytecode`, as an installed copy has it.

    The development environment sets PYTHONDONTWRITEBYTECODE, which makes every run compile the whole package
    again: that would be measured as start-up no user sees.
    """
    env = {k: v for k, v in (os.environ if env is None else env).items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPYCACHEPREFIX": str(bytecode)}


def baseline_nyhetsbrev() -> list[str] | None:
    """The command that runs the old code named by BENCH_BASELINE=PYTHON:TREE (a Python with the old dependencies
    and a checkout of the old code), to be timed in the same turns as today's; None when it is not set."""
    baseline = os.environ.get("BENCH_BASELINE")
    if not baseline:
        return None
    old_python, old_tree = baseline.split(":", 1)
    return ["env", f"PYTHONPATH={old_tree}", old_python, "-m", "nyhetsbrev"]


def median_ms(times: list[float]) -> float:
    """Median in milliseconds."""
    return statistics.median(times) * 1000
