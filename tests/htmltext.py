"""Visible text of an HTML document, for tests that compare words."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_HIDDEN = re.compile(r"display\s*:\s*none", re.I)
_INLINE = {"a", "strong", "em", "b", "i", "span", "u", "code", "small", "sup", "sub", "del", "s"}
_VOID = {"br", "img", "meta", "link", "hr", "input", "col", "area", "base", "wbr", "source"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[bool] = []  # per open element: hidden?

    def handle_starttag(self, tag, attrs):
        if tag in _VOID:
            if tag == "br":
                self.parts.append(" ")
            return
        hidden = tag in ("style", "script", "head", "title") or bool(_HIDDEN.search(dict(attrs).get("style") or ""))
        self.stack.append(hidden or (bool(self.stack) and self.stack[-1]))

    def handle_endtag(self, tag):
        if tag not in _VOID and self.stack:
            self.stack.pop()
        if tag not in _INLINE:
            self.parts.append(" ")

    def handle_data(self, data):
        if not (self.stack and self.stack[-1]):
            self.parts.append(data)


def visible_text(html: str) -> str:
    """The text a reader sees, whitespace folded (hidden preheader, head and styles left out)."""
    parser = _Text()
    parser.feed(html)
    return normalise("".join(parser.parts))


def normalise(text: str) -> str:
    """Whitespace (incl. NBSP) folded to single spaces."""
    return re.sub(r"[\s\u00a0]+", " ", text).strip()
