"""Every error a user can meet, as exception classes; the CLI turns them into one line."""

from __future__ import annotations

from pathlib import Path


class NyhetsbrevError(Exception):
    """A problem the user can fix: what went wrong, where, and what to do."""

    exit_code = 1

    def __init__(
        self,
        what: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(what)
        self.what = what
        self.path = Path(path) if path is not None else None
        self.line = line
        self.hint = hint

    def where(self) -> str:
        """The 'file:line' part, or '' when the error has no place."""
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}" if self.line else str(self.path)

    def __str__(self) -> str:
        parts = []
        where = self.where()
        if where:
            parts.append(f"{where}: ")
        parts.append(self.what.rstrip("."))
        if self.hint:
            hint = self.hint.rstrip(".")
            parts.append(f". {hint[:1].upper()}{hint[1:]}")
        return "".join(parts).replace("\n", " ")


class ProjectNotFound(NyhetsbrevError):
    """No nyhetsbrev.toml at or above the working directory."""


class ConfigError(NyhetsbrevError):
    """nyhetsbrev.toml, roster.toml or issue.toml is broken or invalid."""


class IssueIdError(NyhetsbrevError):
    """An issue id that is not YY:N."""


class IssueNotFound(NyhetsbrevError):
    """The issue folder does not exist."""


class IssueFolderError(NyhetsbrevError):
    """An issue folder is not named YY-N (26-006), or two folders name one issue (26-1 and 26-01)."""


class ContentError(NyhetsbrevError):
    """A section file is broken (front matter, Markdown, images)."""


class TemplateError(NyhetsbrevError):
    """A Jinja2/MJML template is broken."""


class CheckFailed(NyhetsbrevError):
    """Preflight found errors (not only warnings)."""


class ProjectExists(NyhetsbrevError):
    """init or new would overwrite something that already exists."""


class StoreError(NyhetsbrevError):
    """The recipients database cannot be used as asked."""


class RecipientFileError(NyhetsbrevError):
    """A recipients file (CSV/XLSX) cannot be read."""


class NoEmailColumn(RecipientFileError):
    """A recipients file whose first rows name no e-mail column."""


class UnknownList(StoreError):
    """A list name that does not exist where one must."""


class SendError(NyhetsbrevError):
    """A send cannot start or go on."""


class SendLocked(SendError):
    """Another send of the same issue is running."""


class SendPaused(SendError):
    """A run of identical policy rejections paused the send."""


class SmtpConfigError(SendError):
    """SMTP settings are missing or unsafe."""


class TransportError(SendError):
    """The SMTP server could not be used (connection, TLS, auth)."""


class SignInRequired(TransportError):
    """The Microsoft 365 sign-in is missing, expired or revoked: only 'nyhetsbrev login' helps."""


class SignInError(NyhetsbrevError):
    """The Microsoft 365 sign-in could not be made or renewed (refused, timed out, service unreachable)."""


class HeaderInjection(SendError):
    """A value bound for a mail header holds CR, LF, NUL or an encoded word."""


class PreviewError(NyhetsbrevError):
    """The preview server cannot start."""


class TokenError(NyhetsbrevError):
    """An unsubscribe token that is malformed or was not made with this newsletter's key."""


class SmtpUnavailable(TransportError):
    """The SMTP server cannot be reached right now (refused, timed out, dropped); trying again may help."""


class NoRecipientsYet(StoreError):
    """A command that only reads found no recipients database (nothing has been imported or added)."""


class ServeError(NyhetsbrevError):
    """The one-click unsubscribe service cannot start."""


class InboxError(NyhetsbrevError):
    """What came back cannot be read: the mailbox settings, the IMAP server, or a --from file."""


class MailboxUnavailable(InboxError):
    """The IMAP server cannot be reached or dropped the connection; running again continues safely."""


class SendInterrupted(KeyboardInterrupt):
    """Ctrl-C or kill stopped a send between two messages: how far it came, so the user can continue."""

    def __init__(self, issue: str, sent_now: int, sent_total: int, left: int) -> None:
        super().__init__(f"{issue}: {sent_now} sent in this run, {sent_total} in all, {left} left")
        self.issue, self.sent_now, self.sent_total, self.left = issue, sent_now, sent_total, left


class ImageError(ContentError):
    """An image of the issue cannot be made fit for email (SVG, unreadable, too large)."""


class DnsError(NyhetsbrevError):
    """The DNS cannot be asked (NYHETSBREV_DNS malformed, no resolver) or did not answer."""


class PublishError(NyhetsbrevError):
    """publish cannot write its site where asked (an output folder among the sources, a symbolic link in it)."""
