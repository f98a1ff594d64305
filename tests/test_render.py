"""Rendering details: Markdown features, plain text, audiences, language, ids."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from nyhetsbrev.render.issue import markdown
from nyhetsbrev.errors import IssueIdError
from nyhetsbrev.project.models import IssueId
from nyhetsbrev.publish.pipeline import load, render
from tests.htmltext import visible_text


@pytest.mark.parametrize("text, expected", [
    ("22:1", IssueId(22, 1)), ("22-1", IssueId(22, 1)), ("2022:1", IssueId(22, 1)), (" 23:12 ", IssueId(23, 12)),
])
def test_issue_ids(text, expected):
    assert IssueId.parse(text) == expected and expected.folder == f"{expected.year}-{expected.number}"


@pytest.mark.parametrize("text", ["22:x", "../x", "22:0", "", "1999:1", "22:1/../../x", "22;1"])
def test_bad_issue_ids(text):
    with pytest.raises(IssueIdError):
        IssueId.parse(text)


def test_markdown_to_text_keeps_structure():
    body = (
        "## Rubrik\n\nEtt stycke med [en länk](https://example.se/a) och *betoning*.  \nNy rad.\n\n"
        "- ett\n- två\n\n1. första\n2. andra\n\n> Citat här\n\n| A | B |\n|---|---|\n| 1 | 2 |\n\n"
        "[kalle@example.se](mailto:kalle@example.se)\n"
    )
    text = markdown.to_text(body)
    assert "Rubrik\n======" in text
    assert "Ett stycke med en länk <https://example.se/a> och betoning.\nNy rad." in text
    assert "- ett\n- två" in text and "1. första" in text and "2. andra" in text
    assert "> Citat här" in text and "A | B\n1 | 2" in text
    assert "kalle@example.se" in text and "<kalle@example.se>" not in text


def test_raw_html_in_markdown_is_escaped():
    html = markdown.to_html("Hej <script>alert(1)</script>")
    assert "<script>" not in html and "&lt;script&gt;" in html


def _project(tmp_path: Path) -> Path:
    from nyhetsbrev.project.scaffold import init_project

    return init_project(tmp_path / "p", today=dt.date(2026, 3, 1)).root


def test_audience_sections_only_go_to_their_lists(tmp_path):
    project, issue = load(_project(tmp_path), "26:1")
    everyone = visible_text(render(project, issue, frozenset({"profession"})).email_html)
    politicians = render(project, issue, frozenset({"politiker", "profession"}))
    assert "Till förtroendevalda" not in everyone
    assert "Till förtroendevalda" in visible_text(politicians.email_html)
    assert "Till förtroendevalda" in politicians.email_text
    full = render(project, issue)
    assert 'data-audience="politiker"' in full.web_html and 'data-audience="politiker"' in full.email_html


def test_english_strings(tmp_path):
    root = _project(tmp_path)
    settings = root / "nyhetsbrev.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace('language = "sv"', 'language = "en"'), encoding="utf-8")
    project, issue = load(root, "26:1")
    rendered = render(project, issue)
    assert "Unsubscribe" in rendered.email_html and "Newsletter 26:1" in rendered.email_text
    assert '<html lang="en"' in rendered.email_html and "1 March 2026" in rendered.email_text


def _start_tags(html: str, name: str) -> list[str]:
    import re

    return re.findall(rf"<{name}\b[^>]*>", html)


@pytest.mark.parametrize("language", ["sv", "en"])
def test_layout_tables_are_presentation_and_the_body_wrapper_carries_lang_and_dir(tmp_path, language):
    root = _project(tmp_path)
    settings = root / "nyhetsbrev.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace('language = "sv"', f'language = "{language}"'),
                        encoding="utf-8")
    (root / "issues/26-1/09-tabell.md").write_text("## Tabell\n\n| A | B |\n|---|---|\n| 1 | 2 |\n", encoding="utf-8")
    project, issue = load(root, "26:1")
    rendered = render(project, issue)
    for html in (rendered.email_html, rendered.web_html):
        tables = _start_tags(html, "table")
        # every table is layout but the author's Markdown table, which holds data and keeps its table role
        assert len(tables) > 10 and len([t for t in tables if 'role="presentation"' not in t]) == 1
        (page,) = _start_tags(html, "html")
        (wrapper,) = [t for t in _start_tags(html, "div") if 'role="article"' in t]
        for tag in (page, wrapper):  # mail programs strip <html>: the wrapper carries them too
            assert f'lang="{language}"' in tag and 'dir="ltr"' in tag


def test_a_project_email_template_without_lang_still_marks_the_language(tmp_path):

    root = _project(tmp_path)
    builtin = Path(__file__).resolve().parent.parent / "nyhetsbrev/render/templates/email.mjml.j2"
    (root / "templates").mkdir()
    (root / "templates/email.mjml.j2").write_text(
        builtin.read_text(encoding="utf-8").replace('<mjml lang="{{ lang }}" dir="ltr">', "<mjml>"), encoding="utf-8")
    project, issue = load(root, "26:1")
    html = render(project, issue).email_html
    assert "und" not in _start_tags(html, "html")[0]
    assert 'lang="sv"' in _start_tags(html, "html")[0]
    assert [t for t in _start_tags(html, "div") if 'role="article"' in t and 'lang="sv" dir="ltr"' in t]


def test_project_templates_override_the_builtin_ones(tmp_path):
    root = _project(tmp_path)
    (root / "templates").mkdir()
    (root / "templates" / "masthead.mjml.j2").write_text(
        '<mj-section><mj-column><mj-text><h1>Egen rubrik {{ issue_label }}</h1></mj-text></mj-column></mj-section>\n',
        encoding="utf-8")
    project, issue = load(root, "26:1")
    assert "Egen rubrik Nyhetsbrev 26:1" in visible_text(render(project, issue).email_html)


def test_without_an_archive_the_email_has_no_view_in_browser_link(tmp_path):
    project, issue = load(_project(tmp_path), "26:1")
    assert project.settings.archive_url is None
    rendered = render(project, issue)
    assert "Visa i webbläsare" not in rendered.email_html and "{{web_url}}" not in rendered.email_html
    assert "Visa i webbläsare" not in rendered.email_text
    assert "{{unsubscribe_url}}" in rendered.email_html and "{{unsubscribe_url}}" in rendered.email_text


def test_the_web_copy_marks_sections_meant_for_some_lists(tmp_path):
    project, issue = load(_project(tmp_path), "26:1")
    rendered = render(project, issue)
    assert "Endast till: politiker" in visible_text(rendered.web_html)
    assert "Endast till" not in visible_text(rendered.email_html)  # the email itself is as sent
