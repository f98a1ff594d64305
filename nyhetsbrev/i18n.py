"""The interface language and its messages: _() and ngettext() through gettext, Swedish by default.

Every sentence a user reads is written in English in the code as `_("...")` (or `ngettext(...)`) and
translated here from the catalog nyhetsbrev/locale/<lang>/LC_MESSAGES/nyhetsbrev.mo. The language is
chosen once per command run (`reset()` starts a new choice) and given to gettext explicitly, so the
choice does not depend on LANG, which Windows does not set. Catalogs load on the first message, so `--help`
and `lists` start fast. Dates and times in the patterns below are written from a table of month names; Babel is
loaded only for any other pattern.

A string that must exist before a message can be translated (a module constant) is marked with
`N_("...")`, which only marks it for the catalog; translate it with `_()` where it is shown.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from pathlib import Path

LANGUAGES = ("sv", "en")  # the languages shipped; English is the language of the msgids
DEFAULT_LANGUAGE = "sv"
DOMAIN = "nyhetsbrev"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGE_ENV = "NYHETSBREV_LANGUAGE"
SETTINGS_FILE = "nyhetsbrev.toml"
DATE = "d MMMM y"  # Babel patterns for every date and time shown: '3 december 2026', '20:14', never '8:14:37 PM'
TIME = "HH:mm"
DATE_TIME = "d MMMM y HH:mm"

_state: dict = {"language": None, "project": None}
_catalogs: dict = {}


def N_(message: str) -> str:
    """Mark a string for the catalog without translating it yet (translate it with _() where it is shown)."""
    return message


def _(message: str) -> str:
    """The message in the interface language."""
    return _catalog(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural message for n, in the interface language."""
    return _catalog(language()).ngettext(singular, plural, n)


def language() -> str:
    """The interface language ('sv' or 'en'), chosen on first use as SPEC says."""
    if _state["language"] is None:
        _state["language"] = choose_language(_state["project"])
    return _state["language"]


def reset(project: str | Path | None = None) -> None:
    """Forget the chosen language (a new command run); `project` is the --project folder when one was given."""
    _state["language"] = None
    _state["project"] = project


def set_language(lang: str | None) -> None:
    """Use this interface language from now on (None: choose again on next use)."""
    _state["language"] = shipped(lang) if lang else None


def shipped(value: str | None) -> str | None:
    """The shipped language that a code such as 'sv', 'sv_SE.UTF-8' or 'en-GB' names, or None."""
    if not value:
        return None
    code = value.strip().split(".")[0].replace("-", "_").split("_")[0].lower()
    return code if code in LANGUAGES else None


def choose_language(project: str | Path | None = None) -> str:
    """NYHETSBREV_LANGUAGE, then interface_language and language in nyhetsbrev.toml, then the OS, then Swedish."""
    chosen = shipped(os.environ.get(LANGUAGE_ENV))
    if chosen:
        return chosen
    settings = _project_settings(project)
    for key in ("interface_language", "language"):
        chosen = shipped(settings.get(key)) if isinstance(settings.get(key), str) else None
        if chosen:
            return chosen
    return os_language() or DEFAULT_LANGUAGE


def os_language() -> str | None:
    """The operating system's language when it is one we ship: LANGUAGE/LC_ALL/LC_MESSAGES/LANG, or Windows' UI language."""
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            for part in value.split(":"):
                if part and part not in ("C", "POSIX") and not part.startswith("C."):
                    return shipped(part)
            return None  # the first one set decides, as in gettext (C means no language)
    if sys.platform == "win32":  # pragma: no cover - Windows sets no LANG; ask for the user's UI language
        try:
            import ctypes
            import locale

            return shipped(locale.windows_locale.get(ctypes.windll.kernel32.GetUserDefaultUILanguage()))
        except (AttributeError, OSError):
            return None
    return None


