"""Helpers for benchmarks: timing whole processes and reporting medians and ratios."""

from __future__ import annotations

import statistics
import subprocess
import time


def time_command(argv: list[str], runs: int, **kwargs) -> list[float]:
    """Wall-clock seconds of each of `runs` runs of a command (which must succeed)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
        times.append(time.perf_counter() - start)
    return times


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
