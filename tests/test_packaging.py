"""The project's own files install what it needs, and conda and pip name the same stack."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

# conda-forge spells a few packages differently from PyPI.
CONDA_TO_PYPI = {"pyyaml": "pyyaml", "vadersentiment": "vadersentiment"}


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_names_the_same_runtime_dependencies_as_pyproject():
    deps = {_name(d) for d in _pyproject()["project"]["dependencies"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = set()
    pip_section = None
    for item in env["dependencies"]:
        if isinstance(item, dict):
            pip_section = item.get("pip")
            continue
        name = _name(item)
        if name in ("python", "pip"):
            continue
        conda.add(CONDA_TO_PYPI.get(name, name))
    assert conda == deps, (f"only in environment.yml: {sorted(conda - deps)}; "
                           f"only in pyproject.toml: {sorted(deps - conda)}")
    assert pip_section[0] == "-e .", "environment.yml must install the package itself with pip"
    # anything else in the pip section: packages of the embeddings extra, as pyproject names them
    extra = {_name(d): d for d in _pyproject()["project"]["optional-dependencies"]["embeddings"]}
    for req in pip_section[1:]:
        assert extra.get(_name(req)) == req, \
            f"environment.yml's pip section: {req!r} is not in pyproject.toml's embeddings extra"
    assert "conda-forge" in env["channels"]


def test_every_runtime_dependency_is_pinned_in_constraints():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[_name(name)] = version.strip()
    project = _pyproject()["project"]
    wanted = {_name(d) for d in project["dependencies"]}
    for extra in ("test", "bench"):
        wanted |= {_name(d) for d in project["optional-dependencies"][extra]}
    missing = sorted(wanted - set(pins))
    assert not missing, f"not pinned in constraints.txt: {missing}"


def test_ci_runs_the_readme_test_command_and_nothing_else():
    ci = [ln for ln in (ROOT / ".ci/run").read_text().splitlines()
          if ln.strip() and not ln.lstrip().startswith("#")]
    assert ci[-1].strip() == "make test"
    assert all(ln.startswith(("set ", "cd ")) for ln in ci[:-1])
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme


def test_makefile_targets_are_self_documented():
    mk = (ROOT / "Makefile").read_text()
    for target in ("help", "install", "demo", "test", "bench"):
        assert re.search(rf"^{target}:.*## ", mk, re.M), f"target {target} lacks a ## comment"


@pytest.mark.parametrize("nb_path", sorted((ROOT / "notebooks").glob("*.ipynb")),
                         ids=lambda p: p.name)
def test_notebooks_are_stripped_and_have_one_parameters_cell(nb_path):
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, \
                f"{nb_path.name}: outputs must be stripped before commit"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if nb_path.name[0].isdigit():  # pipeline notebooks are parameterized
        assert len(tagged) == 1, f"{nb_path.name}: exactly one cell tagged 'parameters'"
        # typed literals only, one comment each, so papermill and readers agree
        for line in tagged[0].source.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                assert "=" in line and "#" in line, f"{nb_path.name}: {line!r} needs a comment"


def test_license_is_an_spdx_expression():
    project = _pyproject()["project"]
    assert project["license"] == "BSD-3-Clause"
    assert not any(c.startswith("License ::") for c in project.get("classifiers", []))
    assert "setuptools>=77" in _pyproject()["build-system"]["requires"]


def _build_wheel(dest: Path) -> tuple[Path, str]:
    """Build the wheel from a copy of the sources (the shared checkout gets no build/)."""
    src = dest / "src"
    src.mkdir(parents=True)
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("personalab", "notebooks"):
        shutil.copytree(ROOT / name, src / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints"))
    # offline: the build backend is the one installed with the test extra
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps",
                           "--no-build-isolation", "-w", str(dest / "dist"), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    wheels = sorted((dest / "dist").glob("personalab-*.whl"))
    assert len(wheels) == 1
    return wheels[0], done.stdout + done.stderr


@pytest.mark.slow
def test_the_wheel_installs_in_a_fresh_venv_and_runs_the_sample_outside_the_install(tmp_path):
    import zipfile

    wheel, log = _build_wheel(tmp_path)
    assert "project.license" not in log          # setuptools' deprecation of the TOML table
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).name for n in names if n.startswith("personalab/notebooks/")}
    assert shipped == {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    # a fresh venv whose dependencies come from this environment (a .pth file: offline),
    # with PersonaLab itself only from the wheel
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True)
    site = Path(site.stdout.strip())
    (site / "_personalab_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, timeout=300, capture_output=True)
    where = subprocess.run([str(py), "-c", "import personalab.paths as p; "
                            "print(p.PACKAGE_DIR); print(p.NOTEBOOKS_DIR)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path)
    package_dir, notebooks = map(Path, where.stdout.split())
    assert package_dir == site / "personalab" and notebooks == package_dir / "notebooks"
    installed = {p: p.stat().st_mtime_ns for p in venv.rglob("*") if p.is_file()}

    # a study folder from the installed package, run from that folder
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "NUMBA_CACHE_DIR": str(ROOT / ".cache" / "numba"),
           "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PERSONALAB_ROOT", None)
    cli = str(venv / "bin" / "personalab")
    done = subprocess.run([cli, "init", "study"], cwd=work, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    study = work / "study"
    # the measured defaults are the segment step's business: UMAP + HDBSCAN keep this quick
    with open(study / "study.yml", "a", encoding="utf-8") as fh:
        fh.write("reducer: umap\nclusterer: hdbscan\n")
    done = subprocess.run([cli, "run", "--config", "study.yml", "--no-progress"], cwd=study,
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    out = study / "reports" / "sample"
    for rel in ("index.html", "manifest.json", "personas/personas.json",
                "notebooks/02_segment.ipynb"):
        assert (out / rel).is_file(), rel
    assert '"status": "complete"' in (out / "manifest.json").read_text()
    # nothing was written inside the installation
    after = {p: p.stat().st_mtime_ns for p in venv.rglob("*") if p.is_file()}
    assert after == installed, sorted(set(after) ^ set(installed))[:5]
