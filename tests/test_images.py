"""Images fit for email: real files made with Pillow, built, checked and sent as the commands do it."""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import os
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from nyhetsbrev.mail import message
from nyhetsbrev.publish import pipeline
from nyhetsbrev.render import checks, images
from tests.fixtures import one_line_error
from tests.image_helpers import MARKER, heic_photo, jpeg_segments, noise_png, phone_photo
from tests.send_helpers import add_people, project, smtp  # noqa: F401  (fixtures)

PHOTO = "Bild från mötet.jpg"
SECTION = (
    "## Välkommen\n\nFrån mötet i Eskilstuna.\n\n"
    "![Deltagarna vid bordet](<images/Bild från mötet.jpg>)\n\n"
    "Samma bild en gång till:\n\n![Samma bild](images/Bild%20fr%C3%A5n%20m%C3%B6tet.jpg)\n\n"
    "![Kartan](images/mötet.png)\n"
)


@pytest.fixture(scope="module")
def photo_bytes(tmp_path_factory) -> bytes:
    """A 4000×3000 phone photo (orientation 6, GPS), made once for the module."""
    return phone_photo(tmp_path_factory.mktemp("photo") / PHOTO).read_bytes()


@pytest.fixture
def photo_project(project, photo_bytes):  # noqa: F811
    folder = project / "issues" / "22-1"
    (folder / "images" / PHOTO).write_bytes(photo_bytes)
    Image.new("RGB", (300, 200), (240, 200, 10)).save(folder / "images" / "mötet.png")
    (folder / "01-inledning.md").write_text(SECTION, encoding="utf-8")
    return project


def _write_section(project: Path, text: str) -> Path:
    path = project / "issues" / "22-1" / "01-inledning.md"
    path.write_text(text, encoding="utf-8")
    return path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_phone_photo_is_turned_shrunk_stripped_and_sized(photo_project, cli, tmp_path):
    source = photo_project / "issues" / "22-1" / "images" / PHOTO
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    assert Image.open(source).getexif().get_ifd(0x8825)  # the source really carries a GPS position

    result = cli("--project", photo_project, "build", "22:1")
    assert result.exit_code == 0, result.output
    out = photo_project / "build" / "22-1"
    names = sorted(p.name for p in (out / "images").iterdir())
    [photo_name] = [n for n in names if n.startswith("bild-fran-motet-")]
    assert re.fullmatch(r"bild-fran-motet-[0-9a-f]{10}\.jpg", photo_name)
    assert any(re.fullmatch(r"motet-[0-9a-f]{10}\.png", n) for n in names)

    data = (out / "images" / photo_name).read_bytes()
    optimised = Image.open(io.BytesIO(data))
    assert optimised.size == (1200, 1600)  # turned upright (portrait), at most 1200 px wide
    assert _close(optimised.getpixel((1200 - 20, 20)), MARKER)  # the stored top-left corner is now top right
    assert not _close(optimised.getpixel((20, 20)), MARKER)
    assert not optimised.getexif() and optimised.info.get("progressive")
    assert not {0xE1, 0xE2, 0xED, 0xFE} & set(jpeg_segments(data))  # no EXIF/GPS/XMP, ICC, IPTC or comment block
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before  # the source is never touched

    html = (out / "email.html").read_text(encoding="utf-8")
    tags = re.findall(rf'<img [^>]*src="images/{photo_name}"[^>]*>', html)
    assert len(tags) == 2  # both spellings of the name find the same file
    for tag in tags:
        assert 'width="552"' in tag and 'height="736"' in tag
        assert re.search(r"width:\s*100%;\s*max-width:\s*552px;\s*height:\s*auto", tag)
    webs = sorted(out.glob("web*.html"))
    assert len(webs) > 1  # the public web copy and the audience versions all show the image beside them
    assert all(f'src="images/{photo_name}"' in web.read_text(encoding="utf-8") for web in webs)

    add_people(3, ["politiker"])
    outbox = tmp_path / "utkorg"
    sent = cli("--project", photo_project, "send", "22:1", "--list", "politiker", "--outbox", outbox)
    assert sent.exit_code == 0, sent.output
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 3
    for path in files:
        assert path.stat().st_size < 1024 * 1024
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        [jpeg] = [p for p in msg.walk() if p.get_content_type() == "image/jpeg"]
        assert jpeg.get_content() == data


