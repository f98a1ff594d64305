"""Tests of the interface language: a Swedish environment and a detector of English sentences."""

from __future__ import annotations

import re

import pytest

# Common English words that plain Swedish output never holds (none is also a Swedish word or a name
# nyhetsbrev shows: "in", "is", "by", "for", "to", "a", "an", "man", "argument" and "person" are left out on purpose).
ENGLISH_WORDS = frozenset("""
the and or not with without was were has have had this that these those which what when where who
will would should could can cannot must may been being are from into onto than then there their
they you your yours please use run show shows open found missing error errors warning warnings
send sending failed pending deferred unknown skipped imported updated unchanged added removed
list lists issue issues people recipient recipients nothing left continue stopped built
build building preview usage options option arguments commands command help message
exit value values invalid required default folder file files line row rows reason reasons read
write written does doesn't don't isn't no yes of on at its
""".split())
# Words that are the same in code, names and Swedish text (file names, commands, settings keys).
_CODE = re.compile(r"(--?[a-z][\w-]*|[\w.-]+@[\w.-]+|[\w/-]+\.(?:toml|html|txt|csv|xlsx|xml|db|eml|mbox)"
                   r"|https?://\S+|'[^']*'|\"[^\"]*\"|\[[a-z_]+\]|\b[a-z]+_[a-z_]+\b|nyhetsbrev (?:recipients )?\w+"
                   r"|[\w.-]*/[\w./<>-]*|\b[A-Z]\w*(?:-[A-Z]\w*)+\b)")  # the last: header names, Message-ID


def english_words(text: str) -> list[str]:
    """The common English words in text, outside commands, options, addresses, file names and quotes."""
    plain = _CODE.sub(" ", text)
    return [w for w in re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", plain) if w.lower() in ENGLISH_WORDS]


# The commands are named as they are typed, in any language (the list of commands in --help).
COMMAND_NAMES = ("build", "check", "init", "new", "inbox", "login", "preview", "publish", "lists", "send", "status",
                 "serve", "recipients", "doctor", "import", "add", "list", "remove", "unsubscribe", "forget", "export")
_COMMAND_ROW = re.compile(r"^  ([a-z]+)( {2,}|$)", re.M)


def assert_swedish(text: str, allowed: tuple[str, ...] = ()) -> None:
    """Fail when text holds an English word (beyond `allowed`, the few that are names here)."""
    text = _COMMAND_ROW.sub(lambda m: "  " + ("" if m.group(1) in COMMAND_NAMES else m.group(1)) + m.group(2), text)
    found = [w for w in english_words(text) if w.lower() not in {a.lower() for a in allowed}]
    assert not found, f"English words {sorted(set(found))} in:\n{text}"


@pytest.fixture
def swedish(monkeypatch):
    """Nothing chooses a language: no NYHETSBREV_LANGUAGE, no LANG or LC_*, so the interface is Swedish."""
    from nyhetsbrev import i18n

    for name in ("NYHETSBREV_LANGUAGE", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    i18n.reset()
    yield
    i18n.reset()
