"""Markdown to email-safe HTML and to plain text (pure: text in, text out)."""

from __future__ import annotations

import re
import textwrap
import weakref
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable, Mapping

from markdown_it import MarkdownIt
from markdown_it.token import Token

from . import link_syntax
from ..project.models import EmailImage, Section

TEXT_WIDTH = 72


@dataclass
class Findings:
    """What a Markdown body refers to, with line numbers relative to the body."""

    images: list[tuple[str, str, int]] = field(default_factory=list)  # (src, alt, line)
    links: list[tuple[str, int]] = field(default_factory=list)  # (href, line)
    raw_html: list[tuple[str, int]] = field(default_factory=list)  # (the HTML, line): shown as text
    open_comments: list[int] = field(default_factory=list)  # lines of '<!--' never closed
    literal: list[tuple[str, int]] = field(default_factory=list)  # ('![…](…)' left as text, line): readers see the syntax

    def local_images(self) -> list[tuple[str, str, int]]:
        """The images that are files beside the issue (not http:, data:, cid: …)."""
        return [image for image in self.images if is_local(image[0])]


def is_local(src: str) -> bool:
    """True for a relative path such as images/x.png; False for anything with a scheme."""
    return not re.match(r"^[a-z][a-z0-9+.-]*:", src, re.I)


def _parser(html: bool) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": html, "typographer": False})
    md.enable(["table", "strikethrough"])
    link_syntax.configure(md)
    return md


_MD = _parser(html=True)  # raw HTML is recognised so that comments can be dropped; the rest becomes text again
_AS_TEXT = _parser(html=False)  # how raw HTML outside comments is read: as Markdown text, escaped when rendered
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)


def parse(body: str, notes: "Findings | None" = None) -> list[Token]:
    """Markdown tokens of a body, HTML comments (the author's notes) removed and other raw HTML made text.

    notes, when given, collects the raw HTML and the comments left open, with their lines.
    """
    return _without_html(_MD.parse(body), notes)


def _without_html(tokens: list[Token], notes: "Findings | None", offset: int = 0) -> list[Token]:
    result: list[Token] = []
    for token in tokens:
        line = offset + (token.map[0] + 1 if token.map else 0)
        if token.type == "html_block":
            if notes is not None and re.search(r"<!--(?!.*?-->)", token.content, re.S):
                notes.open_comments.append(line)
            rest = _COMMENT.sub("", token.content)
            if not rest.strip():
                continue
            if notes is not None and rest.strip().startswith("<"):
                notes.raw_html.append((rest.strip().splitlines()[0], line))
            result.extend(_without_html(_AS_TEXT.parse(rest), notes, line - 1))  # shown as text, as written
            continue
        if token.map:
            token.map = [token.map[0] + offset, token.map[1] + offset]
        if token.children:
            token.children = _inline_without_html(token.children, notes, line)
        result.append(token)
    return result


def _inline_without_html(children: list[Token], notes: "Findings | None", line: int) -> list[Token]:
    kept: list[Token] = []
    for child in children:
        if kept and kept[-1].type == "text" and kept[-1].meta.get("before_comment") and child.type == "text":
            child.content = child.content.lstrip(" ") if kept[-1].content.endswith(" ") else child.content
        if child.type == "html_inline":
            if child.content.startswith("<!--"):
                if kept and kept[-1].type == "text":
                    kept[-1].meta["before_comment"] = True  # 'a <!-- x --> b' reads 'a b', not 'a  b'
                continue
            if notes is not None:
                notes.raw_html.append((child.content, line))
            child = Token("text", "", 0, content=child.content)
        elif child.type == "text" and "<!--" in child.content:
            if notes is not None and re.search(r"<!--(?!.*?-->)", child.content, re.S):
                notes.open_comments.append(line)
        kept.append(child)
    return kept


def to_html(body: str, images: Mapping[str, EmailImage] | None = None, column: int = 600) -> str:
    """Markdown rendered as HTML (raw HTML in the source is escaped, not passed on).

    Images found in `images` (by their src as written) point at the image fit for email, with the
    width and height they show at in a column of `column` pixels.
    """
    return Part(None, parse(body)).html(images, column)


