"""The pages of the unsubscribe service, in the newsletter's language: the question, the confirmation, the errors."""

from __future__ import annotations

import html
from dataclasses import dataclass
from email.utils import parseaddr

from ...project.models import Settings

# The same look as the email: its blue, its text colour, a plain system font; no scripts, no outside resources.
_PAGE = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{title}</title>
<style>
body {{ font: 17px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2933;
  background: #eef2f5; margin: 0; padding: 32px 16px; }}
main {{ background: #ffffff; max-width: 34em; margin: 0 auto; padding: 24px 28px 28px; border-top: 6px solid #0b5c7d; }}
.name {{ font-size: 15px; color: #3e4c59; margin: 0 0 12px; }}
h1 {{ font-size: 24px; line-height: 1.3; color: #0b3b52; margin: 0 0 16px; }}
a {{ color: #0b5c7d; }}
button {{ font: inherit; font-weight: 600; color: #ffffff; background: #0b5c7d; border: 0; border-radius: 4px;
  padding: 12px 22px; margin: 8px 0 16px; cursor: pointer; min-height: 44px; }}
button:hover {{ background: #0b3b52; }}
button:focus-visible {{ outline: 3px solid #0b3b52; outline-offset: 3px; }}
.quiet {{ color: #3e4c59; font-size: 15px; }}
</style>
</head>
<body>
<main>
<p class="name">{name}</p>
<h1>{heading}</h1>
{body}
</main>
</body>
</html>
"""

_TEXTS = {
    "sv": {
        "ask_title": "Avregistrera dig från {name}",
        "ask_heading": "Vill du avregistrera dig från {name}?",
        "ask_text": "Klickar du på knappen får den e-postadress som länken skickades till inga fler utskick av "
                    "nyhetsbrevet.",
        "ask_button": "Ja, avregistrera mig",
        "ask_stay": "Vill du fortsätta att få nyhetsbrevet behöver du inte göra något.",
        "done_title": "Du är avregistrerad",
        "done_heading": "Du är avregistrerad",
        "done_text": "Den e-postadress som länken skickades till får inga fler utskick av {name}.",
        "done_regret": "Ångrar du dig? Skriv till {contact} så lägger vi till dig igen.",
        "bad_title": "Länken fungerar inte",
        "bad_heading": "Länken fungerar inte",
        "bad_text": "Avregistreringslänken är inte giltig. Kanske kom inte hela länken med när den kopierades.",
        "bad_help": "Öppna länken direkt från nyhetsbrevet, eller skriv till {contact} så avregistrerar vi dig.",
        "missing_title": "Sidan finns inte",
        "missing_text": "Här finns ingen sida. För att avregistrera dig, använd länken längst ned i nyhetsbrevet.",
        "method_title": "Det går inte att göra så här",
        "method_text": "Sidan kan bara visas eller skickas från knappen i den. Använd länken i nyhetsbrevet.",
        "large_title": "För mycket data",
        "large_text": "Förfrågan var för stor. Använd knappen på sidan som länken i nyhetsbrevet öppnar.",
        "busy_title": "Försök igen om en liten stund",
        "busy_text": "Det gick inte att spara avregistreringen just nu. Försök igen om en minut, "
                     "eller skriv till {contact}.",
        "error_title": "Något gick fel",
        "error_text": "Något gick fel hos oss. Försök igen senare, eller skriv till {contact}.",
    },
    "en": {
        "ask_title": "Unsubscribe from {name}",
        "ask_heading": "Do you want to unsubscribe from {name}?",
        "ask_text": "If you press the button, the email address this link was sent to will get no more issues of the "
                    "newsletter.",
        "ask_button": "Yes, unsubscribe me",
        "ask_stay": "If you want to keep getting the newsletter, you need not do anything.",
        "done_title": "You are unsubscribed",
        "done_heading": "You are unsubscribed",
        "done_text": "The email address this link was sent to will get no more issues of {name}.",
        "done_regret": "Changed your mind? Write to {contact} and we will add you again.",
        "bad_title": "The link does not work",
        "bad_heading": "The link does not work",
        "bad_text": "This unsubscribe link is not valid. Perhaps not all of it was copied.",
        "bad_help": "Open the link straight from the newsletter, or write to {contact} and we will unsubscribe you.",
        "missing_title": "No such page",
        "missing_text": "There is no page here. To unsubscribe, use the link at the bottom of the newsletter.",
        "method_title": "This cannot be done here",
        "method_text": "This page can only be shown, or sent from its own button. Use the link in the newsletter.",
        "large_title": "Too much data",
        "large_text": "The request was too large. Use the button on the page that the newsletter's link opens.",
        "busy_title": "Please try again shortly",
        "busy_text": "The unsubscribe could not be saved just now. Please try again in a minute, or write to {contact}.",
        "error_title": "Something went wrong",
        "error_text": "Something went wrong on our side. Please try again later, or write to {contact}.",
    },
}


@dataclass(frozen=True)
class Page:
    """A finished response: HTTP status and the page's bytes."""

    status: int
    body: bytes


class Pages:
    """Makes every page of the service from the settings (name, language, the team's address)."""

    def __init__(self, settings: Settings) -> None:
        self.language = settings.language if settings.language in _TEXTS else "en"
        self.texts = _TEXTS[self.language]
        self.name = settings.name
        self.contact = contact_address(settings)

    def ask(self, token: str) -> Page:
        """The question and its button (GET): a form that posts back to the same link.

        The page never shows the token's address: whoever holds a link (a forwarded newsletter, a scanner, a
        proxy's log) must not learn from it whose it is.
        """
        form = (f'<form method="post" action="?token={html.escape(token, quote=True)}">\n'
                '<input type="hidden" name="confirm" value="yes">\n'
                f'<button type="submit">{html.escape(self.texts["ask_button"])}</button>\n</form>')
        return self._ask(form)

    def example(self, url: str) -> Page:
        """The question page for the preview: an example address, a note on where it lives, a button that does nothing."""
        note = (f'<p class="quiet"><strong>Preview.</strong> In the email as sent, this link is personal: it opens '
                f"this page at {html.escape(url)} (run by <code>nyhetsbrev serve</code>), where the button "
                "unsubscribes the reader. Here it does nothing.</p>\n")
        button = f'<p><button type="button">{html.escape(self.texts["ask_button"])}</button></p>'
        return self._ask(button, note)

    def _ask(self, form: str, note: str = "") -> Page:
        t = self.texts
        body = (
            f"{note}<p>{_fill(t['ask_text'])}</p>\n{form}\n"
            f'<p class="quiet">{html.escape(t["ask_stay"])}</p>'
        )
        return self._page(200, t["ask_title"].format(name=self.name), t["ask_heading"].format(name=self.name), body)

    def done(self) -> Page:
        """The confirmation after a POST (the same whether or not the person was unsubscribed before, and for
        everyone: it does not show the address)."""
        t = self.texts
        body = (
            f"<p>{_fill(t['done_text'], name=html.escape(self.name))}</p>\n"
            f"<p>{_fill(t['done_regret'], contact=self._contact_link())}</p>"
        )
        return self._page(200, t["done_title"], t["done_heading"], body)

    def invalid(self) -> Page:
        """A token that does not verify (400): what happened and how to reach the team."""
        t = self.texts
        body = (
            f"<p>{html.escape(t['bad_text'])}</p>\n"
            f"<p>{_fill(t['bad_help'], contact=self._contact_link())}</p>"
        )
        return self._page(400, t["bad_title"], t["bad_heading"], body)

    def not_found(self) -> Page:
        """404 for every path but the unsubscribe address."""
        return self._simple(404, "missing")

    def method_not_allowed(self) -> Page:
        """405 for methods other than GET, HEAD and POST."""
        return self._simple(405, "method")

    def too_large(self) -> Page:
        """413 for request bodies over the limit."""
        return self._simple(413, "large")

    def busy(self) -> Page:
        """503 when the database could not take the unsubscribe in time."""
        return self._simple(503, "busy")

    def error(self) -> Page:
        """500 when something unexpected went wrong."""
        return self._simple(500, "error")

    def _simple(self, status: int, key: str) -> Page:
        t = self.texts
        text = _fill(t[f"{key}_text"], contact=self._contact_link())
        return self._page(status, t[f"{key}_title"], t[f"{key}_title"], f"<p>{text}</p>")

    def _contact_link(self) -> str:
        if not self.contact:
            return html.escape(self.name)
        quoted = html.escape(self.contact, quote=True)
        return f'<a href="mailto:{quoted}">{quoted}</a>'

    def _page(self, status: int, title: str, heading: str, body: str) -> Page:
        text = _PAGE.format(
            lang=self.language, title=html.escape(title), name=html.escape(self.name),
            heading=html.escape(heading), body=body,
        )
        return Page(status, text.encode("utf-8"))


def contact_address(settings: Settings) -> str | None:
    """The team's address for questions: reply_to, else the sender's address."""
    for value in (settings.reply_to, settings.sender):
        address = parseaddr(value or "")[1]
        if "@" in address:
            return address
    return None


def _fill(template: str, **parts: str) -> str:
    """The template escaped, with the already-safe HTML parts put in."""
    escaped = html.escape(template, quote=False)
    return escaped.format(**parts) if parts else escaped
