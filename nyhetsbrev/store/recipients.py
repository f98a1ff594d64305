"""People and lists: add, list, remove, unsubscribe, export, and who a send goes to."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import StoreError, UnknownList
from .recipient_files import FIELDS, check_address
from .tokens import address_hash, find_tokens, normalise_address, verify_token
from ..writer import write_bytes
from .db import Database, utc_now, write_lock
from .mailbox_events import events_of, guesses_of
from .suppressions import address_hasher, is_suppressed, lift, load_suppressed, signing_key, suppress
from ..i18n import N_, _

_BAD_NAME = re.compile(r"[\x00-\x1f\x7f]")
_FORBIDDEN = re.compile(r"[\r\n\x00]")
_NOT_AGAIN_OTHER = N_("{email} is {reason}; not added again")
_NOT_AGAIN = {"unsubscribed": N_("{email} has unsubscribed; not added again"), "bounced": N_("{email} bounced; not added again"),
              "forgotten": N_("{email} was forgotten on request; not added again")}
RECIPIENT_COLUMNS = ("id", "email", "email_key", "email_ascii", *FIELDS, "attributes", "created_at", "updated_at")
_SELECT = "SELECT " + ", ".join(f"r.{c}" for c in RECIPIENT_COLUMNS) + " FROM recipients r"


def clean_list_name(name: str) -> str:
    """A list name trimmed and checked (not empty, no control characters, at most 100 characters)."""
    cleaned = (name or "").strip()
    if not cleaned or _BAD_NAME.search(cleaned) or len(cleaned) > 100:
        raise StoreError(_("'{name}' cannot be a list name").format(name=name), hint=_("use a short name without line breaks, e.g. Styrgrupp"))
    return cleaned


def find_list(db: Database, name: str) -> tuple[int, str] | None:
    """(id, name as stored) of the list with this cleaned name (case-insensitive), or None."""
    return db.execute("SELECT id, name FROM lists WHERE name = ?", [name]).fetchone()


def list_ids(db: Database, names: list[str], *, create: bool = False) -> dict[str, int]:
    """Name -> id for the named lists (case-insensitive); new lists are made when create, else UnknownList."""
    found: dict[str, int] = {}
    for name in dict.fromkeys(clean_list_name(n) for n in names):
        row = find_list(db, name)
        if row:
            found[row[1]] = row[0]
        elif create:
            found[name] = db.execute(
                "INSERT INTO lists (name, created_at) VALUES (?, ?)", [name, utc_now()]
            ).lastrowid
        else:
            existing = [r[0] for r in db.execute("SELECT name FROM lists ORDER BY name")]
            raise UnknownList(
                _("there is no list '{name}'").format(name=name),
                hint=_("lists: {join}").format(join=', '.join(existing)) if existing else _("import people into a list first"),
            )
    return found


def _as_dict(row: tuple) -> dict[str, Any]:
    item = dict(zip(RECIPIENT_COLUMNS, row))
    item["attributes"] = json.loads(item["attributes"] or "{}")
    return item


def find_recipient(db: Database, address: str) -> dict[str, Any] | None:
    """The recipient with this address (any case), or None."""
    row = db.execute(f"{_SELECT} WHERE r.email_key = ?", [normalise_address(address)]).fetchone()
    return _as_dict(row) if row else None


def add_recipient(
    db: Database, address: str, lists: list[str], *, details: dict[str, str] | None = None,
    resubscribe: bool = False, source: str = "add",
) -> str:
    """Add one person to lists (made when new): 'added', 'updated' or 'unchanged'; refuses suppressed addresses."""
    try:
        email, key, ascii_email = check_address(address)
    except ValueError as exc:
        raise StoreError(f"'{address}': {exc}", hint=_("check the address")) from None
    details = {k: v.strip() for k, v in (details or {}).items() if v and v.strip()}
    for name, value in details.items():
        if name not in FIELDS or _FORBIDDEN.search(value):
            raise StoreError(_("{name} '{value!r}' cannot be stored").format(name=name, value=value), hint=_("no line breaks or NUL characters"))
    if not lists:
        raise StoreError(_("no list given"), hint=_("name the list with --list NAME"))
    with write_lock(db):
        reason = is_suppressed(db, key)
        if reason and not resubscribe:
            raise StoreError(
                _(_NOT_AGAIN.get(reason, _NOT_AGAIN_OTHER)).format(email=email, reason=reason),
                hint=_("if the person has asked to get the newsletter again, add them with --resubscribe"),
            )
        if reason:
            lift(db, key)
        now = utc_now()
        ids = list_ids(db, lists, create=True)
        existing = find_recipient(db, key)
        if existing is None:
            recipient_id = db.execute(
                "INSERT INTO recipients (email, email_key, email_ascii, name, organisation, municipality, title,"
                " attributes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, '{}', ?, ?)",
                [email, key, ascii_email, *(details.get(f) for f in FIELDS), now, now],
            ).lastrowid
            outcome = "added"
        else:
            recipient_id = existing["id"]
            values = [details.get(f) or existing[f] for f in FIELDS]
            outcome = "unchanged"
            if values != [existing[f] for f in FIELDS]:
                db.execute(
                    "UPDATE recipients SET name = ?, organisation = ?, municipality = ?, title = ?, updated_at = ?"
                    " WHERE id = ?",
                    [*values, now, recipient_id],
                )
                outcome = "updated"
        for list_id in ids.values():
            added = db.execute(
                "INSERT OR IGNORE INTO memberships (recipient_id, list_id, added_at, source) VALUES (?, ?, ?, ?)",
                [recipient_id, list_id, now, source],
            ).rowcount
            if added:
                _event(db, recipient_id, list_id, "subscribed", source)
                outcome = "updated" if outcome == "unchanged" else outcome
    return outcome


def _event(db: Database, recipient_id: int, list_id: int | None, event: str, source: str) -> None:
    db.execute(
        "INSERT INTO subscription_events (recipient_id, list_id, event, at, source) VALUES (?, ?, ?, ?, ?)",
        [recipient_id, list_id, event, utc_now(), source],
    )


def remove_recipient(db: Database, address: str, lists: list[str] | None = None, source: str = "remove") -> list[str]:
    """Take address off the named lists (all its lists when none are named); the names it was removed from."""
    recipient = find_recipient(db, address)
    if recipient is None:
        raise StoreError(_("{strip} is not in the recipients database").format(strip=address.strip()), hint=_("check the spelling"))
    with write_lock(db):
        return _take_off(db, recipient, list_ids(db, lists) if lists else None, source)


def _take_off(db: Database, recipient: dict[str, Any], ids: dict[str, int] | None, source: str) -> list[str]:
    """Delete the person's memberships of the lists ids (all their lists when None); the names they were removed from."""
    if ids is None:
        ids = dict(db.execute(
            "SELECT l.name, l.id FROM lists l JOIN memberships m ON m.list_id = l.id WHERE m.recipient_id = ?",
            [recipient["id"]],
        ).fetchall())
    removed = []
    for name, list_id in ids.items():
        if db.execute(
            "DELETE FROM memberships WHERE recipient_id = ? AND list_id = ?", [recipient["id"], list_id]
        ).rowcount:
            _event(db, recipient["id"], list_id, "removed", source)
            removed.append(name)
    return removed


