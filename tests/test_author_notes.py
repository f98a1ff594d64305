"""The author's notes (HTML comments) reach no reader; other raw HTML stays text and check names its line."""

from __future__ import annotations

import pytest

from nyhetsbrev.publish import pipeline
from nyhetsbrev.web.preview.builds import make_build
from tests.htmltext import visible_text
from tests.send_helpers import add_people, make_project, send, smtp  # noqa: F401  (fixtures)

pytestmark = pytest.mark.timeout(60)

NOTE = "TODO: kolla datum med Nettan"
SECTION = f"""\
---
audience: [politiker]
---
## Till förtroendevalda

Mötet är den 3 maj <!-- {NOTE} --> i Nyköping.

<!-- Längre anteckning
över två rader -->

<div class="box">Inklistrat från webben</div>

Endast för politikerlistan.
"""


@pytest.fixture
def root(tmp_path):
    root = make_project(tmp_path / "p")
    (root / "issues/22-1/02-politiker.md").write_text(SECTION, encoding="utf-8")
    return root


def test_a_comment_reaches_no_output(root, smtp, tmp_path):
    out = pipeline.build(root, "22:1").out_dir
    written = {path.name: path.read_text(encoding="utf-8") for path in out.glob("*.*") if path.suffix in (".html", ".txt")}
    assert {"email.html", "email.txt", "web.html", "web-politiker.html"} <= set(written)
    preview = make_build(root, pipeline.load(root, "22:1")[1].id)
    add_people(1, ["politiker"])
    send(root)
    sent = smtp.received[0].message
    outputs = {**written, "preview email": preview.email_html, "preview text": preview.text, "preview web": preview.web_html,
               "sent text": sent.get_body(("plain",)).get_content(), "sent html": sent.get_body(("html",)).get_content()}
    from nyhetsbrev.publish.archive import publish

    site = tmp_path / "arkiv"
    publish(root, site)
    outputs.update({f"archive {path.relative_to(site)}": path.read_text(encoding="utf-8")
                    for path in site.rglob("*") if path.suffix in (".html", ".xml")})
    assert any("politiker" in name for name in outputs)  # the archive has the version with the section too
    for name, text in outputs.items():
        for words in ("kolla datum", "Längre anteckning", "över två rader"):
            assert words not in text, (name, words)
    assert "Mötet är den 3 maj i Nyköping." in outputs["sent text"]


def test_raw_html_stays_text_and_check_warns_with_its_line(root, cli):
    result = cli("--project", root, "check", "22:1")
    assert result.exit_code == 0, result.output
    path = root / "issues/22-1/02-politiker.md"
    assert f"{path}:11: raw HTML is shown to readers as text" in result.stderr and '<div class="box">' in result.stderr
    html = pipeline.build(root, "22:1").out_dir.joinpath("web-politiker.html").read_text(encoding="utf-8")
    assert '<div class="box">' not in html and '<div class="box">Inklistrat från webben</div>' in visible_text(html)


def test_a_comment_left_open_is_a_check_error(root, cli):
    path = root / "issues/22-1/02-politiker.md"
    path.write_text(SECTION.replace("-->\n\n<div", "\n\n<div"), encoding="utf-8")
    result = cli("--project", root, "check", "22:1")
    assert result.exit_code == 1 and f"{path}:8: an HTML comment '<!--' is not closed" in result.stderr
