"""A TOML file of the project read for people: syntax errors with their line, typed values, the line of a key."""

from __future__ import annotations

import ipaddress
import math
import re
import tomllib
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..i18n import N_, _
from .front_matter import shorten


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parse a TOML file; syntax errors become one line with the line number."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(_("{name} is missing").format(name=path.name), path=path, hint=_("create it (see 'nyhetsbrev init')")) from None
    except UnicodeDecodeError:
        raise ConfigError(_("not UTF-8 text"), path=path, hint=_("save the file as UTF-8")) from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column \d+\)", message)
        line = int(match.group(1)) if match else None
        what = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        raise ConfigError(_("TOML syntax error: {what}").format(what=what), path=path, line=line, hint=_("fix the line and try again")) from None


# Characters that cannot be shown: C0 and C1 controls (tab and line breaks apart), direction overrides and
# isolates, line and paragraph separators, and Unicode's noncharacters (U+FFFE and the like).
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufdd0-\ufdef"
    + "".join(f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)) + "]")
_KINDS = (
    ((0x202A, 0x202E), N_("an invisible direction override")),
    ((0x2066, 0x2069), N_("an invisible direction isolate")),
    ((0x2028, 0x2028), N_("a line separator")),
    ((0x2029, 0x2029), N_("a paragraph separator")),
)


def control_character(text: str) -> tuple[int, str] | None:
    """(line, what: 'an invisible control character (U+001B)') of the first character that cannot be shown, or None.

    Such characters are invisible in an editor or turn text around (U+202E), break the email's HTML (U+FFFE),
    and can steer a terminal.
    """
    match = _CONTROL.search(text)
    if match is None:
        return None
    code = ord(match.group())
    kind = next((what for (low, high), what in _KINDS if low <= code <= high),
                N_("an invisible control character") if code < 0xA0 else N_("a character that is not text"))
    return text.count("\n", 0, match.start()) + 1, f"{_(kind)} (U+{code:04X})"


def without_controls(text: str) -> str:
    """text with every character that cannot be shown removed."""
    return _CONTROL.sub("", text)


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


def shown(value: Any) -> str:
    """A TOML value as the user wrote it, for a message: true, 2525.9, inf, nan, "text"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return f'"{shorten(value)}"'
    return shorten(repr(value)) if isinstance(value, (list, dict)) else str(value)


_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def _plain(number: float) -> str:
    """1 for 1.0, 10000000 for 1e7: a bound as a person writes it."""
    return str(int(number)) if float(number).is_integer() else str(number)


def host_problem(host: str) -> str | None:
    """Why host is not a host name (letters, digits and hyphens in dot-separated parts of at most 63, 253 in all; å, ä,
    ö as IDNA) nor an IP address; None when it is one."""
    name = host.strip()
    try:
        ipaddress.ip_address(name)
        return None
    except ValueError:
        pass
    try:
        ascii_name = (name if name.isascii() else name.encode("idna").decode("ascii")).rstrip(".")
    except UnicodeError:  # a part too long or empty, or characters IDNA does not allow
        ascii_name = ""
    if not ascii_name or len(ascii_name) > 253 or not all(_LABEL.match(label) for label in ascii_name.split(".")):
        return _("a host name is letters, digits and hyphens in parts of at most 63 characters separated by dots, "
                 "at most 253 characters in all (or an IP address)")
    return None


class TableChecker:
    """Reads typed values out of a TOML table, raising ConfigError with a line."""

    def __init__(self, path: Path, text: str, after: int = 0) -> None:
        self.path, self.text, self.after = path, text, after

    def within(self, table: str) -> "TableChecker":
        """A checker for the [table] table: an error about one of its keys points at that key inside the table."""
        header = re.compile(rf"^\s*\[\s*{re.escape(table)}\s*\]")
        start = next((n for n, line in enumerate(self.text.split("\n"), start=1) if header.match(line)), 0)
        return TableChecker(self.path, self.text, after=max(0, start - 1))

    def fail(self, what: str, key: str | None = None, hint: str | None = None, after: int = 0) -> ConfigError:
        """An error pointing at the line of key (the first one after line `after`)."""
        return ConfigError(what, path=self.path, line=line_of(self.text, key, after or self.after) if key else None,
                           hint=hint)

    def number(self, table: dict[str, Any], key: str, *, low: float, high: float, default: float | None = None,
               whole: bool = False, where: str = "", example: str = "") -> int | float | None:
        """A number setting: a number (not true/false, not text), finite, from low to high, whole when asked.

        None when absent and there is no default. Anything else is one error at its line saying what is allowed.
        """
        value = table.get(key, default)
        if value is None:
            return None
        fits = (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
                and (isinstance(value, int) or not whole) and low <= value <= high)
        if fits:
            return value
        allowed = (_("a whole number from {low} to {high}") if whole else _("a number from {low} to {high}")).format(
            low=_plain(low), high=_plain(high))
        raise self.fail(
            _("'{key}'{where} must be {allowed}, not {value}").format(key=key, where=where, allowed=allowed,
                                                                       value=shown(value)),
            key, hint=_("write it as {example}").format(example=example or f"{key} = {_plain(low)}"))

    def host(self, table: dict[str, Any], key: str, where: str = "") -> str | None:
        """A host name setting (or an IP address), checked as a host name at its line; None when absent."""
        value = self.text_value(table, key)
        if value is not None and (problem := host_problem(value)):
            raise self.fail(_("'{key}'{where} is not a host name: {why}").format(key=key, where=where, why=problem), key,
                            hint=_('write only the server\'s name, e.g. {key} = "smtp.example.se"').format(key=key))
        return value

    def unknown(self, table: dict[str, Any], allowed: set[str], where: str = "", after: int = 0) -> None:
        """Refuse keys that are not settings (a typo would otherwise be ignored)."""
        for key in table:
            if key not in allowed:
                raise self.fail(
                    _("unknown setting '{shorten}'{where}").format(shorten=shorten(key), where=where), key,
                    hint=_("known settings are: {join}").format(join=', '.join(sorted(allowed))), after=after,
                )

    def text_value(self, table: dict[str, Any], key: str, *, required: bool = False, default: str | None = None,
                   after: int = 0) -> str | None:
        """A text setting, stripped; None when absent and not required."""
        value = table.get(key, default)
        if value is None or value == "":
            if required:
                raise self.fail(_("'{key}' is required").format(key=key), hint=_('add {key} = "…" to {name}').format(key=key, name=self.path.name))
            return default if default != "" else None
        if not isinstance(value, str):
            raise self.fail(_("'{key}' must be text in quotes").format(key=key), key, hint=_('write it as {key} = "…"').format(key=key), after=after)
        self._refuse_controls(value, key, after)
        return value.strip()

    def _refuse_controls(self, value: str, key: str, after: int) -> None:
        found = control_character(value)
        if found:
            raise self.fail(_("'{key}' holds {what}").format(key=key, what=found[1]), key, after=after,
                            hint=_("delete it and write that part again"))

    def text_list(self, table: dict[str, Any], key: str, where: str = "", after: int = 0) -> tuple[str, ...]:
        """A list of texts, each stripped; empty when absent."""
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(_("'{key}'{where} must be a list of texts").format(key=key, where=where), key, hint=_('write it as {key} = ["…", "…"]').format(key=key),
                            after=after)
        for item in value:
            self._refuse_controls(item, key, after)
        return tuple(item.strip() for item in value)
