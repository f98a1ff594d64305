"""The versions of an issue a send makes: one rendering per audience, each encoded once, with a fingerprint."""

from __future__ import annotations

import hashlib

from . import message
from .message_ids import MessageIds
from ..i18n import _
from ..project.models import Issue, Project
from ..publish import pipeline
from ..render.issue import audience_names, version_key
from ..store.tokens import make_token


class Renderer:
    """Renders the issue once per audience and encodes each rendering's message once."""

    def __init__(self, project: Project, issue: Issue, full, *, test: bool = False, key: bytes | None = None) -> None:
        self.project, self.issue, self.test, self.key = project, issue, test, key
        self.audience_names = audience_names(issue)
        self._rendered = {None: full}
        self._templates: dict = {}
        self._fingerprints: dict = {}

    def audience(self, lists) -> frozenset[str] | None:
        """The part of a person's lists that decides which sections they get."""
        return frozenset(set(lists) & self.audience_names) if self.audience_names else None

    def template(self, audience: frozenset[str] | None) -> message.MessageTemplate:
        """The message of one audience version (rendered and encoded the first time it is asked for)."""
        if audience not in self._templates:
            if audience not in self._rendered:
                self._rendered[audience] = pipeline.render(self.project, self.issue, audience)
            self._templates[audience] = message.build_template(
                self.project.settings, self.issue, self._rendered[audience], test=self.test, key=self.key
            )
        return self._templates[audience]

    def version(self, lists) -> tuple[str, str]:
        """(version key, fingerprint) of what a person on these lists gets: the same content gives the same pair."""
        audience = self.audience(lists)
        if audience not in self._fingerprints:
            self.template(audience)
            rendered = self._rendered[audience]
            digest = hashlib.sha256()
            for part in (message.subject_line(self.project.settings, self.issue), rendered.email_text, rendered.email_html):
                digest.update(part.encode("utf-8") + b"\0")
            for image in rendered.images:
                digest.update(image.data)
            self._fingerprints[audience] = (version_key(audience), digest.hexdigest()[:16])
        return self._fingerprints[audience]

    def made(self, lists) -> tuple[str, str] | None:
        """version(lists) when that version is made already, else None (nothing is rendered)."""
        return self._fingerprints.get(self.audience(lists))

    def sizes(self, key: bytes, ids: MessageIds) -> list[tuple[str, int]]:
        """The size of one message of each version built so far, as sent (for a typical recipient)."""
        sample = "mottagare.exempel@example.org"
        return [
            (version_name(audience), len(template.personalise(sample, None, message_id=ids(), token=make_token(key, sample))[1]))
            for audience, template in sorted(self._templates.items(), key=lambda item: sorted(item[0] or ["~"]))
        ]


def version_name(audience: frozenset[str] | None) -> str:
    """What a version holds, in words: every section, the sections for some lists, or those for everyone only."""
    if audience is None:
        return _("every section")
    return _("sections for {lists}").format(lists=", ".join(sorted(audience))) if audience else _("sections for everyone only")
