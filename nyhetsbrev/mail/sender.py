"""Send an issue: who gets it, one rendering per audience, the ledger, test copies and the outbox."""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from . import limits, message, transport
from ..publish import pipeline
from .dispatch import Dispatcher, Options, Tally
from .message_ids import MessageIds
from .versions import Renderer, version_name
from ..errors import CheckFailed, SendError, SendInterrupted
from ..i18n import _
from ..project import leftovers
from ..project.config import SETTINGS_FILE
from ..project.toml_file import line_in_file
from ..project.models import Issue, Project, SmtpSettings
from ..store import ledger
from ..store.db import default_db_path, open_db
from ..render import checks
from ..store.recipients import list_ids, list_names, recipients_for_lists
from ..store.suppressions import signing_key, suppress
from ..store.tokens import make_token
from ..writer import write_bytes


@dataclass
class SendPlan:
    """What a send will do, shown before it starts (and all that --dry-run does)."""

    issue: str
    subject: str
    lists: tuple[str, ...]
    mode: str  # "send", "test", "outbox"
    recipients: int = 0
    to_send: int = 0
    already_sent: int = 0
    failed_before: int = 0
    unknown: int = 0
    deferred: int = 0
    resend_unknown: bool = False
    variants: int = 1
    destination: str = ""
    language: str = "sv"
    warnings: list[str] = field(default_factory=list)
    rate_text: str | None = None  # the rate the send keeps, e.g. "30/min"
    daily_limit: int | None = None
    limits_from: str | None = None  # why those limits hold when nyhetsbrev.toml names none
    daily_room: int | None = None  # how many the daily limit lets go now
    duration: float | None = None  # expected seconds for what goes now, at the rate
    resume_at: float | None = None  # epoch: when the daily limit lets the next message go, if none can go now
    sizes: list[tuple[str, int]] = field(default_factory=list)  # (which version, bytes of one message as sent)


@dataclass
class SendReport:
    """What a send did."""

    plan: SendPlan
    dry_run: bool = False
    cancelled: bool = False
    tally: Tally | None = None
    recovered: int = 0
    written: list[Path] = field(default_factory=list)
    test_results: list[tuple[str, str, str]] = field(default_factory=list)  # (address, kind, reply)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (address, why): the ledger's, or the outbox's unwritten
    deferred: list[tuple[str, str]] = field(default_factory=list)  # (address, last reply): still to be retried
    unknown: list[tuple[str, str]] = field(default_factory=list)  # (address, why): may or may not have arrived
    bounced: list[str] = field(default_factory=list)  # newly suppressed: the server said the address does not exist
    elapsed: float = 0.0
    limit_until: float | None = None  # the send stopped at the daily limit: epoch time after which it continues
    left: int = 0  # messages still to send when it stopped there

    @property
    def complete(self) -> bool:
        """True when everyone it was meant for has it (or, for test copies and the outbox, every message went)."""
        if self.test_results:
            return all(kind == "sent" for _, kind, _ in self.test_results)
        return not (self.failed or self.deferred or self.unknown)


