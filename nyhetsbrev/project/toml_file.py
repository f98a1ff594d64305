"""A TOML file of the project read for people: syntax errors with their line, typed values, the line of a key."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .front_matter import shorten


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parse a TOML file; syntax errors become one line with the line number."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path.name} is missing", path=path, hint="create it (see 'nyhetsbrev init')") from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", path=path, hint="save the file as UTF-8") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column \d+\)", message)
        line = int(match.group(1)) if match else None
        what = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        raise ConfigError(f"TOML syntax error: {what}", path=path, line=line, hint="fix the line and try again") from None


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def control_character(text: str) -> tuple[int, str] | None:
    """(line, 'U+001B') of the first control character other than tab and line breaks, or None.

    Such characters are invisible in an editor, break the email's HTML, and can steer a terminal.
    """
    match = _CONTROL.search(text)
    if match is None:
        return None
    return text.count("\n", 0, match.start()) + 1, f"U+{ord(match.group()):04X}"


def line_in_file(path: Path, key: str) -> int | None:
    """The line of key in a TOML file, for a message about its value; None when the file cannot be read."""
    try:
        return line_of(path.read_text(encoding="utf-8"), key)
    except (OSError, UnicodeDecodeError):
        return None


def line_of(text: str, key: str, after: int = 0) -> int | None:
    """The first line after line `after` on which `key =` (also inside an inline table) or `[key]` appears."""
    pattern = re.compile(rf"^\s*\[+\s*{re.escape(key)}\s*\]+|(^|[\s{{,\"]){re.escape(key)}\"?\s*=")
    for number, line in enumerate(text.split("\n"), start=1):
        if number > after and pattern.search(line):
            return number
    return line_of(text, key) if after else None


class TableChecker:
    """Reads typed values out of a TOML table, raising ConfigError with a line."""

    def __init__(self, path: Path, text: str) -> None:
        self.path, self.text = path, text

    def fail(self, what: str, key: str | None = None, hint: str | None = None, after: int = 0) -> ConfigError:
        """An error pointing at the line of key (the first one after line `after`)."""
        return ConfigError(what, path=self.path, line=line_of(self.text, key, after) if key else None, hint=hint)

    def unknown(self, table: dict[str, Any], allowed: set[str], where: str = "", after: int = 0) -> None:
        """Refuse keys that are not settings (a typo would otherwise be ignored)."""
        for key in table:
            if key not in allowed:
                raise self.fail(
                    f"unknown setting '{shorten(key)}'{where}", key,
                    hint=f"known settings are: {', '.join(sorted(allowed))}", after=after,
                )

    def text_value(self, table: dict[str, Any], key: str, *, required: bool = False, default: str | None = None,
                   after: int = 0) -> str | None:
        """A text setting, stripped; None when absent and not required."""
        value = table.get(key, default)
        if value is None or value == "":
            if required:
                raise self.fail(f"'{key}' is required", hint=f"add {key} = \"…\" to {self.path.name}")
            return default if default != "" else None
        if not isinstance(value, str):
            raise self.fail(f"'{key}' must be text in quotes", key, hint=f'write it as {key} = "…"', after=after)
        found = control_character(value)
        if found:
            raise self.fail(f"'{key}' holds an invisible control character ({found[1]})", key, after=after,
                            hint="delete it and write that part again")
        return value.strip()

    def text_list(self, table: dict[str, Any], key: str, where: str = "", after: int = 0) -> tuple[str, ...]:
        """A list of texts, each stripped; empty when absent."""
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(f"'{key}'{where} must be a list of texts", key, hint=f'write it as {key} = ["…", "…"]',
                            after=after)
        return tuple(item.strip() for item in value)
