"""Print the mutation score of each module `make mutate` covers, from mutmut's results in mutants/.

Reads the `.meta` files mutmut 3 writes beside each mutated copy (mutants/<path>.meta: the exit code
of the test run of each mutant). Killed is what mutmut itself calls killed (the tests failed); a
mutant it calls a timeout is counted apart and NOT as killed. A survivor is equivalent (left out of
the score) when docs/mutation.md names it with its reason, or when it only changes the letter case of
SQL keywords and names (never a quoted SQL value), of a mail header's name read from a message, or of a codec's
name given to encode/decode (see _case_only_lines). Every other mutant (survived, no tests, timeout, caught by
nothing) is listed by name: `.venv/bin/mutmut show NAME` shows its change.

    python -m tools.mutation_score              # the table and the surviving mutants
    python -m tools.mutation_score --diff jobs  # also the change of each survivor in modules matching 'jobs'
    python -m tools.mutation_score --pin        # after a run: pin each equivalent that survived to its function
    python -m tools.mutation_score --seed       # before a run (make mutate does it): pinned ones are not re-run

An equivalent mutant survives every run by definition, yet each run would spend all the tests that reach its
function on it. So each equivalent that survived a run is pinned (tools/equivalent_mutants.json) with the mutmut
release, the hash mutmut gives its function and a hash of its change; `--seed` hands mutmut those as "skipped"
before a full run, mutmut itself carries a result over only while the function's hash is unchanged, and the table
counts a skipped mutant as equivalent only while its function and its change are the pinned ones.
`make mutate ALL=1` runs them all.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import hashlib
import importlib.metadata
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
# A mutant whose only change is the letter case of SQL keywords and names (SQLite reads them in any case), of a mail
# header's or MIME parameter's name read from a message (case-insensitive in email) or of a codec's name is equivalent;
# _case_only_lines says exactly when.
_SQL_START = re.compile(r"\s*(SELECT|INSERT|DELETE|UPDATE|PRAGMA|CREATE|WITH|REPLACE|DROP|ALTER|BEGIN|COMMIT|ROLLBACK)\b")
_SQL_VALUE = re.compile(r"'[^']*'|[:@$]\w+")   # quoted values and named parameters: compared byte for byte
_LITERAL = re.compile(r'([A-Za-z]{0,2})"((?:[^"\\\n]|\\.)*)"')   # a double-quoted literal on one line, with its prefix
_CODECS = {"utf-8", "cp1252", "latin-1", "ascii", "us-ascii"}
_CODEC_CALL = re.compile(r"\.(encode|decode)\($")
_MAIL_NAMES = {"message-id", "date", "from", "to", "cc", "subject", "content-type", "content-disposition", "name"}
_MAIL_CALL = re.compile(r"(\.(get|get_all|get_param)\(|\b(msg|message|head|part)\[)$")
EQUIVALENT_LIST = ROOT / "docs" / "mutation.md"  # lines "- `name`: why" under "## Equivalent mutants"
PINS = ROOT / "tools" / "equivalent_mutants.json"  # module -> {"functions": {function: mutmut's hash}, "mutants": [...]}
SKIPPED = 34                                       # mutmut's exit code for "skipped": kept, never run
# mutmut's own verdict for each exit code (mutmut.stats.status_by_exit_code); the copy below is 3.8.1's, for when
# mutmut is not installed here. "caught by type check" counts as killed.
_MUTMUT_3_8_1 = {
    1: "killed", 3: "killed", 0: "survived", 5: "no tests", 2: "check was interrupted by user", None: "not checked",
    33: "no tests", 34: "skipped", 35: "suspicious", 36: "timeout", 37: "caught by type check", -24: "timeout",
    24: "timeout", 152: "timeout", 255: "timeout", -11: "segfault", -9: "segfault",
}
try:
    from mutmut.stats import status_by_exit_code as _STATUS_BY_EXIT_CODE
except Exception:  # noqa: BLE001  (not installed: it is only in the `mutate` extra; or a release that moved it)
    _STATUS_BY_EXIT_CODE = _MUTMUT_3_8_1
WANTED = 0.90            # the bar, per module


def _modules() -> list[str]:
    """The source files [tool.mutmut] only_mutate names in pyproject.toml."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    return config["tool"]["mutmut"]["only_mutate"]


def _status(code: int | None) -> str:
    """mutmut's verdict for a mutant's exit code; a mutant the type check caught counts as killed."""
    try:
        status = _STATUS_BY_EXIT_CODE[code]
    except KeyError:
        status = "suspicious"
    return "killed" if status == "caught by type check" else status


