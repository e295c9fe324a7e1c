"""One place that builds every project path from the project root."""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
#: The repository root (``personalab/..``); override with ``PERSONALAB_ROOT``.
PROJECT_ROOT = Path(os.environ.get("PERSONALAB_ROOT", PACKAGE_DIR.parent)).resolve()
DATA_DIR = PROJECT_ROOT / "data"
SAMPLE_DIR = DATA_DIR / "sample"
REPORTS_DIR = PROJECT_ROOT / "reports"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
TESTS_DIR = PROJECT_ROOT / "tests"
#: Files shipped inside the package (name tables, templates, stop lists).
RESOURCES_DIR = PACKAGE_DIR / "resources"
TEMPLATES_DIR = PACKAGE_DIR / "templates"


def report_dir(wave: str) -> Path:
    """Folder that holds every output of one wave's run: ``reports/<wave>/``."""
    return REPORTS_DIR / wave
