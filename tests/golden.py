"""Regenerate the golden files of 22:1: `make golden`, then review `git diff tests/golden`."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden" / "22-1"
FILES = ("email.html", "email.txt", "web.html")


def copy_repo_project(dest: Path) -> Path:
    """Copy the repository's own newsletter project (settings, roster, issues, templates) into dest."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("nyhetsbrev.toml", "roster.toml"):
        shutil.copy(REPO / name, dest / name)
    shutil.copytree(REPO / "issues", dest / "issues")
    if (REPO / "templates").is_dir():
        shutil.copytree(REPO / "templates", dest / "templates")
    return dest


def build_repo_issue(dest: Path) -> Path:
    """Build the repository's 22:1 from a copy of the project in dest; returns the output folder."""
    from nyhetsbrev.publish.pipeline import build

    return build(copy_repo_project(dest), "22:1").out_dir


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = build_repo_issue(Path(tmp))
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            shutil.copyfile(out / name, GOLDEN / name)
            print(f"wrote {GOLDEN / name}")


if __name__ == "__main__":
    main()