def _close(pixel, colour, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour))


def test_a_large_png_is_named_with_its_size_in_a_warning(project, cli):  # noqa: F811
    noise_png(project / "issues" / "22-1" / "images" / "brus.png")
    _write_section(project, "## Brus\n\n![Brus från kameran](images/brus.png)\n")
    result = cli("--project", project, "check", "22:1")
    assert result.exit_code == 0, result.output
    warning = [line for line in result.stderr.splitlines() if "images/brus.png" in line]
    assert warning and re.search(r"is 4\.\d MB after optimisation \(over 300 KB\)", warning[0])
    assert "save it as JPEG" in warning[0]  # noise has the colours of a photo
    assert re.search(r"the message as sent \(images embedded\) is 5\.\d MB", result.stderr)


def test_images_over_10_mb_in_all_are_an_error_unless_linked(project, cli):  # noqa: F811
    folder = project / "issues" / "22-1" / "images"
    for n in (1, 2):
        noise_png(folder / f"brus{n}.png", mode="RGBA", seed=n)  # 5.5 MB each, lossless
    _write_section(project, "## Brus\n\n![Ett](images/brus1.png)\n\n![Två](images/brus2.png)\n")
    result = cli("--project", project, "check", "22:1")
    assert result.exit_code == 1
    assert "refuse messages over 10 MB" in result.stderr and "image_base_url" in result.stderr

    settings = project / "nyhetsbrev.toml"
    settings.write_text(settings.read_text(encoding="utf-8") + 'image_base_url = "https://bilder.example.org/nb"\n',
                        encoding="utf-8")
    linked = cli("--project", project, "check", "22:1")
    assert linked.exit_code == 0, linked.output  # linked, not embedded: the message itself is small
    assert "MB after optimisation" in linked.stderr and "message as sent" not in linked.stderr


def test_two_builds_give_the_same_bytes_and_the_second_encodes_nothing(photo_project, monkeypatch):
    first = _snapshot(pipeline.build(photo_project, "22:1").out_dir)
    encoded = images.encodings
    monkeypatch.setattr(images, "_MEMO", {})  # as a new process: only the cache on disk is left
    second = _snapshot(pipeline.build(photo_project, "22:1").out_dir)
    assert second == first and images.encodings == encoded

    shutil.rmtree(Path(os.environ["XDG_CACHE_HOME"]) / "nyhetsbrev" / "images")
    monkeypatch.setattr(images, "_MEMO", {})
    third = _snapshot(pipeline.build(photo_project, "22:1").out_dir)
    assert images.encodings == encoded + 2 and third == first  # made afresh: the very same bytes


def test_a_changed_source_gets_a_new_name_and_the_old_file_goes(photo_project):
    out = pipeline.build(photo_project, "22:1").out_dir
    old = {p.name for p in (out / "images").iterdir()}
    Image.new("RGB", (300, 200), (10, 10, 200)).save(photo_project / "issues" / "22-1" / "images" / "mötet.png")
    pipeline.build(photo_project, "22:1")
    new = {p.name for p in (out / "images").iterdir()}
    [gone] = old - new
    [added] = new - old
    assert gone.startswith("motet-") and added.startswith("motet-")
    assert f'src="images/{added}"' in (out / "email.html").read_text(encoding="utf-8")


