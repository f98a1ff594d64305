"""Images fit for email: orientation applied, metadata dropped, at most 1200 px wide, cached by content."""

from __future__ import annotations

import hashlib
import io
import json
import re
import struct
import unicodedata
import warnings
from pathlib import Path
from typing import Iterable
from urllib.parse import unquote

from ..errors import ImageError
from ..i18n import N_, _, group_digits
from ..project.models import EmailImage
from ..writer import write_bytes

MAX_WIDTH = 1200  # twice the 600 px column, sharp on high-density screens
JPEG_QUALITY = 80
RECIPE = f"nyhetsbrev-images-1/{MAX_WIDTH}/q{JPEG_QUALITY}/progressive"  # change it when the output would change
_ORIENTATION = 0x0112
_SUBTYPES = {"jpeg": ".jpg", "png": ".png", "gif": ".gif"}
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")
# The only kinds Pillow may open, whatever the file's extension says: never TIFF, EPS (which runs Ghostscript), PSD …
OPENED = ("JPEG", "PNG", "GIF", "WEBP")
# One image may take about this much memory while it is read, converted and shrunk.
DECODE_BUDGET = 300 * 1024 * 1024
# Bytes of memory per decoded pixel at the peak, measured on Pillow 13 (bench/image_memory.py):
# WebP's decoder keeps its own copy; grey or palette with transparency is converted to RGBA at full size.
_PIXEL_COST = {"WEBP": 17, "LA": 13, "La": 13, "PA": 13, "transparent": 13, "RGBA": 9}
_PIXEL_COST_DEFAULT = 8
# What a file that is not one of those kinds most likely is, by its first bytes (for the one-line reason).
_OTHER_KINDS = (
    (b"II*\0", N_("a TIFF image")), (b"MM\0*", N_("a TIFF image")), (b"%!PS", N_("a PostScript (EPS) file")),
    (b"\xc5\xd0\xd3\xc6", N_("a PostScript (EPS) file")), (b"%PDF", N_("a PDF document")), (b"BM", N_("a BMP image")),
    (b"8BPS", N_("a Photoshop (PSD) file")), (b"\0\0\1\0", N_("an icon (ICO)")),
    (b"\xff\x4f\xff\x51", N_("a JPEG 2000 image")), (b"\0\0\0\x0cjP  ", N_("a JPEG 2000 image")),
    (b"PK\3\4", N_("a zip file (an Office document?)")),
)
_MEMO: dict[tuple[str, str], tuple[str, int, int, bool, bytes]] = {}  # (cache, content key) → result, this process
_MEMO_LIMIT = 64

encodings = 0  # how many images this process has re-encoded (the cache's effect is visible in tests)


def source_path(folder: Path, src: str) -> Path:
    """The file a Markdown image source names, its percent-encoding decoded (spaces, å, ä, ö).

    A name typed with 'å' finds a file whose name spells it 'a' + ring (as macOS writes names), and the other way round.
    """
    path = (folder / unquote(src)).resolve()
    if path.exists():
        return path
    wanted = unicodedata.normalize("NFC", path.name)
    try:
        same = [p for p in path.parent.iterdir() if p.name != path.name and unicodedata.normalize("NFC", p.name) == wanted]
    except OSError:
        return path
    return same[0].resolve() if len(same) == 1 else path


def prepare(folder: Path, sources: Iterable[str], cache_dir: Path | None) -> tuple[dict[str, EmailImage], dict[Path, str]]:
    """Each local image source made fit for email (by its src as written), and the files refused with why.

    Sources that are outside the folder or missing are left alone: check reports them.
    """
    folder = folder.resolve()
    made: dict[str, EmailImage] = {}
    refused: dict[Path, str] = {}
    by_path: dict[Path, EmailImage] = {}
    for src in dict.fromkeys(sources):
        path = source_path(folder, src)
        if not path.is_relative_to(folder) or not path.is_file() or path in refused:
            continue
        if path not in by_path:
            try:
                by_path[path] = optimise(path, cache_dir)
            except ImageError as exc:
                refused[path] = exc.what + (f": {exc.hint}" if exc.hint else "")
                continue
        made[src] = by_path[path]
    return made, refused


def optimise(path: Path, cache_dir: Path | None = None) -> EmailImage:
    """The image at path made fit for email; from the cache when the same bytes were made before."""
    key = _content_key(path, cache_dir)
    memo_key = (str(cache_dir), key)
    result = _MEMO.get(memo_key) or _from_cache(cache_dir, key)
    if result is None:
        result = _encode(path)
        _store(cache_dir, key, result)
    if len(_MEMO) >= _MEMO_LIMIT:
        _MEMO.clear()
    _MEMO[memo_key] = result
    kind, width, height, photo_like, data = result
    name = f"{slug(path.stem) or 'bild'}-{hashlib.sha256(data).hexdigest()[:10]}{_SUBTYPES[kind]}"
    return EmailImage(source=path, name=name, data=data, kind=kind, width=width, height=height, photo_like=photo_like)


