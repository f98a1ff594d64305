"""Memory an image takes to be made fit for email, for images just inside the pixel budget of each kind.

Each kind's file is made as large as images.py still accepts; one process per image runs the image step, and
its peak resident memory is reported less a baseline process that imports the same modules and decodes nothing.
Target: every kind within about DECODE_BUDGET (300 MiB); a file one step over the limit is refused before decoding.

Run: python bench/image_memory.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import run_command  # noqa: E402

STEP = """
import sys
from pathlib import Path
from nyhetsbrev.render import images
import PIL.Image, PIL.PngImagePlugin, PIL.JpegImagePlugin, PIL.WebPImagePlugin, PIL.ImageCms, pillow_heif
if sys.argv[1] != "-":
    images._encode(Path(sys.argv[1]))
"""


def _kinds(folder: Path) -> dict[str, Path]:
    """One file per kind of image, each just inside its budget (a square, or a tall strip for JPEG)."""
    import pillow_heif
    from PIL import Image

    from nyhetsbrev.render import images

    pillow_heif.register_heif_opener()

    def side(cost: int) -> int:
        return int((images.DECODE_BUDGET // cost) ** 0.5) - 1

    made = {}
    for name, mode, colour, cost, fmt, extra in (
        ("png-rgb", "RGB", (1, 2, 3), 8, "PNG", {}),
        ("png-rgba", "RGBA", (1, 2, 3, 4), 9, "PNG", {}),
        ("png-la", "LA", (1, 2), 13, "PNG", {}),
        ("png-palette-transparent", "P", 0, 13, "PNG", {"transparency": 0}),
        ("webp-rgba", "RGBA", (1, 2, 3, 4), 17, "WEBP", {}),
        ("heic", "RGB", (1, 2, 3), 8, "HEIF", {}),
    ):
        n = side(cost)
        made[name] = folder / f"{name}.img"
        Image.new(mode, (n, n), colour).save(made[name], fmt, **extra)
    height = images.DECODE_BUDGET // 8 // 1200 - 1  # 1200 wide: no draft scale applies, every pixel is decoded
    made["jpeg-tall"] = folder / "jpeg-tall.img"
    Image.new("RGB", (1200, height), (1, 2, 3)).save(made["jpeg-tall"], "JPEG")
    return made


def main() -> None:
    from nyhetsbrev.render import images

    if len(sys.argv) == 3 and sys.argv[1] == "--make":  # in a process of its own: making them takes memory too
        print("\n".join(f"{name}={path}" for name, path in _kinds(Path(sys.argv[2])).items()))
        return
    with tempfile.TemporaryDirectory() as temp:
        listing = subprocess.run([sys.executable, __file__, "--make", temp], check=True, capture_output=True, text=True)
        files = dict(line.split("=", 1) for line in listing.stdout.splitlines())
        base = run_command([sys.executable, "-c", STEP, "-"], cwd=REPO).peak_mib
        budget = images.DECODE_BUDGET / 2**20
        print(f"baseline process: {base:.0f} MiB; budget per image: {budget:.0f} MiB")
        worst = 0.0
        for name, path in files.items():
            peak = run_command([sys.executable, "-c", STEP, str(path)], cwd=REPO).peak_mib - base
            worst = max(worst, peak / budget)
            print(f"  {name:26} {peak:6.0f} MiB  ({peak / budget:.2f} × budget)")
        print(f"worst: {worst:.2f} × budget (target ≤ 1.1)")


if __name__ == "__main__":
    main()
