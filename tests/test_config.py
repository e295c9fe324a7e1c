"""Study configs: every parameter checked before anything runs, errors that say what to do."""
from __future__ import annotations

from pathlib import Path

import pytest

from personalab.cli import main
from personalab.config import DEFAULT_STEPS, config_from_dict, load_config
from personalab.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def _write(tmp_path, text):
    (tmp_path / "wave.csv").write_text("a,b\n1,2\n")
    p = tmp_path / "study.yml"
    p.write_text(text)
    return p


def test_sample_config_loads_with_paths_relative_to_its_folder():
    cfg = load_config(ROOT / "data/sample/study.yml")
    assert cfg.wave == "sample"
    assert cfg.input == ROOT / "data/sample/sample_wave.csv"
    assert cfg.codebook == ROOT / "data/sample/codebook.yml"
    assert cfg.seed == 42
    assert list(cfg.steps) == list(DEFAULT_STEPS)


@pytest.mark.parametrize("text, key, fix", [
    ("wave: w\ninput: wave.csv\nsed: 3\n", "sed", "did you mean 'seed'"),
    ("wave: w\ninput: wave.csv\nseed: '3'\n", "seed", "seed: 42"),
    ("wave: w\ninput: wave.csv\nmin_segment_share: 0.9\n", "min_segment_share", "0.05"),
    ("wave: w\ninput: missing.csv\n", "input", "config file's folder"),
    ("input: wave.csv\n", "wave", "wave: ..."),
    ("wave: w\ninput: wave.csv\nsteps: [ingest, segmnt]\n", "steps", "did you mean 'segment'"),
    ("wave: w\ninput: wave.csv\nengine: spark\n", "engine", "valid names: local, dask"),
    ("wave: w\ninput: wave.csv\nn_quotes: true\n", "n_quotes", "n_quotes: 42"),
    ("wave: w\ninput: wave.csv\nscheduler: tcp://h:8786\n", "scheduler", "engine: dask"),
    ("wave: w\ninput: parts/part-*.csv\nengine: dask\n", "input", "wave3/part-*.csv"),
])
def test_bad_parameters_are_refused_naming_file_key_and_fix(tmp_path, text, key, fix):
    p = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    msg = str(err.value)
    assert str(p) in msg and f"parameter {key!r}" in msg and fix in msg


def test_yaml_that_is_not_a_mapping_is_refused(tmp_path):
    p = _write(tmp_path, "- wave\n- input\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(p)


def test_python_tags_are_refused(tmp_path):
    p = _write(tmp_path, "wave: !!python/object/apply:os.system ['echo hi']\ninput: wave.csv\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)


def test_command_line_flags_override_the_file_and_are_relative_to_cwd(tmp_path, monkeypatch):
    p = _write(tmp_path, "wave: w\ninput: wave.csv\nseed: 1\n")
    other = tmp_path / "sub"
    other.mkdir()
    (other / "x.csv").write_text("a\n1\n")
    monkeypatch.chdir(other)
    cfg = load_config(p, seed=7, input="x.csv")
    assert cfg.seed == 7 and cfg.input == other / "x.csv"
    assert cfg.output == Path("reports/w")


def test_cli_reports_a_bad_config_without_a_traceback(tmp_path, capsys):
    p = _write(tmp_path, "wave: w\ninput: wave.csv\nsed: 3\n")
    assert main(["run", "--config", str(p), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'seed'" in err and "Traceback" not in err


def test_config_from_flags_needs_wave_and_input():
    with pytest.raises(ConfigError, match="required parameter 'input'"):
        config_from_dict({"wave": "w"})


def test_a_partitioned_input_and_the_dask_engine_are_accepted(tmp_path):
    (tmp_path / "parts").mkdir()
    for i in range(2):
        (tmp_path / "parts" / f"part-{i}.csv").write_text("a\n1\n")
    p = _write(tmp_path, "wave: w\ninput: parts/part-*.csv\nengine: dask\n"
                         "scheduler: tcp://127.0.0.1:8786\n")
    cfg = load_config(p)
    assert cfg.engine == "dask" and cfg.scheduler == "tcp://127.0.0.1:8786"
    assert cfg.input == tmp_path / "parts" / "part-*.csv"
