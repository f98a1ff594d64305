"""Print the mutation score of each module `make mutate` covers, from mutmut's results in mutants/.

Reads the `.meta` files mutmut 3 writes beside each mutated copy (mutants/<path>.meta: the exit code
of the test run of each mutant). Killed is what mutmut itself calls killed (the tests failed); a
mutant it calls a timeout is counted apart and NOT as killed. A survivor is equivalent (left out of
the score) when docs/mutation.md names it with its reason, or when it only changes the letter case of
SQL, a mail header's name or a codec's name. Every other mutant (survived, no tests, timeout) is
listed by name: `.venv/bin/mutmut show NAME` shows its change.

    python -m tools.mutation_score              # the table and the surviving mutants
    python -m tools.mutation_score --diff jobs  # also the change of each survivor in modules matching 'jobs'
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
# A mutant whose only change is the letter case of SQL (SQLite reads keywords and names in any case), of a mail
# header's or MIME parameter's name (case-insensitive in email) or of a codec's name is equivalent.
_SQL = re.compile(r"\b(SELECT|INSERT|DELETE|UPDATE|PRAGMA|CREATE)\b", re.I)
_CODECS = {"utf-8", "cp1252", "latin-1", "ascii", "us-ascii"}
_MAIL_NAMES = {"message-id", "date", "from", "to", "cc", "subject", "content-type", "content-type: ",
               "content-disposition", "name"}
EQUIVALENT_LIST = ROOT / "docs" / "mutation.md"  # lines "- `name`: why" under "## Equivalent mutants"
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


def _changed_lines(path: str, name: str) -> tuple[list[str], list[str]]:
    diff = _diff(path, name).splitlines()
    return ([line[1:] for line in diff if line.startswith("-") and not line.startswith("---")],
            [line[1:] for line in diff if line.startswith("+") and not line.startswith("+++")])


def _case_only(path: str, name: str) -> bool:
    """True when the mutant changes only the letter case of SQL, a mail header or parameter name, or a codec name."""
    try:
        old, new = _changed_lines(path, name)
    except (OSError, KeyError, ValueError):
        return False
    if not old or len(old) != len(new):
        return False
    for before, after in zip(old, new):
        if before == after or before.lower() != after.lower() or len(before) != len(after):
            return False
        for literal in re.finditer(r'"([^"]*)"', before):
            changed = after[literal.start(1):literal.end(1)]
            text = literal.group(1)
            if changed == text:
                continue
            mail_name = text.lower() in _MAIL_NAMES and "environ" not in before
            if not (_SQL.search(text) or text.lower() in _CODECS or mail_name):
                return False
        if before.replace('"', "") == before:  # no literal at all: a name's case changed
            return False
    return True


def _named_equivalents() -> set[str]:
    """The mutants docs/mutation.md names as equivalent, each with its reason."""
    if not EQUIVALENT_LIST.exists():
        return set()
    text = EQUIVALENT_LIST.read_text("utf-8")
    section = text.split("## Equivalent mutants", 1)[-1].split("\n## ", 1)[0]
    return set(re.findall(r"`([\w.ǁ]+__mutmut_\d+)`", section))


def main(argv: list[str] | None = None) -> int:
    """Print killed/total per module, the survivors by name; exit 1 when a module is below 90 %."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--diff", metavar="MODULE", help="print the change of each survivor in matching modules")
    args = parser.parse_args(argv)
    below = False
    rows, survivors = [], []
    named = _named_equivalents()
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
            if status == "survived" and (name in named or _case_only(path, name)):
                status = "equivalent"
            counts[status] = counts.get(status, 0) + 1
            if status not in ("killed", "not checked", "equivalent"):
                survivors.append((path, name, status))
        killed, total = counts.get("killed", 0), len(codes)
        rest = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()) if s != "killed")
        counted = total - counts.get("equivalent", 0)
        rows.append((path, killed, total, killed / counted if counted else 0, rest))
        below |= not counted or killed / counted < WANTED or "not checked" in counts
    width = max(len(r[0]) for r in rows)
    print(f"{'module':<{width}}  killed/total  score (equivalents left out)  not killed")
    for path, killed, total, score, rest in rows:
        print(f"{path:<{width}}  {killed:>6}/{total:<5}  {score:>6.1%}                       {rest}")
    if survivors:
        print("\nNot killed (see docs/mutation.md for the equivalent ones; `.venv/bin/mutmut show NAME`):")
        for path, name, status in survivors:
            print(f"  {status:<11} {name}")
            if args.diff and args.diff in path:
                print("    " + _diff(path, name).replace("\n", "\n    "))
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
