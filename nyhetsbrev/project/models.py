"""Plain data: issue ids, settings, roster, sections and build results."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import IssueIdError
from ..i18n import _

# Tokens that build leaves in the email and sending fills per recipient.
# They survive Jinja2 (rendered as text), MJML and the CSS inliner unchanged.
UNSUBSCRIBE_PLACEHOLDER = "{{unsubscribe_url}}"
WEB_PLACEHOLDER = "{{web_url}}"
# The line 'nyhetsbrev new' writes where the author's text goes; check refuses an issue that still has it.
TEXT_PLACEHOLDER = "Skriv texten här."

_ID_RE = re.compile(r"^(?:20)?(\d{2})[:\-](\d{1,3})$")


@dataclass(frozen=True, order=True)
class IssueId:
    """An issue number such as 22:1: two-digit year and a number from 1."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> "IssueId":
        """Parse 'YY:N', 'YY-N' or '20YY:N'; refuse anything else."""
        raw = (text or "").strip()
        match = _ID_RE.match(raw)
        if not match:
            raise IssueIdError(
                _("'{text}' is not an issue id").format(text=text),
                hint=_("write it as YY:N, for example 22:1 (22-1 and 2022:1 work too)"),
            )
        year, number = int(match.group(1)), int(match.group(2))
        if number < 1:
            raise IssueIdError(
                _("'{text}' is not an issue id: numbers start at 1").format(text=text),
                hint=_("write it as YY:N, for example 22:1"),
            )
        return cls(year, number)

    @classmethod
    def from_folder(cls, name: str) -> "IssueId | None":
        """The id of an issue folder name like '22-1', or None."""
        match = re.fullmatch(r"(\d{2})-(\d{1,3})", name)
        if not match or int(match.group(2)) < 1:
            return None
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def folder(self) -> str:
        """The folder name: '22-1'."""
        return f"{self.year:02d}-{self.number}"

    def __str__(self) -> str:
        return f"{self.year:02d}:{self.number}"


@dataclass(frozen=True)
class Rate:
    """A sending rate as the user wrote it ("30/min") and in messages per second."""

    text: str
    per_second: float


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send; the password is never held here."""

    host: str | None = None
    port: int = 587
    security: str = "starttls"
    username: str | None = None
    timeout: float = 30.0
    auth: str = "password"  # or "oauth2" (Microsoft 365: tenant and client_id say which app registration)
    tenant: str | None = None
    client_id: str | None = None
    rate: Rate | None = None
    daily_limit: int | None = None  # messages in any 24 hours
    limits_from: str | None = None  # why rate/daily_limit hold when the settings name none, e.g. "Microsoft 365"
    dkim_selectors: tuple[str, ...] = ()  # the selectors the relay signs with (doctor looks up their keys)
    dkim_domain: str | None = None  # the domain the relay signs as (d=), when it is not the From domain


@dataclass(frozen=True)
class ImapSettings:
    """Where the mailbox that unsubscribes and bounces reach is read (the password is never held here)."""

    host: str | None = None
    port: int = 993
    security: str = "tls"  # or "starttls"; never plain text
    username: str | None = None
    auth: str = "password"  # or "oauth2" (Microsoft 365: tenant and client_id say which app registration)
    tenant: str | None = None
    client_id: str | None = None
    folder: str = "INBOX"
    processed_folder: str = "Behandlat"
    timeout: float = 30.0


DIGG_REPORT_URL = "https://www.digg.se/tdosanmalan"  # the supervisory authority's form (lag 2018:1937)
ACCESSIBILITY_STATUSES = ("full", "partial", "not")


@dataclass(frozen=True)
class AccessibilitySettings:
    """[accessibility] of nyhetsbrev.toml: what the archive's accessibility statement says."""

    organisation: str | None = None
    contact: str | None = None  # an email address or an https:// address where problems are reported
    status: str | None = None  # full, partial or not (compliance with WCAG 2.1 AA)
    shortcomings: tuple[str, ...] = ()
    reviewed: dt.date | None = None
    supervisory_url: str = DIGG_REPORT_URL

    def missing(self) -> list[str]:
        """The settings the statement needs that are not set."""
        needed = ["organisation", "contact", "status", "reviewed"]
        if self.status in ("partial", "not"):
            needed.append("shortcomings")
        return [name for name in needed if not getattr(self, name)]


