"""Build hook: the wheel ships the pipeline notebooks inside the package.

The top-level ``notebooks/`` folder is the source of truth (researchers and the tests use it
in a checkout); building a wheel copies its notebooks into ``personalab/notebooks/`` so an
installed PersonaLab runs and ``personalab init`` copies them (see ``personalab.paths``).
Everything else about the package is in pyproject.toml.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"


class BuildPyWithNotebooks(build_py):
    """``build_py`` that also copies ``notebooks/*.ipynb`` into the built package."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return      # an editable install reads the checkout's notebooks/ itself
        target = Path(self.build_lib) / "personalab" / "notebooks"
        target.mkdir(parents=True, exist_ok=True)
        found = sorted(NOTEBOOKS.glob("*.ipynb"))
        if not found:
            raise SystemExit(f"no notebooks in {NOTEBOOKS}: the wheel would not run")
        for nb in found:
            shutil.copy2(nb, target / nb.name)


setup(cmdclass={"build_py": BuildPyWithNotebooks})
