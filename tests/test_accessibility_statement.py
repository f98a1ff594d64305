"""The archive's accessibility statement (tillganglighet/index.html, lag 2018:1937): written by publish from
[accessibility] in nyhetsbrev.toml, linked from every page, warned about while its settings are missing."""

from __future__ import annotations

import re

import pytest

from nyhetsbrev.errors import ConfigError
from nyhetsbrev.project.config import load_settings
from nyhetsbrev.publish.archive import publish
from tests.archive_helpers import links, target
from tests.golden import copy_repo_project
from tests.htmltext import visible_text
from tests.send_helpers import make_project

STATEMENT = "tillganglighet/index.html"
SETTINGS = """
[accessibility]
organisation = "Region Exempel"
contact = "tillganglighet@example.se"
status = "partial"
shortcomings = ["Diagram i nummer 22:1 saknar textbeskrivning."]
reviewed = 2026-11-20
"""


def _with(root, extra: str):
    settings = root / "nyhetsbrev.toml"
    text = settings.read_text(encoding="utf-8")
    head, smtp, rest = text.partition("\n[smtp]")
    settings.write_text(head + "\n" + extra + smtp + rest, encoding="utf-8")
    return root


def test_publish_writes_the_statement_with_every_part_the_law_asks_for(tmp_path):
    root = _with(make_project(tmp_path / "p", lists=()), SETTINGS)
    result = publish(root)
    page = (result.out_dir / STATEMENT).read_text(encoding="utf-8")
    text = visible_text(page)
    assert '<html lang="sv"' in page and "<h1>Tillgänglighetsredogörelse</h1>" in page
    assert "Region Exempel står bakom webbplatsen" in text                       # who publishes
    assert "delvis förenlig med lagen om tillgänglighet" in text                 # compliance
    assert "Diagram i nummer 22:1 saknar textbeskrivning." in text               # known shortcomings
    assert 'href="mailto:tillganglighet@example.se"' in page                     # how to report a problem
    assert 'href="https://www.digg.se/tdosanmalan"' in page                      # the supervisory authority
    assert "senast den 20 november 2026" in text                                 # the last review
    assert not [p for p in result.problems if "accessibility" in p.message]


def test_every_page_of_the_archive_links_to_the_statement(tmp_path):
    from tests.archive_helpers import make_archive_project

    root = make_archive_project(tmp_path / "p")
    out = publish(root).out_dir
    pages = [p for p in out.rglob("*.html")]
    assert len(pages) >= 5  # the index, two issues, an audience version, the statement
    for page in pages:
        found = [target(page.parent, a) for a in links(page.read_text(encoding="utf-8"))]
        assert out / STATEMENT in found, page


def test_the_feed_carries_no_statement_link(tmp_path):
    root = _with(copy_repo_project(tmp_path / "p"), "")
    out = publish(root).out_dir
    assert "tillganglighet" not in (out / "feed.xml").read_text(encoding="utf-8")


def test_an_english_newsletter_gets_an_english_statement(tmp_path):
    root = _with(make_project(tmp_path / "p", lists=()), SETTINGS.replace("partial", "full"))
    settings = root / "nyhetsbrev.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace('language = "sv"', 'language = "en"')
                        if 'language = "sv"' in settings.read_text(encoding="utf-8")
                        else 'language = "en"\n' + settings.read_text(encoding="utf-8"), encoding="utf-8")
    text = visible_text((publish(root).out_dir / STATEMENT).read_text(encoding="utf-8"))
    assert "Accessibility statement" in text and "fully complies" in text and "20 November 2026" in text
    assert "Tillgänglighetsredogörelse" not in text


def test_check_and_publish_warn_while_the_settings_are_missing(cli, tmp_path):
    root = make_project(tmp_path / "p", lists=())
    warned = [p.message for p in publish(root).problems if "accessibility statement" in p.message]
    assert len(warned) == 1 and "organisation, contact, status, reviewed" in warned[0]
    check = cli("--project", root, "check", "22:1")
    assert "accessibility statement" in check.stderr
    _with(root, SETTINGS)
    assert "accessibility statement" not in cli("--project", root, "check", "22:1").stderr
    assert not [p for p in publish(root).problems if "accessibility" in p.message]


@pytest.mark.parametrize("line, says", [
    ('status = "mostly"', "'status' in [accessibility]"),
    ('contact = "ring oss"', "'contact' in [accessibility]"),
    ('reviewed = "förra veckan"', "'reviewed' in [accessibility]"),
    ('supervisory_url = "http://www.digg.se/"', "'supervisory_url'"),
    ('colour = "blå"', "colour"),
])
def test_a_wrong_setting_is_one_error_at_its_line(tmp_path, line, says):
    root = _with(make_project(tmp_path / "p", lists=()), "[accessibility]\norganisation = \"Region Exempel\"\n" + line + "\n")
    text = (root / "nyhetsbrev.toml").read_text(encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_settings(root / "nyhetsbrev.toml")
    assert says in error.value.what
    assert error.value.line == text.splitlines().index(line) + 1


def test_init_writes_the_settings_commented_out_with_an_explanation(tmp_path):
    from nyhetsbrev.project.scaffold import init_project

    root = init_project(tmp_path / "p").root
    text = (root / "nyhetsbrev.toml").read_text(encoding="utf-8")
    assert "# [accessibility]" in text and "lag 2018:1937" in text
    for key in ("organisation", "contact", "status", "shortcomings", "reviewed", "supervisory_url"):
        assert re.search(rf"^# {key} = ", text, re.M), key
    uncommented = text.replace("# [accessibility]", "[accessibility]")
    for key in ("contact", "status", "shortcomings", "reviewed", "supervisory_url"):
        uncommented = re.sub(rf"^# ({key} = )", r"\1", uncommented, flags=re.M)
    uncommented = uncommented.replace('# organisation = "Exempelkommunen"            # who',
                                      'organisation = "Exempelkommunen"            # who')
    (root / "nyhetsbrev.toml").write_text(uncommented, encoding="utf-8")
    assert load_settings(root / "nyhetsbrev.toml").accessibility.missing() == []


def test_the_repositorys_own_newsletter_has_its_statement_settings():
    from tests.golden import REPO

    a11y = load_settings(REPO / "nyhetsbrev.toml").accessibility
    assert a11y.missing() == [] and a11y.organisation == "FoU Sörmland"