@dataclass(frozen=True)
class Settings:
    """nyhetsbrev.toml, validated."""

    name: str
    sender: str
    language: str = "sv"
    reply_to: str | None = None
    subject: str = "{name} {issue}"
    archive_url: str | None = None
    image_base_url: str | None = None
    unsubscribe_email: str | None = None
    unsubscribe_url: str | None = None
    organisation: str | None = None
    list_id: str | None = None
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    imap: ImapSettings = field(default_factory=ImapSettings)
    accessibility: AccessibilitySettings = field(default_factory=AccessibilitySettings)


@dataclass(frozen=True)
class Member:
    """One person or organisation in a roster group."""

    name: str | None = None
    title: str | None = None
    organisation: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Group:
    """A roster heading with its members, in order."""

    heading: str
    members: tuple[Member, ...]


@dataclass(frozen=True)
class Contact:
    """The contact block: a lead-in text and addresses."""

    heading: str
    text: str = ""
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()


@dataclass(frozen=True)
class Roster:
    """The people and organisations behind the work."""

    groups: tuple[Group, ...] = ()
    contact: Contact | None = None
    path: Path | None = None


@dataclass(frozen=True)
class Section:
    """One Markdown file of an issue."""

    path: Path
    body: str
    body_line: int  # line number in the file where the Markdown body starts
    layout: str = "text"
    audience: tuple[str, ...] = ()
    title: str | None = None
    key_lines: tuple[tuple[str, int], ...] = ()  # (front-matter key, its line in the file)

    def line_of(self, key: str) -> int | None:
        """The line of a front-matter key in the file, for messages."""
        return dict(self.key_lines).get(key)


@dataclass(frozen=True)
class Issue:
    """An issue folder, read and validated."""

    id: IssueId
    folder: Path
    subject: str
    date: dt.date | None
    preheader: str
    sections: tuple[Section, ...]
    roster: Roster
    title: str | None = None
    draft: bool = False  # draft = true in issue.toml: left out of the archive


@dataclass(frozen=True)
class Project:
    """A newsletter project on disk."""

    root: Path
    settings: Settings
    roster: Roster

    @property
    def issues_dir(self) -> Path:
        """The folder of all issues."""
        return self.root / "issues"

    @property
    def templates_dir(self) -> Path:
        """The project's own templates (override the built-in ones)."""
        return self.root / "templates"

    @property
    def build_dir(self) -> Path:
        """Where build writes."""
        return self.root / "build"

    def issue_dir(self, issue_id: IssueId) -> Path:
        """The folder of one issue."""
        return self.issues_dir / issue_id.folder


@dataclass(frozen=True)
class Problem:
    """A finding of check/build: an error or a warning, with its place."""

    level: str  # "error" or "warning"
    message: str
    path: Path | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        return f"{where}{self.message}"


@dataclass(frozen=True)
class EmailImage:
    """An image made fit for email from a file of the issue: its bytes, URL-safe name and pixel size."""

    source: Path  # the author's file, never modified
    name: str  # e.g. bild-fran-motet-3f9a1c2b7e.jpg: a slug of the file name and a short hash of the bytes
    data: bytes
    kind: str  # MIME subtype: jpeg, png or gif
    width: int
    height: int
    photo_like: bool = False  # a PNG with the colours of a photo (would be far smaller as JPEG)

    @property
    def href(self) -> str:
        """Where email.html and web.html find it: beside them in images/."""
        return f"images/{self.name}"

    def displayed(self, column: int) -> tuple[int, int]:
        """Width and height at which it shows in a column of that many pixels (never wider than it is)."""
        width = min(self.width, column)
        return width, max(1, round(self.height * width / self.width))


@dataclass(frozen=True)
class Rendered:
    """One rendering of an issue: the email, its text part and the web copy."""

    email_html: str
    email_text: str
    web_html: str | None  # every section, marked with its audience (the preview's web view); None in an audience variant
    subject: str
    preheader: str
    images: tuple[EmailImage, ...] = ()  # the images this rendering shows, made fit for email
    audience: frozenset[str] | None = None  # None: every section
    image_errors: tuple[tuple[Path, str], ...] = ()  # files that could not be made fit for email, and why


@dataclass(frozen=True)
class BuildResult:
    """What build wrote (or check would write) and what it found."""

    issue: Issue
    rendered: Rendered
    problems: tuple[Problem, ...] = ()
    out_dir: Path | None = None

    @property
    def errors(self) -> tuple[Problem, ...]:
        """The findings that stop a build."""
        return tuple(p for p in self.problems if p.level == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """The findings worth a look before sending."""
        return tuple(p for p in self.problems if p.level == "warning")
