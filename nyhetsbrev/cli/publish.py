"""The publish command: the archive of every issue as a static site."""

from __future__ import annotations

from pathlib import Path

import typer

from .app import app, console, err_console, escape, project_root
from .progress import Bar
from ..i18n import N_, _


@app.command()
def publish(
    ctx: typer.Context,
    out: Path = typer.Option(None, "--out", help=N_("Folder to write the site into (default: build/archive/ in the project).")),
) -> None:
    """Write the archive: index.html, each issue's web page in YY-N/ and feed.xml, ready to copy to archive_url."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn

    from ..publish.archive import publish as publish_archive

    with Bar(TextColumn(_("publishing")), BarColumn(), MofNCompleteColumn()) as bar:
        result = publish_archive(project_root(ctx), out.resolve() if out else None, progress=bar.show)
    for problem in result.problems:
        err_console.print(_("[yellow]warning:[/] {problem}").format(problem=escape(problem)), soft_wrap=True)
    unchanged = len(result.published) - len(result.rendered)
    console.print(
        _("Published {count} issue(s) → [bold]{out_dir}[/] ({count2} rendered, {unchanged} unchanged)").format(count=len(result.published), out_dir=escape(result.out_dir), count2=len(result.rendered), unchanged=unchanged)
    )
    if result.drafts:
        console.print(_("  left out as drafts: {join}").format(join=', '.join(str(i) for i in result.drafts)))
    if result.removed:
        console.print(_("  removed {count} file(s) of issues no longer published").format(count=len(result.removed)))
    console.print(f"  {escape(result.out_dir / 'index.html')}")
    console.print(f"  {escape(result.out_dir / 'feed.xml')}")