@functools.lru_cache(maxsize=16)
def _mutated(mutated: Path) -> tuple[list[str], dict]:
    """The lines of a mutated copy and mutmut's line span of each function in it."""
    spans = json.loads(mutated.with_name(mutated.name + ".spans").read_text("utf-8"))["spans"]
    return mutated.read_text("utf-8").splitlines(), spans


def _diff(path: str, name: str) -> str:
    """The change one mutant makes to its function, as a unified diff."""
    lines, spans = _mutated(MUTANTS / path)
    function = name.rsplit(".", 1)[1]
    original = function.rsplit("__mutmut_", 1)[0] + "__mutmut_orig"

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
    """True when the mutant changes only letter case that cannot matter (see _case_only_lines)."""
    try:
        old, new = _changed_lines(path, name)
    except (OSError, KeyError, ValueError):
        return False
    return _case_only_lines(old, new)


def _case_only_lines(old: list[str], new: list[str]) -> bool:
    """True when each changed line differs from the original only in the letter case of double-quoted literals, and
    each changed literal is one of: SQL that starts with an upper-case keyword, with every single-quoted value and
    named parameter unchanged; a mail header's or MIME parameter's name read from a message (msg[...], .get(,
    .get_all(, .get_param(); a codec's name given to .encode( or .decode(. The code outside double-quoted
    literals (single-quoted literals, names, f-string fields) must be byte-identical."""
    if not old or len(old) != len(new):
        return False
    for before, after in zip(old, new):
        if before == after or before.lower() != after.lower() or len(before) != len(after):
            return False
        literals = list(_LITERAL.finditer(before))
        if _outside(before, literals) != _outside(after, literals):
            return False
        for literal in literals:
            text, changed = literal.group(2), after[literal.start(2):literal.end(2)]
            if changed == text:
                continue
            if "f" in literal.group(1).lower() and re.findall(r"\{[^}]*\}", text) != re.findall(r"\{[^}]*\}", changed):
                return False
            if not _case_cannot_matter(before[:literal.start()], text, changed):
                return False
    return True


def _outside(line: str, literals: list[re.Match]) -> str:
    """The line with the contents of the given double-quoted literals left out."""
    kept, at = [], 0
    for literal in literals:
        kept.append(line[at:literal.start(2)])
        at = literal.end(2)
    return "".join(kept) + line[at:]


def _case_cannot_matter(preceding: str, text: str, changed: str) -> bool:
    """Whether a literal's change of letter case changes nothing, given the code before it on its line."""
    if _SQL_START.match(text) and _SQL_VALUE.findall(text) == _SQL_VALUE.findall(changed):
        return True
    if "environ" in preceding:
        return False
    call = _enclosing_call(preceding)
    if text.lower() in _CODECS:
        return bool(_CODEC_CALL.search(call))
    return text.lower() in _MAIL_NAMES and bool(_MAIL_CALL.search(call))


def _enclosing_call(preceding: str) -> str:
    """The code before the innermost bracket still open at the end of `preceding`, that bracket included ("" if
    none is open on this line)."""
    depth = 0
    for at in range(len(preceding) - 1, -1, -1):
        char = preceding[at]
        if char in ")]}":
            depth += 1
        elif char in "([{":
            if depth == 0:
                return preceding[:at + 1]
            depth -= 1
    return ""


def _named_equivalents() -> set[str]:
    """The mutants docs/mutation.md names as equivalent, each with its reason."""
    if not EQUIVALENT_LIST.exists():
        return set()
    text = EQUIVALENT_LIST.read_text("utf-8")
    section = text.split("## Equivalent mutants", 1)[-1].split("\n## ", 1)[0]
    return set(re.findall(r"`([\w.ǁ]+__mutmut_\d+)`", section))


def _function(name: str) -> str:
    """The function a mutant changes, as mutmut keys it in a .meta file ("x_forget", "xǁDispatcherǁ_loop")."""
    return name.rsplit(".", 1)[1].rsplit("__mutmut_", 1)[0]


def _mutmut_version() -> str | None:
    """The installed mutmut's version (pins hold only for the version that numbered the mutants)."""
    try:
        return importlib.metadata.version("mutmut")
    except importlib.metadata.PackageNotFoundError:
        return None


def _pins() -> dict[str, dict]:
    """The pinned equivalents of each module: the hash of each function and of each mutant's change when judged."""
    if not PINS.exists():
        return {}
    pins = json.loads(PINS.read_text("utf-8"))
    return pins["modules"] if pins.get("mutmut") == _mutmut_version() else {}


