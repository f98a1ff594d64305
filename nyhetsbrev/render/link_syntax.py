"""Links and images as editors type them: destinations with spaces, and syntax that did not become a link.

CommonMark ends a bare destination at the first space, so `![Bild](images/Bild från mötet.jpg)` would reach
readers as text. These markdown-it additions take such a destination as typed, and note what is still left as
literal `![…](…)` or `[…](…)` so that check can point at it.
"""

from __future__ import annotations

import re
import types

from markdown_it import MarkdownIt, helpers as _helpers
from markdown_it.common.utils import unescapeAll


def configure(md: MarkdownIt) -> None:
    """Make md read destinations with spaces and note literal link syntax in each inline token's meta['literal']."""
    md.helpers = types.SimpleNamespace(
        parseLinkLabel=_helpers.parseLinkLabel, parseLinkTitle=_helpers.parseLinkTitle, parseLinkDestination=_destination)
    md.core.ruler.before("text_join", "literal_links", _mark_literal_links)


def _destination(string: str, pos: int, maximum: int):
    """A link or image destination; inside '](…)', one with spaces is taken as typed, up to the closing parenthesis.

    CommonMark ends a bare destination at the first space, so `![Bild](images/Bild från mötet.jpg)` would reach
    readers as text. What CommonMark reads as a whole link (`<…>`, a title "…", balanced parentheses) stays as it is;
    otherwise everything up to the parenthesis that closes the link is the destination, less a title at its end.
    """
    standard = _helpers.parseLinkDestination(string, pos, maximum)
    if string.startswith("<", pos) or not _after_link_paren(string, pos):
        return standard
    if standard.ok and _link_closes(string, standard.pos, maximum):
        return standard
    close = _closing_paren(string, pos, maximum)
    if close is None:
        return standard
    span = string[pos:close]
    title = _TITLE_AT_END.search(span)
    typed = (span[:title.start()] if title else span).rstrip()
    if not typed:
        return standard
    result = type(standard)()
    result.ok, result.pos, result.str = True, pos + len(typed), unescapeAll(typed)
    return result


_TITLE_AT_END = re.compile(r"""[ \t]+("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')[ \t]*$""")


def _after_link_paren(string: str, pos: int) -> bool:
    """True when pos follows '](' (and blanks): an inline link's destination, not a reference definition's."""
    before = string[:pos].rstrip(" \t\n")
    return before.endswith("](")


def _link_closes(string: str, pos: int, maximum: int) -> bool:
    """True when a standard destination ending at pos is followed by ')' or by a title and ')'."""
    start = pos
    while pos < maximum and string[pos] in " \t\n":
        pos += 1
    if pos < maximum and string[pos] == ")":
        return True
    if pos == start:
        return False
    title = _helpers.parseLinkTitle(string, pos, maximum)
    if not title.ok:
        return False
    pos = title.pos
    while pos < maximum and string[pos] in " \t\n":
        pos += 1
    return pos < maximum and string[pos] == ")"


def _closing_paren(string: str, pos: int, maximum: int) -> int | None:
    """Where the ')' that closes a destination starting at pos is (parentheses balanced, one line), or None."""
    level = 0
    while pos < maximum:
        ch = string[pos]
        if ch == "\n":
            return None
        if ch == "\\":
            pos += 2
            continue
        if ch == "(":
            level += 1
        elif ch == ")":
            if level == 0:
                return pos
            level -= 1
        pos += 1
    return None


# '![…](…)' or '[…](…)' in a paragraph's text: Markdown that did not become an image or a link
_LITERAL = re.compile(r"!?\[[^\[\]\x00]*\]\((?:[^()\x00]|\([^()\x00]*\))*\)")


def _mark_literal_links(state) -> None:
    """Core rule: note in each inline token's meta the link and image syntax left as text, with its line in the block.

    Runs before text_join, so that what the author escaped (\\[) is told apart from what failed to parse.
    """
    for token in state.tokens:
        if token.type != "inline" or not token.children:
            continue
        parts = []
        for child in token.children:
            if child.type == "text":
                parts.append(child.content)
            elif child.type in ("softbreak", "hardbreak"):
                parts.append("\n")
            elif child.type == "text_special":
                parts.append("\x00" if child.content in "[]()!" else child.content)
            elif child.type in ("em_open", "em_close", "strong_open", "strong_close", "s_open", "s_close"):
                continue
            else:
                parts.append("\x00" if child.type != "code_inline" else "\x01")
        joined = "".join(parts)
        found = [(match.group().replace("\x01", "…"), joined.count("\n", 0, match.start()))
                 for match in _LITERAL.finditer(joined)]
        if found:
            token.meta["literal"] = found
