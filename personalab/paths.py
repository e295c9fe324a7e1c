"""One place that builds every project path from the project root.

Two layouts: a source checkout (``personalab/`` beside ``pyproject.toml`` and the top-level
``notebooks/``, the source of truth), and an installed wheel, which carries the pipeline
notebooks inside the package (``personalab/notebooks/``, copied there when the wheel is
built). Nothing is ever written inside an installed package: runs write where they are told
(relative to the working directory), caches go to the user's cache folder.
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
#: True in a source checkout (editable install or the repository on ``sys.path``).
SOURCE_CHECKOUT = ((PACKAGE_DIR.parent / "pyproject.toml").is_file()
                   and (PACKAGE_DIR.parent / "notebooks").is_dir())
#: The repository root (``personalab/..``) in a source checkout, else the working directory;
#: override with ``PERSONALAB_ROOT``.
PROJECT_ROOT = Path(os.environ.get("PERSONALAB_ROOT")
                    or (PACKAGE_DIR.parent if SOURCE_CHECKOUT else Path.cwd())).resolve()
DATA_DIR = PROJECT_ROOT / "data"
SAMPLE_DIR = DATA_DIR / "sample"
REPORTS_DIR = PROJECT_ROOT / "reports"
#: The pipeline notebooks: the checkout's ``notebooks/``, or the copy shipped in the wheel.
NOTEBOOKS_DIR = (PACKAGE_DIR.parent / "notebooks") if SOURCE_CHECKOUT \
    else PACKAGE_DIR / "notebooks"
TESTS_DIR = PROJECT_ROOT / "tests"
#: Files shipped inside the package (name tables, templates, stop lists).
RESOURCES_DIR = PACKAGE_DIR / "resources"
TEMPLATES_DIR = PACKAGE_DIR / "templates"


def cache_dir() -> Path:
    """Where compiled code is cached between processes (numba's ``NUMBA_CACHE_DIR`` lives in
    it): ``.cache/`` in a source checkout, the user's cache folder for an installed package."""
    if SOURCE_CHECKOUT:
        return PACKAGE_DIR.parent / ".cache"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "personalab"


def report_dir(wave: str) -> Path:
    """Folder that holds every output of one wave's run: ``reports/<wave>/``."""
    return REPORTS_DIR / wave
