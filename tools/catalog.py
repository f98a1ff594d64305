"""`make catalog`: extract every message a user can read into a template and update the Swedish catalog.

What pybabel extract + update do, with two sources it cannot see on its own:
- the help of each command, which Typer takes from the command function's docstring;
- the command-line library's own messages ("Usage:", "Options", "Show this message and exit.",
  "No such option: {name}" …): click and Typer's core mark them for gettext but ship no
  catalogs, so they are merged into ours (as fsfe/reuse-tool does) and nyhetsbrev.cli
  hands them our translation.

    python -m tools.catalog            # update nyhetsbrev/locale/sv/LC_MESSAGES/nyhetsbrev.po
    python -m tools.catalog --check    # exit 1 when the .po is stale or a message has no Swedish text
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "nyhetsbrev"
PO = PACKAGE / "locale" / "sv" / "LC_MESSAGES" / "nyhetsbrev.po"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
# The command-line libraries whose own messages a user can meet (help, usage errors, bad values, prompts): every
# message they mark for gettext is in the catalog, whichever of their modules shows it (nyhetsbrev.cli.app hands
# our translation to the modules it loads).
LIBRARY_PACKAGES = ("click", "typer")
COMMAND_DECORATORS = {"command", "callback"}


def template() -> Catalog:
    """The messages of the package, its command help and the library's own messages, as a Babel catalog."""
    catalog = Catalog(project="nyhetsbrev", charset="utf-8", fuzzy=False)
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(REPO).as_posix()
        for lineno, message, comments, context in extract_from_file(
            "python", str(path), keywords=KEYWORDS, comment_tags=("TRANSLATORS:",), strip_comment_tags=True,
        ):
            catalog.add(message, None, [(where, lineno)], auto_comments=comments, context=context)
        for lineno, docstring in command_docstrings(path):
            catalog.add(docstring, None, [(where, lineno)], auto_comments=["command help (docstring)"])
    for path in sorted(PACKAGE.glob("web/preview/assets/*.html")):  # the preview's pages: Jinja2 with _()
        where = path.relative_to(REPO).as_posix()
        for lineno, message, comments, context in extract_from_file("jinja2.ext:babel_extract", str(path)):
            catalog.add(message, None, [(where, lineno)], auto_comments=comments, context=context)
    for package in LIBRARY_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(spec.submodule_search_locations[0])
        for path in sorted(root.rglob("*.py")):
            for lineno, message, comments, context in extract_from_file(
                "python", str(path), keywords={"_": None, "ngettext": (1, 2)},
            ):
                catalog.add(message, None, [(f"{package}/{path.relative_to(root).as_posix()}", lineno)],
                            auto_comments=comments, context=context)
    return catalog


def command_docstrings(path: Path):
    """(line, help) for each Typer command or callback in the file whose help is its docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for decorator in node.decorator_list:
            if (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
                    and decorator.func.attr in COMMAND_DECORATORS
                    and not any(k.arg == "help" for k in decorator.keywords)):
                doc = ast.get_docstring(node, clean=True)
                if doc:
                    yield node.lineno, doc


def _ids(catalog: Catalog) -> set:
    return {m.id for m in catalog if m.id}


def update(po_path: Path = PO) -> Catalog:
    """Update the .po from a fresh template: new messages added empty, gone ones dropped."""
    fresh = template()
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale="sv")
    fresh.creation_date = catalog.creation_date  # a stable header: only messages change in a diff
    catalog.update(fresh, no_fuzzy_matching=True, update_header_comment=False)
    catalog.obsolete.clear()
    with po_path.open("wb") as handle:  # sorted, without line numbers: parallel changes rarely touch the same lines
        write_po(handle, catalog, width=100, no_location=True, sort_output=True, include_previous=False)
    return catalog


def problems(po_path: Path = PO) -> list[str]:
    """What is wrong with the catalog: messages missing from it, messages gone from the code, untranslated ones."""
    fresh = template()
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale="sv")
    found = []
    found += [f"not in the catalog (run make catalog): {m!r}" for m in sorted(_ids(fresh) - _ids(catalog), key=str)]
    found += [f"no longer in the code (run make catalog): {m!r}" for m in sorted(_ids(catalog) - _ids(fresh), key=str)]
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
        if not all(strings) or message.fuzzy:
            found.append(f"no Swedish text{' (fuzzy)' if message.fuzzy else ''}: {message.id!r}")
    return found


def main(argv: list[str]) -> int:
    """Update the catalog, or with --check report its problems."""
    if "--check" in argv:
        found = problems()
        for line in found:
            print(line)
        return 1 if found else 0
    catalog = update()
    missing = sum(1 for m in catalog if m.id and not (all(m.string) if isinstance(m.string, tuple) else m.string))
    print(f"{PO.relative_to(REPO)}: {len(catalog)} messages, {missing} without Swedish text")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