def slug(text: str, *, keep: str = "", limit: int | None = 48) -> str:
    """A URL-safe name part: 'Bild från mötet' → 'bild-fran-motet'; letters and digits, the `keep` characters
    and '-' between words; '' when nothing is left."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(rf"[^a-z0-9{re.escape(keep)}]+", "-", plain).strip("-")[:limit].strip("-")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImageError(_("cannot read the image: {strerror}").format(strerror=exc.strerror), path=path) from None


def _content_key(path: Path, cache_dir: Path | None) -> str:
    """The cache key: the source bytes and the recipe; a stat record spares hashing an unchanged file again."""
    try:
        st = path.stat()
    except OSError as exc:
        raise ImageError(_("cannot read the image: {strerror}").format(strerror=exc.strerror), path=path) from None
    stamp = f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}\0{RECIPE}"
    record = cache_dir / "seen" / hashlib.sha256(stamp.encode("utf-8", "surrogateescape")).hexdigest() if cache_dir else None
    if record is not None:
        try:
            known = record.read_text(encoding="ascii")
            if re.fullmatch(r"[0-9a-f]{64}", known):
                return known
        except OSError:
            pass
    key = hashlib.sha256(RECIPE.encode("ascii") + b"\0" + _pillow_version().encode("ascii") + b"\0" + _read(path)).hexdigest()
    if record is not None:
        _quietly(write_bytes, record, key.encode("ascii"))
    return key


def _pillow_version() -> str:
    """Pillow's version without importing Pillow (a cached build need not load it)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("Pillow")
    except PackageNotFoundError:  # pragma: no cover - Pillow is a dependency
        return "unknown"


def _from_cache(cache_dir: Path | None, key: str) -> tuple[str, int, int, bool, bytes] | None:
    if cache_dir is None:
        return None
    try:
        meta = json.loads((cache_dir / f"{key}.json").read_text(encoding="utf-8"))
        data = (cache_dir / f"{key}.bin").read_bytes()
    except (OSError, ValueError):
        return None
    if hashlib.sha256(data).hexdigest() != meta.get("sha256") or meta.get("kind") not in _SUBTYPES:
        return None  # a damaged entry is made again
    return meta["kind"], int(meta["width"]), int(meta["height"]), bool(meta["photo_like"]), data


def _store(cache_dir: Path | None, key: str, result: tuple[str, int, int, bool, bytes]) -> None:
    if cache_dir is None:
        return
    kind, width, height, photo_like, data = result
    meta = {"kind": kind, "width": width, "height": height, "photo_like": photo_like,
            "sha256": hashlib.sha256(data).hexdigest()}
    if _quietly(write_bytes, cache_dir / f"{key}.bin", data):
        _quietly(write_bytes, cache_dir / f"{key}.json", json.dumps(meta).encode("utf-8"))


def _quietly(write, path: Path, data: bytes) -> bool:
    """Write a cache file; a read-only or full disk only makes the next run slower."""
    try:
        write(path, data)
        return True
    except OSError:
        return False


def _encode(path: Path) -> tuple[str, int, int, bool, bytes]:
    """Decode, orient, shrink and re-encode one image (kind, width, height, photo_like, bytes)."""
    global encodings
    data = _read(path)
    head = data[:512].lstrip()
    if path.suffix.lower() in (".svg", ".svgz") or head.startswith((b"<svg", b"<?xml")) or b"<svg" in head:
        raise ImageError(
            _("SVG images are not shown by Gmail and Outlook"), path=path,
            hint=_("export it as PNG (for drawings and logos) and use that file instead"),
        )
    formats = list(OPENED)
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        _open_heif(path)
        formats.append("HEIF")
    from PIL import Image, UnidentifiedImageError

    encodings += 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own budget below decides
            with Image.open(io.BytesIO(data), formats=formats) as image:
                if image.format == "GIF":  # kept as it is: re-encoding could break its animation
                    _within_budget(image, path)
                    return "gif", image.width, image.height, False, data
                return _reencode(image, path)
    except UnidentifiedImageError:
        raise _not_an_image(path, data) from None
    except Image.DecompressionBombError:
        raise ImageError(_("the image has too many pixels to be read safely"), path=path,
                         hint=_("export it at most 4000 px wide as JPEG")) from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError, ZeroDivisionError,
            struct.error, MemoryError) as exc:  # a damaged file of an accepted kind (Pillow's errors vary by plugin)
        raise ImageError(
            _("not an image that can be read ({name})").format(name=type(exc).__name__), path=path,
            hint=_("save it as JPEG or PNG and try again"),
        ) from None


