"""The preview server without a browser: what it serves, the rebuild loop, errors, ports and Ctrl-C."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.request

import pytest

from nyhetsbrev.project import config
from nyhetsbrev.publish import pipeline
from nyhetsbrev.errors import IssueIdError, IssueNotFound
from nyhetsbrev.project.models import UNSUBSCRIBE_PLACEHOLDER, WEB_PLACEHOLDER
from nyhetsbrev.web.preview import PreviewServer
from nyhetsbrev.project.models import IssueId
from nyhetsbrev.web.preview.builds import (
    PREVIEW_UNSUBSCRIBE_URL, PREVIEW_WEB_URL, TEXT_UNSUBSCRIBE_LINK, TEXT_WEB_LINK, make_build, strip_preview_additions,
)
from tests.fixtures import ctrl_c_as_in_a_terminal, one_line_error
from tests.preview_helpers import (  # noqa: F401  (preview is a fixture)
    FIRST_WORDS, SECTION, TIMELINE, break_front_matter, get, preview, replace_in, state, wait_for_epoch_after,
)

pytestmark = pytest.mark.timeout(180)

AUDIENCE_SECTION = "---\naudience: [politiker, profession]\n---\n## Till politiker\n\nEn text bara för några listor.\n"


def test_serves_exactly_the_email_except_the_personal_links(preview, repo_project):
    status, kind, served = get(preview, "/email.html")
    assert status == 200 and kind.startswith("text/html")
    sent = pipeline.check(repo_project, "22:1").rendered.email_html
    assert UNSUBSCRIBE_PLACEHOLDER in sent and WEB_PLACEHOLDER in sent
    expected = sent.replace(WEB_PLACEHOLDER, PREVIEW_WEB_URL).replace(UNSUBSCRIBE_PLACEHOLDER, PREVIEW_UNSUBSCRIBE_URL)
    assert strip_preview_additions(served) == expected
    assert "{{" not in served


def test_page_state_and_plain_text(preview):
    status, _, page = get(preview, "/")
    assert status == 200 and 'id="frame-desktop"' in page and 'id="frame-phone"' in page
    assert get(preview, "/assets/page.js")[0] == 200
    info = state(preview)
    assert info["issue"] == "22:1" and info["error"] is None
    build = info["build"]
    assert build["subject"].startswith("Nyhetsbrev 22:1")
    assert build["preheader"].startswith("Utvecklingsarbetet")
    assert build["sender"] == "Tillsammans för barnens bästa i Sörmland"
    assert [s["file"] for s in build["sections"]] == [
        "issues/22-1/01-tillsammans.md", "issues/22-1/02-processen-2021.md", "issues/22-1/03-vad-hander-nu.md"]
    sent = pipeline.check(preview.root, "22:1").rendered.email_text
    assert build["text"] == sent.replace(WEB_PLACEHOLDER, TEXT_WEB_LINK).replace(UNSUBSCRIBE_PLACEHOLDER, TEXT_UNSUBSCRIBE_LINK)
    assert FIRST_WORDS in build["text"] and "{{" not in build["text"]


def test_edit_rebuilds_and_moves_the_epoch(preview, repo_project):
    before = state(preview)
    replace_in(repo_project / SECTION, FIRST_WORDS, "Ett nytt stycke från redaktören")
    after = wait_for_epoch_after(preview, before["epoch"])
    assert after["epoch"] > before["epoch"] and after["error"] is None
    assert "Ett nytt stycke från redaktören" in get(preview, "/email.html")[2]
    assert "Ett nytt stycke från redaktören" in after["build"]["text"]
    assert FIRST_WORDS not in get(preview, "/email.html")[2]


def test_broken_front_matter_keeps_the_last_good_build_then_recovers(preview, repo_project):
    start = state(preview)
    good = break_front_matter(repo_project / TIMELINE)
    failed = wait_for_epoch_after(preview, start["epoch"])
    error = failed["error"]
    assert error["file"] == "issues/22-1/02-processen-2021.md"
    assert error["line"] in (2, 3) and "YAML" in error["what"]  # the front matter's lines
    assert error["message"].startswith(f"issues/22-1/02-processen-2021.md:{error['line']}: ")
    assert failed["build"]["built_at"] == start["build"]["built_at"]  # the last good build is kept...
    # ...but the check panel agrees with the banner: it lists the error that stopped the build, not the old check
    assert start["problems"] == start["build"]["problems"]
    assert failed["problems"] == [{"level": "error", "message": f"{error['what']}. {error['hint']}",
                                   "file": error["file"], "line": error["line"]}]
    status, _, html = get(preview, "/email.html")
    assert status == 200 and "Processen år 2021" in html  # ...and still served
    (repo_project / TIMELINE).write_text(good.replace("Ta fram målbild", "Ta fram en gemensam målbild"), encoding="utf-8")
    fixed = wait_for_epoch_after(preview, failed["epoch"])
    assert fixed["error"] is None and fixed["problems"] == fixed["build"]["problems"]
    assert "Ta fram en gemensam målbild" in get(preview, "/email.html")[2]


def test_a_broken_issue_at_start_serves_the_error_until_fixed(repo_project):
    good = break_front_matter(repo_project / TIMELINE)
    with PreviewServer(repo_project, "22:1", port=0) as server:
        first = state(server)
        assert first["build"] is None and first["error"]["file"].endswith("02-processen-2021.md")
        assert [p["file"] for p in first["problems"]] == [first["error"]["file"]]
        status, _, html = get(server, "/email.html")
        assert status == 503 and f"02-processen-2021.md:{first['error']['line']}:" in html
        (repo_project / TIMELINE).write_text(good, encoding="utf-8")
        fixed = wait_for_epoch_after(server, first["epoch"])
        assert fixed["error"] is None and fixed["build"] is not None
        assert get(server, "/email.html")[0] == 200


def test_template_and_roster_changes_rebuild(preview, repo_project):
    start = state(preview)
    (repo_project / "templates").mkdir(exist_ok=True)
    broken = repo_project / "templates" / "section.mjml.j2"
    broken.write_text("<mj-section>{% if %}</mj-section>\n", encoding="utf-8")
    failed = wait_for_epoch_after(preview, start["epoch"])
    assert failed["error"]["file"] == "templates/section.mjml.j2" and failed["error"]["line"] == 1
    broken.unlink()
    fixed = wait_for_epoch_after(preview, failed["epoch"])
    assert fixed["error"] is None
    replace_in(repo_project / "roster.toml", "Nettan Eliasson", "Nettan Eliasson-Testsson")
    renamed = wait_for_epoch_after(preview, fixed["epoch"])
    assert "Nettan Eliasson-Testsson" in renamed["build"]["text"]


def test_settings_change_shows_the_subject_as_sent(preview, repo_project):
    start = state(preview)
    replace_in(repo_project / "nyhetsbrev.toml", 'subject = "{subject}"', 'subject = "{name}: {subject}"')
    after = wait_for_epoch_after(preview, start["epoch"])
    assert after["build"]["subject"] == (
        "Tillsammans för barnens bästa i Sörmland: Nyhetsbrev 22:1 – Tillsammans för barnens bästa i Sörmland")


def test_a_build_reads_the_settings_once(repo_project, monkeypatch):
    reads = []
    real = config.load_settings

    def counting(path):
        reads.append(path)
        return real(path)

    monkeypatch.setattr(config, "load_settings", counting)
    build = make_build(repo_project, IssueId(22, 1))
    assert reads == [repo_project / config.SETTINGS_FILE]  # subject and sender come from the same read as the email
    assert build.subject.startswith("Nyhetsbrev 22:1")


def test_problems_name_their_file_and_line(repo_project):
    (repo_project / "issues/22-1/04-bild.md").write_text(
        "## Bild\n\n![](https://example.org/karta.png)\n", encoding="utf-8")
    problems = make_build(repo_project, IssueId(22, 1)).problems
    (missing_alt,) = [p for p in problems if "alt text" in p["message"]]
    assert missing_alt["level"] == "warning"
    assert (missing_alt["file"], missing_alt["line"]) == ("issues/22-1/04-bild.md", 3)


def test_an_unexpected_failure_does_not_stop_the_preview(preview, repo_project):
    start = state(preview)
    odd = repo_project / "issues/22-1/05-mapp.md"
    odd.mkdir()  # a folder where a section file is expected: reading it fails
    failed = wait_for_epoch_after(preview, start["epoch"])
    assert failed["error"] is not None and "05-mapp.md" in failed["error"]["message"]
    assert get(preview, "/email.html")[0] == 200
    odd.rmdir()
    fixed = wait_for_epoch_after(preview, failed["epoch"])
    assert fixed["error"] is None


def test_a_save_that_changes_nothing_visible_does_not_reload_the_page(repo_project):
    rebuilt = threading.Event()
    with PreviewServer(repo_project, "22:1", port=0, on_build=lambda event: rebuilt.set()) as server:
        epoch, builds = state(server)["epoch"], server.builds
        path = repo_project / SECTION
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
        assert rebuilt.wait(10), "the watcher did not notice the save"
        assert server.builds == builds + 1
        assert state(server)["epoch"] == epoch


def test_audience_sections_are_marked_only_in_the_preview(repo_project):
    (repo_project / "issues/22-1/04-politik.md").write_text(AUDIENCE_SECTION, encoding="utf-8")
    with PreviewServer(repo_project, "22:1", port=0) as server:
        sections = state(server)["build"]["sections"]
        assert sections[-1]["audience"] == ["politiker", "profession"]
        assert all(s["audience"] == [] for s in sections[:-1])
        marked = get(server, "/email.html")[2]
        unmarked = get(server, "/email.html?markers=0")[2]
        assert 'data-audience="politiker, profession"' in marked
        assert "Only for: " in marked and "Only for: " not in unmarked
        assert "Only for: " not in pipeline.check(repo_project, "22:1").rendered.email_html


def test_images_from_the_issue_folder_and_nothing_else(repo_project):
    images = repo_project / "issues/22-1/images"
    images.mkdir(exist_ok=True)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    (images / "bild.png").write_bytes(png)
    with PreviewServer(repo_project, "22:1", port=0) as server:
        status, kind, _ = get(server, "/images/bild.png")
        assert status == 200 and kind == "image/png"
        assert get(server, "/01-tillsammans.md")[0] == 404
        assert get(server, "/../../nyhetsbrev.toml")[0] == 404
        assert get(server, "/%2e%2e/%2e%2e/roster.toml")[0] == 404
        assert get(server, "/assets/../server.py")[0] == 404
        assert get(server, "/", headers={"Host": "attacker.example.org"})[0] == 403


def test_the_email_shows_its_images_fit_for_email(repo_project):
    from PIL import Image

    folder = repo_project / "issues/22-1"
    (folder / "images").mkdir(exist_ok=True)
    Image.new("RGB", (2400, 800), (200, 40, 40)).save(folder / "images" / "Stor bild.png")
    section = folder / "01-tillsammans.md"
    section.write_text(section.read_text(encoding="utf-8") + "\n\n![Stor bild](<images/Stor bild.png>)\n", encoding="utf-8")
    with PreviewServer(repo_project, "22:1", port=0) as server:
        html = get(server, "/email.html")[2]
        [src] = re.findall(r'src="(images/stor-bild-[0-9a-f]{10}\.png)"', html)
        request = urllib.request.Request(server.url.rstrip("/") + "/" + src)
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.headers.get("Content-Type") == "image/png"
            assert Image.open(io.BytesIO(response.read())).size == (1200, 400)  # the optimised file, as sent


def test_a_port_in_use_gives_another_and_says_so(repo_project):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        with PreviewServer(repo_project, "22:1", port=busy) as server:
            assert server.port != busy
            assert f"port {busy} is in use" in server.port_note and str(server.port) in server.port_note
            assert get(server, "/api/state")[0] == 200


def test_unknown_issue_is_refused_before_serving(repo_project):
    with pytest.raises(IssueNotFound):
        PreviewServer(repo_project, "22:9", port=0).start()
    with pytest.raises(IssueIdError):
        PreviewServer(repo_project, "22:x", port=0)


def test_cli_refuses_an_unknown_issue_in_one_line(cli, repo_project):
    result = cli("--project", repo_project, "preview", "22:9", "--no-open")
    assert result.exit_code == 1
    assert "issue 22:9 not found" in one_line_error(result)


def test_stopping_frees_the_port(repo_project):
    server = PreviewServer(repo_project, "22:1", port=0).start()
    port = server.port
    server.stop()
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))  # raises if the preview still held it


@pytest.mark.timeout(180)
def test_cli_serves_and_stops_cleanly_on_ctrl_c(repo_project):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NYHETSBREV_")}
    env.update(PYTHONUNBUFFERED="1", COLUMNS="200", NYHETSBREV_DB=os.environ["NYHETSBREV_DB"], NYHETSBREV_LANGUAGE="en")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "nyhetsbrev", "--project", str(repo_project), "preview", "22:1", "--no-open",
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, preexec_fn=ctrl_c_as_in_a_terminal,
    )
    try:
        line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line, line + process.stderr.read()
        server = type("Running", (), {"url": f"http://127.0.0.1:{port}/"})
        assert get(server, "/api/state")[0] == 200
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=90)  # a generous bound: a build under way is finished first
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "Preview stopped." in out and "Traceback" not in err


def test_the_watcher_sees_sections_and_skips_editor_scratch_files(repo_project):
    from nyhetsbrev.web.preview.watcher import changed_paths, scan

    folder = repo_project / "issues/22-1"
    watched = PreviewServer(repo_project, "22:1", port=0).watched_paths()
    before = scan(watched)
    assert str(folder / "01-tillsammans.md") in before and str(repo_project / "roster.toml") in before
    for scratch in (".01-tillsammans.md.swp", "01-tillsammans.md~", "4913", "#01-tillsammans.md#"):
        (folder / scratch).write_text("x", encoding="utf-8")
    assert scan(watched) == before
    (folder / "04-ny.md").write_text("## Ny\n", encoding="utf-8")
    after = scan(watched)
    assert changed_paths(before, after) == [str(folder / "04-ny.md")]


@pytest.mark.parametrize("path, status", [
    ("/api/wait?epoch=nan&timeout=0", 200),
    ("/api/wait?epoch=inf&timeout=0", 200),
    ("/%00", 404),
    ("/images/a%00.png", 404),
    ("/" + "x" * 5000 + ".png", 404),
])
def test_bad_requests_get_an_answer_and_no_traceback(preview, capfd, path, status):
    assert get(preview, path)[0] == status
    assert get(preview, "/api/state")[0] == 200  # still serving
    assert "Traceback" not in capfd.readouterr().err


def test_the_unsubscribe_link_shows_the_page_readers_will_see(preview, repo_project):
    status, _, body = get(preview, "/link/unsubscribe")
    assert status == 200 and "opens a new email to the unsubscribe address" in body  # mailto only: no page
    epoch = state(preview)["epoch"]
    replace_in(repo_project / "nyhetsbrev.toml", '# unsubscribe_url =', "unsubscribe_url =")
    wait_for_epoch_after(preview, epoch)
    status, _, body = get(preview, "/link/unsubscribe")
    assert status == 200 and '<html lang="sv">' in body
    assert "Vill du avregistrera dig från Tillsammans för barnens bästa i Sörmland?" in body
    assert "https://www.example.se/avregistrera" in body and "<form" not in body  # the button does nothing here
