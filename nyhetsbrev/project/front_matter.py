"""A section's front matter: YAML read without aliases, values checked to be text or lists of text, keys known."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..errors import ContentError
from ..i18n import _

KEYS = ("layout", "audience", "title")
MAX_BYTES = 16 * 1024  # a front matter is a few short lines; more is a mistake (or an attack on the parser)
_NULLS = ("", "~", "null", "Null", "NULL")

# Words authors are likely to write for a key (Swedish, and English that difflib would not find), casefolded.
LIKELY_MEANT = {
    **dict.fromkeys(("målgrupp", "målgrupper", "malgrupp", "mottagare", "mottagargrupp", "lista", "listor",
                     "grupp", "grupper", "läsare", "publik", "till", "endast", "bara", "lists", "list",
                     "recipients", "to", "group", "groups", "for", "only"), "audience"),
    **dict.fromkeys(("mall", "typ", "sorts", "format", "utseende", "upplägg", "stil", "tidslinje", "template",
                     "type", "style", "kind", "timeline"), "layout"),
    **dict.fromkeys(("titel", "rubrik", "överskrift", "rubriken", "namn", "heading", "header", "headline",
                     "name", "caption"), "title"),
}


@dataclass(frozen=True)
class FrontMatter:
    """The key: value lines at the top of a section, and where the Markdown body starts."""

    values: dict[str, str | list[str] | None] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)  # the line of each key in the file
    body: str = ""
    body_line: int = 1


def split(text: str, path: Path) -> FrontMatter:
    """Separate and read the front matter; every problem is a ContentError with the file's line."""
    text = text.lstrip("\ufeff")
    lines = text.split("\n")
    if lines[0].strip() != "---":
        return FrontMatter(body=text)
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        raise ContentError(_("front matter is not closed"), path=path, line=1,
                           hint=_("end the front matter with a line of three dashes: ---"))
    source = "\n".join(lines[1:end])
    if len(source.encode("utf-8")) > MAX_BYTES:
        raise ContentError(_("front matter is {value} KB; at most {value2} KB").format(value=len(source.encode('utf-8')) // 1024, value2=MAX_BYTES // 1024),
                           path=path, line=1, hint=_("keep only layout, audience and title between the --- lines"))
    values, key_lines = _read_yaml(source, path)
    for key, line in key_lines.items():
        if key not in KEYS:
            raise ContentError(_("unknown front-matter key '{shorten}'").format(shorten=shorten(key)), path=path, line=line, hint=_suggest(key))
    return FrontMatter(values=values, lines=key_lines, body="\n".join(lines[end + 1:]), body_line=end + 2)


def shorten(value: str, limit: int = 40) -> str:
    """A value from a file cut to a length that fits in a message."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _suggest(key: str) -> str:
    """What to write instead of an unknown key: the key probably meant, and the keys there are."""
    known = _("the keys are layout, audience and title")
    word = key.strip().casefold()
    meant = word if word in KEYS else LIKELY_MEANT.get(word)
    if meant is None:
        close = difflib.get_close_matches(word, [*KEYS, *LIKELY_MEANT], n=1, cutoff=0.75)
        meant = LIKELY_MEANT.get(close[0], close[0]) if close else None
    if meant:
        return _("did you mean '{key}'? ({known})").format(key=meant, known=known)
    return _("remove it or correct it ({known})").format(known=known)


def _read_yaml(source: str, path: Path) -> tuple[dict[str, str | list[str] | None], dict[str, int]]:
    """Key → text or list of text, and key → line; read from YAML's node tree, so nothing is built that is not text."""
    import yaml

    def fail(what: str, mark, hint: str) -> ContentError:
        return ContentError(what, path=path, line=mark.line + 2 if mark is not None else 2, hint=hint)

    loader = None
    try:
        loader = _loader_class()(source)  # the reader refuses control characters already here
        root = loader.get_single_node()
    except _AliasRefused as exc:
        raise fail(_("YAML aliases (*name) are not allowed in front matter"), exc.mark,
                   _("write the value out in full")) from None
    except yaml.YAMLError as exc:
        # the construct that was left open (context) points nearer the mistake than where parsing stopped
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        if isinstance(exc, yaml.reader.ReaderError):
            mark = yaml.Mark("", exc.position, source.count("\n", 0, exc.position), 0, None, None)
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        raise fail(_("broken YAML front matter: {problem}").format(problem=problem), mark,
                   _("fix the front matter between the --- lines (key: value)")) from None
    except RecursionError:
        raise fail(_("front matter is nested too deeply"), None, _("write plain key: value lines")) from None
    finally:
        if loader is not None:
            loader.dispose()
    if root is None:
        return {}, {}
    if not isinstance(root, yaml.MappingNode):
        raise fail(_("front matter must be key: value lines"), root.start_mark, _("for example: layout: timeline"))
    values: dict[str, str | list[str] | None] = {}
    lines: dict[str, int] = {}
    for key_node, value_node in root.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise fail(_("a front-matter key must be a plain word"), key_node.start_mark, _("for example: title: …"))
        key = key_node.value
        if key in values:
            raise fail(_("'{shorten}' is written twice").format(shorten=shorten(key)), key_node.start_mark, _("keep one of the two lines"))
        lines[key] = key_node.start_mark.line + 2
        if isinstance(value_node, yaml.ScalarNode):
            values[key] = _text(value_node)
        elif isinstance(value_node, yaml.SequenceNode):
            items = []
            for item in value_node.value:
                if not isinstance(item, yaml.ScalarNode):
                    raise fail(_("'{shorten}' must be a list of words, not of lists or tables").format(shorten=shorten(key)), item.start_mark,
                               _("write it as {key}: [a, b]").format(key=shorten(key)))
                items.append(_text(item) or "")
            values[key] = items
        else:
            raise fail(_("'{shorten}' must be text or a list, not a table").format(shorten=shorten(key)), value_node.start_mark,
                       _("write it on one line: {key}: …").format(key=shorten(key)))
    return values, lines


def _text(node) -> str | None:
    """A scalar's text as written (YAML's yes/no, numbers and dates stay text); an empty or null plain value is None."""
    return None if node.style is None and node.value in _NULLS else node.value


class _AliasRefused(Exception):
    def __init__(self, mark) -> None:
        super().__init__("alias")
        self.mark = mark


@lru_cache(maxsize=1)
def _loader_class():
    """A YAML loader that resolves no types and refuses aliases (an alias graph can expand to gigabytes)."""
    import yaml

    class Loader(yaml.BaseLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                raise _AliasRefused(self.peek_event().start_mark)
            return super().compose_node(parent, index)

    return Loader
