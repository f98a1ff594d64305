"""Preview speed: from saving a section file to the rebuilt page being served, against one in-process check.

Runs `nyhetsbrev preview 22:1` as a user would (its own process, on 127.0.0.1) on a temporary copy of this
repository's project, saves a section 20 times and, for each save, long-polls the preview's epoch and fetches
the email until the new text is in it. Prints the median and p90 of those times, and as a baseline measured in
the same run, the time of one pipeline.check of the same issue (so the figures read as ratios on any machine).
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from http import HTTPStatus
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nyhetsbrev.publish import pipeline  # noqa: E402
from tests.golden import copy_repo_project as copy_project  # noqa: E402

ISSUE = "22:1"
SECTION = "issues/22-1/01-tillsammans.md"
EDITS = 20
TARGET_MS = 300
DEADLINE = 30.0  # seconds one edit may take before the benchmark gives up


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode("utf-8")


def check_seconds(root: Path, runs: int = 7) -> float:
    """Median time of one in-process pipeline.check of the issue (warm)."""
    pipeline.check(root, ISSUE)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        pipeline.check(root, ISSUE)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def start_preview(root: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="200")
    process = subprocess.Popen(
        [sys.executable, "-m", "nyhetsbrev", "--project", str(root), "preview", ISSUE, "--no-open", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=REPO,
    )
    line = process.stdout.readline()
    if f"127.0.0.1:{port}" not in line:
        process.kill()
        raise SystemExit(f"the preview did not start: {line!r}")
    return process, f"http://127.0.0.1:{port}"


def served_email(url: str) -> str:
    """The email the preview serves now ('' while it has no good build to show: 503)."""
    try:
        return fetch(f"{url}/email.html")
    except urllib.error.HTTPError as exc:
        if exc.code != HTTPStatus.SERVICE_UNAVAILABLE:
            raise
        return ""


def save_to_served(url: str, path: Path, original: str, number: int) -> float:
    """Seconds from saving the file to the preview serving the email with the new text (gives up after DEADLINE)."""
    epoch = json.loads(fetch(f"{url}/api/state"))["epoch"]
    marker = f"Mätpunkt {number} för förhandsvisningen"
    started = time.perf_counter()
    path.write_text(original.replace("Förra året startade", marker, 1), encoding="utf-8")
    while (left := started + DEADLINE - time.perf_counter()) > 0:
        epoch = json.loads(fetch(f"{url}/api/wait?epoch={epoch}&timeout={min(left, 10):.2f}"))["epoch"]
        if marker in served_email(url):
            return time.perf_counter() - started
    raise SystemExit(f"edit {number}: the preview did not serve the new text within {DEADLINE:.0f} s")


def main() -> None:
    """Run the benchmark and print the figures."""
    rng = random.Random(22)
    with tempfile.TemporaryDirectory(prefix="nyhetsbrev-bench-") as tmp:
        root = copy_project(Path(tmp) / "project")
        baseline = check_seconds(root)
        process, url = start_preview(root)
        try:
            path = root / SECTION
            original = path.read_text(encoding="utf-8")
            times = []
            for number in range(EDITS):
                times.append(save_to_served(url, path, original, number))
                time.sleep(rng.uniform(0.05, 0.25))  # saves are not in step with the file polling
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
    median = statistics.median(times)
    p90 = statistics.quantiles(times, n=10)[-1]
    print(f"preview: save → rebuilt page served, {EDITS} edits of {SECTION}")
    print(f"  median {median * 1000:6.0f} ms   p90 {p90 * 1000:6.0f} ms   (target ≤ {TARGET_MS} ms: "
          f"{'met' if median * 1000 <= TARGET_MS else 'NOT met'})")
    print(f"  baseline: one in-process pipeline.check of {ISSUE}: {baseline * 1000:.0f} ms")
    print(f"  ratio to baseline: median {median / baseline:.1f}×, p90 {p90 / baseline:.1f}×")


if __name__ == "__main__":
    main()
