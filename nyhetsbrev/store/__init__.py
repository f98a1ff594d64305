"""The recipients database: people, lists, consent, suppression and the send ledger."""

from importlib import import_module

from .db import default_db_path, open_db, utc_now

# Where each name lives; its module is imported the first time the name is asked for, so that a command loads only
# what it uses (a send needs neither the file importers nor the exports).
_HOMES = {
    "addresses_in_file": "address_files",
    "ImportReport": "importing", "SkippedRow": "importing", "import_recipients": "importing",
    **dict.fromkeys(("ListInfo", "add_recipient", "export_person", "find_recipient", "list_lists", "list_recipients",
                     "person_json", "recipients_for_lists", "remove_many", "remove_recipient", "save_person_json",
                     "unsubscribe", "unsubscribe_many", "unsubscribe_token"),
                    "recipients"),
    "save_lists_file": "exporting", "write_lists_csv": "exporting",
    **dict.fromkeys(("Forgotten", "forget", "is_suppressed", "signing_key", "suppress"), "suppressions"),
}

__all__ = ["default_db_path", "open_db", "utc_now", *_HOMES]


def __getattr__(name: str):
    """A name of one of the store's modules, imported on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value
