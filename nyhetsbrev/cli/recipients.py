"""Commands for people and lists: recipients import/add/list/remove/unsubscribe/forget/export, and lists."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import typer
from rich.table import Column, Table

from .app import app, confirm, console, data_out, err_console, escape, project_root, terminal_json, terminal_lines
from ..i18n import N_, _, ngettext

recipients_app = typer.Typer(
    help=N_("Manage the people who get the newsletter: import, add, list, remove, unsubscribe, forget, export."),
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(recipients_app, name="recipients")

LISTS_TO_ADD_TO = typer.Option(..., "--list", "-l", metavar=N_("NAME"), help=N_("List to add to (made if new; repeat for several)."))
LISTS_NAMED = typer.Option(None, "--list", "-l", metavar=N_("NAME"), help=N_("A list name (repeat for several)."))
FROM_FILE_HELP = N_("A CSV or XLSX file with an e-mail column, or a text file with one address per line.")
NO_RECIPIENTS = N_("Import people with 'nyhetsbrev recipients import FILE --list NAME'.")
# The recipient fields as the user reads them, and what an add or a person's status says.
FIELD_LABELS = {"email": N_("e-mail"), "name": N_("name"), "organisation": N_("organisation"),
                "municipality": N_("municipality"), "title": N_("title"), "first_name": N_("first name"),
                "last_name": N_("last name")}
WORDS = {"added": N_("added"), "updated": N_("updated"), "unchanged": N_("unchanged"), "active": N_("active"),
         "unsubscribed": N_("unsubscribed"), "bounced": N_("bounced"), "forgotten": N_("forgotten")}


class Format(str, Enum):
    """What --format writes: a table for a person, CSV or JSON for a spreadsheet or a script."""

    table = "table"
    csv = "csv"
    json = "json"


def open_database(ctx: typer.Context, *, create: bool = True):
    """The open database (NYHETSBREV_DB, or the project's); create=False raises NoRecipientsYet if there is none."""
    from ..store import default_db_path, open_db

    return open_db(default_db_path(lambda: project_root(ctx)), create=create)


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
    outcome = add_recipient(open_database(ctx), address, lists, details=details, resubscribe=resubscribe)
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

    db = open_database(ctx, create=False)
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
    addresses: list[str] = typer.Argument(None, help=N_("E-mail address(es).")),
    lists: list[str] = LISTS_NAMED,
    from_file: Path = typer.Option(None, "--from-file", help=FROM_FILE_HELP),
) -> None:
    """Take people off the named lists, or off every list (they can be added again; unsubscribe stops all mail)."""
    from ..store import remove_many

    wanted = _addresses(addresses, from_file, "remove", _("give an ADDRESS (or several) or --from-file"))
    for address, removed in remove_many(open_database(ctx), wanted, lists):
        if removed is None:
            console.print(_("{strip} is not in the recipients database.").format(strip=escape(address.strip())))
        elif removed:
            console.print(_("{strip} removed from {join}.").format(strip=escape(address.strip()), join=escape(', '.join(removed))))
        else:
            console.print(_("{strip} was not on {join}.").format(strip=escape(address.strip()), join=escape(', '.join(lists) if lists else _('any list'))))


def _addresses(addresses: list[str] | None, from_file: Path | None, command: str, what: str) -> list[str]:
    """The addresses given, and those in --from-file; one line when there are none."""
    from ..errors import NyhetsbrevError
    from ..store import addresses_in_file

    wanted = list(addresses or []) + (addresses_in_file(from_file) if from_file else [])
    wanted = [a for a in wanted if a.strip()]
    if not wanted:
        raise NyhetsbrevError(what,
                              hint=_("see 'nyhetsbrev recipients {command} --help'").format(command=command))
    return wanted


@recipients_app.command("unsubscribe")
def unsubscribe(
    ctx: typer.Context,
    addresses: list[str] = typer.Argument(None, help=N_("E-mail address(es).")),
    token: str = typer.Option(
        None, "--token", help=N_("The token from a personal unsubscribe link, or the whole link, instead of an address.")
    ),
    from_file: Path = typer.Option(None, "--from-file", help=FROM_FILE_HELP),
) -> None:
    """Stop all mail to people; later imports will not add them again."""
    from ..errors import NyhetsbrevError
    from ..store import unsubscribe_many, unsubscribe_token

    if token and (addresses or from_file):
        raise NyhetsbrevError(_("give either addresses or --token, not both"), hint=_("see 'nyhetsbrev recipients unsubscribe --help'"))
    if token:
        address, new = unsubscribe_token(open_database(ctx), token)
        console.print((_("{address} unsubscribed.") if new else _("{address} was already unsubscribed.")).format(
            address=escape(address.strip())))
        return
    wanted = _addresses(addresses, from_file, "unsubscribe",
                        _("give either an ADDRESS (or several), --from-file or --token"))
    for address, new in unsubscribe_many(open_database(ctx), wanted):
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
    result = forget_address(open_database(ctx), address)
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
    """Export one person's data as JSON, or the members of the --list lists (-o FILE: .xlsx, or .csv for Swedish Excel)."""
    from ..errors import NyhetsbrevError
    from ..store import person_json, save_lists_file, save_person_json, write_lists_csv

    if bool(address) == bool(lists):
        raise NyhetsbrevError(_("give either an ADDRESS or --list NAME"), hint=_("see 'nyhetsbrev recipients export --help'"))
    db = open_database(ctx, create=False)
    if lists and output:
        count = save_lists_file(db, lists, output)
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
        rows = list_lists(open_database(ctx, create=False))
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
