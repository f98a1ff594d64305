"""The wheel is the product: built as a user gets it, installed into a fresh environment outside the repository,
and run from a folder whose name has a space and an å (as on a Windows laptop: "C:\\Users\\…\\Nyhetsbrev å").

Building needs `build` and the build requirements (from the package index or pip's cache); installing needs the
dependencies the same way. Without them the tests skip in one line; in CI (NYHETSBREV_REQUIRE_WHEEL) they fail.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.fixtures import REPO
from tests.starter_helpers import make_own
REQUIRE = "NYHETSBREV_REQUIRE_WHEEL"
pytestmark = pytest.mark.timeout(900)  # one build and one fresh install for the whole file


def _unavailable(what: str, log: str) -> None:
    if os.environ.get(REQUIRE):
        pytest.fail(f"{what} failed and is required here ({REQUIRE}):\n{log[-3000:]}")
    pytest.skip(f"{what} not possible here (needs `build` and the package index or pip's cache)")


def _sources(target: Path) -> Path:
    """The repository's files as a clean checkout has them (no .venv, build output or compiled catalogs)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=False)
    if listed.returncode != 0:
        _unavailable("listing the repository's files with git", listed.stderr.decode(errors="replace"))
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(source.read_bytes())
    return target


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel `python -m build` makes from the repository's files (in an isolated build environment)."""
    base = tmp_path_factory.mktemp("wheel")
    src = _sources(base / "src")
    done = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(base / "dist"), str(src)],
                          capture_output=True, text=True, check=False)
    wheels = list((base / "dist").glob("nyhetsbrev-*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        _unavailable("python -m build", done.stdout + done.stderr)
    return wheels[0]


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment (no system packages, outside the repository) with only the wheel installed."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        _unavailable("pip install of the wheel into a fresh environment", done.stdout + done.stderr)
    return venv


def test_the_wheel_holds_the_catalogs_templates_starter_and_preview_assets(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for po in (REPO / "nyhetsbrev" / "locale").glob("*/LC_MESSAGES/*.po"):
        assert po.relative_to(REPO).with_suffix(".mo").as_posix() in names
    for folder in ("render/templates", "project/starter", "web/preview/assets"):
        shipped = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "nyhetsbrev" / folder).rglob("*")
                         if p.is_file() and "__pycache__" not in p.parts and p.suffix not in {".py", ".pyc"})
        assert shipped, folder
        assert [name for name in shipped if name not in names] == []
    assert "nyhetsbrev/project/starter/issue/images/exempel.png" in names
    assert not [name for name in names if name.startswith(("tests/", "bench/", "tools/"))]


def test_the_installed_wheel_runs_init_check_build_send_and_publish_from_a_folder_with_a_space_and_an_a_ring(
    installed, tmp_path
):
    folder = tmp_path / "Nyhetsbrev å"
    folder.mkdir()
    scripts = installed / ("Scripts" if os.name == "nt" else "bin")
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(NYHETSBREV_DB=str(folder / "data ä" / "nyhetsbrev.db"), NYHETSBREV_LANGUAGE="en",
               PATH=str(scripts) + os.pathsep + env.get("PATH", ""))

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
        done = subprocess.run([str(scripts / "nyhetsbrev"), *args], cwd=cwd, env=env, capture_output=True,
                              text=True, encoding="utf-8", check=False)
        assert done.returncode == 0 and "Traceback" not in done.stderr, (args, done.stdout, done.stderr)
        return done

    where = subprocess.run([str(scripts / "python"), "-c", "import nyhetsbrev; print(nyhetsbrev.__file__)"],
                           cwd=folder, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(installed) and not Path(where).is_relative_to(REPO)

    version = run("--version", cwd=folder).stdout.strip()
    assert re.fullmatch(r"nyhetsbrev \d+\.\d+\.\d+\S*", version), version
    assert version == f"nyhetsbrev {installed_version(installed)}"

    run("init", "Mitt nyhetsbrev", cwd=folder)
    project = folder / "Mitt nyhetsbrev"
    make_own(project)
    issue_toml = next(project.glob("issues/*/issue.toml"))
    issue_toml.write_text("".join(line for line in issue_toml.read_text(encoding="utf-8").splitlines(True)
                                  if not line.startswith("draft")), encoding="utf-8")
    issue = issue_toml.parent.name.replace("-", ":")

    assert "error" not in run("check", issue, cwd=project).stderr.lower()
    run("build", issue, cwd=project)
    assert "Välkommen" in (project / "build" / issue_toml.parent.name / "email.html").read_text(encoding="utf-8")
    run("recipients", "add", "eva.lindqvist@example.org", "--list", "politiker", cwd=project)
    run("send", issue, "--list", "politiker", "--outbox", str(folder / "utkorg å"), cwd=project)
    assert len(list((folder / "utkorg å").glob("*.eml"))) == 1
    run("publish", cwd=project)
    archive = project / "build" / "archive"
    assert issue_toml.parent.name in (archive / "index.html").read_text(encoding="utf-8")


def installed_version(venv: Path) -> str:
    """The version in the installed package's metadata (its one source)."""
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    return subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('nyhetsbrev'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
