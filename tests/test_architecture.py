"""The code keeps its shape: who may import what, and modules of a readable size."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nyhetsbrev"
MODULES = sorted(p for p in PACKAGE.rglob("*.py"))

# third-party or stdlib module → the only places allowed to import it
OWNERS = {
    "typer": ("cli/",),
    "rich": ("cli/",),
    "click": ("cli/",),
    "sqlite_utils": ("store/db.py",),
    "smtplib": ("mail/transport.py",),
    "imaplib": ("inbox/mailbox.py",),
    "imapclient": ("inbox/mailbox.py",),
}

# The stages, top to bottom: a package may import its own modules and the packages below it,
# never one above it or a sibling of its own rank. The loose modules at the package root
# (errors, writer) are the floor: everyone may import them and they import no stage.
LAYERS = [
    ("cli",),
    ("web", "doctor"),
    ("inbox",),
    ("mail",),
    ("publish",),
    ("store", "render"),
    ("project",),
]
RANK = {pkg: rank for rank, pkgs in enumerate(LAYERS) for pkg in pkgs}
FLOOR = len(LAYERS)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ("." * node.level) + (node.module or "")
            names.add(base)
            if node.level and not node.module:
                names.update("." * node.level + alias.name for alias in node.names)
    return names


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def stage_of(rel: str) -> str:
    """The stage a module belongs to ('' for the floor modules at the package root)."""
    if rel == "__main__.py":
        return "cli"  # `python -m nyhetsbrev` is the command line too
    head = rel.split("/")[0]
    return head if "/" in rel else ""


def imported_stages(rel: str, names: set[str]) -> set[str]:
    """The stages that the module at `rel` (a path under the package) imports, from its import names."""
    own = rel.split("/")[:-1]  # relative imports resolve from the module's folder (also in __init__)
    stages = set()
    for name in names:
        if name.startswith("nyhetsbrev"):
            parts = name.split(".")[1:]
        elif name.startswith("."):
            level = len(name) - len(name.lstrip("."))
            base = own[: len(own) - (level - 1)] if level > 1 else own
            parts = base + [p for p in name.lstrip(".").split(".") if p]
        else:
            continue
        if not parts:
            continue
        target = parts[0]
        stages.add(target if target in RANK else "")
    return stages


def violations(rel: str, names: set[str]) -> list[str]:
    """Each import of `rel` that runs against the stages (upward, sideways, or from the floor)."""
    stage = stage_of(rel)
    rank = RANK.get(stage, FLOOR)
    found = []
    for target in imported_stages(rel, names):
        if target == stage or target == "":
            continue
        if RANK[target] <= rank:
            found.append(f"{rel} imports {target}/, which is not below {stage or 'the floor'}")
    return found


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_only_owners_import_owned_modules(path):
    rel = _relative(path)
    for name in _imports(path):
        top = name.split(".")[0]
        if top in OWNERS:
            assert rel.startswith(OWNERS[top]), f"{rel} imports {top}; only {OWNERS[top]} may"


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_imports_flow_down_the_stages(path):
    rel = _relative(path)
    assert violations(rel, _imports(path)) == []


@pytest.mark.parametrize(
    "rel, names, bad",
    [
        ("render/issue.py", {"..mail.message"}, True),  # render never reaches up to mail
        ("render/issue.py", {"..store"}, True),  # nor sideways to store, its own rank
        ("project/config.py", {"..render.markdown"}, True),
        ("errors.py", {".project.models"}, True),  # the floor imports no stage
        ("store/ledger.py", {"nyhetsbrev.mail.sender"}, True),  # absolute imports count too
        ("web/preview/builds.py", {"...mail", "...render.checks"}, False),
        ("mail/sender.py", {"..publish.pipeline", "..store", "..writer"}, False),
        ("render/issue.py", {".markdown", "..project.models", "..errors"}, False),
    ],
)
def test_the_stage_rule_itself(rel, names, bad):
    assert bool(violations(rel, names)) is bad


def test_every_stage_folder_is_in_the_table():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders <= set(RANK), f"stage folders missing from LAYERS: {folders - set(RANK)}"


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_modules_stay_readable(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 450, f"{_relative(path)} has {lines} lines: split it"
