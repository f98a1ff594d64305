"""Print the mutation score of each module `make mutate` covers, from mutmut's results in mutants/.

Reads the `.meta` files mutmut 3 writes beside each mutated copy (mutants/<path>.meta: the exit code
of the test run of each mutant). Killed is what mutmut itself calls killed (the tests failed); a
mutant it calls a timeout is counted apart and NOT as killed. Every other mutant (survived, no
tests, not checked) is listed by name: `.venv/bin/mutmut show NAME` shows its change.

    python -m tools.mutation_score              # the table and the surviving mutants
    python -m tools.mutation_score --diff jobs  # also the change of each survivor in modules matching 'jobs'
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
KILLED = {1, 3}          # mutmut: the tests failed (3: pytest's internal error)
TIMEOUT = {36, 24, -24, 152, 255}
WANTED = 0.90            # the bar, per module


def _modules() -> list[str]:
    """The source files [tool.mutmut] only_mutate names in pyproject.toml."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    return config["tool"]["mutmut"]["only_mutate"]


def _status(code: int | None) -> str:
    if code in KILLED:
        return "killed"
    if code in TIMEOUT:
        return "timeout"
    return {0: "survived", 5: "no tests", 33: "no tests", None: "not checked", 34: "skipped"}.get(code, "suspicious")


def _diff(path: str, name: str) -> str:
    """The change one mutant makes to its function, as a unified diff."""
    mutated = MUTANTS / path
    spans = json.loads((MUTANTS / (path + ".spans")).read_text("utf-8"))["spans"]
    function = name.rsplit(".", 1)[1]
    original = function.rsplit("__mutmut_", 1)[0] + "__mutmut_orig"
    lines = mutated.read_text("utf-8").splitlines()

    def body(key: str) -> list[str]:
        start, end = spans[key]
        return lines[start - 1:end]

    def clean(text: list[str]) -> list[str]:
        return [line.replace(function, "").replace(original, "") for line in text]

    return "\n".join(difflib.unified_diff(clean(body(original)), clean(body(function)), lineterm="", n=1))


def main(argv: list[str] | None = None) -> int:
    """Print killed/total per module, the survivors by name; exit 1 when a module is below 90 %."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--diff", metavar="MODULE", help="print the change of each survivor in matching modules")
    args = parser.parse_args(argv)
    below = False
    rows, survivors = [], []
    for path in _modules():
        meta = MUTANTS / (path + ".meta")
        if not meta.exists():
            rows.append((path, 0, 0, 0, "no results: run `make mutate`"))
            below = True
            continue
        codes = json.loads(meta.read_text("utf-8"))["exit_code_by_key"]
        counts: dict[str, int] = {}
        for name, code in sorted(codes.items()):
            status = _status(code)
            counts[status] = counts.get(status, 0) + 1
            if status not in ("killed", "not checked"):
                survivors.append((path, name, status))
        killed, total = counts.get("killed", 0), len(codes)
        rest = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()) if s != "killed")
        rows.append((path, killed, total, killed / total if total else 0, rest))
        below |= not total or killed / total < WANTED or "not checked" in counts
    width = max(len(r[0]) for r in rows)
    print(f"{'module':<{width}}  killed/total  score  not killed")
    for path, killed, total, score, rest in rows:
        print(f"{path:<{width}}  {killed:>6}/{total:<5}  {score:>5.1%}  {rest}")
    if survivors:
        print("\nNot killed (see docs/mutation.md for the equivalent ones; `.venv/bin/mutmut show NAME`):")
        for path, name, status in survivors:
            print(f"  {status:<11} {name}")
            if args.diff and args.diff in path:
                print("    " + _diff(path, name).replace("\n", "\n    "))
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
