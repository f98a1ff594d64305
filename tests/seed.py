"""The real first issue (seed 001) as the lines a reader must find in 22:1."""

from __future__ import annotations

import re
from pathlib import Path

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
SEED_001 = "001_05a929fdedb960d5.txt"
SEED_000 = "000_15aa93c01f64dd8d.txt"


def seed_path(name: str = SEED_001) -> Path:
    """Path of a seed: ../shared/seeds beside the checkout, or a copy in tests/seeds."""
    for folder in (SEEDS, Path(__file__).resolve().parent / "seeds"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(name)


def _plain(line: str) -> str:
    line = re.sub(r"^#+\s*", "", line.strip())
    line = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line)
    line = line.replace("*", "")
    line = re.sub(r"\s+", " ", line).strip().rstrip(",").strip()
    return line


def seed_lines() -> list[str]:
    """Every heading, paragraph, name and address of seed 001, markup removed, one per line.

    The masthead is 'Nyhetsbrev 22:1' (the seed's 'NYHETSREV' is a typo).
    """
    lines = []
    for raw in seed_path().read_text(encoding="utf-8").splitlines():
        text = _plain(raw)
        if not text:
            continue
        if text.upper().startswith("NYHETSREV"):
            text = "Nyhetsbrev " + text.split()[-1]
        lines.append(text)
    return lines
