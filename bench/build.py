"""`nyhetsbrev build 22:1` as a whole process against the import floor of its dependencies.

All run in the same session, taking turns; the figure that matters is the ratio (target ≤ 1.25). Each run's CPU
time (user + system) is reported beside the wall-clock time, which swings far more on a machine shared with other
work. With BENCH_BASELINE=PYTHON:TREE the old code's build is timed in the same turns too (see bench/startup.py).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import baseline_nyhetsbrev, installed_env, interleaved_runs, median_ms  # noqa: E402
from tests.golden import copy_repo_project  # noqa: E402

RUNS = 15


def main() -> None:
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        project = copy_repo_project(Path(tmp) / "project")
        commands = {
            "import floor": [python, "-c", "import typer, jinja2, markdown_it, mjml, css_inline"],
            "nyhetsbrev build 22:1": [python, "-m", "nyhetsbrev", "--project", str(project), "build", "22:1"],
            "nyhetsbrev --help": [python, "-m", "nyhetsbrev", "--help"],
        }
        baseline = baseline_nyhetsbrev()
        if baseline:
            commands["build 22:1 (before)"] = [*baseline, "--project", str(project), "build", "22:1"]
        # cwd: not the checkout, from which `-m` would import today's code before the baseline's
        runs = interleaved_runs(commands, RUNS, cwd=tmp, env=installed_env(Path(tmp) / "bytecode"))
    cpu = {name: median_ms([run.cpu_seconds for run in done]) for name, done in runs.items()}
    wall = {name: median_ms([run.seconds for run in done]) for name, done in runs.items()}
    print(f"build benchmark, median of {RUNS} runs each (CPU time; wall-clock time in brackets)")
    for name in commands:
        print(f"  {name:<24} {cpu[name]:7.1f} ms ({wall[name]:7.1f} ms)   ratio to floor {cpu[name] / cpu['import floor']:.2f}"
              f" ({wall[name] / wall['import floor']:.2f})")
    build = "nyhetsbrev build 22:1"
    print(f"build/import floor = {cpu[build] / cpu['import floor']:.2f} CPU, {wall[build] / wall['import floor']:.2f} wall"
          " (target ≤ 1.25)")
    if baseline:
        print(f"build/build before = {cpu[build] / cpu['build 22:1 (before)']:.2f} CPU,"
              f" {wall[build] / wall['build 22:1 (before)']:.2f} wall")


if __name__ == "__main__":
    main()
