"""Web copies per audience: the public copy holds only the sections for everyone, and each recipient's
"Visa i webbläsare" link points at the copy of their own version (real SMTP server, real SQLite file)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from nyhetsbrev.publish import pipeline
from nyhetsbrev.publish.archive import MANIFEST, publish
from nyhetsbrev.render.issue import version_key
from nyhetsbrev.store.db import default_db_path
from nyhetsbrev.store.tokens import default_key_path, load_or_create_key
from tests.archive_helpers import make_archive_project, site_files, version_folder
from tests.htmltext import visible_text
from tests.send_helpers import add_people, project, send, smtp  # noqa: F401  (fixtures)

pytestmark = pytest.mark.timeout(60)

POLITIKER = "Endast för politikerlistan"
PROFESSION = "Endast för professionslistan"
EVERYONE = "Här är nyhetsbrevet med åäö och ÅÄÖ."


def test_version_keys_are_the_sorted_list_names_and_url_safe():
    assert version_key(frozenset()) == "" and version_key(None) == ""
    assert version_key(frozenset({"politiker"})) == "politiker"
    assert version_key(frozenset({"profession", "politiker"})) == "politiker+profession"
    odd = {"Politiker Sörmland", "politiker-sormland", "a/../b", "??", "x y", "X Y"}
    keys = {version_key(frozenset({name})) for name in odd}
    assert len(keys) == len(odd)  # names that look alike never share a key
    for key in keys:
        assert re.fullmatch(r"[a-z0-9_+-]+", key), key
    # the keys are in the links of mail already sent: a name's key never changes
    assert version_key(frozenset({"Politiker Sörmland"})) == "politiker-sormland-43be38"
    assert version_key(frozenset({"Team_Ö"})) == f"team_o-{hashlib.sha256('Team_Ö'.encode()).hexdigest()[:6]}"


def test_build_writes_a_public_web_copy_without_audience_sections_and_one_per_version(project):
    out = pipeline.build(project, "22:1").out_dir
    public = visible_text((out / "web.html").read_text(encoding="utf-8"))
    assert EVERYONE in public and POLITIKER not in public and PROFESSION not in public
    politiker = visible_text((out / "web-politiker.html").read_text(encoding="utf-8"))
    assert EVERYONE in politiker and POLITIKER in politiker and PROFESSION not in politiker
    assert "Endast till: politiker" in politiker  # an audience section stays marked in its version
    both = visible_text((out / "web-politiker+profession.html").read_text(encoding="utf-8"))
    assert POLITIKER in both and PROFESSION in both
    assert sorted(p.name for p in out.glob("web*.html")) == [
        "web-politiker+profession.html", "web-politiker.html", "web-profession.html", "web.html"]


def test_a_rebuild_removes_the_web_copy_of_an_audience_that_is_gone(project):
    pipeline.build(project, "22:1")
    (project / "issues/22-1/03-profession.md").unlink()
    out = pipeline.build(project, "22:1").out_dir
    assert sorted(p.name for p in out.glob("web*.html")) == ["web-politiker.html", "web.html"]


def test_the_preview_rendering_still_shows_every_section_marked(project):
    proj, issue = pipeline.load(project, "22:1")
    web = visible_text(pipeline.render(proj, issue).web_html)
    assert POLITIKER in web and PROFESSION in web and "Endast till: politiker" in web


def test_web_copies_for_the_archive_are_keyed_by_version(project):
    copies = pipeline.web_versions(*pipeline.load(project, "22:1"))
    assert set(copies) == {"", "politiker", "profession", "politiker+profession"}
    assert POLITIKER not in visible_text(copies[""]) and POLITIKER in visible_text(copies["politiker"])


def test_each_recipient_links_to_the_web_copy_of_their_version(project, smtp):
    politicians = add_people(2, ["politiker"], prefix="pol")
    others = add_people(2, ["alla"], prefix="alla")
    send(project, ("politiker", "alla"))
    base = "https://www.example.org/nyhetsbrev/22-1/"
    links = {}
    for received in smtp.received:
        text = received.message.get_body(("plain",)).get_content()
        html = received.message.get_body(("html",)).get_content()
        found = re.search(r"Visa i webbläsare: (\S+)", text).group(1)
        assert f'href="{found}"' in html
        links[received.rcpt_tos[0]] = found
    assert {links[a] for a in politicians} == {base + version_folder(project, "22-1", "politiker") + "/"}
    assert {links[a] for a in others} == {base}


def _politicians_link(smtp, address: str) -> str:
    [received] = [r for r in smtp.received if r.rcpt_tos == [address]]
    html = received.message.get_body(("html",)).get_content()
    return re.search(r'<a href="([^"]+)"[^>]*>Visa i webbläsare</a>', html).group(1)


def test_a_versions_address_is_made_with_the_projects_key_and_is_the_link_in_its_emails(tmp_path, smtp, monkeypatch):
    """Two projects alike but for their keys: the same public site, different and unguessable version addresses."""
    sites, folders = {}, {}
    for name in ("a", "b"):
        (tmp_path / f"data-{name}").mkdir()
        monkeypatch.setenv("NYHETSBREV_DB", str(tmp_path / f"data-{name}" / "nyhetsbrev.db"))
        root = make_archive_project(tmp_path / name, key=False)
        [politician] = add_people(1, ["politiker"], prefix=f"pol-{name}")
        add_people(1, ["profession"], prefix=f"prof-{name}")
        send(root, ("politiker",))  # the first send makes the project's key
        sites[name] = publish(root).out_dir
        [folder] = [p.name for p in (sites[name] / "22-1").iterdir() if p.name.startswith("politiker-")]
        folders[name] = folder
        assert re.fullmatch(r"politiker-[0-9a-f]{16}", folder)
        assert _politicians_link(smtp, politician) == f"https://www.example.org/nyhetsbrev/22-1/{folder}/"
        page = (sites[name] / "22-1" / folder / "index.html").read_text(encoding="utf-8")
        assert POLITIKER in visible_text(page) and '<meta name="robots" content="noindex">' in page
        for path in sites[name].rglob("*"):  # named by no file of the site, the manifest included
            if path.is_file():
                data = path.read_bytes()
                assert folder.encode() not in data and folder.split("-")[1].encode() not in data, path
        assert publish(root, tmp_path / f"fresh-{name}").out_dir / "22-1" / folder  # stable: the same name again
        assert (tmp_path / f"fresh-{name}" / "22-1" / folder / "index.html").is_file()
    assert folders["a"] != folders["b"]

    def public(site: Path) -> dict[str, bytes]:
        return {name: data for name, data in site_files(site).items()
                if name != MANIFEST and not name.startswith("22-1/politiker") and not name.startswith("22-1/profession")}

    # what the public can read of the two sites is byte for byte the same: the address cannot be derived from it
    assert public(sites["a"]) == public(sites["b"]) and "22-1/index.html" in public(sites["a"])


def test_without_a_key_yet_publish_leaves_the_versions_out_with_a_warning(tmp_path):
    root = make_archive_project(tmp_path / "project", key=False)
    result = publish(root)
    [warning] = [p for p in result.problems if "no key yet" in p.message]
    assert "22:1" in warning.message and "nyhetsbrev send" in warning.message
    assert sorted(p.name for p in (result.out_dir / "22-1").iterdir()) == ["images", "index.html"]
    assert not (default_key_path(default_db_path(root))).exists()  # publish writes nothing outside its folder
    again = publish(root)  # unchanged, still warned
    assert any("no key yet" in p.message for p in again.problems) and again.rendered == []
    load_or_create_key(default_key_path(default_db_path(root)))
    third = publish(root)
    assert [str(i) for i in third.rendered] == ["22:2", "22:1"]  # the key changes the addresses: rendered again
    assert (result.out_dir / "22-1" / version_folder(root, "22-1", "politiker") / "index.html").is_file()


def test_an_image_only_a_version_shows_is_on_its_page_and_named_by_no_public_file(tmp_path):
    from PIL import Image

    root = make_archive_project(tmp_path / "project")
    folder = root / "issues" / "22-1"
    Image.new("RGB", (40, 30), (200, 20, 20)).save(folder / "images" / "budget.png")
    section = folder / "02-politiker.md"
    section.write_text(section.read_text(encoding="utf-8") + "\n![Budgeten](images/budget.png)\n", encoding="utf-8")
    result = publish(root)
    site = result.out_dir
    [made] = (site / "22-1" / "images").glob("budget-*.png")
    page = (site / "22-1" / version_folder(root, "22-1", "politiker") / "index.html").read_text(encoding="utf-8")
    assert f'src="../images/{made.name}"' in page
    for path in site.rglob("*"):
        if path.is_file() and not path.parent.name.startswith("politiker") and path != made:  # its version pages
            assert made.name.encode() not in path.read_bytes(), path  # the manifest included
    section.write_text(section.read_text(encoding="utf-8").replace("![Budgeten](images/budget.png)", ""), encoding="utf-8")
    again = publish(root)
    assert f"22-1/images/{made.name}" in again.removed and not made.exists()  # found by its keyed hash, and removed
