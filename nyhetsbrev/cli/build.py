"""Commands that make and build issues: init, new, build, check."""

from __future__ import annotations

from pathlib import Path

import typer

from .app import app, console, err_console, escape, project_root


def _print_problems(problems) -> None:
    for problem in problems:
        style = "bold red" if problem.level == "error" else "yellow"
        err_console.print(f"[{style}]{problem.level}:[/] {escape(problem)}", soft_wrap=True)


@app.command()
def build(ctx: typer.Context, issue: str = typer.Argument(..., help="Issue id, e.g. 22:1")) -> None:
    """Build an issue into build/YY-N/: email.html, email.txt, web.html (web-<lists>.html per audience) and images."""
    from ..publish.pipeline import build as build_issue

    result = build_issue(project_root(ctx), issue)
    _print_problems(result.warnings)
    console.print(f"Built {result.issue.id} → [bold]{escape(result.out_dir)}[/]")
    for name in ("email.html", "email.txt", "web.html"):
        console.print(f"  {escape(result.out_dir / name)}")
    for path in sorted(result.out_dir.glob("web-*.html")):
        console.print(f"  {escape(path)}  (web copy for an audience)")


@app.command()
def check(ctx: typer.Context, issue: str = typer.Argument(..., help="Issue id, e.g. 22:1")) -> None:
    """Preflight an issue without writing anything: exit 1 on errors, 0 with warnings."""
    from ..publish.pipeline import check as check_issue

    result = check_issue(project_root(ctx), issue)
    _print_problems(result.problems)
    if result.errors:
        err_console.print(f"{len(result.errors)} error(s), {len(result.warnings)} warning(s).")
        raise typer.Exit(1)
    console.print(f"{result.issue.id}: no errors, {len(result.warnings)} warning(s).")


@app.command()
def init(directory: Path = typer.Argument(..., help="Folder for the new project (created if missing).")) -> None:
    """Create a new, working newsletter project with an example issue and roster."""
    from ..project.scaffold import init_project

    created = init_project(directory)
    console.print(f"Created a nyhetsbrev project in [bold]{escape(created.root)}[/] with issue {created.issue}.")
    console.print(f"Next: cd {escape(directory)} && nyhetsbrev build {created.issue}")


@app.command()
def new(
    ctx: typer.Context,
    issue: str = typer.Argument(None, help="Issue id, e.g. 22:2 (default: the next number)."),
) -> None:
    """Create a new issue folder, seeded from the shape of the last issue."""
    from ..project.scaffold import new_issue

    created = new_issue(project_root(ctx), issue)
    console.print(f"Created issue {created.issue} in [bold]{escape(created.folder)}[/]")
    for path in created.files:
        console.print(f"  {escape(path.name)}")
