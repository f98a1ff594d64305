"""The send command: to lists, test copies or an outbox folder (status is in cli/status.py)."""

from __future__ import annotations

import re
import shlex
import sys
import time
from pathlib import Path

import typer
from rich.table import Table

from ..errors import NyhetsbrevError, SendError, SendInterrupted
from ..i18n import N_, _, group_digits, ngettext
from .app import app, confirm, console, err_console, escape, project_root
from .progress import Bar

FAILED_SHOWN = 50


@app.command()
def send(
    ctx: typer.Context,
    issue: str = typer.Argument(..., help=N_("Issue id, e.g. 22:1")),
    lists: list[str] = typer.Option(None, "--list", "-l", metavar=N_("NAME"), help=N_("List to send to (repeat for several; each person gets one copy).")),
    test: list[str] = typer.Option(
        None, "--test", metavar=N_("ADDRESS"), help=N_(
            "Send a test copy to this address instead (repeat or separate with commas); subject marked [TEST], "
            "not recorded. It holds every section; with --list NAME it is the version that list gets "
            "(--test ADDRESS --list politiker sends the politicians' version)."
        ),
    ),
    outbox: Path = typer.Option(None, "--outbox", metavar=N_("DIR"), help=N_("Write the messages as .eml files into this folder instead of sending; never recorded as sent.")),
    yes: bool = typer.Option(False, "--yes", "-y", help=N_("Send without asking first.")),
    dry_run: bool = typer.Option(False, "--dry-run", help=N_("Show what would be sent, and send nothing.")),
    resend_unknown: bool = typer.Option(
        False, "--resend-unknown", help=N_("Also resend messages whose delivery is unknown after a crash (they may arrive twice).")
    ),
    allow_changes: bool = typer.Option(
        False, "--allow-changes", help=N_("Continue a send even though the issue was edited since its first messages went out.")
    ),
    connections: int = typer.Option(None, "--connections", min=1, max=64, metavar=N_("N"), help=N_("SMTP connections used at the same time (default 4).")),
    rate: str = typer.Option(
        None, "--rate", metavar=N_("RATE"), help=N_("At most this many messages: 30/min, 2/s or 1000/h (default: rate in nyhetsbrev.toml).")
    ),
) -> None:
    """Send an issue to lists: each address once, suppressed ones never; run it again to continue after a stop.

    Exit status: 0 when everyone was sent the issue, 1 when some failed or remain deferred, 2 on errors.
    """
    from ..mail.dispatch import Options
    from ..mail.sender import check_options, send as send_issue

    addresses = [a for value in (test or []) for a in re.split(r"[,\s;]+", value) if a]
    again = _command(ctx, issue, lists or [], yes=yes, resend_unknown=resend_unknown, allow_changes=allow_changes,
                     connections=connections, rate=rate)
    try:
        check_options(test=bool(test), outbox=outbox is not None, resend_unknown=resend_unknown,
                      allow_changes=allow_changes, rate=rate is not None, connections=connections is not None)
        chosen_rate = _rate(rate)
        with _Bar() as bar:
            report = send_issue(
                project_root(ctx), issue, lists or [], test=addresses, outbox=outbox, dry_run=dry_run,
                resend_unknown=resend_unknown, allow_changes=allow_changes,
                options=Options(connections=connections or Options.connections, rate=chosen_rate),
                confirm=None if yes else bar.ask, progress=bar.update,
            )
    except SendInterrupted as stop:
        err_console.print(
            _("stopped: {sent_now} sent in this run, {sent_total} have {issue} now, {left} not yet sent. Nothing is lost; continue with:\n  {again}").format(sent_now=stop.sent_now, sent_total=stop.sent_total, issue=stop.issue, left=stop.left, again=escape(again)), soft_wrap=True)
        raise typer.Exit(130) from None
    except NyhetsbrevError as exc:
        exc.exit_code = 2  # send: 1 means some recipients failed, so an error that stops the send is 2
        raise
    if report.dry_run:
        _show_plan(report.plan)
        console.print(_("Dry run: nothing was sent."))
        return
    if report.cancelled:  # the plan was shown with the question
        console.print(_("Cancelled: nothing was sent."))
        return
    if report.test_results:
        _show_tests(report)
    elif report.plan.mode == "outbox":
        console.print(_("Wrote {count} messages to [bold]{destination}[/] (not recorded as sent).").format(count=len(report.written), destination=escape(report.plan.destination)))
        if report.failed:
            show_failed(report.failed, _("not written: address"), _("why"))
    else:
        _show_summary(report, again)
        if report.limit_until is not None:
            _show_limit_stop(report)
            raise typer.Exit(1)
    if not report.complete or (report.plan.mode == "outbox" and report.failed):
        raise typer.Exit(1)


