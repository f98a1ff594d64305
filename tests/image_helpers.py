"""Real image files for the image tests and benchmark: a phone photo with EXIF and GPS, noise PNGs, HEIC."""

from __future__ import annotations

import io
import random
from pathlib import Path

MARKER = (0, 40, 255)  # a blue block in the stored top-left corner; orientation 6 puts it top right


def phone_photo(path: Path, size: tuple[int, int] = (4000, 3000), *, orientation: int = 6, seed: int = 1) -> Path:
    """A JPEG as a phone writes it: EXIF orientation, camera make, a GPS position, fine grain; about 5 MB."""
    from PIL import Image

    width, height = size
    rng = random.Random(seed)
    blobs = Image.merge("RGB", [Image.effect_noise((width // 40, height // 40), 60).resize(size, Image.Resampling.BILINEAR)
                                for _ in range(3)])
    grain = Image.frombytes("RGB", (width // 2, height // 2), rng.randbytes(width * height * 3 // 4))
    photo = Image.blend(blobs, grain.resize(size, Image.Resampling.NEAREST), 0.15)
    photo.paste(MARKER, (0, 0, width // 10, height // 10))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Exempelkamera AB"
    exif[0x0110] = "Telefon 12"
    exif[0x8825] = {1: "N", 2: (59.0, 22.0, 17.5), 3: "E", 4: (17.0, 1.0, 42.0)}
    path.parent.mkdir(parents=True, exist_ok=True)
    photo.save(path, "JPEG", quality=92, exif=exif)
    return path


def noise_png(path: Path, size: tuple[int, int] = (1200, 1200), *, mode: str = "RGB", seed: int = 1) -> Path:
    """A PNG of random pixels: it cannot be compressed, so it stays large after optimisation."""
    from PIL import Image

    rng = random.Random(seed)
    image = Image.frombytes(mode, size, rng.randbytes(size[0] * size[1] * len(mode)))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "PNG")
    return path


def heic_photo(path: Path, size: tuple[int, int] = (800, 600)) -> Path:
    """A HEIC photo (the iPhone's format), encoded with pillow-heif."""
    from PIL import Image
    import pillow_heif

    image = Image.new("RGB", size, (30, 120, 60))
    image.paste(MARKER, (0, 0, size[0] // 10, size[1] // 10))
    heif = pillow_heif.from_pillow(image)
    out = io.BytesIO()
    heif.save(out, quality=80)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.getvalue())
    return path


def jpeg_segments(data: bytes) -> list[int]:
    """The marker bytes of a JPEG's segments before its image data (0xE1 is EXIF/XMP, 0xE2 ICC, 0xFE a comment)."""
    markers, at = [], 2
    while at < len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: image data follows
            break
        at += 2 + int.from_bytes(data[at + 2:at + 4], "big")
    return markers