def send(
    root: Path,
    issue_text: str,
    lists: Sequence[str] = (),
    *,
    test: Sequence[str] = (),
    outbox: Path | None = None,
    dry_run: bool = False,
    resend_unknown: bool = False,
    allow_changes: bool = False,
    options: Options | None = None,
    confirm: Callable[[SendPlan], bool] | None = None,
    progress: Callable[[Tally], None] | None = None,
) -> SendReport:
    """Send issue_text to the named lists (or test copies, or .eml files); resumable through the ledger.

    A send whose issue changed since its first messages went out is refused unless allow_changes.
    """
    started = time.monotonic()
    check_options(test=bool(test), outbox=outbox is not None, resend_unknown=resend_unknown, allow_changes=allow_changes)
    options = options or Options()
    if options.connections < 1:
        raise SendError(_("--connections must be at least 1"))
    lists = tuple(dict.fromkeys(name.strip() for name in lists if name.strip()))
    if not lists and not test:
        raise SendError(_("name the lists to send to"), hint=_("add --list NAME (see 'nyhetsbrev lists'), or --test ADDRESS for a test copy"))
    project, issue = pipeline.load(root, issue_text)
    if not test and not outbox:
        _refuse_starter_sender(project)
    checked = pipeline.check_issue(project, issue)
    if checked.errors:
        first = checked.errors[0]
        raise CheckFailed(
            _("the issue has {count} error(s), nothing was sent: {message}").format(count=len(checked.errors), message=first.message),
            path=first.path, line=first.line, hint=_("run 'nyhetsbrev check {id}' and fix them first").format(id=issue.id),
        )
    mode = "test" if test else "outbox" if outbox else "send"
    plan = SendPlan(str(issue.id), message.subject_line(project.settings, issue, test=bool(test)), lists, mode,
                    resend_unknown=resend_unknown, warnings=_warnings(project), language=project.settings.language)
    sender = message.sender_address(project.settings)
    ids = MessageIds(sender.rpartition("@")[2], issue)
    db = open_db(default_db_path(root))
    try:
        key = signing_key(db)
        if test:
            return _send_tests(project, issue, checked.rendered, list(test), plan, key, ids, dry_run, started)
        for problem in checks.audience_problems(issue, list_names(db), "error")[:1]:  # before the ledger or a message
            raise SendError(problem.message, path=problem.path, line=problem.line,
                            hint=_("fix the audience line, then run 'nyhetsbrev check {id}'").format(id=issue.id))
        people = {item["email_key"]: (item, names) for item, names in recipients_for_lists(db, list(lists))}
        renderer = Renderer(project, issue, checked.rendered, key=key)
        audiences = {renderer.audience(names) for _, names in people.values()}
        for audience in audiences or {None}:  # every version is built (headers checked) before anything is shown or recorded
            renderer.template(audience)
        plan.sizes = renderer.sizes(key, ids)
        plan.recipients = len(people)
        plan.variants = len(audiences) or 1
        if outbox:
            plan.destination = str(outbox)
            plan.to_send = len(people)
            if dry_run:
                return SendReport(plan, dry_run=True, elapsed=time.monotonic() - started)
            written, failed = _write_outbox(Path(outbox), people, renderer, key, ids)
            return SendReport(plan, written=written, failed=failed, elapsed=time.monotonic() - started)
        smtp = project.settings.smtp
        plan.destination = _via(smtp)
        if options.rate is None and smtp.rate:
            options = dataclasses.replace(options, rate=smtp.rate)
        issue_key = str(issue.id)
        entries = [ledger.Entry(k, item["email"], item["id"], tuple(sorted(names)), *renderer.version(names))
                   for k, (item, names) in people.items()]
        if dry_run:
            _fill_plan(plan, ledger.plan(db, issue_key, entries), resend_unknown)
            if plan.to_send:
                _refuse_changes(db, issue_key, renderer, allow_changes)
            _fill_limits(plan, db, smtp, options)
            return SendReport(plan, dry_run=True, elapsed=time.monotonic() - started)
        transport.check_settings(smtp)
        transport.check_sign_in(smtp)  # an expired sign-in stops here, before anything is asked or claimed
        with ledger.SendLock(db, issue_key):
            recovered = ledger.recover(db, issue_key)
            _fill_plan(plan, ledger.plan(db, issue_key, entries), resend_unknown)
            if plan.to_send:
                _refuse_changes(db, issue_key, renderer, allow_changes)
            _fill_limits(plan, db, smtp, options)
            if plan.resume_at is not None and plan.to_send:  # nothing may go before the daily limit frees a slot
                return SendReport(plan, tally=Tally(total=0), recovered=recovered, limit_until=plan.resume_at,
                                  left=plan.to_send, elapsed=time.monotonic() - started)
            if confirm is not None and plan.to_send and not confirm(plan):
                return SendReport(plan, cancelled=True, recovered=recovered, elapsed=time.monotonic() - started)
            ledger.enqueue(db, issue_key, entries, ids)
            named = {list_id: name for name, list_id in list_ids(db, list(lists)).items()}
            tally, bounced = _dispatch(db, plan, _due_rows(db, issue_key, people, resend_unknown), people, renderer,
                                       smtp=smtp, sender=sender, key=key, ids=ids, lists=named, options=options, progress=progress)
            left = {state: ledger.in_state(db, issue_key, state) for state in (ledger.FAILED, ledger.DEFERRED, ledger.UNKNOWN)}
            still = ledger.still_to_send(db, issue_key, [row.email_key for row in _due_rows(
                db, issue_key, people, resend_unknown)], named) if tally.limit_until else 0
        return SendReport(plan, tally=tally, recovered=recovered, failed=left[ledger.FAILED], bounced=bounced,
                          deferred=left[ledger.DEFERRED], unknown=left[ledger.UNKNOWN],
                          elapsed=time.monotonic() - started, limit_until=tally.limit_until, left=still)
    finally:
        db.close()


