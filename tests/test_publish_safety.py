"""publish writes and removes only inside its output folder: symbolic links there are never followed, a damaged
manifest of any shape is a full render, and an output folder among the project's sources is refused.

Each hostile case is one line (or a plain success), and a hash of every other file under the test's folder
(links, modes and bytes) is the same before and after.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from nyhetsbrev.errors import PublishError
from nyhetsbrev.publish import archive, site_folder
from nyhetsbrev.publish.archive import MANIFEST, publish
from tests.archive_helpers import make_archive_project
from tests.fixtures import one_line_error

pytestmark = pytest.mark.skipif(os.name != "posix", reason="symbolic links as an unprivileged user")


def tree(top: Path, *, leave_out: tuple[Path, ...] = ()) -> str:
    """A hash of everything under top but the folders left out: names, types, modes, link targets and bytes."""
    digest = hashlib.sha256()
    for here, dirs, files in os.walk(top, followlinks=False):
        dirs[:] = sorted(d for d in dirs if Path(here, d) not in leave_out)
        for name in sorted(dirs + files):
            path = Path(here, name)
            info = os.lstat(path)
            digest.update(f"{path.relative_to(top)}\0{stat.filemode(info.st_mode)}\0".encode())
            if stat.S_ISLNK(info.st_mode):
                digest.update(os.readlink(path).encode())
            elif stat.S_ISREG(info.st_mode):
                digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def world(tmp_path) -> dict[str, Path]:
    """A project, an output folder of its own in web/site, and files outside it that must never change."""
    project = make_archive_project(tmp_path / "project")
    outside = tmp_path / "web" / "utanfor"
    outside.mkdir(parents=True)
    (outside / "index.html").write_text("<p>webbteamets egen sida</p>\n", encoding="utf-8")
    (outside / "images").mkdir()
    (outside / "images" / "foto.jpg").write_bytes(b"inte en bild")
    (outside / "manifest.json").write_text("{}", encoding="utf-8")
    return {"root": tmp_path, "project": project, "site": tmp_path / "web" / "site", "outside": outside}


def _untouched(world) -> str:
    """The hash of everything but the site itself and the caches of compiled templates and images."""
    return tree(world["root"], leave_out=(world["site"], world["root"] / "_data" / "cache"))


@pytest.mark.parametrize("link, to", [
    ("22-1", "."),  # a link named like an issue folder
    ("22-1/images", "images"),
    ("22-1/index.html", "index.html"),
    (MANIFEST, "manifest.json"),
])
def test_a_symbolic_link_in_the_output_folder_is_refused_in_one_line_and_never_followed(world, cli, link, to):
    site = world["site"]
    publish(world["project"], site)
    path = site / link
    if path.is_dir():
        for inner in sorted(path.rglob("*"), reverse=True):
            inner.rmdir() if inner.is_dir() else inner.unlink()
        path.rmdir()
    else:
        path.unlink()
    path.symlink_to(world["outside"] / to)
    section = world["project"] / "issues" / "22-1" / "01-inledning.md"
    section.write_text(section.read_text(encoding="utf-8") + "\nEn ny mening.\n", encoding="utf-8")  # 22:1 changed
    before = _untouched(world)
    line = one_line_error(cli("--project", world["project"], "publish", "--out", site))
    assert f"{path} is a symbolic link" in line and "never" in line
    assert _untouched(world) == before


def test_a_link_in_place_of_an_unchanged_issue_is_not_taken_for_its_pages(world):
    site = world["site"]
    publish(world["project"], site)
    for inner in sorted((site / "22-2").rglob("*"), reverse=True):
        inner.unlink()
    (site / "22-2").rmdir()
    (world["outside"] / "22-2").mkdir()
    (world["outside"] / "22-2" / "index.html").write_bytes((world["outside"] / "index.html").read_bytes())
    (site / "22-2").symlink_to(world["outside"] / "22-2")
    before = _untouched(world)
    with pytest.raises(PublishError, match="is a symbolic link"):
        publish(world["project"], site)
    assert _untouched(world) == before


def test_removing_the_pages_of_an_issue_never_follows_a_link(world):
    site, project = world["site"], world["project"]
    publish(project, site)
    # the web team's folder linked where 22-2's pages were, then 22-2 becomes a draft: its pages are stale
    for inner in sorted((site / "22-2").rglob("*"), reverse=True):
        inner.unlink()
    (site / "22-2").rmdir()
    (site / "22-2").symlink_to(world["outside"])
    toml = project / "issues" / "22-2" / "issue.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + "draft = true\n", encoding="utf-8")
    before = _untouched(world)
    result = publish(project, site)
    assert "22-2/index.html" not in result.removed
    assert _untouched(world) == before and (world["outside"] / "index.html").is_file()


@pytest.mark.parametrize("record", [
    {"files": {"22-9/index.html": ["0" * 64, 29]}},  # through a link named like an issue folder
    {"files": {"22-9/../../utanfor/index.html": ["0" * 64, 29]}},
    {"files": {"/etc/hostname": ["0" * 64, 1]}},
])
def test_a_crafted_manifest_record_removes_nothing_outside(world, record):
    site, project = world["site"], world["project"]
    publish(project, site)
    (site / "22-9").symlink_to(world["outside"])
    data = json.loads((site / MANIFEST).read_text(encoding="utf-8"))
    data["issues"]["22-9"] = {**data["issues"]["22-2"], **record}
    (site / MANIFEST).write_text(json.dumps(data), encoding="utf-8")
    before = _untouched(world)
    result = publish(project, site)
    assert result.removed == [] and _untouched(world) == before
    assert "22-9" not in (site / MANIFEST).read_text(encoding="utf-8")


@pytest.mark.parametrize("content", [
    b"", b"\xff\xfe not utf-8", b"[" * 100_000 + b"]" * 100_000, b'{"format": 1, "issues": {"22-1": {"files": 7}}}',
    b'{"format": 1, "issues": {"22-1": {"inputs": "x", "draft": false, "subject": "s", "preheader": "p", '
    b'"date": null, "files": {"22-1/index.html": ["a", -1]}, "hidden": {"x": ["a", "b"]}}}}',
    b'{"format": 1, "issues": {"22-1": {"inputs": "x", "draft": false, "subject": "s", "preheader": "p", '
    b'"date": "2022-13-45", "files": {}}}}',
    b'{"format": 1, "issues": {"22-1": {"inputs": "x", "draft": false, "subject": "s", "preheader": "p", '
    b'"date": null, "files": {"22-1/index.html": ["a", 1.5]}, "left_out": "ja"}}}',
])
def test_a_damaged_manifest_of_any_shape_is_a_full_render(world, content):
    site, project = world["site"], world["project"]
    publish(project, site)
    (site / MANIFEST).write_bytes(content)
    before = _untouched(world)
    result = publish(project, site)
    assert [str(i) for i in result.rendered] == ["22:2", "22:1"] and _untouched(world) == before
    assert json.loads((site / MANIFEST).read_text(encoding="utf-8"))["format"] == archive.MANIFEST_FORMAT


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4),
    max_leaves=30,
)


@given(issues=st.dictionaries(st.sampled_from(["22-1", "22-2", "../x", ""]), _JSON | st.fixed_dictionaries(
    {"inputs": st.text(max_size=5), "draft": _JSON, "subject": _JSON, "preheader": _JSON, "date": _JSON,
     "files": st.dictionaries(st.text(max_size=30), _JSON, max_size=3), "hidden": _JSON}), max_size=3))
def test_reading_a_manifest_of_any_shape_gives_whole_records_or_none(tmp_path_factory, issues):
    site = tmp_path_factory.mktemp("site")
    (site / MANIFEST).write_text(json.dumps({"format": 1, "issues": issues}), encoding="utf-8")
    try:
        records = archive._read_manifest(site)
    except PublishError:  # the one exception: an issue folder named outside the site
        assert any(not site_folder.inside(folder) for folder in issues)
        return
    for record in records.values():  # what is kept is whole
        assert all(site_folder.inside(name) for name in record["files"])
        assert all(isinstance(v, list) and type(v[1]) is int for v in record["files"].values())


def test_a_fifo_as_manifest_is_refused_not_waited_for(world, cli):
    site = world["site"]
    publish(world["project"], site)
    (site / MANIFEST).unlink()
    os.mkfifo(site / MANIFEST)
    line = one_line_error(cli("--project", world["project"], "publish", "--out", site))
    assert MANIFEST in line and "not a plain file" in line


@pytest.mark.parametrize("where", [
    "issues", "issues/22-1", "issues/22-1/images/site", "templates", "templates/site", "recipients", "recipients/x",
    ".", "..", "build",
])
def test_an_output_folder_among_the_projects_sources_is_refused(world, cli, where):
    project = world["project"]
    (project / "templates").mkdir(exist_ok=True)
    before = tree(world["root"], leave_out=(world["root"] / "_data" / "cache",))
    line = one_line_error(cli("--project", project, "publish", "--out", project / where))
    assert "output folder" in line
    assert tree(world["root"], leave_out=(world["root"] / "_data" / "cache",)) == before


def test_an_output_folder_that_holds_the_recipients_database_is_refused(world, cli):
    line = one_line_error(cli("--project", world["project"], "publish", "--out", world["root"] / "_data"))
    assert "nyhetsbrev.db" in line and "never be published" in line


def test_a_link_to_the_output_folder_itself_is_followed_there(world):
    real = world["site"]
    real.mkdir(parents=True)
    (world["root"] / "genvag").symlink_to(real)
    result = publish(world["project"], world["root"] / "genvag")
    assert result.out_dir == real.resolve() and (real / "22-1" / "index.html").is_file()


def _walks_recorded(monkeypatch) -> list[Path]:
    """Every folder publish walks (os.walk's top, when nyhetsbrev calls it), recorded."""
    import sys

    tops: list[Path] = []
    real_walk = os.walk

    def walk(top, *args, **kwargs):
        if sys._getframe(1).f_globals.get("__name__", "").startswith("nyhetsbrev."):
            tops.append(Path(os.path.abspath(top)))
        return real_walk(top, *args, **kwargs)

    monkeypatch.setattr(os, "walk", walk)
    return tops


@pytest.mark.parametrize("folder", ["..", "../utanfor", "22-1/../../utanfor", "/", "", "."])
def test_a_manifest_naming_a_folder_outside_the_site_is_one_line_and_nothing_outside_is_walked(
        world, cli, monkeypatch, folder):
    site, project = world["site"], world["project"]
    publish(project, site)
    data = json.loads((site / MANIFEST).read_text(encoding="utf-8"))
    hidden = next(record for record in data["issues"].values() if record.get("hidden"))  # the audience version's
    data["issues"][folder if folder != "/" else str(world["outside"])] = hidden
    (site / MANIFEST).write_text(json.dumps(data), encoding="utf-8")
    tops = _walks_recorded(monkeypatch)
    before = _untouched(world)
    line = one_line_error(cli("--project", project, "publish", "--out", site))
    assert "outside the site" in line and str(site / MANIFEST) in line, line
    # Refused before any folder is walked, inside the site or out (the next test shows the recorder sees publish's walks).
    assert tops == [], tops
    assert _untouched(world) == before


def test_a_manifest_folder_reached_through_a_link_is_never_walked(world, monkeypatch):
    site, project = world["site"], world["project"]
    publish(project, site)
    (site / "22-9").symlink_to(world["outside"])  # 22-9/images is then the web team's folder
    data = json.loads((site / MANIFEST).read_text(encoding="utf-8"))
    data["issues"]["22-9/images"] = next(record for record in data["issues"].values() if record.get("hidden"))
    (site / MANIFEST).write_text(json.dumps(data), encoding="utf-8")
    tops = _walks_recorded(monkeypatch)
    before = _untouched(world)
    result = publish(project, site)
    assert result.removed == [] and _untouched(world) == before
    assert tops  # the recorder saw publish's walks, so the next line has something to check
    assert all(os.path.realpath(top) == str(top) for top in tops), tops  # no link on the way to any folder walked
