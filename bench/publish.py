"""`nyhetsbrev publish` of a 50-issue archive: a full publish, then publish after editing one issue,
against `nyhetsbrev build` of that one issue, as whole processes in the same session, taking turns.

The figure that matters is the ratio publish-after-one-edit / build (target ≤ 1.5): an archive that
re-rendered everything would be about 50 times a build.
"""

from __future__ import annotations

import datetime as dt
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median_ms, run_command  # noqa: E402
from tests.golden import copy_repo_project  # noqa: E402
from tests.send_helpers import tiny_png  # noqa: E402

ISSUES = 50
RUNS = 9
POLITIKER = "---\naudience: [politiker]\n---\n## Till förtroendevalda\n\nBeslut som väntar i nämnderna.\n"


def make_archive(root: Path) -> list[str]:
    """A copy of the repository's project with ISSUES issues made from 22:1 (every fifth with a politiker section),
    and the project's key (the versions' pages are published at addresses made with it)."""
    copy_repo_project(root)
    source = root / "issues" / "22-1"
    ids = []
    for n in range(ISSUES):
        year, number = 14 + n // 4, n % 4 + 1
        folder = root / "issues" / f"{year}-{number}"
        if folder != source:
            shutil.copytree(source, folder)
        date = dt.date(2000 + year, 3 * number, 1)
        toml = (source / "issue.toml").read_text(encoding="utf-8")
        toml = toml.replace("22:1", f"{year}:{number}").replace("2022-04-01", date.isoformat())
        (folder / "issue.toml").write_text(toml, encoding="utf-8")
        (folder / "images").mkdir(exist_ok=True)
        (folder / "images" / "bild.png").write_bytes(tiny_png())
        (folder / "04-bild.md").write_text(f"## Bild\n\n![Bild till nummer {year}:{number}](images/bild.png)\n", encoding="utf-8")
        if n % 5 == 0:
            (folder / "05-politiker.md").write_text(POLITIKER, encoding="utf-8")
        ids.append(f"{year}:{number}")
    from nyhetsbrev.store.db import default_db_path
    from nyhetsbrev.store.tokens import default_key_path, load_or_create_key

    load_or_create_key(default_key_path(default_db_path(root)))  # as after the first send: the versions are published
    return ids


def main() -> None:
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        ids = make_archive(project)
        edited = ids[len(ids) // 2]
        section = project / "issues" / edited.replace(":", "-") / "03-vad-hander-nu.md"
        base = [python, "-m", "nyhetsbrev", "--project", str(project)]
        full = run_command(base + ["publish"]).seconds
        times: dict[str, list[float]] = {"publish after editing one issue": [], f"build {edited}": []}
        original = section.read_text(encoding="utf-8")
        for run in range(RUNS):
            section.write_text(original + f"\nÄndring nummer {run}.\n", encoding="utf-8")
            times["publish after editing one issue"].append(run_command(base + ["publish"]).seconds)
            times[f"build {edited}"].append(run_command(base + ["build", edited]).seconds)
        unchanged = [run_command(base + ["publish"]).seconds for _ in range(3)]
    build = median_ms(times[f"build {edited}"])
    print(f"publish benchmark: {ISSUES} issues, median of {RUNS} runs each")
    print(f"  {'full publish (first run)':<34} {full * 1000:8.1f} ms   ratio to build {full * 1000 / build:.2f}")
    for name, values in times.items():
        print(f"  {name:<34} {median_ms(values):8.1f} ms   ratio to build {median_ms(values) / build:.2f}")
    print(f"  {'publish with nothing changed':<34} {statistics.median(unchanged) * 1000:8.1f} ms")
    ratio = median_ms(times["publish after editing one issue"]) / build
    print(f"publish after one edit / build = {ratio:.2f} (target ≤ 1.5)")


if __name__ == "__main__":
    main()