def _command(ctx: typer.Context, issue: str, lists: list[str], *, yes: bool, resend_unknown: bool,
             allow_changes: bool, connections: int | None, rate: str | None) -> str:
    """The send command as given, to show how to continue (test copies and the outbox are never resumed)."""
    parts = ["nyhetsbrev"]
    project = (ctx.find_root().obj or {}).get("project")
    if project:
        parts += ["--project", str(project)]
    parts += ["send", issue] + [part for name in lists for part in ("--list", name)]
    parts += ["--yes"] * yes + ["--resend-unknown"] * resend_unknown + ["--allow-changes"] * allow_changes
    if connections is not None:
        parts += ["--connections", str(connections)]
    if rate:
        parts += ["--rate", rate]
    return shlex.join(parts)


def _rate(rate: str | None):
    """--rate as a Rate (None: the rate in nyhetsbrev.toml)."""
    if rate is None:
        return None
    from ..project.config import rate_setting

    try:
        return rate_setting(rate)
    except ValueError as exc:
        raise SendError(f"--rate {exc}", hint=_("write it as 30/min, 2/s or 1000/h")) from None


def _local_time(monotonic: float) -> str:
    """A moment on the monotonic clock as local wall-clock time to the second, e.g. 14:05:30."""
    return time.strftime("%H:%M:%S", time.localtime(time.time() + monotonic - time.monotonic()))