def _not_an_image(path: Path, data: bytes) -> ImageError:
    """The one-line reason for a file that is none of the kinds opened, naming what it seems to be."""
    kind = next((name for magic, name in _OTHER_KINDS if data.startswith(magic)), None)
    what = _("the file is {kind}").format(kind=_(kind)) if kind else _("not an image that can be read")
    return ImageError(_("{what}: only JPEG, PNG, GIF, WebP or HEIC images are used").format(what=what), path=path,
                      hint=_("save it as JPEG (photos) or PNG (drawings, logos) and use that file"))


def _within_budget(image, path: Path) -> None:
    """Refuse, before decoding, an image whose pixels would take more than DECODE_BUDGET to read and shrink."""
    transparent = image.mode in ("P", "L") and "transparency" in image.info
    cost = _PIXEL_COST.get(image.format) or _PIXEL_COST.get("transparent" if transparent else image.mode) or _PIXEL_COST_DEFAULT
    pixels = image.width * image.height
    if pixels * cost > DECODE_BUDGET:
        most = DECODE_BUDGET // cost / 1e6
        size = f"{group_digits(image.width)} × {group_digits(image.height)}"
        raise ImageError(
            _("the image is {size} pixels, too large to read safely (at most about {most} megapixels for this "
              "kind of image)").format(size=size, most=f"{most:.0f}"), path=path,
            hint=_("export it at most 4000 px wide as JPEG"),
        )


def _open_heif(path: Path) -> None:
    """Teach Pillow to read HEIC/HEIF (the iPhone's photo format), only when such a file is met."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:  # a broken installation: say how to go on without it
        raise ImageError(
            _("HEIC photos cannot be read here (pillow-heif is not installed)"), path=path,
            hint=_("reinstall nyhetsbrev, or export the photo as JPEG (on an iPhone: Settings → Camera → Formats → Most Compatible)"),
        ) from None
    register_heif_opener()


def _reencode(image, path: Path) -> tuple[str, int, int, bool, bytes]:
    from PIL import Image

    if image.format != "JPEG":  # before getexif: a PNG's EXIF may follow its pixels, and reading it decodes them
        _within_budget(image, path)
    orientation = image.getexif().get(_ORIENTATION, 1)
    shown_width = image.height if orientation in (5, 6, 7, 8) else image.width
    scale = min(1.0, MAX_WIDTH / shown_width)
    target = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    if image.format == "JPEG" and scale < 1:
        image.draft(image.mode, target)  # decode at 1/2, 1/4 or 1/8 scale: most of the time saved
    if image.format == "JPEG":
        _within_budget(image, path)  # after draft: the size that will really be decoded
    icc, transparency = image.info.get("icc_profile"), image.info.get("transparency")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or transparency is not None
    as_png = image.format == "PNG" or has_alpha  # PNG stays lossless; transparency needs PNG
    if image.mode == "CMYK" or (not as_png and image.mode not in ("L", "RGB")):
        image = image.convert("RGB")
    elif as_png and image.mode not in ("L", "RGB", "RGBA") and (scale < 1 or image.mode not in ("1", "P", "LA")):
        image = image.convert("RGBA" if has_alpha else "RGB")  # resampling needs whole colours
        transparency = None
    if icc and image.mode in ("RGB", "RGBA"):
        image = _to_srgb(image, icc)
    if image.size != target:
        image = image.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if orientation in _TRANSPOSE:
        image = image.transpose(_TRANSPOSE[orientation])
    image.info = {} if transparency is None else {"transparency": transparency}  # every metadata block dropped
    out = io.BytesIO()
    if as_png:
        image.save(out, "PNG", optimize=True)
        photo_like = image.mode in ("RGB", "RGBA", "L") and image.getcolors(1 << 16) is None
        return "png", image.width, image.height, photo_like, out.getvalue()
    image.save(out, "JPEG", quality=JPEG_QUALITY, progressive=True, optimize=True)
    return "jpeg", image.width, image.height, False, out.getvalue()


def _to_srgb(image, icc: bytes):
    """Colours moved into sRGB, so that dropping the colour profile does not change them."""
    from PIL import ImageCms

    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in (ImageCms.getProfileDescription(profile) or "").lower() or image.mode not in ("RGB", "RGBA"):
            return image
        return ImageCms.profileToProfile(image, profile, ImageCms.createProfile("sRGB"), outputMode=image.mode)
    except (ImageCms.PyCMSError, OSError, ValueError):  # a broken profile: keep the pixels as they are
        return image


def _transpose_methods() -> dict[int, int]:
    # Image.Transpose values, spelt out so that this module imports Pillow only when it encodes.
    flip_lr, flip_tb, rot90, rot180, rot270, transpose, transverse = range(7)
    return {2: flip_lr, 3: rot180, 4: flip_tb, 5: transpose, 6: rot270, 7: transverse, 8: rot90}


_TRANSPOSE = _transpose_methods()