def _project_settings(project: str | Path | None) -> dict:
    """The top level of nyhetsbrev.toml (--project, NYHETSBREV_PROJECT or the nearest); {} when none or broken."""
    named = project or os.environ.get("NYHETSBREV_PROJECT")
    try:
        if named:
            path = Path(named).expanduser() / SETTINGS_FILE
        else:
            here = Path.cwd()
            path = next((f / SETTINGS_FILE for f in (here, *here.parents) if (f / SETTINGS_FILE).is_file()), None)
        if path is None or not path.is_file():
            return {}
        import tomllib

        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):  # a broken settings file is reported in its own words when it is read
        return {}


def _catalog(lang: str):
    catalog = _catalogs.get(lang)
    if catalog is None:
        catalog = _catalogs[lang] = _load(lang)
    return catalog


def _load(lang: str):
    import gettext

    if lang == "en":
        return gettext.NullTranslations()
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    mo, po = folder / f"{DOMAIN}.mo", folder / f"{DOMAIN}.po"
    try:
        stale = po.is_file() and (not mo.is_file() or mo.stat().st_mtime < po.stat().st_mtime)
    except OSError:
        stale = False
    if stale:  # a checkout whose .po changed since the build: compile it in memory (make build writes the .mo)
        return _compiled_in_memory(po)
    return gettext.translation(DOMAIN, str(LOCALE_DIR), languages=[lang], fallback=True)


def _compiled_in_memory(po: Path):
    import gettext
    import io

    try:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po
    except ImportError:  # pragma: no cover - Babel is a dependency
        return gettext.NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def group_digits(number: int) -> str:
    """13370 → '13 370': digits grouped in threes with a space, as Swedish writes them (and English readers read)."""
    return f"{number:,}".replace(",", " ")


# The month names of the shipped languages, so that the patterns above cost neither Babel's import nor its locale
# data (some 45 ms of a build's start-up); tests/test_language.py checks they are Babel's own.
_MONTHS = {
    "sv": ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober",
           "november", "december"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}
_FIELDS = {
    "d": lambda value, months: str(value.day),
    "MMMM": lambda value, months: months[value.month - 1],
    "y": lambda value, months: str(value.year),
    "HH": lambda value, months: f"{value.hour:02d}",
    "mm": lambda value, months: f"{value.minute:02d}",
    "ss": lambda value, months: f"{value.second:02d}",
}


@functools.lru_cache(maxsize=32)
def _parts(pattern: str) -> tuple[str, ...] | None:
    """The fields and separators of a pattern made of d, MMMM, y, HH, mm, ss, spaces and colons; None for others."""
    parts = tuple(match.group() for match in re.finditer(r"([A-Za-z])\1*|.", pattern))  # 'dd' is one field, not two
    return parts if all(part in _FIELDS or part in " :" for part in parts) else None


def _without_babel(value, pattern: str, lang: str) -> str | None:
    """value in a pattern made of d, MMMM, y, HH, mm, ss, spaces and colons, as Babel writes it; None for others."""
    months = _MONTHS.get(lang)
    parts = _parts(pattern)
    if months is None or parts is None:
        return None
    return "".join(_FIELDS[part](value, months) if part in _FIELDS else part for part in parts)


def format_datetime(value, format: str = "medium") -> str:
    """A date and time in the interface language ('3 dec. 2026 20:14'), never '8:14:37 PM'; Babel only for patterns
    the month table cannot write."""
    lang = language()
    if (quick := _without_babel(value, format, lang)) is not None:
        return quick
    from babel.dates import format_datetime as babel_format

    return babel_format(value, format, locale=lang)


def format_date(value, format: str = "long", *, lang: str | None = None) -> str:
    """A date in the interface language (or `lang`), '3 december 2026'."""
    lang = lang or language()
    if (quick := _without_babel(value, format, lang)) is not None:
        return quick
    from babel.dates import format_date as babel_format

    return babel_format(value, format, locale=lang)


def format_time(value, format: str = TIME) -> str:
    """A time of day, 24-hour '20:14' in every language."""
    lang = language()
    if (quick := _without_babel(value, format, lang)) is not None:
        return quick
    from babel.dates import format_time as babel_format

    return babel_format(value, format, locale=lang)
