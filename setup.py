"""The build step that compiles the translations: each locale/<lang>/LC_MESSAGES/nyhetsbrev.po becomes .mo in the wheel.

Everything else about the package is in pyproject.toml. The .mo files are never committed: the wheel's are
compiled here, an editable install's by `make build` (pybabel compile).
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogs(build_py):
    """build_py, then compile every .po of the package into a .mo beside its copy in the build."""

    def run(self):
        super().run()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in sorted(Path("nyhetsbrev", "locale").glob("*/LC_MESSAGES/*.po")):
            target = Path(self.build_lib) / po.with_suffix(".mo")
            target.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as handle:
                catalog = read_po(handle)
            with target.open("wb") as handle:
                write_mo(handle, catalog)


setup(cmdclass={"build_py": BuildWithCatalogs})
