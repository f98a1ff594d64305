"""The archive's Atom feed (RFC 4287), written with xml.etree: the full web copy of the newest issues."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..project.models import Settings
from ..render.archive import ArchiveEntry

ATOM = "http://www.w3.org/2005/Atom"
FEED_ENTRIES = 20  # readers see the newest 20 issues, a few years of a newsletter that comes out a few times a year


@dataclass(frozen=True)
class FeedEntry:
    """One issue in the feed with the HTML of its public web copy."""

    entry: ArchiveEntry
    content: str


def timestamp(entry: ArchiveEntry) -> str:
    """The issue's date as an RFC 3339 time; noon UTC is the same calendar day in every European time zone.

    An issue without a date counts as published on 1 January of its year.
    """
    date = entry.date or dt.date(2000 + entry.id.year, 1, 1)
    return f"{date.isoformat()}T12:00:00Z"


def tag_uri(settings: Settings, year: int, specific: str) -> str:
    """A tag: URI (RFC 4151) under the archive's address: tag:host,YYYY:/path/specific.

    Without archive_url the sender's domain names the archive instead, so the feed still has ids
    (they change once archive_url is set, which `check` warns about).
    """
    if settings.archive_url:
        parts = urlsplit(settings.archive_url)
        host, path = (parts.hostname or "").lower(), parts.path.rstrip("/")
    else:
        host, path = settings.sender.rpartition("@")[2].strip(" >").lower(), ""
    return f"tag:{host},{2000 + year}:{path}/{specific}"


def atom_feed(settings: Settings, entries: list[FeedEntry], first_year: int) -> bytes:
    """The feed document: `entries` newest first (at most FEED_ENTRIES are kept); links relative to the site.

    With archive_url, xml:base makes every relative link absolute for feed readers; each entry's
    content has its issue folder as base, so the images of the web copy resolve.
    """
    entries = entries[:FEED_ENTRIES]
    # the Atom namespace as a plain xmlns attribute: ElementTree then writes it as the default namespace
    attributes = {"xmlns": ATOM, "xml:lang": settings.language}
    if settings.archive_url:
        attributes["xml:base"] = settings.archive_url.rstrip("/") + "/"
    feed = ET.Element("feed", attributes)
    _text(feed, "id", tag_uri(settings, first_year, ""))
    _text(feed, "title", settings.name)
    if settings.organisation:
        _text(feed, "subtitle", settings.organisation)
    stamps = [timestamp(item.entry) for item in entries]
    _text(feed, "updated", max(stamps) if stamps else f"{2000 + first_year}-01-01T12:00:00Z")
    author = ET.SubElement(feed, "author")
    _text(author, "name", settings.organisation or settings.name)
    _link(feed, "self", "feed.xml", "application/atom+xml")
    _link(feed, "alternate", "./", "text/html")
    for item, stamp in zip(entries, stamps):
        entry = item.entry
        element = ET.SubElement(feed, "entry")
        _text(element, "id", tag_uri(settings, entry.id.year, entry.id.folder))
        _text(element, "title", entry.subject)
        _text(element, "published", stamp)
        _text(element, "updated", stamp)
        _link(element, "alternate", entry.folder, "text/html")
        if entry.preheader:
            _text(element, "summary", entry.preheader)
        content = _text(element, "content", item.content)
        content.set("type", "html")
        content.set("xml:base", entry.folder)
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def _text(parent: ET.Element, name: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, name)
    element.text = text
    return element


def _link(parent: ET.Element, rel: str, href: str, kind: str) -> None:
    ET.SubElement(parent, "link", {"rel": rel, "href": href, "type": kind})
