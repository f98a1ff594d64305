"""What the writer of a message wrote themselves: the text above any quoted earlier message, in linear time (pure)."""

from __future__ import annotations

import html
import re

OWN_TEXT_LIMIT = 4000  # characters of own text kept; a request is written at the top
HTML_LIMIT = 256 * 1024  # characters of an HTML part looked at
OWN_HTML_LIMIT = 16 * 1024  # characters of markup outside head/style/script read for own text (its first lines count)

# Where a quoted or forwarded message starts, in any mail program's style and language. Cutting too early is
# safe (a request is then listed for a person instead of applied); cutting too late is not, so these are eager.
_HEADER_LABEL = re.compile(
    r"^[\s>*]*(from|från|von|lähettäjä|fra|de|van|od|da|mittente|feladó|saatja|kimden|от|sender|afsender|avsender|"
    r"frá|expéditeur|remitente|absender|lähettäjä)[\s*]*:", re.I,
)
_ANY_LABEL = re.compile(r"^[\s*]*[^\W\d_][^:\n]{0,30}:[\s*]", re.U)  # a short "Label:" of any language
_ATTRIBUTION_VERB = re.compile(
    r"\b(wrote|skrev|schrieb|kirjoitti|a\s+écrit|escribió|escreveu|ha\s+scritto|schreef|napisał|napsal|napísal|"
    r"írta|kirjutas|rašė|rakstīja|написал|написала|έγραψε|yazdı|skrifaði|scrisse|ecrit|écrit)\b", re.I,
)
_DATE_OR_ADDRESS = re.compile(r"@|\b(19|20)\d\d\b|\b\d{1,2}[:.]\d\d\b")
_SEPARATOR = re.compile(r"^\s*(-{2,}.*-{2,}|_{5,}|={5,}|\*{5,}|--\s*)$")
_PROGRAM_SEPARATOR = re.compile(
    r"(original message|ursprungligt meddelande|ursprüngliche nachricht|alkuperäinen viesti|opprinnelig melding|"
    r"oprindelig meddelelse|message d'origine|mensaje original|messaggio originale|forwarded message|"
    r"vidarebefordrat meddelande|weitergeleitete nachricht|begin forwarded message|videresendt)", re.I,
)
# HTML elements where mail programs put the quoted message (Outlook, Gmail, Apple Mail, Thunderbird, Yahoo …).
_QUOTE_TAGS = ("blockquote", "hr")
_QUOTE_ATTRIBUTES = (
    "divrplyfwdmsg", "gmail_quote", "gmail_attr", "outlookmessageheader", "appendonsend", "moz-cite-prefix",
    "moz-forward-container", "yahoo_quoted", "protonmail_quote", "zmail_extra", "mail-quote", "originalmessage",
    "border-top:solid", "border-top: solid", 'type="cite"', "x_divrplyfwdmsg", "replyforward", "wordsection1_quote",
)
_SKIPPED = ("script", "style", "head", "title")


def cut_quote(text: str) -> str:
    """The lines above the first sign of a quoted or forwarded message."""
    lines = text.splitlines()
    kept: list[str] = []
    held = 0
    for index, line in enumerate(lines):
        if _starts_quote(line, lines, index):
            break
        kept.append(line)
        held += len(line) + 1
        if held > OWN_TEXT_LIMIT:
            break
    return "\n".join(kept)[:OWN_TEXT_LIMIT]


def _starts_quote(line: str, lines: list[str], index: int) -> bool:
    stripped = line.strip()
    if not stripped:
        return False
    if stripped.startswith(("> ", ">")) or stripped.startswith("|>"):
        return True
    short = stripped[:300]  # every test below looks at the start of a line only: time stays linear
    if _SEPARATOR.match(short) or (short.startswith("-") and _PROGRAM_SEPARATOR.search(short)):
        return True
    if _HEADER_LABEL.match(short):
        return True
    if _labels_follow(lines, index):
        return True
    # An attribution ("Am … schrieb …:", "… kirjoitti:", "Le … a écrit :", "On … wrote:"), perhaps wrapped once.
    # A wrapped one ends on a line of its own that still holds the verb, the address or the date.
    return short.endswith(":") and bool(_ATTRIBUTION_VERB.search(short) or _DATE_OR_ADDRESS.search(short))


