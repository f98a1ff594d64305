"""Commands for people and lists: recipients import/add/list/remove/unsubscribe/forget/export, and lists."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import typer
from rich.table import Column, Table

from .app import app, confirm, console, data_out, err_console, escape, project_root, terminal_json, terminal_lines
from .progress import Bar
from ..i18n import N_, _, ngettext

recipients_app = typer.Typer(
    help=N_("Manage the people who get the newsletter: import, add, list, remove, unsubscribe, forget, export."),
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(recipients_app, name="recipients")

SKIPPED_SHOWN = 100
LISTS_TO_ADD_TO = typer.Option(..., "--list", "-l", metavar=N_("NAME"), help=N_("List to add to (made if new; repeat for several)."))
LISTS_NAMED = typer.Option(None, "--list", "-l", metavar=N_("NAME"), help=N_("A list name (repeat for several)."))
NO_RECIPIENTS = N_("Import people with 'nyhetsbrev recipients import FILE --list NAME'.")
# The recipient fields as the user reads them, and what an add or a person's status says.
FIELD_LABELS = {"email": N_("e-mail"), "name": N_("name"), "organisation": N_("organisation"),
                "municipality": N_("municipality"), "title": N_("title"), "first_name": N_("first name"),
                "last_name": N_("last name")}
WORDS = {"added": N_("added"), "updated": N_("updated"), "unchanged": N_("unchanged"), "active": N_("active"),
         "unsubscribed": N_("unsubscribed"), "bounced": N_("bounced"), "forgotten": N_("forgotten")}


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def _db(ctx: typer.Context, *, create: bool = True):
    """The open database (NYHETSBREV_DB, or the project's); create=False raises NoRecipientsYet if there is none."""
    from ..store import default_db_path, open_db

    return open_db(default_db_path(lambda: project_root(ctx)), create=create)


@recipients_app.command("import")
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help=N_("A CSV (comma or semicolon; UTF-8 or Windows-1252) or XLSX file.")),
    lists: list[str] = LISTS_TO_ADD_TO,
    dry_run: bool = typer.Option(False, "--dry-run", help=N_("Show the report but write nothing.")),
    show_all: bool = typer.Option(False, "--all", help=N_("Show every skipped row kept (up to 1000), not just the first 100.")),
) -> None:
    """Import people from a CSV or XLSX file into lists; reports imported, updated, unchanged and skipped rows."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

    from ..store import import_recipients

    db = _db(ctx)
    with Bar(TextColumn(_("importing")), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()) as bar:
        report = import_recipients(db, file, lists, dry_run=dry_run, progress=bar.show)
    _print_report(report, show_all)


def _print_report(report, show_all: bool) -> None:
    where = report.sheet and _(", sheet '{sheet}'").format(sheet=report.sheet) or ""
    source = f"{report.kind.upper()}{where}" + (f", {report.encoding}, '{report.delimiter}'" if report.encoding else "")
    columns = ", ".join(f"{_(FIELD_LABELS.get(field, field))} ← '{header}'" for field, header in report.columns.items())
    console.print(_("[bold]{name}[/] ({source}): {columns}").format(name=escape(report.file.name), source=escape(source), columns=escape(columns)), soft_wrap=True)
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
    summary = Table(_("imported"), _("updated"), _("unchanged"), _("skipped"), title=_("Lists: {join}").format(join=escape(', '.join(report.lists))),
                    title_justify="left")
    summary.add_row(str(report.imported), str(report.updated), str(report.unchanged), str(report.skipped_total))
    console.print(summary)
    if report.dry_run:
        console.print(_("[yellow]Dry run: nothing was written.[/]"))


@recipients_app.command("add")
def add(
    ctx: typer.Context,
    address: str = typer.Argument(..., help=N_("E-mail address.")),
    lists: list[str] = LISTS_TO_ADD_TO,
    name: str = typer.Option(None, "--name", help=N_("Full name.")),
    organisation: str = typer.Option(None, "--organisation", help=N_("Organisation or department.")),
    municipality: str = typer.Option(None, "--municipality", help=N_("Municipality.")),
    title: str = typer.Option(None, "--title", help=N_("Role or title.")),
    resubscribe: bool = typer.Option(
        False, "--resubscribe", help=N_("The person unsubscribed or was forgotten and has asked to come back.")
    ),
) -> None:
    """Add one person to one or more lists."""
    from ..store import add_recipient

    details = {"name": name, "organisation": organisation, "municipality": municipality, "title": title}
    outcome = add_recipient(_db(ctx), address, lists, details=details, resubscribe=resubscribe)
    console.print(f"{escape(address.strip())}: {_(WORDS.get(outcome, outcome))} ({escape(', '.join(lists))}).")


@recipients_app.command("list")
def list_(
    ctx: typer.Context,
    lists: list[str] = LISTS_NAMED,
    output: Format = typer.Option(Format.table, "--format", "-f", help=N_("table, csv or json.")),
    everyone: bool = typer.Option(False, "--all", help=N_("Also show unsubscribed and bounced people (table and json).")),
) -> None:
    """Show the people on lists (all lists when none is named)."""
    from ..store import list_recipients, write_lists_csv

    db = _db(ctx, create=False)
    if output is Format.csv:
        write_lists_csv(db, lists, data_out())
        return
    people = list_recipients(db, lists, include_suppressed=everyone)
    if output is Format.json:
        typer.echo(terminal_json(json.dumps(people, ensure_ascii=False, indent=2)))
        return
    table = Table(Column(_("e-mail"), no_wrap=True), _("name"), _("organisation"), _("municipality"), _("lists"), _("status"))
    for person in people:
        table.add_row(*(escape(person[k] or "") for k in ("email", "name", "organisation", "municipality")),
                      escape(", ".join(person["lists"])), _(WORDS.get(person["status"], person["status"])))
    console.print(table)
    console.print(ngettext("{count} person.", "{count} people.", len(people)).format(count=len(people)))


@recipients_app.command("remove")
def remove(
    ctx: typer.Context,
    address: str = typer.Argument(..., help=N_("E-mail address.")),
    lists: list[str] = LISTS_NAMED,
) -> None:
    """Take a person off the named lists, or off every list (they can be added again; unsubscribe stops all mail)."""
    from ..store import remove_recipient

    removed = remove_recipient(_db(ctx), address, lists)
    if removed:
        console.print(_("{strip} removed from {join}.").format(strip=escape(address.strip()), join=escape(', '.join(removed))))
    else:
        console.print(_("{strip} was not on {join}.").format(strip=escape(address.strip()), join=escape(', '.join(lists) if lists else _('any list'))))


@recipients_app.command("unsubscribe")
def unsubscribe(
    ctx: typer.Context,
    addresses: list[str] = typer.Argument(None, help=N_("E-mail address(es).")),
    token: str = typer.Option(
        None, "--token", help=N_("The token from a personal unsubscribe link, or the whole link, instead of an address.")
    ),
    from_file: Path = typer.Option(None, "--from-file", help=N_("A text file with one address per line.")),
) -> None:
    """Stop all mail to people; later imports will not add them again."""
    from ..errors import NyhetsbrevError
    from ..store import unsubscribe_many, unsubscribe_token

    if token and (addresses or from_file):
        raise NyhetsbrevError(_("give either addresses or --token, not both"), hint=_("see 'nyhetsbrev recipients unsubscribe --help'"))
    if token:
        address, new = unsubscribe_token(_db(ctx), token)
        console.print((_("{address} unsubscribed.") if new else _("{address} was already unsubscribed.")).format(
            address=escape(address.strip())))
        return
    wanted = list(addresses or [])
    if from_file:
        try:
            wanted += [line.strip() for line in from_file.read_text(encoding="utf-8-sig").splitlines()]
        except (OSError, UnicodeDecodeError) as exc:
            raise NyhetsbrevError(_("cannot read the file: {value}").format(value=getattr(exc, 'strerror', None) or exc), path=from_file,
                                  hint=_("give a UTF-8 text file with one address per line")) from None
    wanted = [a for a in wanted if a and not a.startswith("#")]
    if not wanted:
        raise NyhetsbrevError(_("give either an ADDRESS (or several), --from-file or --token"), hint=_("see 'nyhetsbrev recipients unsubscribe --help'"))
    for address, new in unsubscribe_many(_db(ctx), wanted):
        console.print((_("{address} unsubscribed.") if new else _("{address} was already unsubscribed.")).format(
            address=escape(address.strip())))


@recipients_app.command("forget")
def forget(
    ctx: typer.Context,
    address: str = typer.Argument(..., help=N_("E-mail address.")),
    yes: bool = typer.Option(False, "--yes", "-y", help=N_("Do not ask for confirmation.")),
) -> None:
    """Erase everything about a person (GDPR); only a keyed hash stays so they are never imported again."""
    from ..store import forget as forget_address

    if not yes:
        if not confirm(_("Erase everything about {address}? This cannot be undone. [y/N] ").format(address=terminal_lines(address.strip()))):
            err_console.print(_("Nothing was erased."))
            raise typer.Exit(1)
    result = forget_address(_db(ctx), address)
    erased = ", ".join(_("{count} from {table}").format(count=n, table=t) for t, n in result.rows.items()) or _("nothing was stored")
    console.print(_("{strip} forgotten ({erased}); only a keyed hash remains.").format(strip=escape(address.strip()), erased=escape(erased)))
    if not result.clean:
        err_console.print(_("[yellow]warning:[/] another program has the database open; close it and run forget again so that freed space is wiped too."))


@recipients_app.command("export")
def export(
    ctx: typer.Context,
    address: str = typer.Argument(None, help=N_("Everything about this address, as JSON (GDPR art. 15).")),
    lists: list[str] = LISTS_NAMED,
    output: Path = typer.Option(None, "--output", "-o", help=N_("Write to this file instead of the screen.")),
) -> None:
    """Export one person's data as JSON, or the members of the --list lists as CSV."""
    from ..errors import NyhetsbrevError
    from ..store import person_json, save_lists_csv, save_person_json, write_lists_csv

    if bool(address) == bool(lists):
        raise NyhetsbrevError(_("give either an ADDRESS or --list NAME"), hint=_("see 'nyhetsbrev recipients export --help'"))
    db = _db(ctx, create=False)
    if lists and output:
        count = save_lists_csv(db, lists, output)
        err_console.print(_("{count} people written to {output}.").format(count=count, output=escape(output)))
    elif lists:
        write_lists_csv(db, lists, data_out())
    elif output:
        save_person_json(db, address, output)
        err_console.print(_("Written to {output}.").format(output=escape(output)))
    else:
        typer.echo(terminal_json(person_json(db, address)))


@app.command("lists")
def lists_(ctx: typer.Context) -> None:
    """Show every list with its member and suppressed counts."""
    from ..errors import NoRecipientsYet
    from ..store import list_lists

    try:
        rows = list_lists(_db(ctx, create=False))
    except NoRecipientsYet:
        console.print(_("No lists yet: no recipients yet. {no_recipients}").format(no_recipients=_(NO_RECIPIENTS)))
        return
    if not rows:
        console.print(_("No lists yet. {no_recipients}").format(no_recipients=_(NO_RECIPIENTS)))
        return
    table = Table(_("list"), _("members"), _("suppressed"), _("created"))
    for row in rows:
        table.add_row(escape(row.name), str(row.members), str(row.suppressed), row.created_at[:10])
    console.print(table)