class _Bar(Bar):
    """The confirmation question and a progress bar with rate and time left."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

        super().__init__(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:.1f}/s"), TimeRemainingColumn(), TextColumn("{task.fields[note]}"),
        )
        self.waiting_shown: float | None = None
        self.finished = False

    def ask(self, plan) -> bool:
        _show_plan(plan)
        if not sys.stdin.isatty():
            raise SendError(
                _("not sending: there is no terminal to confirm on"),
                hint=_("add --yes to send {issue} to {to_send} recipients without being asked").format(issue=plan.issue, to_send=plan.to_send),
            )
        return confirm(ngettext("Send {issue} to {count} recipient now? [y/N] ",
                                "Send {issue} to {count} recipients now? [y/N] ", plan.to_send
                                ).format(issue=plan.issue, count=plan.to_send))

    def update(self, tally) -> None:
        waiting = _waiting(tally)
        if not self.terminal:
            self._line(tally, waiting)
            return
        self.start(_("sending"), tally.total, rate=0.0, note="")
        elapsed = max(time.monotonic() - tally.started, 1e-6)
        note = waiting[1] if waiting else _("{failed} failed, {unknown} unknown").format(
            failed=tally.failed, unknown=tally.unknown) if tally.failed or tally.unknown else ""
        self.progress.update(self.task, completed=tally.done, rate=tally.sent / elapsed, note=note)

    def _line(self, tally, waiting: tuple[float, str] | None) -> None:
        """Without a terminal: a progress line every few seconds and at the end, and one whenever the send starts to wait."""
        if waiting is not None:
            if waiting[0] != self.waiting_shown:
                self.waiting_shown = waiting[0]
                err_console.print(_("{value}; {sent} sent so far").format(value=waiting[1], sent=tally.sent))
            return
        if tally.done == tally.total:
            if self.finished:
                return  # the last line is already out
            self.finished = True
        elif not self.line_due():
            return
        err_console.print(_("sending: {sent} sent, {value} left, {value2} deferred, {failed} failed").format(sent=tally.sent, value=tally.total - tally.done, value2=tally.retrying + tally.deferred, failed=tally.failed))


def _waiting(tally) -> tuple[float, str] | None:
    """(until when, what) while the send waits: for the daily limit, or to retry deferred messages; else None."""
    if tally.limit_wait_until is not None:
        from ..mail.limits import local_time

        return tally.limit_wait_until, _("daily limit reached: waiting until {time}").format(time=local_time(tally.limit_wait_until))
    if tally.waiting_until is not None:
        return tally.waiting_until, ngettext("waiting until {time} (local time) to retry {count} deferred message",
                                             "waiting until {time} (local time) to retry {count} deferred messages",
                                             tally.retrying).format(time=_local_time(tally.waiting_until), count=tally.retrying)
    return None


def _show_plan(plan) -> None:
    for warning in plan.warnings:
        err_console.print(_("[yellow]warning:[/] {warning}").format(warning=escape(warning)), soft_wrap=True)
    table = Table(show_header=False, box=None)
    table.add_row(_("issue"), escape(f"{plan.issue}: {plan.subject}"))
    if plan.lists:
        table.add_row(_("lists"), escape(", ".join(plan.lists)))
    table.add_row(_("recipients"), str(plan.recipients) if plan.variants <= 1 else
                  _("{recipients} in {variants} versions (audience)").format(recipients=plan.recipients, variants=plan.variants))
    if plan.mode == "send":
        table.add_row(_("to send now"), str(plan.to_send))
        if plan.already_sent:
            table.add_row(_("already sent"), str(plan.already_sent))
        if plan.failed_before:
            table.add_row(_("failed earlier"), _("{failed_before} (not retried)").format(failed_before=plan.failed_before))
        if plan.unknown:
            what = _("resent now (--resend-unknown)") if plan.resend_unknown else _("not resent; add --resend-unknown to resend")
            table.add_row(_("unknown"), f"{plan.unknown} ({what})")
    table.add_row(_("via") if plan.mode != "outbox" else _("into"), escape(plan.destination))
    if plan.mode == "send":
        _plan_limits(table, plan)
    for label, text in _sizes(plan):
        table.add_row(label, text)
    console.print(table)


def _plan_limits(table: Table, plan) -> None:
    """The rate and daily limit the send keeps, and how long it will take: why a big send takes its time."""
    from ..mail.limits import describe_duration, local_time

    a_day = _("{limit} a day").format(limit=group_digits(plan.daily_limit)) if plan.daily_limit else ""
    kept = [f"{plan.rate_text}" if plan.rate_text else "", a_day]
    if any(kept):
        why = f" ({escape(_(plan.limits_from))})" if plan.limits_from else ""
        table.add_row(_("limits"), ", ".join(k for k in kept if k) + why)
    if plan.daily_room is not None and plan.to_send > plan.daily_room:
        if plan.resume_at is not None:
            table.add_row(_("daily limit"), _("reached: nothing can go before {local_time}").format(local_time=local_time(plan.resume_at)))
        else:
            table.add_row(_("daily limit"), _("{daily_room} can go now, the other {value} as the last 24 hours' messages age out (run the same command again)").format(daily_room=plan.daily_room, value=plan.to_send - plan.daily_room))
    if plan.duration is not None:
        table.add_row(_("expected time"), describe_duration(plan.duration))


def _show_limit_stop(report) -> None:
    from ..mail.limits import local_time

    console.print(
        _("Daily limit of {daily_limit} messages in 24 hours reached: {left} left to send. Run the same command again after {local_time} (local time) to continue.").format(daily_limit=report.plan.daily_limit, left=report.left, local_time=local_time(report.limit_until)), soft_wrap=True,
    )


def _sizes(plan) -> list[tuple[str, str]]:
    """'message size' rows: one per audience version, each with what it holds."""
    from ..render.checks import size_text

    several = len(plan.sizes) > 1
    return [(_("message size") if n == 0 else "", f"{size_text(size)}" + (f" ({escape(name)})" if several else ""))
            for n, (name, size) in enumerate(plan.sizes)]


def _show_tests(report) -> None:
    for label, text in _sizes(report.plan):
        console.print(f"{label}: {text}")
    for address, kind, reply in report.test_results:
        style = "green" if kind == "sent" else "red"
        console.print(f"[{style}]{escape(_(kind))}[/] {escape(address)}  {escape(reply)}", soft_wrap=True)
    if any(kind != "sent" for _address, kind, _reply in report.test_results):
        raise typer.Exit(1)


def _show_summary(report, again: str) -> None:
    tally, plan = report.tally, report.plan
    if report.recovered:
        err_console.print("[yellow]" + escape(_("warning:")) + "[/] " + escape(ngettext(
            "{count} message was in flight when an earlier send stopped: it is marked unknown. "
            "'nyhetsbrev status {issue}' lists it with its Message-ID, to look up in the relay's log before "
            "deciding on --resend-unknown.",
            "{count} messages were in flight when an earlier send stopped: they are marked unknown. "
            "'nyhetsbrev status {issue}' lists them with their Message-IDs, to look up in the relay's log before "
            "deciding on --resend-unknown.", report.recovered).format(count=report.recovered, issue=plan.issue)),
            soft_wrap=True)
    if report.limit_until is not None and (tally is None or tally.total == 0):
        return  # nothing could go: the daily limit's line says when it can
    if tally is None or tally.total == 0:
        console.print(_("Nothing to send: {already_sent} of {recipients} recipients already have {issue}.").format(already_sent=plan.already_sent, recipients=plan.recipients, issue=plan.issue))
    else:
        skipped = [_("skipped")] if tally.skipped else []
        table = Table(_("sent"), _("deferred"), _("failed"), _("unknown"), *skipped, _("time"), title=_("Sent {issue}").format(issue=plan.issue),
                      title_justify="left")
        table.add_row(str(tally.sent), str(tally.deferred), str(tally.failed), str(tally.unknown),
                      *([str(tally.skipped)] if skipped else []), f"{report.elapsed:.1f} s")
        console.print(table)
        if tally.skipped:
            console.print(escape(skipped_line(tally.skipped_why)), soft_wrap=True)
    if report.failed:
        show_failed(report.failed)
        console.print(_("{count} failed: the server refused them for good; check the addresses (the replies above say why). Sending again does not retry them.").format(count=len(report.failed)))
    if report.bounced:
        console.print(_("{count} address(es) do not exist according to the server: marked as bounced, they get no more mail (see 'nyhetsbrev recipients list --all').").format(count=len(report.bounced)))
    if report.deferred:
        show_failed(report.deferred, _("deferred address"))
        console.print(_("{count} deferred by the server: run the same command later to retry them:\n  {again}").format(count=len(report.deferred), again=escape(again)))
    if report.unknown:
        console.print(escape(ngettext(
            "{count} unknown (the connection was lost after sending): it may have arrived. 'nyhetsbrev status {issue}' "
            "lists it with its Message-ID to look up in the relay's log; resend with --resend-unknown only if the "
            "relay does not have it.",
            "{count} unknown (the connection was lost after sending): they may have arrived. 'nyhetsbrev status "
            "{issue}' lists them with their Message-IDs to look up in the relay's log; resend with --resend-unknown "
            "only if the relay has none of them.", len(report.unknown)).format(count=len(report.unknown), issue=plan.issue)),
            soft_wrap=True)


def skipped_line(why) -> str:
    """'3 skipped while the send ran, never sent the issue: unsubscribed 2, no longer on the lists 1' (why: a Counter)."""
    names = {"unsubscribed": _("unsubscribed"), "bounced": _("suppressed as bounced"), "forgotten": _("forgotten"),
             "not on the lists": _("no longer on the lists")}
    parts = ", ".join(f"{names.get(reason, reason)} {count}" for reason, count in sorted(why.items()))
    total = sum(why.values())
    return ngettext("{count} skipped while the send ran, never sent the issue: {why}.",
                    "{count} skipped while the send ran, never sent the issue: {why}.", total).format(count=total, why=parts)


def show_failed(failed: list[tuple[str, str]], what: str | None = None, why: str | None = None) -> None:
    """The addresses that failed (or as `what` says) with the server's reply (or `why`), at most FAILED_SHOWN."""
    table = Table(what or _("failed address"), why or _("server reply"), title_justify="left")
    for address, reply in failed[:FAILED_SHOWN]:
        table.add_row(escape(address), escape(reply))
    console.print(table)
    if len(failed) > FAILED_SHOWN:
        console.print(_("… and {value} more (see 'nyhetsbrev status').").format(value=len(failed) - FAILED_SHOWN))
