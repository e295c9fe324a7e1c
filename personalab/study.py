"""A study folder to start from: ``personalab init <folder>``.

A study folder holds what a researcher edits and runs: ``study.yml`` (the run config), the
survey codebook (drafted from the export, to review by hand), and the notebooks, with the
defaults of their parameters pointing at the study's own files so each opens and runs in
JupyterLab as it is. Runs write ``reports/<wave>/`` under the folder they are run from.

The export itself is only referred to (by a path relative to the study folder where it can
be), never copied or changed. Without an export, the bundled synthetic sample
(:func:`personalab.datasets.write_sample`) becomes the study's data.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ConfigError

__all__ = ["StudyFolder", "init_study", "notebook_with_defaults"]

_HEADER = """\
# PersonaLab study. From this folder: `personalab run --config study.yml` writes reports/<wave>/.
# Relative paths are read from this folder; output is relative to where you run the command.
# Every parameter is listed in `personalab run --help` and personalab.config.StudyConfig.
"""


@dataclass
class StudyFolder:
    """What :func:`init_study` wrote."""

    folder: Path
    wave: str
    config: Path
    drafted_codebook: Path | None = None
    written: list[Path] = field(default_factory=list)


def _wave_name(stem: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")
    return name or "wave1"


def _rel(path: Path, start: Path) -> str:
    """``path`` relative to ``start`` when they share a drive, else absolute (forward slashes
    either way, so the YAML and the notebooks read the same on every system)."""
    try:
        return Path(os.path.relpath(path, start)).as_posix()
    except ValueError:
        return path.as_posix()


def notebook_with_defaults(source: Path, target: Path, defaults: dict) -> Path:
    """Copy a notebook, giving the parameters it assigns (``name = literal  # comment``)
    new defaults; other cells and lines are copied as they are."""
    import nbformat

    nb = nbformat.read(str(source), as_version=4)
    pattern = re.compile(r"^(?P<name>[A-Za-z_]\w*) = (?P<value>.+?)(?P<comment>\s+#.*)?$")
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        lines = []
        for line in cell.source.splitlines():
            m = pattern.match(line)
            if m and m["name"] in defaults:
                value = defaults[m["name"]]
                value = "None" if value is None else json.dumps(value)
                line = f"{m['name']} = {value}{m['comment'] or ''}"
            lines.append(line)
        cell.source = "\n".join(lines)
        cell.outputs, cell.execution_count = [], None
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(target))
    return target


def init_study(folder, *, input=None, wave=None, file_format="auto") -> StudyFolder:
    """Write a study folder: ``study.yml``, a drafted codebook, the notebooks.

    Parameters
    ----------
    folder : str or Path
        The study folder; created if needed. One that already holds a ``study.yml`` is
        refused (nothing is overwritten).
    input : str or Path, optional
        The raw export. Without one, the bundled synthetic sample (two waves, its codebook
        and theme codebook) is written into the folder as the study's data.
    wave : str, optional
        Wave name (default: the export's file name, or ``sample``).
    file_format : str
        Export format, or ``"auto"``.

    Returns
    -------
    StudyFolder
    """
    from .config import load_config
    from .paths import NOTEBOOKS_DIR

    folder = Path(folder).resolve()
    config_path = folder / "study.yml"
    if wave is not None and (not str(wave).strip() or any(c in str(wave) for c in "/\\")):
        raise ConfigError(f"wave name {wave!r} must be a plain folder name", column="wave",
                          fix="use letters, digits, '-' or '_'")
    if config_path.exists():
        raise ConfigError("this folder already holds a study: nothing is overwritten",
                          file=config_path, fix="choose a new folder for `personalab init`")
    if input is not None and not Path(input).is_file():
        raise ConfigError(f"the export {str(input)!r} does not exist", column="input",
                          fix="give the path of your raw export (CSV, XLSX, SPSS, ...)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the study folder: {exc.strerror or exc}", file=folder,
                          fix="choose a folder you can write to") from None
    written, drafted = [], None
    if input is None:
        from .datasets import write_sample

        written += [p for p in write_sample(folder, None) if p.name != "study.yml"]
        sample = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        config_path.unlink()
        wave = wave or sample["wave"]
        values = {"wave": wave, "input": sample["input"], "codebook": sample["codebook"],
                  "themes": sample["themes"], "seed": sample.get("seed", 42)}
        if sample.get("not_a_fit"):
            values["not_a_fit"] = sample["not_a_fit"]
        input_path = folder / sample["input"]
        themes = folder / sample["themes"]
        footer = (f"# The next wave, compared with this one:\n"
                  f"#   personalab run --config study.yml --input wave2.csv --wave wave2 "
                  f"--baseline reports/{wave}\n")
    else:
        from .codebook import infer_codebook, save_codebook
        from .loaders import load_export

        input_path = Path(input).resolve()
        raw = load_export(input_path, format=file_format)
        drafted = folder / "codebook.yml"
        save_codebook(infer_codebook(raw), drafted)
        written.append(drafted)
        wave = wave or _wave_name(input_path.stem)
        values = {"wave": wave, "input": _rel(input_path, folder), "codebook": "codebook.yml",
                  "seed": 42}
        if file_format != "auto":
            values["format"] = file_format
        themes = None
        footer = ("# A theme codebook for the open-text answers: themes: themes.yml\n"
                  "# Respondents to exclude by hand (test responses), each with its reason:\n"
                  "# exclude_respondents: {'<respondent id>': 'test response from the team'}\n"
                  "# The next wave, compared with this one:\n"
                  f"#   personalab run --config study.yml --input <next export> --wave <name> "
                  f"--baseline reports/{wave}\n")
    config_path.write_text(_HEADER + yaml.safe_dump(values, sort_keys=False,
                                                    allow_unicode=True) + footer,
                           encoding="utf-8", newline="\n")
    written.append(config_path)
    load_config(config_path)      # what init writes is a config that runs

    nb_dir = folder / "notebooks"
    defaults = {"wave": wave, "input_path": _rel(input_path, nb_dir),
                "codebook_path": "../codebook.yml",
                "themes_path": _rel(themes, nb_dir) if themes is not None else None,
                "output_dir": f"../reports/{wave}"}
    for nb in sorted(NOTEBOOKS_DIR.glob("*.ipynb")):
        written.append(notebook_with_defaults(nb, nb_dir / nb.name, defaults))
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# run outputs hold respondents' answers: never commit them\n"
                          "reports/\n", encoding="utf-8")
        written.append(ignore)
    return StudyFolder(folder=folder, wave=wave, config=config_path, drafted_codebook=drafted,
                       written=written)