def remove_many(db: Database, addresses: list[str], lists: list[str] | None = None,
                source: str = "remove") -> list[tuple[str, list[str] | None]]:
    """Take each address off the lists in one transaction: (address, the lists it was taken off, or None when it is not stored).

    The list names are checked before anyone is taken off: a bad or unknown name is an error, never a person not found.
    """
    with write_lock(db):
        ids = list_ids(db, lists) if lists else None
        out = []
        for address in addresses:
            recipient = find_recipient(db, address)
            out.append((address, None if recipient is None else _take_off(db, recipient, ids, source)))
    return out


def unsubscribe(db: Database, address: str, source: str = "cli", *, secret: bytes | None = None) -> bool:
    """Stop all mail to address, now and after any later import; True when it was not unsubscribed before."""
    return suppress(db, address, "unsubscribed", source, secret=secret)


def unsubscribe_many(db: Database, addresses: list[str], source: str = "cli") -> list[tuple[str, bool]]:
    """Unsubscribe several addresses in one transaction (all or none): (address, whether it is new) for each."""
    secret = signing_key(db)
    with write_lock(db):
        return [(address, suppress(db, address, "unsubscribed", source, secret=secret))
                for address in dict.fromkeys(addresses)]


def unsubscribe_token(db: Database, token: str, source: str = "link") -> tuple[str, bool]:
    """Unsubscribe the address a personal link's token was made for (the bare token or the whole link): (address, new)."""
    found = find_tokens(token)
    secret = signing_key(db)
    address = verify_token(secret, found[0] if len(found) == 1 else token)
    return address, suppress(db, address, "unsubscribed", source, secret=secret)


@dataclass(frozen=True)
class ListInfo:
    """A list and its counts: members who get mail, and members who are suppressed."""

    name: str
    members: int
    suppressed: int
    created_at: str


def list_lists(db: Database) -> list[ListInfo]:
    """Every list with its member and suppressed counts, by name."""
    rows = db.execute(
        """SELECT l.name, l.created_at, count(r.id),
                  count(CASE WHEN EXISTS (SELECT 1 FROM suppressions s WHERE s.email_key = r.email_key) THEN 1 END)
           FROM lists l
           LEFT JOIN memberships m ON m.list_id = l.id
           LEFT JOIN recipients r ON r.id = m.recipient_id
           GROUP BY l.id ORDER BY l.name COLLATE NOCASE"""
    ).fetchall()
    return [ListInfo(name, total - held, held, created) for name, created, total, held in rows]


def list_names(db: Database) -> set[str]:
    """The names of every list."""
    return {name for (name,) in db.execute("SELECT name FROM lists")}


