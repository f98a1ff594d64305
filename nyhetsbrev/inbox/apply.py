"""Apply what one message says to the recipients database, once: unsubscribe, suppress a bounce, count a delay."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from ..errors import TokenError
from ..mail.message_ids import is_unguessable_id
from ..i18n import N_, _
from ..store import mailbox_events as events
from ..store.db import Database, write_retrying
from ..store.suppressions import is_suppressed, signing_key, suppress
from ..store.tokens import normalise_address, verify_token
from .classify import AUTO_REPLY, BOUNCE, COMPLAINT, OTHER, UNREADABLE, UNSUBSCRIBE, Verdict

# What a message led to (the summary's columns).
# The words are the catalog's: the CLI shows them with _().
UNSUBSCRIBED, BOUNCED, TEMPORARY, COMPLAINT_HANDLED = N_("unsubscribed"), N_("bounced"), N_("temporary"), N_("complaints")
IGNORED, PERSON, ALREADY = N_("ignored"), N_("left for a person"), N_("already handled")
UNREAD, STILL_UNREAD = N_("unreadable"), N_("unreadable, listed before")  # left where they are, for a person
TEMPORARY_LIMIT = 3  # temporary bounces on this many different issues suppress the address
GUESS_NAMES = 100  # addresses of one report checked for guesses at another reader's old-style Message-ID


@dataclass(frozen=True)
class Outcome:
    """What one message led to: the action, whom it concerned, and why."""

    action: str
    verdict: Verdict
    address: str | None = None
    note: str = ""
    command: str | None = None  # for a person: the command that would apply what the message asks

    @property
    def set_aside(self) -> bool:
        """True when the message is done with and may leave the folder; a person's message stays where it is."""
        return self.action not in (PERSON, UNREAD, STILL_UNREAD)


def apply(db: Database, verdict: Verdict, source: str = "mailbox") -> Outcome:
    """Apply one message in one transaction, and remember it; a message handled before changes nothing."""
    return apply_many(db, [verdict], source)[0]


def apply_many(db: Database, verdicts: list[Verdict], source: str = "mailbox") -> list[Outcome]:
    """Apply several messages in one transaction (all or none), each remembered; the outcome of each, in order."""

    def work() -> list[Outcome]:
        outcomes = []
        returned = [_returned(db, verdict) if verdict.kind in (BOUNCE, COMPLAINT) else None for verdict in verdicts]
        for verdict, found in zip(verdicts, returned):  # first every guess at another reader's Message-ID, in any order
            if found is not None:
                _note_guesses(db, verdict, found)
        for verdict, found in zip(verdicts, returned):
            if verdict.kind == UNREADABLE:
                outcomes.append(_unreadable(db, verdict, source))
                continue
            if events.is_handled(db, verdict.key):
                outcomes.append(Outcome(ALREADY, verdict, note=_("handled by an earlier run")))
                continue
            outcome = _decide(db, verdict, source, found)
            if outcome.set_aside:
                events.remember(db, verdict.key, verdict.kind, source)
            outcomes.append(outcome)
        return outcomes

    return write_retrying(db, work)


@dataclass(frozen=True)
class _Returned:
    """What a report points at, looked up once: the sent messages of its Message-IDs and the addresses it names."""

    sent: tuple[tuple[str, events.SentTo], ...]  # (Message-ID, the ledger row sent with it), for each one nyhetsbrev sent
    named: tuple[str, ...]  # the recipients and addresses it names, as comparison keys, in the report's order


def _returned(db: Database, verdict: Verdict) -> _Returned:
    sent = ((message_id, events.sent_message(db, (message_id,))) for message_id in verdict.returned_ids)
    return _Returned(tuple((message_id, row) for message_id, row in sent if row is not None),
                     tuple(normalise_address(a) for a in (*verdict.recipients, *verdict.addresses)))


