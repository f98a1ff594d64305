"""`recipients import`: add a file's people to lists, or with --replace make a list hold exactly them."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import typer
from rich.table import Table

from .app import confirm, console, err_console, escape, terminal_json
from .progress import Bar
from .recipients import FIELD_LABELS, LISTS_TO_ADD_TO, Format, open_database, recipients_app
from ..i18n import N_, _, ngettext

SKIPPED_SHOWN = 100
CHANGES_SHOWN = 100
TAKEN_OFF_SHOWN = 100


@recipients_app.command("import")
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help=N_("A CSV (comma or semicolon; UTF-8 or Windows-1252) or XLSX file.")),
    lists: list[str] = LISTS_TO_ADD_TO,
    replace: bool = typer.Option(False, "--replace", help=N_(
        "Make the list hold exactly the people in the file: shows who is added, changed and taken off, then asks. "
        "Taking someone off a list does not unsubscribe them or take them off other lists. All or nothing: a file "
        "with a row that cannot be read, or a list that changed while you were asked, changes nothing.")),
    dry_run: bool = typer.Option(False, "--dry-run", help=N_("Show the report but write nothing.")),
    yes: bool = typer.Option(False, "--yes", "-y", help=N_("With --replace: do not ask before changing the list.")),
    allow_large_removal: bool = typer.Option(False, "--allow-large-removal", help=N_(
        "With --replace --yes: allow taking more than half of the list off.")),
    output: Format = typer.Option(Format.table, "--format", "-f", help=N_("table or json.")),
    show_all: bool = typer.Option(False, "--all", help=N_("Show every skipped row kept (up to 1000), not just the first 100.")),
) -> None:
    """Import people from a CSV or XLSX file into lists; reports imported, updated (field by field), unchanged and skipped rows."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

    from ..errors import NyhetsbrevError
    from ..store import import_recipients

    if output is Format.csv:
        raise NyhetsbrevError(_("--format csv is not a report format"), hint=_("use --format table or --format json"))
    if allow_large_removal and not (replace and yes):
        raise NyhetsbrevError(_("--allow-large-removal goes with --replace --yes"),
                              hint=_("see 'nyhetsbrev recipients import --help'"))
    if replace and len(lists) != 1:
        raise NyhetsbrevError(_("--replace takes exactly one --list"), hint=_("replace one list at a time"))
    db = open_database(ctx)
    columns = (TextColumn(_("importing")), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    if not replace:
        with Bar(*columns) as bar:
            report = import_recipients(db, file, lists, dry_run=dry_run, progress=bar.show)
        _show(report, None, output, show_all, dry_run)
        return
    from ..store.replacing import apply_replace, plan_replace, problem_rows_error

    with Bar(*columns) as bar:
        plan = plan_replace(db, file, lists[0], progress=bar.show)
    if dry_run or output is not Format.json:  # JSON: one document, what was done
        _show(plan.report, plan, output, show_all, dry_run)
    if dry_run:
        return
    if plan.problem_rows:
        raise problem_rows_error(plan)
    if plan.large_removal and not (yes and allow_large_removal):
        raise NyhetsbrevError(
            _("not replacing: the file would take {off} of the {members} people off '{name}' (more than half)").format(
                off=plan.taken_off_total, members=plan.members_before, name=plan.list_name),
            path=file, hint=_("check that this is the right file; if it is, add --yes --allow-large-removal"))
    if not yes:
        if not _terminal():
            raise NyhetsbrevError(_("not replacing: there is no terminal to confirm on"),
                                  hint=_("add --yes to replace the list without being asked"))
        if not confirm(_("Change list {name} like this? [y/N] ").format(name=plan.list_name)):
            err_console.print(_("Cancelled: nothing was changed."))
            raise typer.Exit(1)
    with Bar(*columns) as bar:
        done = apply_replace(db, plan, progress=bar.show)
    if output is Format.json:
        return _json(done.report, done)
    console.print(_("List {name} now holds the people in {file}: {added} added, {changed} changed, {off} taken off.").format(
        name=escape(done.list_name), file=escape(file.name), added=done.added, changed=done.changed, off=done.taken_off_total))


def _terminal() -> bool:
    """Whether someone can answer the question (stdin is a terminal)."""
    return sys.stdin.isatty()


def _show(report, plan, output: Format, show_all: bool, dry_note: bool) -> None:
    if output is Format.json:
        _json(report, plan)
    else:
        _print_report(report, show_all, dry_note)
        if plan is not None:
            _print_plan(plan)


def _json(report, plan) -> None:
    data = {
        "file": str(report.file), "lists": report.lists, "dry_run": report.dry_run, "imported": report.imported,
        "updated": report.updated, "unchanged": report.unchanged, "skipped": report.skipped_total,
        "skipped_rows": [asdict(s) for s in report.skipped],
        "changes": [asdict(c) for c in report.changes], "changes_total": report.changes_total,
    }
    if plan is not None:
        data["replace"] = {"list": plan.list_name, "members_before": plan.members_before, "added": plan.added,
                           "changed": plan.changed, "taken_off": plan.taken_off_total,
                           "taken_off_addresses": plan.taken_off, "problem_rows": plan.problem_rows}
    typer.echo(terminal_json(json.dumps(data, ensure_ascii=False, indent=2)))


def _print_report(report, show_all: bool, dry_note: bool) -> None:
    where = report.sheet and _(", sheet '{sheet}'").format(sheet=report.sheet) or ""
    source = f"{report.kind.upper()}{where}" + (f", {report.encoding}, '{report.delimiter}'" if report.encoding else "")
    columns = ", ".join(f"{_(FIELD_LABELS.get(field, field))} ← '{header}'" for field, header in report.columns.items())
    console.print("[bold]{name}[/] ({source}): {columns}".format(name=escape(report.file.name), source=escape(source), columns=escape(columns)), soft_wrap=True)
    for name in report.lists_created:
        message = _("New list [bold]{name}[/] (would be created).") if report.dry_run else _("New list [bold]{name}[/] created.")
        console.print(message.format(name=escape(name)))
    if report.skipped:
        table = Table(_("row"), _("address"), _("reason"), title=_("Skipped rows"), title_justify="left")
        shown = report.skipped if show_all else report.skipped[:SKIPPED_SHOWN]
        for skipped in shown:
            table.add_row(str(skipped.row), escape(skipped.email), escape(skipped.reason))
        console.print(table)
        if len(shown) < report.skipped_total:
            more = report.skipped_total - len(shown)
            how = _("see them with --all") if len(shown) < len(report.skipped) else _(
                "only the first {count} are kept; fix those and run again with --dry-run").format(count=len(report.skipped))
            console.print(_("… and {more} more skipped rows ({how}).").format(more=more, how=how))
    if report.changes:
        shown = report.changes if show_all else report.changes[:CHANGES_SHOWN]
        table = Table(_("address"), _("field"), _("before"), _("after"), title=_("Changed fields"), title_justify="left")
        for change in shown:
            table.add_row(escape(change.email), escape(_(FIELD_LABELS.get(change.field, change.field))),
                          escape(change.old), escape(change.new))
        console.print(table)
        if len(shown) < report.changes_total:
            console.print(_("… and {more} more changed fields ({how}).").format(
                more=report.changes_total - len(shown), how=_where_the_rest_are(len(shown), len(report.changes),
                                                                               report.changes_total, with_all=True)))
    summary = Table(_("imported"), _("updated"), _("unchanged"), _("skipped"), title=_("Lists: {join}").format(join=escape(', '.join(report.lists))),
                    title_justify="left")
    summary.add_row(str(report.imported), str(report.updated), str(report.unchanged), str(report.skipped_total))
    console.print(summary)
    if dry_note:
        console.print(_("[yellow]Dry run: nothing was written.[/]"))


def _print_plan(plan) -> None:
    if plan.taken_off:
        table = Table(_("address"), title=ngettext("Taken off {name} ({count} person)", "Taken off {name} ({count} people)",
                                                   plan.taken_off_total).format(name=escape(plan.list_name), count=plan.taken_off_total),
                      title_justify="left")
        for address in plan.taken_off[:TAKEN_OFF_SHOWN]:
            table.add_row(escape(address))
        console.print(table)
        if plan.taken_off_total > TAKEN_OFF_SHOWN:
            console.print(_("… and {more} more ({how}).").format(
                more=plan.taken_off_total - TAKEN_OFF_SHOWN,
                how=_where_the_rest_are(TAKEN_OFF_SHOWN, len(plan.taken_off), plan.taken_off_total, with_all=False)))
    console.print(_("Replacing list {name} ({members} now): {added} added, {changed} changed, {off} taken off. "
                    "Taken off a list is not unsubscribed: they stay on their other lists.").format(
        name=escape(plan.list_name), members=plan.members_before, added=plan.added, changed=plan.changed, off=plan.taken_off_total))
    if plan.problem_rows:
        console.print(ngettext(
            "[yellow]The replace would be refused: {count} row cannot be read as a person (see the skipped rows).[/]",
            "[yellow]The replace would be refused: {count} rows cannot be read as a person (see the skipped rows).[/]",
            plan.problem_rows).format(count=plan.problem_rows))


def _where_the_rest_are(shown: int, kept: int, total: int, *, with_all: bool) -> str:
    """Where the lines not shown can be seen: only the first `kept` of `total` are kept for the report."""
    if shown >= kept:
        return _("only the first {count} are kept").format(count=kept)
    how = _("--all or --format json") if with_all else _("--format json")
    if kept >= total:
        return _("see them with {how}").format(how=how)
    return _("{how} shows the first {count}").format(how=how, count=kept)
