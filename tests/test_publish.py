"""publish: the archive as a static site: index, issue pages, Atom feed; drafts left out, incremental, deterministic."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from nyhetsbrev.publish.archive import MANIFEST, publish
from tests.archive_helpers import (
    DRAFT_SUBJECT, SECOND_SUBJECT, is_relative, links, make_archive_project, site_files, target, version_folder,
)
from tests.fixtures import one_line_error
from tests.htmltext import visible_text
from tests.send_helpers import add_people, send, smtp  # noqa: F401  (smtp is a fixture)

ATOM = "{http://www.w3.org/2005/Atom}"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
FIRST_SUBJECT = "Nyhetsbrev om barnens bästa – våren"


@pytest.fixture
def project(tmp_path) -> Path:
    return make_archive_project(tmp_path / "project")


@pytest.fixture
def site(project) -> Path:
    out = project / "build" / "archive"
    publish(project)
    return out


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_three_issues_one_draft_gives_index_two_pages_and_a_feed_without_the_draft(site):
    files = site_files(site)
    pages = sorted(name for name in files if name.endswith("index.html") and "/" in name)
    assert "index.html" in files and "feed.xml" in files
    assert {"22-1/index.html", "22-2/index.html"} <= set(pages)
    assert not (site / "23-1").exists()
    for name, data in files.items():  # the draft is nowhere: not its folder, subject, text or id
        text = data.decode("utf-8", "replace")
        assert DRAFT_SUBJECT not in text and "Hemlig plan" not in text and "23-1" not in text, name
    index = visible_text(_text(site / "index.html"))
    assert index.index(SECOND_SUBJECT) < index.index(FIRST_SUBJECT)  # newest first
    assert "Nyhetsbrev 22:2" in index and "14 oktober 2022" in index and "1 april 2022" in index
    assert "Höstens träffar & nya steg." in index and "Läs om tidslinjen" in index
    assert "Tillsammans för barnens bästa" in index and "FoU Sörmland" in index  # name and organisation
    assert "Frågor besvaras av:" in index and "redaktion@example.org" in index  # contact from the roster
    assert re.search(r'<html lang="sv"', _text(site / "index.html"))


def test_the_feed_is_atom_with_one_id_title_and_updated_per_entry(site):
    root = ET.parse(site / "feed.xml").getroot()
    assert root.tag == f"{ATOM}feed"
    assert root.get(XML_BASE) == "https://www.example.org/nyhetsbrev/"
    for name in ("id", "title", "updated", "author"):
        assert len(root.findall(f"{ATOM}{name}")) == 1, name
    assert root.find(f"{ATOM}author/{ATOM}name").text
    assert root.find(f"{ATOM}updated").text == "2022-10-14T12:00:00Z"  # the newest issue's date
    entries = root.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}title").text for e in entries] == [SECOND_SUBJECT, FIRST_SUBJECT]
    for entry in entries:
        for name in ("id", "title", "updated", "content"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, name
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry.find(f"{ATOM}updated").text)
    first, second = entries[1], entries[0]
    assert first.find(f"{ATOM}id").text == "tag:www.example.org,2022:/nyhetsbrev/22-1"
    assert second.find(f"{ATOM}id").text == "tag:www.example.org,2022:/nyhetsbrev/22-2"
    assert first.find(f"{ATOM}updated").text == "2022-04-01T12:00:00Z"
    assert first.find(f"{ATOM}link").get("href") == "22-1/"
    content = first.find(f"{ATOM}content")
    assert content.get("type") == "html" and content.get(XML_BASE) == "22-1/"
    text = visible_text(content.text)  # the full issue, not a summary
    assert "Här är nyhetsbrevet med åäö och ÅÄÖ." in text and "Åsa Exempel" in text
    assert "Alla nummer" not in text  # the page's navigation stays on the page


def test_every_relative_href_and_src_resolves_to_a_file(site):
    checked = 0
    for page in sorted(site.rglob("*.html")):
        for address in links(_text(page)):
            if is_relative(address):
                assert target(page.parent, address).is_file(), f"{page.relative_to(site)}: {address}"
                checked += 1
    root = ET.parse(site / "feed.xml").getroot()
    for link in root.iter(f"{ATOM}link"):  # the feed's links are relative to the feed (xml:base is the site)
        assert target(site, link.get("href")).is_file(), link.get("href")
        checked += 1
    for content in root.iter(f"{ATOM}content"):
        for address in filter(is_relative, links(content.text)):
            assert target(site / content.get(XML_BASE), address).is_file(), address
            checked += 1
    assert checked >= 8
    assert len(list((site / "22-1" / "images").glob("logga-*.png"))) == 1  # the optimised image beside its page


def test_a_politiker_only_section_is_on_its_versions_page_and_not_on_the_public_one(project, site):
    public = visible_text(_text(site / "22-1" / "index.html"))
    politiker = _text(site / "22-1" / version_folder(project, "22-1", "politiker") / "index.html")
    assert "Välkommen" in public and "Endast för politikerlistan" not in public
    assert "Endast för professionslistan" not in public
    assert "Endast för politikerlistan" in visible_text(politiker)
    assert "Endast för professionslistan" not in visible_text(politiker)
    both = visible_text(_text(site / "22-1" / version_folder(project, "22-1", "politiker+profession") / "index.html"))
    assert "Endast för politikerlistan" in both and "Endast för professionslistan" in both
    assert '<meta name="robots" content="noindex">' in politiker  # a version page is not for search engines
    assert re.search(r'src="\.\./images/logga-\w+\.png"', politiker) and 'href="../../index.html"' in politiker
    assert "Endast för politikerlistan" not in _text(site / "feed.xml")  # the feed is the public copy
    assert "politiker" not in _text(site / "index.html")


def test_the_view_in_browser_link_of_a_sent_message_leads_into_the_site(project, smtp):
    everyone = add_people(2, ["alla"])
    politicians = add_people(2, ["politiker"], start=10)
    add_people(1, ["profession"], start=20)  # every list a section names exists; this one is not sent to
    send(project, ("alla", "politiker"))
    site = publish(project).out_dir
    archive_url = "https://www.example.org/nyhetsbrev"
    expected = {address: f"{archive_url}/22-1/" for address in everyone}
    hidden = version_folder(project, "22-1", "politiker")
    expected.update({address: f"{archive_url}/22-1/{hidden}/" for address in politicians})
    seen = {}
    for received in smtp.received:
        body = received.message.get_body(("html",)).get_content()
        seen[received.rcpt_tos[0]] = re.search(r'<a href="([^"]+)"[^>]*>Visa i webbläsare</a>', body).group(1)
        plain = received.message.get_body(("plain",)).get_content()
        assert f"Visa i webbläsare: {seen[received.rcpt_tos[0]]}" in plain
    assert seen == expected
    for address, link in seen.items():
        page = site / link.removeprefix(archive_url + "/") / "index.html"
        assert page.is_file(), link
        assert ("Endast för politikerlistan" in visible_text(_text(page))) == (address in politicians)


def test_publishing_twice_or_afresh_gives_identical_bytes(project, site, tmp_path):
    first = site_files(site)
    mtimes = {p: p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()}
    again = publish(project)
    assert site_files(site) == first
    assert again.rendered == []  # nothing changed, so nothing was rendered again
    assert {p: p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()} == mtimes  # nor written
    publish(project, tmp_path / "fresh")
    assert site_files(tmp_path / "fresh") == first


def test_only_the_edited_issue_is_rendered_again(project, site):
    untouched = (site / "22-1" / "index.html").stat().st_mtime_ns
    section = project / "issues" / "22-2" / "01-hosten.md"
    section.write_text(section.read_text(encoding="utf-8") + "\nNy mening om vintern.\n", encoding="utf-8")
    result = publish(project)
    assert [str(i) for i in result.rendered] == ["22:2"]
    assert "Ny mening om vintern." in _text(site / "22-2" / "index.html")
    assert "Ny mening om vintern." in _text(site / "feed.xml")
    assert (site / "22-1" / "index.html").stat().st_mtime_ns == untouched
    (site / "22-1" / "index.html").unlink()  # a page that went missing is written again
    assert [str(i) for i in publish(project).rendered] == ["22:1"]


def test_an_issue_that_becomes_a_draft_is_removed_and_other_files_are_kept(project, site):
    (site / "robots.txt").write_text("User-agent: *\n", encoding="utf-8")  # the web team's own file
    toml = project / "issues" / "22-1" / "issue.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + "draft = true\n", encoding="utf-8")
    result = publish(project)
    assert not (site / "22-1").exists()
    assert "22-1/index.html" in result.removed
    assert f"22-1/{version_folder(project, '22-1', 'politiker')}/index.html" in result.removed
    assert any(name.startswith("22-1/images/logga-") for name in result.removed)
    assert FIRST_SUBJECT not in _text(site / "index.html") and FIRST_SUBJECT not in _text(site / "feed.xml")
    assert (site / "robots.txt").is_file()


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_files_get_the_umasks_mode(project, tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        publish(project, tmp_path / "site")
    finally:
        os.umask(old)
    files = [p for p in (tmp_path / "site").rglob("*") if p.is_file()]
    assert len(files) >= 5
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {oct(mode)}


def test_the_feed_holds_the_newest_twenty_issues(project, tmp_path):
    for number in range(3, 26):
        folder = project / "issues" / f"22-{number}"
        folder.mkdir()
        (folder / "issue.toml").write_text(f'subject = "Nummer {number}"\ndate = 2022-11-{number:02d}\n', encoding="utf-8")
        (folder / "01-text.md").write_text(f"Text {number}.\n", encoding="utf-8")
    publish(project, tmp_path / "site")
    entries = ET.parse(tmp_path / "site" / "feed.xml").getroot().findall(f"{ATOM}entry")
    assert len(entries) == 20
    assert entries[0].find(f"{ATOM}title").text == "Nummer 25" and entries[-1].find(f"{ATOM}title").text == "Nummer 6"
    assert "Nummer 3" in _text(tmp_path / "site" / "index.html")  # the front page lists every issue


def test_publish_on_the_command_line_warns_without_archive_url(project, cli, tmp_path):
    settings = project / "nyhetsbrev.toml"
    settings.write_text(re.sub(r"(?m)^archive_url = .*\n", "", _text(settings)), encoding="utf-8")
    result = cli("--project", project, "publish", "--out", tmp_path / "ut")
    assert result.exit_code == 0, result.output
    assert "archive_url is not set" in result.stderr
    assert "Published 2 issue(s)" in result.stdout and "left out as drafts: 23:1" in result.stdout
    root = ET.parse(tmp_path / "ut" / "feed.xml").getroot()
    assert root.get(XML_BASE) is None  # links stay relative to wherever the feed is
    assert root.find(f"{ATOM}entry/{ATOM}id").text == "tag:example.org,2022:/22-2"


def test_an_issue_with_an_error_stops_publish_with_one_line(project, cli):
    (project / "issues" / "22-2" / "01-hosten.md").write_text("![Saknas](images/saknas.png)\n", encoding="utf-8")
    line = one_line_error(cli("--project", project, "publish"))
    assert "22:2 cannot be published" in line and "saknas.png" in line


def test_a_draft_flag_that_is_not_true_or_false_is_refused(project, cli):
    toml = project / "issues" / "23-1" / "issue.toml"
    toml.write_text(_text(toml).replace("draft = true", 'draft = "ja"'), encoding="utf-8")
    line = one_line_error(cli("--project", project, "publish"))
    assert "'draft' must be true or false" in line and "issue.toml:4" in line


def test_the_manifest_is_in_the_output_folder(site):
    manifest = _text(site / MANIFEST)
    assert '"22-1/index.html"' in manifest and '"inputs"' in manifest


@pytest.mark.parametrize("damage", [
    lambda data: data["issues"]["22-1"].pop("inputs"),
    lambda data: data["issues"].update({"22-1": "ett ord"}),
    lambda data: data["issues"]["22-1"]["files"].update({"../../utanfor.txt": ["0", 4]}),
    lambda data: data.update({"issues": []}),
])
def test_a_damaged_manifest_renders_again_and_never_removes_a_file_outside_the_site(project, site, damage):
    import json

    outside = project / "utanfor.txt"  # what '../../utanfor.txt' names from build/archive/
    outside.write_text("kvar", encoding="utf-8")
    data = json.loads(_text(site / MANIFEST))
    damage(data)
    (site / MANIFEST).write_text(json.dumps(data), encoding="utf-8")
    result = publish(project)
    assert outside.read_text(encoding="utf-8") == "kvar"
    assert "22:1" in [str(i) for i in result.published] and (site / "22-1" / "index.html").is_file()
    assert '"22-1/index.html"' in _text(site / MANIFEST)  # a whole manifest again


def test_a_draft_older_than_every_published_issue_leaves_no_year_in_the_feed(project):
    (project / "issues" / "23-1").rename(project / "issues" / "21-1")
    publish(project)
    feed = _text(project / "build" / "archive" / "feed.xml")
    assert ET.fromstring(feed).find(f"{ATOM}id").text == "tag:www.example.org,2022:/nyhetsbrev/"
    assert "2021" not in feed and DRAFT_SUBJECT not in feed


def test_an_issue_without_a_date_is_published_with_a_warning_and_progress_counts_every_issue(project):
    toml = project / "issues" / "22-2" / "issue.toml"
    toml.write_text(re.sub(r"(?m)^date = .*\n", "", _text(toml)), encoding="utf-8")
    seen = []
    result = publish(project, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]  # the draft is counted too: it was looked at
    [warning] = [p for p in result.problems if "has no date" in p.message]
    assert warning.level == "warning" and warning.path == toml and "22:2" in warning.message
    index = visible_text(_text(project / "build" / "archive" / "index.html"))
    assert SECOND_SUBJECT in index and "14 oktober 2022" not in index