def _decide(db: Database, verdict: Verdict, source: str, returned: _Returned | None) -> Outcome:
    if verdict.kind == BOUNCE:
        return _bounce(db, verdict, source, returned)
    if verdict.kind == COMPLAINT:
        return _complaint(db, verdict, source, returned)
    if verdict.kind == UNSUBSCRIBE:
        return _unsubscribe(db, verdict, source)
    if verdict.kind == AUTO_REPLY:
        return Outcome(IGNORED, verdict, note=_(verdict.detail) if verdict.detail else "")  # our own details are in the catalog; a server's text stays as it is
    assert verdict.kind == OTHER, verdict.kind
    return Outcome(PERSON, verdict, note=_("a person writing"))


def _whom(db: Database, verdict: Verdict, returned: _Returned) -> tuple[str | None, str | None, str]:
    """(address, issue, why not) by the returned message's Message-ID in the send ledger, and by nothing else.

    Anyone can write a report naming any address; only the mail system that got a message knows its Message-ID.
    A report carrying the Message-IDs of messages to different people is about no one of them. The Message-IDs sent
    before they were random differ from one another only by a counter, so a reader could change hers into another's:
    one of those counts only when the report also names that ledger row's own address as the recipient.
    """
    found: dict[str, tuple[events.SentTo, bool]] = {}  # each person's first row, and whether any of theirs is random
    for message_id, sent in returned.sent:
        first, unguessable = found.get(normalise_address(sent.email), (sent, False))
        found[normalise_address(sent.email)] = (first, unguessable or is_unguessable_id(message_id))
    if len(found) > 1:
        return None, None, _("it carries the Message-IDs of messages to different people")
    if found:
        key, (sent, unguessable) = next(iter(found.items()))
        if not unguessable and key not in returned.named:
            return None, None, _("it carries an old-style Message-ID (one that can be guessed from another reader's) "
                                 "and does not name that message's recipient")
        if not unguessable and events.guessed(db, sent.email):
            return None, None, _("it carries an old-style Message-ID, and other reports have named this address with "
                                 "other readers' Message-IDs: someone may be guessing")
        return sent.email, sent.issue, ""
    if verdict.returned_ids:
        return None, None, _("the Message-ID it carries is not one nyhetsbrev sent")
    return None, None, _("it carries no Message-ID of a message nyhetsbrev sent")


def _note_guesses(db: Database, verdict: Verdict, returned: _Returned) -> None:
    """Remember each known address a report names beside another reader's old-style Message-ID.

    Counter-style Message-IDs can be tried one by one with a victim's address: a wrong try marks the address, and
    from then on no old-style report about it is applied by itself (one blind try at most, instead of as many as
    there are readers). Recorded once per message, so running again changes nothing more.
    """
    named = {address for address in returned.named[:GUESS_NAMES] if "@" in address}
    for message_id, sent in returned.sent:
        if is_unguessable_id(message_id):
            continue
        for address in named - {normalise_address(sent.email)}:
            if events.known_address(db, address):  # a stranger's address is not kept
                events.remember_guess(db, address, verdict.key, sent.issue)


def _unreadable(db: Database, verdict: Verdict, source: str) -> Outcome:
    """A message that cannot be read stays where it is; it is new work only the first time it is seen."""
    if events.is_listed_unreadable(db, verdict.key):
        return Outcome(STILL_UNREAD, verdict, note=_(verdict.detail))
    events.remember_unreadable(db, verdict.key, source)
    return Outcome(UNREAD, verdict, note=_(verdict.detail))


def _change(db: Database, verdict: Verdict, address: str, event: str, source: str, *,
            issue: str | None = None, suppress_as: str | None = None, detail: str | None = None) -> None:
    events.record(db, address, event, source=source, message_id=verdict.key, message_date=verdict.date,
                  issue=issue, detail=detail or verdict.detail or None)
    if suppress_as:
        suppress(db, address, suppress_as, source, detail=f"{detail or verdict.detail or event} (message {verdict.key})")


def _forgotten(db: Database, address: str) -> bool:
    return is_suppressed(db, address) == "forgotten"


def _any_forgotten(db: Database, verdict: Verdict) -> bool:
    """True when the report names a forgotten person (whose ledger rows and address are gone)."""
    return any("@" in a and _forgotten(db, a) for a in verdict.addresses)


