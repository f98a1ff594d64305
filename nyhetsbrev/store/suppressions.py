"""Who must never get mail again: unsubscribes, permanent bounces and forgotten people (GDPR erasure)."""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import StoreError
from .tokens import address_hash, default_key_path, load_or_create_key, normalise_address
from .db import Database, checkpoint, db_file, utc_now, write_lock
from ..i18n import N_, _

OWN_TABLES = ("recipients", "lists", "memberships", "subscription_events", "suppressions")
_SUPPRESSIBLE = ("unsubscribed", "bounced")  # forgotten goes through forget()
_REASON_ON = {"unsubscribed": N_("unsubscribed {date}"), "bounced": N_("bounced {date}")}  # why an import skips a row


_KEYS: weakref.WeakKeyDictionary[Database, tuple[tuple, bytes]] = weakref.WeakKeyDictionary()


def _stamp(path) -> tuple | None:
    """What tells whether the key file changed (None when there is none yet)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (str(path), st.st_mtime_ns, st.st_size, st.st_ino)


def signing_key(db: Database) -> bytes:
    """The newsletter's secret key (the key file next to the database, or NYHETSBREV_KEY_FILE).

    Read once per open database, and again only when the file itself changed (a stat, not a read).
    """
    path = default_key_path(db_file(db))
    cached, stamp = _KEYS.get(db), _stamp(path)
    if cached is not None and stamp is not None and cached[0] == stamp:
        return cached[1]
    key = load_or_create_key(path)
    if (stamp := _stamp(path)) is not None:
        _KEYS[db] = (stamp, key)
    return key


def suppress(db: Database, address: str, reason: str, source: str, detail: str | None = None, *,
             secret: bytes | None = None) -> bool:
    """Record that address must get no more mail (reason 'unsubscribed' or 'bounced'); True when it is new.

    secret: the signing key, when the caller has read it already (a server answering many requests).
    """
    if reason not in _SUPPRESSIBLE:
        raise StoreError(_("unknown suppression reason '{reason}'").format(reason=reason), hint=_("use one of: {join}").format(join=', '.join(_SUPPRESSIBLE)))
    key = normalise_address(address)
    if "@" not in key:
        raise StoreError(_("'{address}' is not an e-mail address").format(address=address), hint=_("give the whole address, name@example.se"))
    hashed = address_hash(secret or signing_key(db), key)
    now = utc_now()
    with write_lock(db):
        # A forgotten person stays forgotten: their address must not come back into the database this way.
        cursor = db.execute(
            "INSERT OR IGNORE INTO suppressions (reason, email_key, address_hash, at, source, detail)"
            " SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS"
            " (SELECT 1 FROM suppressions WHERE address_hash = ? AND reason = 'forgotten')",
            [reason, key, hashed, now, source, detail, hashed],
        )
        if cursor.rowcount:
            db.execute(
                "INSERT INTO subscription_events (recipient_id, list_id, event, at, source)"
                " SELECT id, NULL, ?, ?, ? FROM recipients WHERE email_key = ?",
                [reason, now, source, key],
            )
    return bool(cursor.rowcount)


def is_suppressed(db: Database, address: str) -> str | None:
    """Why address must get no mail ('unsubscribed', 'bounced' or 'forgotten'), or None when it may."""
    key = normalise_address(address)
    row = db.execute(
        "SELECT reason FROM suppressions WHERE email_key = ? ORDER BY id LIMIT 1", [key]
    ).fetchone()
    if row:
        return row[0]
    if db.execute("SELECT 1 FROM suppressions WHERE reason = 'forgotten' LIMIT 1").fetchone() is None:
        return None
    hashed = address_hash(signing_key(db), key)
    row = db.execute("SELECT reason FROM suppressions WHERE address_hash = ? LIMIT 1", [hashed]).fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class Suppressed:
    """Everything suppressed, for checking many addresses at once: reason and date by key, forgotten hashes."""

    by_key: dict[str, tuple[str, str]]
    forgotten: frozenset[str]

    def reason(self, key: str, hash_of) -> str | None:
        """Why the address with this comparison key is suppressed (hash_of(key) is called only when needed)."""
        found = self.by_key.get(key)
        if found:
            return _(_REASON_ON[found[0]]).format(date=found[1][:10])  # by_key holds only these two reasons
        if self.forgotten and hash_of(key) in self.forgotten:
            return _("forgotten on request")
        return None


def load_suppressed(db: Database) -> Suppressed:
    """All suppressions, loaded once (the import checks every row against them)."""
    by_key: dict[str, tuple[str, str]] = {}
    forgotten = set()
    for reason, key, hashed, at in db.execute("SELECT reason, email_key, address_hash, at FROM suppressions ORDER BY id"):
        if reason == "forgotten":
            forgotten.add(hashed)
        else:
            by_key.setdefault(key, (reason, at))
    return Suppressed(by_key, frozenset(forgotten))


def address_hasher(db: Database) -> Callable[[str], str]:
    """A function giving the keyed hash of an address key; the key file is read only if it is needed."""
    key: bytes | None = None

    def hash_of(email_key: str) -> str:
        nonlocal key
        if key is None:
            key = signing_key(db)
        return address_hash(key, email_key)

    return hash_of


def lift(db: Database, address: str) -> int:
    """Remove every suppression of address (the person asked to come back); the number removed."""
    key = normalise_address(address)
    hashed = address_hash(signing_key(db), key)
    return db.execute("DELETE FROM suppressions WHERE email_key = ? OR address_hash = ?", [key, hashed]).rowcount


@dataclass(frozen=True)
class Forgotten:
    """What forget erased: rows per table, and whether the database file was cleaned of freed pages."""

    rows: dict[str, int]
    clean: bool


def forget(db: Database, address: str, source: str = "cli") -> Forgotten:
    """Erase every row about address in every table and keep only its keyed hash as a 'forgotten' suppression."""
    key = normalise_address(address)
    if "@" not in key:
        raise StoreError(_("'{address}' is not an e-mail address").format(address=address), hint=_("give the whole address, name@example.se"))
    hashed = address_hash(signing_key(db), key)
    found = db.execute("SELECT id, email, email_ascii FROM recipients WHERE email_key = ?", [key]).fetchone()
    forms = {address.strip(), key}
    if found:
        forms.update((found[1], found[2]))
    rows: dict[str, int] = {}
    before = db.execute("PRAGMA secure_delete").fetchone()[0]  # this build's default, or the caller's
    db.execute("PRAGMA secure_delete=ON")  # deleted cells are zeroed, not left in free space
    try:
        with write_lock(db):
            for table in _other_tables(db):
                rows[table] = _erase_from(db, table, found[0] if found else None, forms)
            if found:
                for table in ("memberships", "subscription_events"):
                    rows[table] = db.execute(f"DELETE FROM {table} WHERE recipient_id = ?", [found[0]]).rowcount
                rows["recipients"] = db.execute("DELETE FROM recipients WHERE id = ?", [found[0]]).rowcount
            rows["suppressions"] = db.execute(
                "DELETE FROM suppressions WHERE email_key = ? OR address_hash = ?", [key, hashed]
            ).rowcount
            db.execute(
                "INSERT INTO suppressions (reason, email_key, address_hash, at, source, detail)"
                " VALUES ('forgotten', NULL, ?, ?, ?, NULL)",
                [hashed, utc_now(), source],
            )
        clean = checkpoint(db, vacuum=True)
    finally:
        db.execute(f"PRAGMA secure_delete={int(before)}")
    return Forgotten({t: n for t, n in rows.items() if n}, clean=clean)


def _other_tables(db: Database) -> list[str]:
    """Tables added by later features (the send ledger): forget must reach them too."""
    return [
        name for name in db.table_names()
        if name not in OWN_TABLES and not name.startswith(("_sqlite", "sqlite_"))
    ]


def _erase_from(db: Database, table: str, recipient_id: int | None, forms: set[str]) -> int:
    """Delete rows of table that belong to the person: by recipient_id, or holding the address in any column."""
    lowered = sorted({form.lower() for form in forms if form})
    columns = [name for _cid, name, *_ in db.execute(f'PRAGMA table_info("{table}")').fetchall()]
    deleted = 0
    if recipient_id is not None and "recipient_id" in columns:
        deleted = db.execute(f'DELETE FROM "{table}" WHERE recipient_id = ?', [recipient_id]).rowcount
    # A mention must be the whole address: forgetting a@example.se must not touch anna@example.se's rows.
    mention = re.compile("|".join(rf"(?<![\w.+-]){re.escape(form)}(?![\w-]|\.\w)" for form in lowered))
    # Every column is read, whatever type it was declared with (SQLite keeps text in a JSON, BLOB or INTEGER column
    # all the same), and lowered here: SQLite's lower() leaves Ä as it is, so Bo@BÄCKEBO.se would not be found
    # there. Only rows with an @ (X'40') in some value can mention an address, so only those leave SQLite.
    quoted = [f'"{name}"' for name in columns]
    rowids = [
        rowid for rowid, *values in db.execute(
            f'SELECT rowid, {", ".join(quoted)} FROM "{table}" WHERE '
            + " OR ".join(f"instr(CAST({column} AS BLOB), X'40') > 0" for column in quoted)
        )
        if any(mention.search(_as_text(value).lower()) for value in values)
    ]
    for rowid in rowids:
        deleted += db.execute(f'DELETE FROM "{table}" WHERE rowid = ?', [rowid]).rowcount
    return deleted


def _as_text(value) -> str:
    """A column's value as text: bytes as UTF-8 (what cannot be read as such replaced)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
