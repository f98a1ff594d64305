"""The Typer app, its global options and the one place errors become messages."""

from __future__ import annotations

import os
import re
from pathlib import Path

import typer
from rich.console import Console
from typer.core import TyperGroup

from .. import i18n
from ..errors import NyhetsbrevError
from ..i18n import N_, _


class _Console(Console):
    """rich's Console, except that a closed pipe is left to the CLI edge (rich itself would exit with status 1)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


console = _Console(highlight=False, soft_wrap=True)  # paths and addresses stay whole for copying
err_console = _Console(stderr=True, highlight=False, soft_wrap=True)
PIPE_CLOSED = 141  # 128 + SIGPIPE: the status a shell shows for a writer whose reader went away (`| head`)


def error_label() -> str:
    """The red 'error: ' that starts an error line, in the interface language."""
    label = _("error:")
    return f"[bold red]{label}[/] "


def _debug(ctx) -> bool:
    return bool((ctx.obj or {}).get("debug") or os.environ.get("NYHETSBREV_DEBUG"))


def _translate_library() -> None:
    """Hand click's and Typer's own messages ("Usage:", "Options", "No such option" …) our catalog.

    Both mark them with gettext's module-level _() and ngettext(), which would pick the language from
    LANG; each module gets ours instead, so they follow the interface language (tools/catalog.py
    merges their messages into our catalog).
    """
    import sys

    for name in ("click.core", "click.exceptions", "click.decorators", "click.formatting", "click.parser",
                 "click.types", "click.termui", "click.utils", "typer.core", "typer.main"):
        module = sys.modules.get(name)
        if module is None:
            continue
        if getattr(module, "_", None) is not None:
            module._ = _
        if getattr(module, "ngettext", None) is not None:
            module.ngettext = i18n.ngettext


_translate_library()


def _project_in(args) -> str | None:
    """The --project folder named on the command line, before click has parsed it (for the language)."""
    args = list(args or [])
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--project" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--project="):
            return arg.split("=", 1)[1]
    return None


# The words click puts in a usage line, and the placeholders of arguments and of options without a metavar.
OPTIONS_METAVAR, COMMAND_METAVAR = N_("[OPTIONS]"), N_("COMMAND [ARGS]...")
ARGUMENT_METAVARS = {"issue": N_("ISSUE"), "directory": N_("DIRECTORY"), "file": N_("FILE"), "address": N_("ADDRESS"),
                     "addresses": N_("ADDRESS")}
TYPE_METAVARS = {"StringParamType": N_("TEXT"), "IntParamType": N_("INTEGER"), "IntRange": N_("INTEGER"),
                 "FloatParamType": N_("NUMBER"), "FloatRange": N_("NUMBER"), "Path": N_("PATH")}
TYPE_NAMES = {"IntParamType": N_("integer"), "IntRange": N_("integer"), "FloatParamType": N_("number"),
              "FloatRange": N_("number")}


def _localize(command) -> None:
    """Translate the help of the command, its options and its subcommands into the interface language.

    The English help (docstrings, help="...", metavars) is kept aside on first use, so each run translates afresh.
    """
    original = command.__dict__.setdefault("_english", {"help": command.help, "short_help": command.short_help})
    command.help = _(original["help"]) if original["help"] else original["help"]
    command.short_help = _(original["short_help"]) if original["short_help"] else original["short_help"]
    command.options_metavar = _(OPTIONS_METAVAR)
    if hasattr(command, "subcommand_metavar"):
        command.subcommand_metavar = _(COMMAND_METAVAR)
    for param in command.params:
        _localize_param(param)
    for sub in getattr(command, "commands", {}).values():
        _localize(sub)


def _kind(param, table: dict) -> str | None:
    """The entry of table for the param's type (by class name, nearest class first)."""
    return next((table[k.__name__] for k in type(param.type).__mro__ if k.__name__ in table), None)


def _localize_param(param) -> None:
    """An option's or argument's help and placeholder, and its type's name (in click's 'not a valid integer')."""
    english = param.__dict__.setdefault("_english", getattr(param, "help", None))
    if english:
        param.help = _(english)
    named = _kind(param, TYPE_NAMES)
    if named:
        param.type.name = _(named)
    metavar = param.__dict__.setdefault("_english_metavar", param.metavar)
    if metavar:
        param.metavar = _(metavar)
    elif param.param_type_name == "argument":
        name = ARGUMENT_METAVARS.get(param.name or "", (param.name or "").upper())
        param.metavar = _(name) + ("..." if param.nargs != 1 else "")
    elif not getattr(param, "is_flag", False) and _kind(param, TYPE_METAVARS):
        param.metavar = _(_kind(param, TYPE_METAVARS))