def _labels_follow(lines: list[str], index: int) -> bool:
    """Three "Label: value" lines in a row: a header block of a quoted message, whatever its language."""
    window = lines[index:index + 3]
    return len(window) == 3 and all(_ANY_LABEL.match(line[:60]) for line in window)


def own_text_of_html(markup: str) -> str:
    """The text of an HTML part above its quoted message (blockquote, Outlook's and Gmail's quote blocks)."""
    return cut_quote(html_to_text(markup[:HTML_LIMIT], stop_at_quote=True))


def html_to_text(markup: str, *, stop_at_quote: bool = False) -> str:
    """Text of HTML in linear time: tags dropped, block tags become line breaks, entities decoded.

    Only str.find and regular expressions that cannot backtrack past the next '<' or '>' are used, so a body of
    a megabyte of '<' takes as long as one of text.
    """
    lower = markup.lower()
    if len(lower) != len(markup):  # a few letters lower-case to two: positions must match those in markup
        lower = markup.translate(_ASCII_LOWER)
    spans: list[tuple[int, int]] = []
    pos, budget = 0, OWN_HTML_LIMIT if stop_at_quote else len(markup)
    while pos < len(markup) and budget > 0:  # comments and script/style/head/title out, each end searched for once
        comment, skipped = lower.find("<!--", pos), _next_skipped(lower, pos)
        start = min((i for i in (comment, skipped[0]) if i >= 0), default=-1)
        if start < 0:
            spans.append((pos, min(len(markup), pos + budget)))
            break
        spans.append((pos, min(start, pos + budget)))
        budget -= start - pos
        if start == comment:
            end = lower.find("-->", start + 4)
            pos = end + 3 if end >= 0 else len(markup)
        else:
            end = lower.find("</" + skipped[1], start + 1)
            pos = (lower.find(">", end) + 1 or len(markup)) if end >= 0 else len(markup)
    if stop_at_quote and spans:  # only what will be read is searched for a quoted message
        end = _quote_start(lower[:spans[-1][1]])
        spans = [(first, min(last, end)) for first, last in spans if first < end]
    pieces: list[str] = []
    for first, last in spans:
        at = first
        for match in _BLOCK_TAG.finditer(lower, first, last):
            pieces += [markup[at:match.start()], "\n"]
            at = match.end()
        pieces += [markup[at:last], " "]
    text = html.unescape(_ANY_TAG.sub(" ", "".join(pieces)))
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# Matched in the lower-cased copy (re.I would make every failed try slow); possessive: no backtracking at all.
_BLOCK_TAG = re.compile(r"</?(?:br|p|div|tr|li|h[1-6]|table|ul|ol|dd|dt|pre|address|section|article)\b[^<>]*+>")
_ANY_TAG = re.compile(r"<[^<>]*+>")


def _next_skipped(lower: str, pos: int) -> tuple[int, str]:
    found = [(i, name) for name in _SKIPPED if (i := _find_tag(lower, name, pos)) >= 0]
    return min(found) if found else (-1, "")


def _find_tag(lower: str, name: str, pos: int) -> int:
    """Where the element `name` opens at or after pos (not a longer name such as <header> for <head>), or -1.

    The name is searched without its '<' (a body of '<' characters would make every place a candidate).
    """
    while True:
        index = lower.find(name, pos + 1)
        if index < 0:
            return -1
        after = lower[index + len(name):index + len(name) + 1]
        if lower[index - 1] == "<" and (not after or not (after.isalnum() or after in "-_:")):
            return index - 1
        pos = index


def _quote_start(lower: str) -> int:
    """Where the first quoted message begins in lower-cased HTML (the '<' of its element), else its length."""
    found = [i for tag in _QUOTE_TAGS if (i := _find_tag(lower, tag, 0)) >= 0]
    for marker in _QUOTE_ATTRIBUTES:
        index = lower.find(marker)
        if index >= 0:
            found.append(max(lower.rfind("<", 0, index), 0))
    return min(found, default=len(lower))