def _due_rows(db, issue_key: str, people: dict, resend_unknown: bool) -> list[ledger.Row]:
    """The ledger's rows still to send now, of the people this send is for."""
    return [row for row in ledger.due(db, issue_key, resend_unknown=resend_unknown) if row.email_key in people]


def _dispatch(db, plan: SendPlan, rows: list[ledger.Row], people: dict, renderer: Renderer, *, smtp: SmtpSettings, sender: str,
              key: bytes, ids: MessageIds, lists: dict[int, str], options: Options,
              progress: Callable[[Tally], None] | None) -> tuple[Tally, list[str]]:
    """Send rows (the ledger locked and filled); (the tally, the addresses suppressed as bounced by this run)."""
    issue_key = plan.issue

    def prepare(row: ledger.Row, message_id: str) -> tuple[str, bytes]:
        # row.lists: the lists they are on as their message was claimed, which decide the sections they get.
        return _personal(renderer.template(renderer.audience(row.lists)), people[row.email_key][0], message_id, key,
                         wire=True)

    # Each batch is checked again as it is claimed: who unsubscribes or leaves the lists meanwhile is skipped,
    # and who leaves one of several lists gets the version for the lists they are still on.
    dispatcher = Dispatcher(db, issue_key, smtp, sender, prepare, ids, options, progress,
                            lists=lists, made=renderer.made, make=renderer.version)
    try:
        tally = dispatcher.run(rows)
    except KeyboardInterrupt:
        sent_now = dispatcher.tally.sent
        raise SendInterrupted(issue_key, sent_now, plan.already_sent + sent_now,
                              max(0, plan.to_send - dispatcher.tally.done)) from None
    finally:  # also when the send pauses or stops: what this run learnt about bad addresses is kept
        bounced = _suppress_bad_addresses(db, issue_key, dispatcher.failures, key)
    return tally, bounced


def check_options(*, test: bool, outbox: bool, resend_unknown: bool = False, allow_changes: bool = False,
                  rate: bool = False, connections: bool = False) -> None:
    """Refuse options that contradict each other: one SendError, before anything is read, sent or written."""
    if test and outbox:
        raise SendError(_("--test and --outbox cannot be used together: --test sends test copies by SMTP, --outbox "
                          "writes the messages to files and sends nothing"), hint=_("leave out one of them"))
    if not (test or outbox):
        return
    mode = "--test" if test else "--outbox"
    what = _("test copies are sent and never recorded") if test else _("messages are written to files, never recorded")
    for flag, given in (("--resend-unknown", resend_unknown), ("--allow-changes", allow_changes), ("--rate", rate),
                        ("--connections", connections)):
        if given:
            raise SendError(_("{flag} cannot be used with {mode}: {flag} is about a send to lists, and with {mode} "
                              "{what}").format(flag=flag, mode=mode, what=what),
                            hint=_("leave out {flag}, or {mode} to send to the lists").format(flag=flag, mode=mode))


def _refuse_starter_sender(project: Project) -> None:
    """Refuse to mail lists from the example address that 'nyhetsbrev init' wrote (before anything is written)."""
    keys = leftovers.settings_leftovers(project.settings, leftovers.SENDER_KEYS)
    if keys:
        path = Path(project.root) / SETTINGS_FILE
        address = project.settings.sender if keys[0] == "from" else project.settings.reply_to
        raise SendError(_("not sending to lists: '{key}' in {file} is still the example address that 'nyhetsbrev init' "
                          "wrote ({address})").format(key=keys[0], file=SETTINGS_FILE, address=address),
                        path=path, line=line_in_file(path, keys[0]),
                        hint=_("write your newsletter's own address there; test copies (--test) and --outbox work "
                               "meanwhile"))


def _refuse_changes(db, issue_key: str, renderer: "Renderer", allow_changes: bool) -> None:
    """Refuse to go on when people were sent content that the same people would not get now (unless allowed)."""
    earlier = ledger.delivered(db, issue_key)
    accepted = {(version, fingerprint) for _, version, fingerprint, _ in earlier}  # a change let through before
    changed = 0
    for lists, version, fingerprint, count in earlier:
        now = renderer.version(lists)
        if now != (version, fingerprint) and now not in accepted:
            changed += count
    if changed and not allow_changes:
        raise SendError(
            _("{issue_key} has changed since its first messages went out: {changed} recipient(s) got the earlier version, and the rest would get the changed one; nothing more was sent").format(issue_key=issue_key, changed=changed),
            hint=_("undo the change to send everyone the same issue, or add --allow-changes to send the changed version ('nyhetsbrev status {issue_key}' shows the versions sent)").format(issue_key=issue_key),
        )