def test_svg_is_refused_with_a_reason(project, cli):  # noqa: F811
    (project / "issues" / "22-1" / "images" / "logga.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', encoding="utf-8")
    path = _write_section(project, "## Logga\n\n![Vår logga](images/logga.svg)\n")
    result = cli("--project", project, "check", "22:1")
    assert result.exit_code == 1
    assert f"{path}:3: image 'images/logga.svg': SVG images are not shown by Gmail and Outlook" in result.stderr
    assert "export it as PNG" in result.stderr and "Traceback" not in result.output


def test_a_file_that_is_no_image_is_an_error_not_a_crash(project, cli):  # noqa: F811
    (project / "issues" / "22-1" / "images" / "trasig.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a photo")
    _write_section(project, "## Trasig\n\n![Trasig bild](images/trasig.jpg)\n")
    result = cli("--project", project, "build", "22:1")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "image 'images/trasig.jpg': not an image that can be read" in result.stderr


def test_a_heic_photo_becomes_a_jpeg(project, cli):  # noqa: F811
    heic_photo(project / "issues" / "22-1" / "images" / "IMG_0001.HEIC")
    _write_section(project, "## Från telefonen\n\n![Foto](images/IMG_0001.HEIC)\n")
    result = cli("--project", project, "build", "22:1")
    assert result.exit_code == 0, result.output
    [made] = (project / "build" / "22-1" / "images").glob("img-0001-*.jpg")
    converted = Image.open(made)
    assert converted.format == "JPEG" and converted.size == (800, 600)
    assert _close(converted.getpixel((10, 10)), MARKER)


def test_transparency_survives_and_a_gif_is_kept_as_it_is(project):  # noqa: F811
    folder = project / "issues" / "22-1" / "images"
    logo = Image.new("RGBA", (2400, 600), (0, 0, 0, 0))
    logo.paste((11, 92, 125, 255), (0, 0, 1200, 600))
    logo.save(folder / "logga.png")
    frames = [Image.new("RGB", (40, 40), colour) for colour in ((200, 0, 0), (0, 200, 0), (0, 0, 200))]
    frames[0].save(folder / "snurra.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    _write_section(project, "## Logga\n\n![Logga](images/logga.png)\n\n![Snurra](images/snurra.gif)\n")
    out = pipeline.build(project, "22:1").out_dir / "images"
    [png] = out.glob("logga-*.png")
    made = Image.open(png)
    assert made.size == (1200, 300) and made.mode == "RGBA"
    assert made.getpixel((10, 10))[3] == 255 and made.getpixel((1190, 290))[3] == 0
    [gif] = out.glob("snurra-*.gif")
    assert gif.read_bytes() == (folder / "snurra.gif").read_bytes() and Image.open(gif).n_frames == 3


def test_the_message_size_in_check_is_the_size_sent(photo_project):
    proj, issue = pipeline.load(photo_project, "22:1")
    rendered = pipeline.render(proj, issue)
    template = message.build_template(proj.settings, issue, rendered)
    _, data = template.personalise("mottagare@example.org", None, message_id="<1@example.org>", token="t" * 43)
    estimate = checks.message_size(rendered)
    assert abs(estimate - len(data)) < 0.02 * len(data), (estimate, len(data))


def test_send_dry_run_and_test_copies_print_each_versions_size(photo_project, cli, smtp):  # noqa: F811
    add_people(2, ["politiker"])
    add_people(2, ["profession"], start=10)
    dry = cli("--project", photo_project, "send", "22:1", "--list", "politiker", "--list", "profession", "--dry-run")
    assert dry.exit_code == 0, dry.output
    sizes = re.findall(r"(\d+) KB \(sections for (\w+)\)", dry.stdout)
    assert sorted(name for _, name in sizes) == ["politiker", "profession"]
    assert all(200 < int(kb) < 1024 for kb, _ in sizes)

    test = cli("--project", photo_project, "send", "22:1", "--test", "granskare@example.org")
    assert test.exit_code == 0, test.output
    [kb] = re.findall(r"message size: (\d+) KB", test.stdout)
    assert abs(int(kb) * 1024 - len(smtp.received[0].data)) <= 1024


def test_a_missing_image_is_named_as_the_author_wrote_it(project, cli):  # noqa: F811
    path = _write_section(project, "## Saknas\n\n![Från mötet](<images/Bild från mötet.jpg>)\n")
    result = cli("--project", project, "check", "22:1")
    assert result.exit_code == 1
    assert f"{path}:3: image 'images/Bild från mötet.jpg' not found" in result.stderr


# Hostile files: only JPEG, PNG, GIF, WebP and HEIC are opened, whatever the name says, and none may take
# more than about 300 MB to decode. Each is one line naming the file; no other program is ever started.

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto showpage\n"  # 77 bytes


def test_eps_named_jpg_is_one_line_and_ghostscript_is_never_started(project, tmp_path):  # noqa: F811
    import subprocess
    import sys

    (project / "issues" / "22-1" / "images" / "foto.jpg").write_bytes(EPS)
    path = _write_section(project, "## Foto\n\n![Ett foto](images/foto.jpg)\n")
    tools, started = tmp_path / "tools", tmp_path / "gs-was-started"
    tools.mkdir()
    fake = tools / "gs"  # a Ghostscript that only records that it ran (Pillow's EPS reader calls 'gs')
    fake.write_text(f"#!/bin/sh\ntouch '{started}'\nexit 1\n", encoding="utf-8")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}"}
    for command in ("check", "build"):
        result = subprocess.run([sys.executable, "-m", "nyhetsbrev", "--project", str(project), command, "22:1"],
                                env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert f"{path}:3: image 'images/foto.jpg': the file is a PostScript (EPS) file: only JPEG, PNG, GIF, " \
               "WebP or HEIC images are used" in line
        assert not started.exists(), f"{command} started gs"
    assert not (project / "build" / "22-1" / "images").exists()


def test_a_tiff_named_jpg_is_refused_in_one_line_and_never_converted(project, cli):  # noqa: F811
    folder = project / "issues" / "22-1" / "images"
    Image.new("RGB", (200, 100), (200, 30, 30)).save(folder / "karta.jpg", "TIFF")
    before = (folder / "karta.jpg").read_bytes()
    path = _write_section(project, "## Karta\n\n![Karta](images/karta.jpg)\n")
    result = cli("--project", project, "build", "22:1")
    line = one_line_error(result)
    assert f"{path}:3: image 'images/karta.jpg': the file is a TIFF image: only JPEG, PNG, GIF, WebP or HEIC" in line
    assert (folder / "karta.jpg").read_bytes() == before
    assert not list((project / "build").rglob("karta*"))


@pytest.mark.parametrize("data, said", [
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "the file is a PDF document"),
    (b"BM" + bytes(60), "the file is a BMP image"),
    ("Det här är en textfil, ingen bild.\n".encode("utf-8"), "not an image that can be read"),
])
def test_a_file_that_is_something_else_is_one_line_naming_it(project, cli, data, said):  # noqa: F811
    (project / "issues" / "22-1" / "images" / "bild.png").write_bytes(data)
    path = _write_section(project, "## Bild\n\n![Bild](images/bild.png)\n")
    line = one_line_error(cli("--project", project, "build", "22:1"))
    assert f"{path}:3: image 'images/bild.png': {said}: only JPEG, PNG, GIF, WebP or HEIC images are used" in line


@pytest.mark.filterwarnings("error")  # Pillow's DecompressionBombWarning must not become a traceback either
def test_a_png_with_too_many_pixels_is_one_line_and_never_decoded(project, cli, monkeypatch):  # noqa: F811
    from PIL import ImageFile

    folder = project / "issues" / "22-1" / "images"
    Image.new("P", (13370, 13370), 0).save(folder / "karta.png", optimize=True)  # small file, 179 megapixels
    assert (folder / "karta.png").stat().st_size < 700_000
    path = _write_section(project, "## Karta\n\n![Karta](images/karta.png)\n")

    def decoded(self, *args, **kwargs):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", decoded)
    line = one_line_error(cli("--project", project, "build", "22:1"))
    assert f"{path}:3: image 'images/karta.png': the image is 13 370 × 13 370 pixels, too large to read safely" in line
    assert "megapixels" in line


def test_the_pixel_budget_counts_what_is_decoded_so_a_large_phone_jpeg_still_works(project, tmp_path):  # noqa: F811
    # 8000 × 6000 (48 megapixels) is over the budget at full size, but a JPEG is decoded at 1/4 of that
    photo = phone_photo(tmp_path / "stor.jpg", size=(8000, 6000), orientation=1)
    made = images.optimise(photo)
    assert (made.width, made.height) == (1200, 900)
    assert 48_000_000 * 8 > images.DECODE_BUDGET


@pytest.mark.filterwarnings("error")
def test_a_png_header_claiming_a_gigapixel_is_one_line(project, cli):  # noqa: F811
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 40_000, 40_000, 8, 2, 0, 0, 0)  # 1.6 gigapixels of RGB, in 60 bytes
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    (project / "issues" / "22-1" / "images" / "jatte.png").write_bytes(data)
    path = _write_section(project, "## Stor\n\n![Stor](images/jatte.png)\n")
    line = one_line_error(cli("--project", project, "build", "22:1"))
    assert f"{path}:3: image 'images/jatte.png': the image has too many pixels to be read safely" in line
