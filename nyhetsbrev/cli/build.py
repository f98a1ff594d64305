"""Commands that make and build issues: init, new, build, check."""

from __future__ import annotations

from pathlib import Path

import typer

from .app import app, console, err_console, escape, project_root
from ..i18n import N_, _, ngettext


def _print_problems(problems) -> None:
    for problem in problems:
        style = "bold red" if problem.level == "error" else "yellow"
        label = _("error:") if problem.level == "error" else _("warning:")
        err_console.print(f"[{style}]{label}[/] {escape(problem)}", soft_wrap=True)


@app.command()
def build(ctx: typer.Context, issue: str = typer.Argument(..., help=N_("Issue id, e.g. 22:1"))) -> None:
    """Build an issue into build/YY-N/: email.html, email.txt, web.html (web-<lists>.html per audience) and images."""
    from ..publish.pipeline import build as build_issue

    result = build_issue(project_root(ctx), issue)
    _print_problems(result.warnings)
    console.print(_("Built {id} → [bold]{out_dir}[/]").format(id=result.issue.id, out_dir=escape(result.out_dir)))
    for name in ("email.html", "email.txt", "web.html"):
        console.print(f"  {escape(result.out_dir / name)}")
    for path in sorted(result.out_dir.glob("web-*.html")):
        console.print(_("  {path}  (web copy for an audience)").format(path=escape(path)))


@app.command()
def check(ctx: typer.Context, issue: str = typer.Argument(..., help=N_("Issue id, e.g. 22:1"))) -> None:
    """Preflight an issue without writing anything: exit 1 on errors, 0 with warnings."""
    from ..publish.pipeline import check as check_issue

    result = check_issue(project_root(ctx), issue)
    _print_problems(result.problems)
    if result.errors:
        err_console.print("{errors}, {warnings}.".format(errors=_count_errors(len(result.errors)),
                                                            warnings=_count_warnings(len(result.warnings))))
        raise typer.Exit(1)
    console.print(_("{id}: no errors, {warnings}.").format(id=result.issue.id, warnings=_count_warnings(len(result.warnings))))


def _count_errors(n: int) -> str:
    return ngettext("{count} error", "{count} errors", n).format(count=n)


def _count_warnings(n: int) -> str:
    return ngettext("{count} warning", "{count} warnings", n).format(count=n)


@app.command()
def init(directory: Path = typer.Argument(..., help=N_("Folder for the new project (created if missing)."))) -> None:
    """Create a new, working newsletter project with an example issue and roster."""
    from ..project.scaffold import init_project

    created = init_project(directory)
    console.print(_("Created a nyhetsbrev project in [bold]{root}[/] with issue {issue}.").format(root=escape(created.root), issue=created.issue))
    console.print(_("Next: cd {directory} && nyhetsbrev build {issue}").format(directory=escape(directory), issue=created.issue))


@app.command()
def new(
    ctx: typer.Context,
    issue: str = typer.Argument(None, help=N_("Issue id, e.g. 22:2 (default: the next number).")),
) -> None:
    """Create a new issue folder, seeded from the shape of the last issue."""
    from ..project.scaffold import new_issue

    created = new_issue(project_root(ctx), issue)
    console.print(_("Created issue {issue} in [bold]{folder}[/]").format(issue=created.issue, folder=escape(created.folder)))
    for path in created.files:
        console.print(f"  {escape(path.name)}")