def _render_image(self, tokens: list[Token], idx: int, options, env) -> str:
    """An image pointed at its copy fit for email, with width, height and a style that lets phones scale it.

    The tokens belong to a shared parse, so the image token is copied, never changed.
    """
    token = tokens[idx]
    image = (env.get("images") or {}).get(str(token.attrGet("src") or ""))
    if image is None:
        return self.image(tokens, idx, options, env)
    token = token.copy(attrs=dict(token.attrs))
    width, height = image.displayed(env["column"])
    token.attrSet("src", image.href)
    token.attrSet("width", str(width))  # Outlook sizes images by these, not by CSS
    token.attrSet("height", str(height))
    token.attrSet("style", f"width:100%;max-width:{width}px;height:auto")
    return self.image([token], 0, options, env)


_MD.add_render_rule("image", _render_image)


class Part:
    """A stretch of a parsed body (a timeline's lead-in or one step) and its renderings, each made once."""

    def __init__(self, title: str | None, tokens: list[Token]) -> None:
        self.title = title
        self.tokens = tokens
        self._html: dict[tuple, str] = {}

    def html(self, images: Mapping[str, EmailImage] | None = None, column: int = 600) -> str:
        """The part as HTML, its images (by src as written) placed for a column of `column` pixels."""
        placed = tuple(sorted((src, image.href, image.displayed(column)) for src, image in (images or {}).items()))
        key = (column, placed)
        if key not in self._html:
            self._html[key] = _MD.renderer.render(self.tokens, _MD.options, {"images": images, "column": column})
        return self._html[key]

    @cached_property
    def text(self) -> str:
        """The part as wrapped plain text."""
        return _TextRenderer(TEXT_WIDTH).render(self.tokens)


class Document:
    """A section's Markdown, parsed once; rendering, checks and the image step all read this one parse.

    Treat `tokens` as read-only: every reader of the section shares them.
    """

    def __init__(self, body: str, timeline: bool = False) -> None:
        self._notes = Findings()
        self.tokens = parse(body, self._notes)
        self.lead, self.steps = _split_steps(self.tokens) if timeline else (Part(None, self.tokens), [])

    @cached_property
    def findings(self) -> Findings:
        """Images, links, raw HTML and unclosed comments of the whole body, with their lines."""
        return _findings(self.tokens, self._notes)


_DOCUMENTS: "weakref.WeakKeyDictionary[Section, Document]" = weakref.WeakKeyDictionary()


def document(section: Section) -> Document:
    """The section's Markdown parsed on first use, then shared for as long as the section is in use."""
    found = _DOCUMENTS.get(section)
    if found is None:
        found = _DOCUMENTS[section] = Document(section.body, timeline=section.layout == "timeline")
    return found


def _findings(tokens: list[Token], notes: Findings) -> Findings:
    found = Findings(raw_html=list(notes.raw_html), open_comments=list(notes.open_comments))
    for token in tokens:
        line = token.map[0] + 1 if token.map else 0
        if token.type == "inline":
            breaks = 0  # each line break in a paragraph moves what follows one line down
            for child in token.children or []:
                if child.type in ("softbreak", "hardbreak"):
                    breaks += 1
                elif child.type == "image":
                    found.images.append((str(child.attrGet("src") or ""), child.content, line and line + breaks))
                elif child.type == "link_open":
                    found.links.append((str(child.attrGet("href") or ""), line and line + breaks))
            found.literal.extend((text, line and line + down) for text, down in token.meta.get("literal", ()))
    return found