def list_recipients(db: Database, lists: list[str] | None = None, *, include_suppressed: bool = False) -> list[dict]:
    """Recipients (of the named lists, or all), each with its lists and 'status' (active or why suppressed)."""
    where, params = "", []
    if lists:
        ids = list(list_ids(db, lists).values())
        where = f" WHERE r.id IN (SELECT recipient_id FROM memberships WHERE list_id IN ({', '.join('?' * len(ids))}))"
        params = ids
    names: dict[int, list[str]] = {}
    for recipient_id, name in db.execute(
        "SELECT m.recipient_id, l.name FROM memberships m JOIN lists l ON l.id = m.list_id ORDER BY l.name"
    ):
        names.setdefault(recipient_id, []).append(name)
    suppressed = load_suppressed(db)
    out = []
    for row in db.execute(f"{_SELECT}{where} ORDER BY r.email_key", params):
        item = _as_dict(row)
        reason = suppressed.by_key.get(item["email_key"])
        if reason and not include_suppressed:
            continue
        item["lists"] = names.get(item["id"], [])
        item["status"] = reason[0] if reason else "active"
        out.append(item)
    return out


def recipients_for_lists(db: Database, names: list[str]) -> list[tuple[dict[str, Any], set[str]]]:
    """Who a send to these lists reaches: each address once with the lists it is on, suppressed ones left out."""
    ids = list_ids(db, names)
    by_id = {list_id: name for name, list_id in ids.items()}
    marks = ", ".join("?" * len(ids))
    memberships: dict[int, set[str]] = {}
    for recipient_id, list_id in db.execute(
        f"SELECT recipient_id, list_id FROM memberships WHERE list_id IN ({marks})", list(ids.values())
    ):
        memberships.setdefault(recipient_id, set()).add(by_id[list_id])
    suppressed = load_suppressed(db)
    hash_of = address_hasher(db)

    out = []
    for row in db.execute(
        f"{_SELECT} WHERE r.id IN (SELECT recipient_id FROM memberships WHERE list_id IN ({marks})) ORDER BY r.id",
        list(ids.values()),
    ):
        item = _as_dict(row)
        if suppressed.reason(item["email_key"], hash_of) is None:
            out.append((item, memberships[item["id"]]))
    return out


def export_person(db: Database, address: str) -> dict[str, Any]:
    """Everything stored about one address (GDPR art. 15), ready for JSON; StoreError when it is no address."""
    key = normalise_address(address)
    if "@" not in key:
        raise StoreError(
            _("'{strip}' is not an e-mail address, so there is no person to export").format(strip=address.strip()),
            hint=_("to save a list's members to that file use --list NAME --output {strip}; to export one person give their e-mail address (and --output FILE to save it)").format(strip=address.strip()),
        )
    recipient = find_recipient(db, key)
    person: dict[str, Any] = {"address": address.strip(), "exported_at": utc_now(), "recipient": recipient}
    person["lists"], person["events"] = [], []
    if recipient:
        person["lists"] = [
            {"list": name, "added_at": at, "source": source}
            for name, at, source in db.execute(
                "SELECT l.name, m.added_at, m.source FROM memberships m JOIN lists l ON l.id = m.list_id"
                " WHERE m.recipient_id = ? ORDER BY l.name", [recipient["id"]],
            )
        ]
        person["events"] = [
            {"event": event, "list": name, "at": at, "source": source, "source_file": file, "source_row": row}
            for event, name, at, source, file, row in db.execute(
                "SELECT e.event, l.name, e.at, e.source, e.source_file, e.source_row FROM subscription_events e"
                " LEFT JOIN lists l ON l.id = e.list_id WHERE e.recipient_id = ? ORDER BY e.id", [recipient["id"]],
            )
        ]
    person["mailbox"] = events_of(db, key)  # unsubscribes, bounces and complaints read by `inbox`
    person["mailbox_guesses"] = guesses_of(db, key)  # reports that named them beside another reader's Message-ID
    hashed = address_hash(signing_key(db), key)
    person["suppressions"] = [
        {"reason": reason, "at": at, "source": source, "detail": detail}
        for reason, at, source, detail in db.execute(
            "SELECT reason, at, source, detail FROM suppressions WHERE email_key = ? OR address_hash = ? ORDER BY id",
            [key, hashed],
        )
    ]
    return person


def save_person_json(db: Database, address: str, path: Path) -> None:
    """Write everything stored about one address (export_person) to path as JSON, in one step."""
    save_export(Path(path), (person_json(db, address) + "\n").encode("utf-8"))


def person_json(db: Database, address: str) -> str:
    """export_person as indented UTF-8 JSON text."""
    return json.dumps(export_person(db, address), ensure_ascii=False, indent=2)


def save_export(path: Path, data: bytes) -> None:
    """Write an export of personal data to path in one step, private (0600); StoreError naming the file when it cannot."""
    try:
        write_bytes(path, data, private=True)
    except OSError as exc:
        raise StoreError(_("cannot write the export: {value}").format(value=exc.strerror or exc), path=path, hint=_("check the folder")) from None
