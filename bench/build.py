"""`nyhetsbrev build 22:1` as a whole process against the import floor of its dependencies.

Both run in the same session, taking turns; the figure that matters is the ratio (target ≤ 1.25).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import interleaved, median_ms  # noqa: E402
from tests.golden import copy_repo_project  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
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
        times = interleaved(commands, RUNS)
    floor = median_ms(times["import floor"])
    print(f"build benchmark, median of {RUNS} runs each")
    for name, values in times.items():
        print(f"  {name:<24} {median_ms(values):7.1f} ms   ratio to floor {median_ms(values) / floor:.2f}")
    ratio = median_ms(times["nyhetsbrev build 22:1"]) / floor
    print(f"build/import floor = {ratio:.2f} (target ≤ 1.25)")


if __name__ == "__main__":
    main()