def _split_steps(tokens: list[Token]) -> tuple[Part, list[Part]]:
    """A timeline split at its top-level ### headings: the lead-in and one part per step, titled by its heading."""
    starts = [i for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h3" and t.level == 0]
    if not starts:
        return Part(None, tokens), []
    steps = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(tokens)
        steps.append(Part(tokens[start + 1].content.strip(), tokens[start + 3:end]))
    return Part(None, tokens[:starts[0]]), steps


def to_text(body: str, width: int = TEXT_WIDTH) -> str:
    """Markdown rendered as readable plain text for the text/plain part."""
    return _TextRenderer(width).render(parse(body))


class _TextRenderer:
    """Walks markdown-it block tokens and writes wrapped plain text."""

    def __init__(self, width: int) -> None:
        self.width = width

    def render(self, tokens: list[Token]) -> str:
        blocks: list[str] = []
        list_stack: list[list[int]] = []  # per open list: [ordered?, counter]
        prefix_quote = 0
        pending_item = False
        last_was_tight_item = False
        i = 0
        while i < len(tokens):
            token = tokens[i]
            kind = token.type
            if kind == "heading_open":
                text = self.inline(tokens[i + 1].children or [])
                underline = "=" if token.tag in ("h1", "h2") else "-"
                blocks.append(f"{text}\n{underline * min(len(text), self.width)}")
                i += 3
                continue
            if kind in ("bullet_list_open", "ordered_list_open"):
                list_stack.append([kind == "ordered_list_open", int(token.attrGet("start") or 1)])
            elif kind in ("bullet_list_close", "ordered_list_close"):
                list_stack.pop()
                last_was_tight_item = False
            elif kind == "list_item_open":
                pending_item = True
            elif kind == "blockquote_open":
                prefix_quote += 1
            elif kind == "blockquote_close":
                prefix_quote -= 1
            elif kind == "hr":
                blocks.append("-" * 20)
            elif kind in ("fence", "code_block"):
                blocks.append(token.content.rstrip("\n"))
            elif kind == "table_open":
                close = next(j for j in range(i, len(tokens)) if tokens[j].type == "table_close")
                blocks.append(self.table(tokens[i:close]))
                i = close + 1
                continue
            elif kind == "inline":
                text = self.inline(token.children or [])
                quote = "> " * prefix_quote
                if list_stack and pending_item:
                    ordered, counter = list_stack[-1]
                    bullet = f"{counter}. " if ordered else "- "
                    list_stack[-1][1] += 1
                    indent = "  " * (len(list_stack) - 1)
                    item = self.wrap(text, quote + indent + bullet, quote + indent + " " * len(bullet))
                    if tokens[i - 1].hidden and last_was_tight_item:
                        blocks[-1] += "\n" + item  # a tight list keeps its items on consecutive lines
                    else:
                        blocks.append(item)
                    last_was_tight_item = tokens[i - 1].hidden
                    pending_item = False
                    i += 1
                    continue
                elif list_stack:
                    indent = "  " * len(list_stack)
                    blocks.append(self.wrap(text, quote + indent, quote + indent))
                else:
                    blocks.append(self.wrap(text, quote, quote))
            i += 1
        return "\n\n".join(b for b in blocks if b.strip()) + "\n"

    def wrap(self, text: str, first: str, rest: str) -> str:
        out = []
        for n, line in enumerate(text.split("\n")):
            wrapped = textwrap.wrap(
                line, self.width, initial_indent=first if n == 0 else rest, subsequent_indent=rest,
                break_long_words=False, break_on_hyphens=False,
            )
            out.extend(wrapped or [rest.rstrip()])
        return "\n".join(out)

    def inline(self, children: Iterable[Token]) -> str:
        parts: list[str] = []
        href_stack: list[str] = []
        text_start: list[int] = []
        for child in children:
            kind = child.type
            if kind in ("text", "code_inline"):
                parts.append(child.content)
            elif kind == "softbreak":
                parts.append(" ")
            elif kind == "hardbreak":
                parts.append("\n")
            elif kind == "image":
                parts.append(f"[{child.content}]" if child.content else "")
            elif kind == "link_open":
                href_stack.append(str(child.attrGet("href") or ""))
                text_start.append(len(parts))
            elif kind == "link_close":
                href = href_stack.pop()
                label = "".join(parts[text_start.pop():])
                target = href[7:] if href.startswith("mailto:") else href
                if target and target != label:
                    parts.append(f" <{target}>")
        return "".join(parts).strip()

    def table(self, tokens: list[Token]) -> str:
        rows: list[list[str]] = []
        for token in tokens:
            if token.type == "tr_open":
                rows.append([])
            elif token.type == "inline" and rows:
                rows[-1].append(self.inline(token.children or []))
        return "\n".join(" | ".join(cells) for cells in rows)