class _Group(TyperGroup):
    """Turns NyhetsbrevError into one line and an exit code; a traceback only with --debug."""

    def main(self, args=None, *rest, **kwargs):
        """Choose the interface language for this run and show the help in it, then run the command."""
        import sys

        i18n.reset(project=_project_in(sys.argv[1:] if args is None else args))
        _localize(self)
        return super().main(args, *rest, **kwargs)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except NyhetsbrevError as exc:
            if _debug(ctx):
                raise
            err_console.print(error_label() + f"{escape(exc)}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print(_("stopped."))
            raise typer.Exit(130) from None
        except BrokenPipeError:  # `nyhetsbrev … | head` stopped reading: not an error
            raise typer.Exit(pipe_closed()) from None
        except OSError as exc:  # disk full, a folder where a file should be, no permission …
            if _debug(ctx):
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            err_console.print(error_label() + f"{escape(where)}{escape(exc.strerror or exc)}. "
                              + _("Check the path and try again"))
            raise typer.Exit(1) from None
        except Exception as exc:  # a bug: still one line, the traceback is behind --debug
            if _debug(ctx) or type(exc).__module__.startswith(("typer", "click")):
                raise  # typer's own exit and usage errors, which it prints itself
            if type(exc).__module__ == "sqlite3":  # read-only, disk full, busy: the database's condition, not a bug
                from ..store.db import database_error

                err_console.print(error_label() + f"{escape(database_error(exc))}")
                raise typer.Exit(1) from None
            err_console.print(error_label() + _(
                "unexpected {kind}: {message}. Run again with --debug and report the traceback"
            ).format(kind=type(exc).__name__, message=escape(exc)))
            raise typer.Exit(2) from None


def pipe_closed() -> int:
    """The reader of the output went away (`| head`): write nothing more, quietly; the exit status for it."""
    import sys

    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):  # what is still buffered goes nowhere instead of failing at exit
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError):  # not a real file (tests' captured output)
            pass
    os.close(devnull)
    return PIPE_CLOSED


app = typer.Typer(
    cls=_Group,
    help=N_("Write, preview and send the newsletter. Start with 'nyhetsbrev build 22:1'."),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _show_version(value: bool) -> None:
    """--version: print 'nyhetsbrev X.Y.Z' (the installed package's metadata) and exit."""
    if value:
        from .. import __version__

        console.print(f"nyhetsbrev {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    ctx: typer.Context,
    project: Path = typer.Option(
        None, "--project", envvar="NYHETSBREV_PROJECT", help=N_("The project folder (default: nearest folder with nyhetsbrev.toml).")
    ),
    debug: bool = typer.Option(False, "--debug", help=N_("Show a full traceback on errors.")),
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_show_version, help=N_("Show the version of nyhetsbrev and exit.")
    ),
) -> None:
    ctx.obj = {"project": project, "debug": debug}


def project_root(ctx: typer.Context) -> Path:
    """The project root for this invocation (--project, NYHETSBREV_PROJECT or the nearest one)."""
    from ..project.config import find_root

    obj = ctx.find_root().obj or {}
    return find_root(explicit=obj.get("project"))


# One yes/no prompt for every question (rich's Confirm and click's confirm only take y/n): Swedish and English
# answers are both understood, whatever the interface language; Enter is no.
YES = ("j", "ja", "y", "yes")
NO = ("n", "nej", "no", "")


def confirm(question: str) -> bool:
    """Ask until the answer is yes or no (j/ja/y/yes, n/nej/no; Enter is no); the question ends with [y/N]."""
    while True:
        answer = typer.prompt(question, default="", show_default=False, prompt_suffix="").strip().lower()
        if answer in YES:
            return True
        if answer in NO:
            return False
        err_console.print(_("Answer y (yes) or n (no)."))


# C0 controls (except tab) and DEL become their visible Unicode pictures (ESC → ␛); C1 controls become �.
_CONTROL_PICTURES = {
    **{code: 0x2400 + code for code in range(0x20) if code != 0x09}, 0x7F: 0x2421, **dict.fromkeys(range(0x80, 0xA0), 0xFFFD),
}


def escape(text: object) -> str:
    """Text from a file, the database or an error made safe to print: control characters replaced, rich markup escaped.

    Every value printed to the terminal goes through here (rich's own escape leaves ESC sequences that
    can retitle or clear the terminal, or hide what is printed).
    """
    from rich.markup import escape as _escape

    return _escape(str(text).translate(_CONTROL_PICTURES))


def terminal_lines(text: str) -> str:
    """Lines of data (CSV) made safe for a terminal: line breaks kept, other control characters replaced."""
    return "\n".join(line.translate(_CONTROL_PICTURES) for line in text.replace("\r\n", "\n").split("\n"))


class _TerminalLines:
    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(terminal_lines(text))


def data_out():
    """Where data (CSV) goes: stdout as it is when redirected, through terminal_lines when it is a terminal."""
    import sys

    return _TerminalLines(sys.stdout) if sys.stdout.isatty() else sys.stdout


def terminal_json(text: str) -> str:
    """JSON made safe for a terminal without changing its data: DEL and C1 controls written as \\u escapes."""
    return re.sub("[\x7f-\x9f]", lambda m: f"\\u{ord(m.group()):04x}", text)
