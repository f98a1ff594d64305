"""Helpers for benchmarks: timing whole processes (and their peak memory) and reporting medians and ratios."""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Run:
    """One run of a command: wall-clock seconds and the peak resident memory of its process in MiB."""

    seconds: float
    peak_mib: float


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
    return Run(seconds, usage.ru_maxrss / 1024)  # ru_maxrss is in KiB on Linux


def time_command(argv: list[str], runs: int, **kwargs) -> list[float]:
    """Wall-clock seconds of each of `runs` runs of a command (which must succeed)."""
    return [run_command(argv, **kwargs).seconds for _ in range(runs)]


def interleaved(commands: dict[str, list[str]], runs: int, **kwargs) -> dict[str, list[float]]:
    """Time several commands taking turns, so machine noise hits them alike."""
    results: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            results[name].extend(time_command(argv, 1, **kwargs))
    return results


def median_ms(times: list[float]) -> float:
    """Median in milliseconds."""
    return statistics.median(times) * 1000
