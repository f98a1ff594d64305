"""Images fit for email, as ratios against baselines measured in the same run.

(1) nyhetsbrev's image step on a 12-megapixel phone JPEG (read, hash, orient, strip, shrink, re-encode;
    no cache) against a bare Pillow open → draft() → resize → save of the same photo (target ≤ 1.5);
(2) `nyhetsbrev build` of an issue with five such photos, second run (images from the cache), against the
    same issue without the images (target ≤ 1.1).

Run: python bench/images.py
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import installed_env, interleaved_runs, median_ms, run_command  # noqa: E402
from tests.golden import copy_repo_project  # noqa: E402
from tests.image_helpers import phone_photo  # noqa: E402

RUNS = 9
BUILD_RUNS = 21
PHOTOS = 5


def bare_pillow(path: Path) -> bytes:
    """The floor: what any tool must do to shrink a JPEG with Pillow (same size, quality and encoder options)."""
    from PIL import Image

    with Image.open(path) as image:
        target = (1200, round(image.height * 1200 / image.width))
        image.draft("RGB", target)
        small = image.resize(target, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, "JPEG", quality=80, progressive=True, optimize=True)
    return out.getvalue()


def image_step(path: Path) -> bytes:
    """nyhetsbrev's image step without its caches: every call decodes and encodes."""
    from nyhetsbrev.render import images

    images._MEMO.clear()
    return images.optimise(path, None).data


def time_calls(functions: dict, path: Path, runs: int) -> dict[str, list[float]]:
    """Seconds of each call, taking turns so that machine noise hits them alike."""
    times: dict[str, list[float]] = {name: [] for name in functions}
    for function in functions.values():
        function(path)  # warm: imports and the file in the page cache
    for _ in range(runs):
        for name, function in functions.items():
            start = time.perf_counter()
            function(path)
            times[name].append(time.perf_counter() - start)
    return times


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        photo = phone_photo(tmp_path / "Bild från mötet.jpg", orientation=1)
        print(f"image benchmark: a {photo.stat().st_size / 1e6:.1f} MB 4000×3000 JPEG, median of {RUNS} runs each")
        times = time_calls({"bare Pillow": bare_pillow, "image step": image_step}, photo, RUNS)
        floor = statistics.median(times["bare Pillow"])
        for name, values in times.items():
            print(f"  {name:<24} {statistics.median(values) * 1000:7.1f} ms")
        print(f"image step/bare Pillow = {statistics.median(times['image step']) / floor:.2f} (target ≤ 1.5)")

        env = installed_env(tmp_path / "bytecode", dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache")))
        plain = copy_repo_project(tmp_path / "plain")
        with_photos = copy_repo_project(tmp_path / "photos")
        folder = with_photos / "issues" / "22-1"
        first = sorted(folder.glob("0*.md"))[0]
        lines = [f"![Foto {n}](<images/Foto {n}.jpg>)" for n in range(1, PHOTOS + 1)]
        first.write_text(first.read_text(encoding="utf-8") + "\n\n" + "\n\n".join(lines) + "\n", encoding="utf-8")
        for n in range(1, PHOTOS + 1):
            phone_photo(folder / "images" / f"Foto {n}.jpg", seed=n)
        python = sys.executable
        commands = {
            "build without images": [python, "-m", "nyhetsbrev", "--project", str(plain), "build", "22:1"],
            f"build with {PHOTOS} photos": [python, "-m", "nyhetsbrev", "--project", str(with_photos), "build", "22:1"],
        }
        first = {name: run_command(argv, env=env).seconds for name, argv in commands.items()}  # fills the caches
        print("first builds (filling the caches): " + ", ".join(f"{n} {s:.1f} s" for n, s in first.items()))
        runs = interleaved_runs(commands, BUILD_RUNS, env=env)
        wall = {name: [run.seconds for run in done] for name, done in runs.items()}
        cpu = {name: [run.cpu_seconds for run in done] for name, done in runs.items()}
    print(f"build benchmark, second and later runs, median of {BUILD_RUNS} runs each")
    for name in commands:
        print(f"  {name:<24} {median_ms(wall[name]):7.1f} ms wall, {median_ms(cpu[name]):7.1f} ms CPU")
    with_photos, without = f"build with {PHOTOS} photos", "build without images"
    print(f"cached build with photos/without = {median_ms(wall[with_photos]) / median_ms(wall[without]):.2f} wall, "
          f"{median_ms(cpu[with_photos]) / median_ms(cpu[without]):.2f} CPU (target ≤ 1.1)")


if __name__ == "__main__":
    main()