def _bounce(db: Database, verdict: Verdict, source: str, returned: _Returned) -> Outcome:
    address, issue, why = _whom(db, verdict, returned)
    if address is None and not _any_forgotten(db, verdict):
        return Outcome(PERSON, verdict, note=_("a bounce naming {addresses}, not applied: {why}").format(
            addresses=_listed(verdict.addresses), why=why))
    if address is None or _forgotten(db, address):
        return Outcome(IGNORED, verdict, note=_("about a forgotten person"))
    if verdict.permanent:
        _change(db, verdict, address, events.BOUNCED, source, issue=issue, suppress_as="bounced")
        return Outcome(BOUNCED, verdict, address, _(verdict.detail) if verdict.detail else "")
    _change(db, verdict, address, events.TEMPORARY, source, issue=issue)
    count = events.temporary_issues(db, address)
    if count >= TEMPORARY_LIMIT:
        suppress(db, address, "bounced", source,
                 detail=f"temporary failures on {count} different issues (last: message {verdict.key})")
        return Outcome(BOUNCED, verdict, address, _("temporary failures on {count} different issues").format(count=count))
    return Outcome(TEMPORARY, verdict, address, _("{detail} ({count} of {limit} issues)").format(
        detail=_(verdict.detail) if verdict.detail else "", count=count, limit=TEMPORARY_LIMIT).strip())


def _complaint(db: Database, verdict: Verdict, source: str, returned: _Returned) -> Outcome:
    address, issue, why = _whom(db, verdict, returned)
    if address is None and not _any_forgotten(db, verdict):
        return Outcome(PERSON, verdict, note=_("a complaint naming {addresses}, not applied: {why}").format(
            addresses=_listed(verdict.addresses), why=why))
    if address is None or _forgotten(db, address):
        return Outcome(IGNORED, verdict, note=_("about a forgotten person"))
    _change(db, verdict, address, events.COMPLAINED, source, issue=issue, suppress_as="unsubscribed")
    return Outcome(COMPLAINT_HANDLED, verdict, address, _(verdict.detail) if verdict.detail else "")


def _listed(addresses: tuple[str, ...]) -> str:
    return ", ".join(addresses[:3]) + (" …" if len(addresses) > 3 else "") if addresses else _("no one")


def _unsubscribe(db: Database, verdict: Verdict, source: str) -> Outcome:
    """Only a valid token unsubscribes; words, and requests about others, are a person's to decide."""
    if verdict.tokens:
        key = signing_key(db)
        for token in verdict.tokens:
            try:
                address = verify_token(key, token)
            except TokenError:
                continue
            return _unsubscribed(db, verdict, address, source, N_("with the link's token"))
        return Outcome(PERSON, verdict, note=_("asks to unsubscribe, but its token does not verify"))
    writer = events.on_a_list(db, verdict.sender)  # None for no sender: no one on a list has an empty address
    named = [events.on_a_list(db, a) or a for a in verdict.named]
    whom = named or ([writer] if writer else [])
    # '--' ends the options: whatever an address holds, the command reads it as an address.
    command = "nyhetsbrev recipients unsubscribe -- " + " ".join(shlex.quote(a) for a in whom) if whom else None
    if named:
        note = _("asks in words about {addresses} (not applied: see the command below)").format(addresses=_listed(tuple(named)))
    elif writer:
        note = _("asks in words to unsubscribe (not applied: words and senders can be forged; see the command below)")
    else:
        note = _("asks to unsubscribe, but {sender} is not on any list").format(sender=verdict.sender or _("the sender"))
    return Outcome(PERSON, verdict, note=note, command=command)


def _unsubscribed(db: Database, verdict: Verdict, address: str, source: str, how: str) -> Outcome:
    if _forgotten(db, address):
        return Outcome(IGNORED, verdict, note=_("about a forgotten person"))
    _change(db, verdict, address, events.UNSUBSCRIBED, source, suppress_as="unsubscribed", detail=f"by e-mail, {how}")
    return Outcome(UNSUBSCRIBED, verdict, address, _(how))
