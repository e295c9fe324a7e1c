"""The project's own files install what it needs, and conda and pip name the same stack."""
from __future__ import annotations

import re
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
    assert pip_section == ["-e ."], "environment.yml must install the package itself with pip"
    assert "conda-forge" in env["channels"]


def test_every_runtime_dependency_is_pinned_in_constraints():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[_name(name)] = version.strip()
    project = _pyproject()["project"]
    wanted = {_name(d) for d in project["dependencies"]}
    for extra in ("test",):
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
