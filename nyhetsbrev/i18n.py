"""The interface language and its messages: _() and ngettext() through gettext, Swedish by default.

Every sentence a user reads is written in English in the code as `_("...")` (or `ngettext(...)`) and
translated here from the catalog nyhetsbrev/locale/<lang>/LC_MESSAGES/nyhetsbrev.mo. The language is
chosen once per command run (`reset()` starts a new choice) and given to gettext explicitly, so the
choice does not depend on LANG, which Windows does not set. Catalogs load on the first message, and
Babel (for dates) only where a date is formatted, so `--help` and `lists` start fast.

A string that must exist before a message can be translated (a module constant) is marked with
`N_("...")`, which only marks it for the catalog; translate it with `_()` where it is shown.
"""

from __future__ import annotations

import os
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


def format_datetime(value, format: str = "medium") -> str:
    """A date and time in the interface language through Babel ('3 dec. 2026 20:14'), never '8:14:37 PM'."""
    from babel.dates import format_datetime as babel_format

    return babel_format(value, format, locale=language())


def format_date(value, format: str = "long", *, lang: str | None = None) -> str:
    """A date in the interface language (or `lang`), '3 december 2026'."""
    from babel.dates import format_date as babel_format

    return babel_format(value, format, locale=lang or language())


def format_time(value, format: str = "HH:mm") -> str:
    """A time of day, 24-hour '20:14' in every language."""
    from babel.dates import format_time as babel_format

    return babel_format(value, format, locale=language())
