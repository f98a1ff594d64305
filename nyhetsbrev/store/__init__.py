"""The recipients database: people, lists, consent, suppression (and, later, the send ledger)."""

from .address_files import addresses_in_file
from .db import default_db_path, open_db, utc_now
from .importing import ImportReport, SkippedRow, import_recipients
from .recipients import (
    ListInfo,
    add_recipient,
    export_person,
    find_recipient,
    list_lists,
    list_recipients,
    person_json,
    recipients_for_lists,
    remove_many,
    remove_recipient,
    save_lists_csv,
    save_person_json,
    unsubscribe,
    unsubscribe_many,
    unsubscribe_token,
    write_lists_csv,
)
from .exporting import save_lists_file
from .suppressions import Forgotten, forget, is_suppressed, signing_key, suppress

__all__ = [
    "Forgotten", "addresses_in_file", "remove_many", "save_lists_file", "ImportReport", "ListInfo", "SkippedRow", "add_recipient", "default_db_path", "export_person",
    "find_recipient", "forget", "import_recipients", "is_suppressed", "list_lists", "list_recipients", "open_db",
    "person_json", "recipients_for_lists", "remove_recipient", "save_lists_csv", "save_person_json", "signing_key",
    "suppress", "unsubscribe", "unsubscribe_many", "unsubscribe_token", "utc_now", "write_lists_csv",
]
