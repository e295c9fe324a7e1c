"""``personalab init``: a study folder that runs as it is, from a checkout or an install."""
from __future__ import annotations

import csv
from pathlib import Path

import nbformat
import pytest

from personalab.cli import main
from personalab.config import load_config
from personalab.errors import ConfigError
from personalab.paths import NOTEBOOKS_DIR
from personalab.study import init_study

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


def _assignments(nb_path: Path) -> dict:
    nb = nbformat.read(str(nb_path), as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    out = {}
    for line in code.source.splitlines():
        if " = " in line and not line.startswith("#"):
            name, rest = line.split(" = ", 1)
            out[name] = rest.split("  #")[0]
    return out


def test_init_without_an_export_writes_the_sample_study(tmp_path, capsys):
    assert main(["init", str(tmp_path / "study")]) == 0
    study = tmp_path / "study"
    cfg = load_config(study / "study.yml")
    assert cfg.wave == "sample" and cfg.input == study / "sample_wave.csv"
    assert cfg.codebook == study / "codebook.yml" and cfg.themes == study / "themes.yml"
    assert (study / "sample_wave.csv").read_bytes() == (SAMPLE / "sample_wave.csv").read_bytes()
    assert (study / "wave2.csv").is_file() and "reports/" in (study / ".gitignore").read_text()
    # every notebook, with defaults that point at the study's own files
    assert {p.name for p in (study / "notebooks").glob("*.ipynb")} == \
        {p.name for p in NOTEBOOKS_DIR.glob("*.ipynb")}
    ingest = _assignments(study / "notebooks" / "01_ingest.ipynb")
    assert ingest["input_path"] == '"../sample_wave.csv"'
    assert ingest["codebook_path"] == '"../codebook.yml"'
    assert ingest["output_dir"] == '"../reports/sample"'
    assert _assignments(study / "notebooks" / "explore.ipynb")["output_dir"] == \
        '"../reports/sample"'
    assert "personalab run --config study.yml" in capsys.readouterr().out


def test_init_with_an_export_drafts_its_codebook_and_refers_to_it(tmp_path):
    export = tmp_path / "exports" / "Q4 wave.csv"
    export.parent.mkdir()
    export.write_bytes((SAMPLE / "sample_wave.csv").read_bytes())
    before = export.read_bytes()
    study = init_study(tmp_path / "study", input=export)
    assert study.wave == "Q4-wave" and study.drafted_codebook == tmp_path / "study/codebook.yml"
    cfg = load_config(study.config)
    assert Path(cfg.input).resolve() == export and cfg.themes is None
    assert "input: ../exports/Q4 wave.csv" in study.config.read_text()
    assert export.read_bytes() == before            # referred to, never copied or changed
    ingest = _assignments(tmp_path / "study/notebooks/01_ingest.ipynb")
    assert ingest["input_path"] == '"../../exports/Q4 wave.csv"'
    assert _assignments(tmp_path / "study/notebooks/03_quotes.ipynb")["themes_path"] == "None"
    # the commented exclude_respondents line is valid study.yml once uncommented
    text = study.config.read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("# exclude_respondents:"))
    study.config.write_text(text + line[2:] + "\n")
    assert load_config(study.config).exclude_respondents == {
        "<respondent id>": "test response from the team"}


def test_init_never_overwrites_a_study(tmp_path, capsys):
    init_study(tmp_path / "s")
    (tmp_path / "s" / "study.yml").write_text("wave: mine\ninput: sample_wave.csv\n")
    with pytest.raises(ConfigError, match="already holds a study"):
        init_study(tmp_path / "s")
    assert main(["init", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "already holds a study" in err and "Traceback" not in err
    assert (tmp_path / "s" / "study.yml").read_text().startswith("wave: mine")


def test_validate_prints_the_rows_and_fixes_a_run_stops_on(tmp_path, capsys):
    rows = list(csv.reader(open(SAMPLE / "sample_wave.csv", encoding="utf-8-sig")))
    col = rows[0].index("Q1_1")
    rows[5][col] = "Sometimes maybe"           # file line 6
    bad = tmp_path / "wave.csv"
    with open(bad, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    assert main(["validate", str(bad), "--codebook", str(SAMPLE / "codebook.yml")]) == 1
    out = capsys.readouterr().out.splitlines()
    line = next(ln for ln in out if ln.startswith("[error]"))
    assert "column 'Q1_1', row 6" in line and "Sometimes maybe" in line
    assert "Fix: add the label to the question's 'scale'" in line