def _suppress_bad_addresses(db, issue_key: str, failed: list[tuple[str, str]], key: bytes) -> list[str]:
    """Addresses the server said do not exist are suppressed as bounced, so no later issue goes to them."""
    return [address for address, reply in failed if transport.is_bad_address(reply)
            and suppress(db, address, "bounced", f"send {issue_key}", detail=reply, secret=key)]


def _via(smtp: SmtpSettings) -> str:
    return f"{smtp.host}:{smtp.port} ({smtp.security})" if smtp.host else _("no SMTP server configured")


def _fill_plan(plan: SendPlan, counts: ledger.Plan, resend_unknown: bool) -> None:
    plan.to_send = counts.to_send(resend_unknown)
    plan.already_sent = counts.by_state[ledger.SENT]
    plan.failed_before = counts.by_state[ledger.FAILED]
    plan.unknown = counts.by_state[ledger.UNKNOWN]
    plan.deferred = counts.by_state[ledger.DEFERRED]


def _fill_limits(plan: SendPlan, db, smtp: SmtpSettings, options: Options) -> None:
    """The rate and daily limit this send keeps, how many may go now, and how long that takes."""
    plan.rate_text = options.rate.text if options.rate else None
    plan.daily_limit, plan.limits_from = smtp.daily_limit, smtp.limits_from
    now = plan.to_send
    if smtp.daily_limit:
        budget = limits.DailyBudget(db, smtp.daily_limit, options.clock)
        plan.daily_room = budget.left
        now = min(now, budget.left)
        if not budget.left:
            until = budget.next_free()
            if until is not None and until - options.clock.time() > limits.WAIT_AT_MOST:
                plan.resume_at = until
    plan.duration = limits.expected_duration(now, options.per_second)


def _warnings(project: Project) -> list[str]:
    """What check says about the settings (archive_url, an unsubscribe_url that is not https), and an unset unsubscribe_url."""
    found = [problem.message for problem in pipeline.settings_problems(project)]
    if not project.settings.unsubscribe_url:
        found.append(_("unsubscribe_url is not set: unsubscribing works by email only (no one-click link)"))
    return found


def _personal(template: message.MessageTemplate, item: dict, message_id: str, key: bytes,
              wire: bool = False) -> tuple[str, bytes]:
    """The envelope recipient and the message for one person of the database (wire: as SMTP's DATA sends it)."""
    make = template.wire if wire else template.personalise
    return make(item.get("email_ascii") or item["email"], item.get("name"), message_id=message_id,
                token=make_token(key, item["email"]))


def _send_tests(project: Project, issue: Issue, full, addresses: list[str], plan: SendPlan,
                key: bytes, ids: MessageIds, dry_run: bool, started: float) -> SendReport:
    smtp = project.settings.smtp
    plan.recipients = plan.to_send = len(addresses)
    plan.destination = _via(smtp)
    renderer = Renderer(project, issue, full, test=True, key=key)
    audience = renderer.audience(plan.lists) if plan.lists else None
    template = renderer.template(audience)
    messages = [template.personalise(a, None, message_id=ids(), token=make_token(key, a)) for a in addresses]
    plan.sizes = [(version_name(audience), max(len(data) for _, data in messages))]
    if dry_run:
        return SendReport(plan, dry_run=True, elapsed=time.monotonic() - started)
    transport.check_settings(smtp)
    results = []
    with transport.Connection(smtp) as conn:
        conn.open()  # a server that cannot be reached or refuses the login is reported at once
        for address, data in messages:
            result = transport.deliver(conn, template.sender, address, data)
            results.append((address, result.kind, str(result)))
    return SendReport(plan, test_results=results, elapsed=time.monotonic() - started)


def _write_outbox(folder: Path, people: dict, renderer: Renderer, key: bytes,
                  ids: MessageIds) -> tuple[list[Path], list[tuple[str, str]]]:
    """One .eml file per recipient, each written whole; the people whose message cannot be made, with why."""
    folder.mkdir(parents=True, exist_ok=True)
    written, failed = [], []
    for number, (item, names) in enumerate(people.values(), start=1):
        try:
            _, data = _personal(renderer.template(renderer.audience(names)), item, ids(), key)
        except SendError as exc:  # a name or address that must not reach a header
            failed.append((item["email"], str(exc)))
            continue
        path = folder / f"{number:05d}-{re.sub(r'[^A-Za-z0-9@._-]', '_', item['email'])[:120]}.eml"
        write_bytes(path, data, private=True)  # one person's address and unsubscribe link
        written.append(path)
    return written, failed
