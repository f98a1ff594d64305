"""What the writer of a message wrote themselves: the text above any quoted earlier message, in linear time (pure)."""

from __future__ import annotations

import html
import re

OWN_TEXT_LIMIT = 4000  # characters of own text kept; a request is written at the top
HTML_LIMIT = 256 * 1024  # characters of an HTML part looked at

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
_BLOCK_TAGS = frozenset("br p div tr li h1 h2 h3 h4 h5 h6 table ul ol dd dt pre address section article".split())
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
    """Text of HTML in one pass (no backtracking): tags dropped, block tags become line breaks, entities decoded."""
    lower = markup.lower()
    out: list[str] = []
    pos, length = 0, len(markup)
    tag_end = -1  # the next '>' found so far: never searched for twice, so time stays linear
    while pos < length:
        start = markup.find("<", pos)
        if start < 0:
            out.append(markup[pos:])
            break
        out.append(markup[pos:start])
        if lower.startswith("<!--", start):
            end = markup.find("-->", start + 4)
            if end < 0:
                break
            pos = end + 3
            continue
        if tag_end < start:
            tag_end = markup.find(">", start)
        if tag_end < 0:  # no '>' anywhere further: the rest is text
            out.append(markup[start:])
            break
        tag = lower[start + 1:tag_end]
        name = _tag_name(tag)
        pos = tag_end + 1
        if stop_at_quote and (name in _QUOTE_TAGS or (name and any(a in tag for a in _QUOTE_ATTRIBUTES))):
            break
        if name in _SKIPPED and not tag.endswith("/"):
            close = lower.find("</" + name, pos)
            if close < 0:
                break
            pos = close  # its closing tag is read as a tag next
            continue
        if name in _BLOCK_TAGS or name.lstrip("/") in _BLOCK_TAGS:
            out.append("\n")
        elif name:
            out.append(" ")
    text = html.unescape("".join(out))
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


def _tag_name(tag: str) -> str:
    end = 0
    for char in tag[:20]:
        if not (char.isalnum() or char == "/"):
            break
        end += 1
    return tag[:end]
