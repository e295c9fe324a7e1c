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
    with pytest.raises(ConfigError, match="uses a YAML tag that is not plain data") as err:
        load_config(p)
    assert err.value.row == 1 and "study config holds only plain values" in err.value.fix


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


def test_segmentation_defaults_are_auto_and_n_segments_is_checked(tmp_path):
    cfg = load_config(_write(tmp_path, "wave: w\ninput: wave.csv\n"))
    assert (cfg.reducer, cfg.clusterer, cfg.n_segments) == ("auto", "auto", None)
    five = load_config(_write(tmp_path, "wave: w\ninput: wave.csv\nn_segments: 5\n"))
    assert five.n_segments == 5
    for bad in ("1", "13", "'5'"):
        p = _write(tmp_path, f"wave: w\ninput: wave.csv\nn_segments: {bad}\n")
        with pytest.raises(ConfigError, match="parameter 'n_segments'"):
            load_config(p)


def test_n_segments_reaches_only_notebooks_that_declare_it(tmp_path):
    from personalab.pipeline import _declared_parameters, notebook_for, notebook_parameters

    cfg = load_config(_write(tmp_path, "wave: w\ninput: wave.csv\nn_segments: 4\n"))
    params = notebook_parameters(cfg)
    assert params["n_segments"] == 4 and params["reducer"] == "auto"
    # what a step gets is what its parameters cell declares
    declared = _declared_parameters(notebook_for("quotes"))
    assert "n_segments" not in declared and "output_dir" in declared


def test_a_config_saved_as_windows_1252_names_the_row_and_the_fix(tmp_path, capsys):
    p = _write(tmp_path, "")
    p.write_bytes("wave: w\ninput: wave.csv\n# caf\u00e9 study\n".encode("cp1252"))
    with pytest.raises(ConfigError) as err:
        load_config(p)
    msg = str(err.value)
    assert str(p) in msg and "row 3" in msg and "not UTF-8" in msg and "re-save the file as UTF-8" \
        in msg and "Windows-1252 it would read 'é'" in msg
    assert main(["run", "--config", str(p), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_config_pointing_at_a_folder_suggests_the_study_file(tmp_path, capsys):
    _write(tmp_path, "wave: w\ninput: wave.csv\n")
    (tmp_path / "codebook.yml").write_text("questions: []\n")
    with pytest.raises(ConfigError, match="names a folder") as err:
        load_config(tmp_path)
    assert f"--config {tmp_path / 'study.yml'}" in str(err.value)
    assert main(["run", "--config", str(tmp_path), "--no-progress"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_another_wave_without_output_goes_to_its_own_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sample = ROOT / "data/sample/study.yml"         # output: reports/sample
    assert load_config(sample).output == Path("reports/sample")
    assert load_config(sample, wave="wave2").output == Path("reports/wave2")
    assert load_config(sample, wave="sample").output == Path("reports/sample")
    assert load_config(sample, wave="wave2", output="elsewhere").output == Path("elsewhere")
    p = _write(tmp_path, "wave: w\ninput: wave.csv\noutput: study/out\n")
    assert load_config(p, wave="w2").output == Path("reports/w2")


@pytest.mark.parametrize("steps, ok", [
    (["report", "ingest", "segment", "quotes", "personas", "waves"], True),
    (["segment", "quotes", "personas", "report"], True),     # waves does nothing without a baseline
    (["report"], True),
    (["ingest", "report"], False),
    (["segment", "report"], False),
])
def test_steps_run_in_order_without_gaps(tmp_path, steps, ok):
    p = _write(tmp_path, f"wave: w\ninput: wave.csv\nsteps: [{', '.join(steps)}]\n")
    if ok:
        cfg = load_config(p)
        assert cfg.steps == [s for s in DEFAULT_STEPS if s in steps]
    else:
        with pytest.raises(ConfigError, match="leave out") as err:
            load_config(p)
        assert "parameter 'steps'" in str(err.value) and "personas" in str(err.value)


def test_waves_may_not_be_skipped_with_a_baseline(tmp_path):
    (tmp_path / "base").mkdir()
    p = _write(tmp_path, "wave: w\ninput: wave.csv\nbaseline: base\n"
                         "steps: [personas, report]\n")
    with pytest.raises(ConfigError, match=r"leave out \['waves'\]"):
        load_config(p)


# --------------------------------------------------------------------------- read options
# How the export writes numbers and dates, and how to read its bytes: the keys the
# conventions' and the loader's refusals name as their fix.

def test_read_options_are_study_keys_passed_as_load_export_options(tmp_path):
    p = _write(tmp_path, 'wave: w\ninput: wave.csv\ndecimal: ","\nthousands: {income: "."}\n'
                         "dayfirst: {signup: true}\nencoding: cp1252\nencoding_errors: strict\n")
    cfg = load_config(p)
    assert cfg.read_options() == {"decimal": ",", "thousands": {"income": "."},
                                  "dayfirst": {"signup": True}, "encoding": "cp1252",
                                  "encoding_errors": "strict"}
    assert load_config(_write(tmp_path, "wave: w\ninput: wave.csv\n")).read_options() == {}
    # what the fixes suggest is what the file takes
    from personalab.config import study_fix

    fix = study_fix("say which: decimal={'spend': ','} for a decimal comma, or "
                    "thousands={'spend': ','} for thousands")
    assert fix.endswith("(in study.yml: decimal: {spend: ','} or thousands: {spend: ','})")
    p = _write(tmp_path, "wave: w\ninput: wave.csv\ndecimal: {spend: ','}\ndayfirst: "
                         "{when: true}\n")
    assert load_config(p).read_options() == {"decimal": {"spend": ","},
                                             "dayfirst": {"when": True}}


@pytest.mark.parametrize("line, key, needle", [
    ('decimal: ";"', "decimal", 'must be one of ".", ","'),
    ("decimal: 1", "decimal", 'must be one of ".", ","'),
    ('decimal: {spend: "_"}', "decimal", "got {spend: _}"),
    ('thousands: "-"', "thousands", '",", ".", " ", "\\u00a0", "\\u202f", "\'", ""'),
    ('decimal: ","\nthousands: ","', "thousands", "one mark cannot be both"),
    ("dayfirst: maybe", "dayfirst", "must be true or false"),
    ("dayfirst: {when: 1}", "dayfirst", "must be true or false"),
    ("encoding_errors: ignore", "encoding_errors", "must be 'replace' or 'strict'"),
    ("encoding: klingon-8", "encoding", "not a text encoding"),
])
def test_a_read_option_not_read_is_refused_naming_key_and_values(tmp_path, line, key, needle):
    p = _write(tmp_path, f"wave: w\ninput: wave.csv\n{line}\n")
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert err.value.column == key and needle in err.value.problem and err.value.fix
    assert str(p) in str(err.value)


# a "billion laughs" in a key the config takes: nine levels of ten aliases expand to 10**9
# nodes, which the manifest's JSON (and anything else walking the value) would build
BOMB = "scale_mapping:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"  {c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))


def test_a_yaml_alias_bomb_in_a_study_config_is_refused_at_once(tmp_path, capsys):
    import time

    p = _write(tmp_path, "wave: w\ninput: wave.csv\n" + BOMB)
    assert len(p.read_bytes()) < 1300
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="alias bomb") as err:
        load_config(p)
    assert time.perf_counter() - t0 < 5 and err.value.row is not None
    assert str(p) in str(err.value) and "remove the repeated '*' aliases" in err.value.fix
    assert main(["run", "--config", str(p), "--no-progress"]) == 2
    assert "alias bomb" in capsys.readouterr().err
