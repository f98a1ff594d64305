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
    "smtplib": ("transport.py",),
}
# lower layers never import upper ones
FORBIDDEN = {
    "models.py": ("cli", "pipeline", "sender", "store", "preview", "render", "reader", "writer", "transport"),
    "errors.py": ("cli", "pipeline", "sender", "store", "preview", "render", "reader", "writer", "transport", "models"),
    "render.py": ("cli", "pipeline", "sender", "store", "preview", "reader", "writer", "transport"),
    "markdown.py": ("cli", "pipeline", "sender", "store", "preview", "reader", "writer", "transport"),
    "reader.py": ("cli", "pipeline", "sender", "store", "preview", "render", "transport"),
    "transport.py": ("cli", "pipeline", "sender", "store", "preview", "render", "reader"),
    "pipeline.py": ("cli", "sender", "preview"),
}


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


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_only_owners_import_owned_modules(path):
    rel = _relative(path)
    for name in _imports(path):
        top = name.split(".")[0]
        if top in OWNERS:
            assert rel.startswith(OWNERS[top]), f"{rel} imports {top}; only {OWNERS[top]} may"


@pytest.mark.parametrize("rel, forbidden", sorted(FORBIDDEN.items()))
def test_imports_flow_one_way(rel, forbidden):
    path = PACKAGE / rel
    if not path.exists():
        pytest.skip(f"{rel} not present")
    for name in _imports(path):
        local = name.lstrip(".").split(".")[0] if name.startswith(".") else None
        assert local not in forbidden, f"{rel} imports .{local}, a layer above it"


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_modules_stay_readable(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 450, f"{_relative(path)} has {lines} lines: split it"