def _change_hash(path: str, name: str) -> str:
    """A short hash of the change a mutant makes (its diff, with a line of context each side)."""
    return hashlib.sha256(_diff(path, name).encode("utf-8")).hexdigest()[:12]


def _still_pinned(pinned: dict, hashes: dict[str, str], path: str) -> set[str]:
    """The pinned mutants whose function and change are still the ones judged equivalent."""
    kept = set()
    for name, change in pinned.get("mutants", {}).items():
        if hashes.get(_function(name)) != pinned["functions"].get(_function(name)):
            continue
        try:
            if _change_hash(path, name) == change:
                kept.add(name)
        except (OSError, KeyError, ValueError):
            continue
    return kept


def seed() -> int:
    """Write the pinned equivalents into a fresh mutants/ as skipped, for mutmut to keep where the function is unchanged."""
    pins = _pins()
    existing = [MUTANTS / (path + ".meta") for path in pins if (MUTANTS / (path + ".meta")).exists()]
    if existing:
        print(f"{existing[0]} exists: seed only a fresh mutants/ (make mutate removes it first)", file=sys.stderr)
        return 1
    if PINS.exists() and not pins:
        print(f"{PINS.name} was made with another mutmut than {_mutmut_version()}: every mutant is run", file=sys.stderr)
    for path, pinned in pins.items():
        meta = MUTANTS / (path + ".meta")
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({
            "exit_code_by_key": {name: SKIPPED for name in pinned["mutants"]},
            "hash_by_function_name": pinned["functions"], "type_check_error_by_key": {},
            "durations_by_key": {}, "estimated_durations_by_key": {},
        }), "utf-8")
    return 0


def pin() -> int:
    """Pin each equivalent that survived its run, or was skipped as still pinned, to its function and its change."""
    named, old, pins = _named_equivalents(), _pins(), {}
    for path in _modules():
        meta = MUTANTS / (path + ".meta")
        if not meta.exists():
            continue
        data = json.loads(meta.read_text("utf-8"))
        hashes = data["hash_by_function_name"]
        still = _still_pinned(old.get(path, {}), hashes, path)
        kept = sorted(
            name for name, code in data["exit_code_by_key"].items()
            if (_status(code) == "survived" or (code == SKIPPED and name in still))
            and (name in named or _case_only(path, name)))
        if kept:
            pins[path] = {"functions": {f: hashes[f] for f in sorted({_function(n) for n in kept})},
                          "mutants": {name: _change_hash(path, name) for name in kept}}
    PINS.write_text(json.dumps({"mutmut": _mutmut_version(), "modules": pins}, indent=1, ensure_ascii=False) + "\n",
                    "utf-8")
    print(f"{sum(len(p['mutants']) for p in pins.values())} equivalent mutants pinned in {PINS.name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Print killed/total per module, the survivors by name; exit 1 when a module is below 90 %."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--diff", metavar="MODULE", help="print the change of each survivor in matching modules")
    parser.add_argument("--pin", action="store_true", help="pin each equivalent that survived to its function")
    parser.add_argument("--seed", action="store_true", help="hand the pinned equivalents to a fresh run as skipped")
    args = parser.parse_args(argv)
    if args.seed:
        return seed()
    if args.pin:
        return pin()
    pins = _pins()
    below = False
    rows, survivors = [], []
    named = _named_equivalents()
    for path in _modules():
        meta = MUTANTS / (path + ".meta")
        if not meta.exists():
            rows.append((path, 0, 0, 0, "no results: run `make mutate`"))
            below = True
            continue
        data = json.loads(meta.read_text("utf-8"))
        codes = data["exit_code_by_key"]
        pinned = _still_pinned(pins.get(path, {}), data["hash_by_function_name"], path)
        counts: dict[str, int] = {}
        not_rerun = 0
        for name, code in sorted(codes.items()):
            status = _status(code)
            if status == "survived" and (name in named or _case_only(path, name)):
                status = "equivalent"
            elif code == SKIPPED and name in pinned and (name in named or _case_only(path, name)):
                status = "equivalent"
                not_rerun += 1
            counts[status] = counts.get(status, 0) + 1
            if status not in ("killed", "not checked", "equivalent"):
                survivors.append((path, name, status))
        killed, total = counts.get("killed", 0), len(codes)
        rest = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()) if s != "killed")
        if not_rerun:
            rest = rest.replace(" equivalent", f" equivalent ({not_rerun} pinned, not re-run)", 1)
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
