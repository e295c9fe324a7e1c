"""Respondents the researcher lists for exclusion (study.yml ``exclude_respondents``).

Real analyses drop respondents no column of the export tells apart (the Cantera Typeform
survey's own analysis drops three ids: "These were test responses from Bryan and Kyle").
Known answers on a planted wave: exactly the listed ids are added to the exclusions, each
with its reason, every respondent is still accounted for, and an id the wave does not have
is refused (a typo must not exclude nobody). The same list works from Python
(``QualityRules``), from ``steps.ingest`` and through ``personalab run --config``.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from personalab import steps
from personalab.cli import main
from personalab.config import load_config
from personalab.datasets import codebook_yaml, make_survey, write_qualtrics_csv
from personalab.errors import ConfigError
from personalab.quality import QualityRules, check_quality, quality_report_table
from personalab.survey import read_survey

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
TEAM = "These were test responses from Bryan and Kyle"
BOT = "Same IP as our office; confirmed with IT"


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("listed")
    wave = make_survey(400, random_state=3)
    csv = write_qualtrics_csv(wave, tmp / "wave.csv")
    cb = tmp / "codebook.yml"
    cb.write_text(codebook_yaml(wave.codebook), encoding="utf-8")
    survey = read_survey(csv, codebook=cb, duplicate_ids="suffix")
    return csv, cb, survey, check_quality(survey)


def _three(default):
    """Two respondents the checks keep and one they exclude as a speeder."""
    kept = list(default.kept)
    flags = default.flags
    speeders = flags.loc[(flags["flag"] == "speeder") & flags["excludes"], "respondent_id"]
    return {kept[3]: TEAM, kept[10]: TEAM, speeders.iloc[0]: BOT}


def test_listed_respondents_are_excluded_with_their_reasons(planted):
    _, _, survey, default = planted
    listed = _three(default)
    result = check_quality(survey, QualityRules(exclude_respondents=listed))
    assert result.check_accounting() == {"n_total": 400, "n_kept": default.n_kept - 2,
                                         "n_excluded": default.n_excluded + 2}
    assert set(result.excluded) == set(default.excluded) | set(listed)
    assert set(result.kept) == set(default.kept) - set(listed)
    rows = result.flags[result.flags["flag"] == "listed"].set_index("respondent_id")
    assert set(rows.index) == set(listed) and rows["excludes"].all()
    for rid, reason in listed.items():
        assert rows.loc[rid, "detail"] == f"Listed for exclusion in study.yml: {reason}"
    reasons = result.exclusions.set_index("respondent_id")["reasons"]
    kept3, kept10, speeder = listed
    assert reasons[kept3] == reasons[kept10] == "listed"
    before = default.exclusions.set_index("respondent_id")["reasons"][speeder]
    assert before.startswith("speeder") and reasons[speeder] == before + "; listed"
    # the other flags are the same: listing adds a flag, it changes no check
    others = result.flags[result.flags["flag"] != "listed"].reset_index(drop=True)
    pd.testing.assert_frame_equal(others, default.flags.reset_index(drop=True))


def test_the_report_table_shows_the_listed_row_with_the_reasons(planted):
    _, _, survey, default = planted
    result = check_quality(survey, QualityRules(exclude_respondents=_three(default)))
    table = quality_report_table(result, survey).set_index("flag")
    row = table.loc["listed"]
    assert (row["n_flagged"], row["n_excluded"], row["excludes"]) == (3, 3, True)
    assert f"'{TEAM}' (2)" in row["threshold"] and f"'{BOT}' (1)" in row["threshold"]
    assert "study.yml" in row["description"]
    assert list(table.index[-2:]) == ["listed", "total"]
    assert table.loc["total", "n_excluded"] == default.n_excluded + 2
    assert "listed=3" in repr(result)
    # without a list there is no such row (nothing new to read in the report)
    assert "listed" not in set(quality_report_table(default, survey)["flag"])


def test_a_listed_respondent_is_excluded_whatever_exclude_says(planted):
    _, _, survey, default = planted
    listed = _three(default)
    result = check_quality(survey, QualityRules(exclude=(), exclude_respondents=listed))
    assert set(result.excluded) == set(listed)
    assert (result.exclusions["reasons"] == "listed").all()
    assert result.check_accounting()["n_kept"] == 397


def test_an_id_the_wave_does_not_have_is_refused_naming_it(planted):
    _, _, survey, default = planted
    real = default.kept[0]
    typo = real[:-1] + ("x" if real[-1] != "x" else "y")
    with pytest.raises(ConfigError) as err:
        check_quality(survey, QualityRules(exclude_respondents={real: TEAM, typo: TEAM,
                                                                "R_nobody": TEAM}))
    msg = str(err.value)
    assert "parameter 'exclude_respondents'" in msg
    assert f"2 respondent id(s) that this wave does not have: {typo!r}, 'R_nobody'" in msg
    assert f"did you mean {typo!r} -> {real!r}?" in msg
    assert "Fix:" in msg and "remove an id this wave does not have" in msg


@pytest.mark.parametrize("value, problem", [
    (["R_1", "R_2"], "got a list of ids without reasons"),
    ({"R_1": ""}, "gives no reason for the respondent id 'R_1'"),
    ({"R_1": None}, "gives no reason for the respondent id 'R_1'"),
    ({" ": "x"}, "lists a blank respondent id"),
    ({"R_1": 5}, "gives 5 as the reason for the respondent id 'R_1': a reason is text"),
])
def test_a_malformed_list_is_refused(value, problem):
    with pytest.raises(ConfigError, match="exclude_respondents") as err:
        QualityRules(exclude_respondents=value)
    assert problem in str(err.value)


def _study(tmp_path, lines: str, **files) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    p = tmp_path / "study.yml"
    p.write_text(f"wave: w1\ninput: {SAMPLE / 'sample_wave.csv'}\n"
                 f"codebook: {SAMPLE / 'codebook.yml'}\noutput: {tmp_path / 'out'}\n"
                 "steps: [ingest]\n" + lines, encoding="utf-8")
    return p


def test_study_yml_takes_a_mapping_or_a_csv(tmp_path):
    # a bare number is compared as the text it is written as
    cfg = load_config(_study(tmp_path, "exclude_respondents:\n  1001: pilot\n  'R_x': team\n"))
    assert cfg.exclude_respondents == {"1001": "pilot", "R_x": "team"}
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "out.csv").write_text(
        "respondent_id,reason\nR_a, test by Bryan\nR_b,bot\n", encoding="utf-8")
    # relative to the config file's folder
    cfg = load_config(_study(tmp_path, "exclude_respondents: lists/out.csv\n"))
    assert cfg.exclude_respondents == {"R_a": "test by Bryan", "R_b": "bot"}
    assert cfg.to_dict()["exclude_respondents"] == {"R_a": "test by Bryan", "R_b": "bot"}
    (tmp_path / "lists" / "bad.csv").write_text("respondent_id,reason\nR_a,\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(_study(tmp_path, "exclude_respondents: lists/bad.csv\n"))
    assert "bad.csv" in str(err.value) and "row 2" in str(err.value)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(_study(tmp_path, "exclude_respondents: lists/nope.csv\n"))


def test_the_ingest_step_names_the_study_config_for_an_unknown_id(tmp_path):
    study = tmp_path / "study.yml"
    with pytest.raises(ConfigError) as err:
        steps.ingest(SAMPLE / "sample_wave.csv", output_dir=tmp_path / "out",
                     codebook_path=SAMPLE / "codebook.yml", config_file=study,
                     exclude_respondents={"R_notThere": TEAM})
    msg = str(err.value)
    assert msg.startswith(f"file {study}, parameter 'exclude_respondents': ")
    assert "'R_notThere'" in msg


def _sample_ids(n):
    ids = pd.read_csv(SAMPLE / "sample_wave.csv", skiprows=[1, 2], usecols=["ResponseId"],
                      encoding="utf-8-sig")["ResponseId"]
    return list(ids[[5, 50, 500]][:n])


@pytest.mark.slow
def test_personalab_run_honours_the_study_yml_list(tmp_path, capsys):
    a, b, c = _sample_ids(3)
    study = _study(tmp_path, f"exclude_respondents:\n  {a}: {TEAM}\n  {b}: {TEAM}\n"
                             f"  {c}: {BOT}\n")
    assert main(["run", "--config", str(study), "--no-progress"]) == 0
    out = tmp_path / "out"
    excl = pd.read_csv(out / "exclusions.csv", dtype=str).set_index("respondent_id")["reasons"]
    flags = pd.read_csv(out / "quality_flags.csv", dtype=str)
    listed = flags[flags["flag"] == "listed"].set_index("respondent_id")["detail"]
    assert listed.to_dict() == {a: f"Listed for exclusion in study.yml: {TEAM}",
                                b: f"Listed for exclusion in study.yml: {TEAM}",
                                c: f"Listed for exclusion in study.yml: {BOT}"}
    assert {a, b, c} <= set(excl.index)
    assert all(excl[r].split("; ")[-1] == "listed" for r in (a, b, c))
    # a typo stops the run with one line naming study.yml, the key and the id
    bad = _study(tmp_path, f"exclude_respondents:\n  {a}x: {TEAM}\n")
    capsys.readouterr()
    assert main(["run", "--config", str(bad), "--no-progress", "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert f"file {bad}, parameter 'exclude_respondents'" in err and f"'{a}x'" in err
    assert f"did you mean '{a}x' -> '{a}'?" in err


def _tokened(n=30):
    """A wave keyed by ResponseId whose export also holds a unique 'Token' column (as
    Typeform's '#') and a shared, partly blank 'IPAddress'."""
    from personalab.codebook import Codebook, Question, ScaleOption
    from personalab.loaders import RawWave
    from personalab.survey import Survey

    scale = [ScaleOption(k, lab) for k, lab in enumerate(
        ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"], start=1)]
    data = pd.DataFrame({
        "ResponseId": [f"R_{i:03d}" for i in range(n)],
        "Token": [f"tok{i:04d}x" for i in range(n)],
        "IPAddress": [None if i % 10 == 0 else f"10.0.0.{i % 7}" for i in range(n)],
        "Q1": [scale[i % 5].label for i in range(n)]}).astype(object)
    qs = [Question("ResponseId", type="id"), Question("Token", type="meta"),
          Question("IPAddress", type="meta"), Question("Q1", type="likert", scale=scale)]
    raw = RawWave(data=data, path="tok.csv", format="csv", sha256="0" * 64, header_rows=1)
    cb = Codebook(survey="tok", respondent_id="ResponseId", questions=qs)
    return Survey.from_raw(raw, cb, wave="tok")


def test_ids_from_another_column_of_the_export_are_pointed_at():
    # the Cantera Typeform export: the test ids are values of its '#' token column, which a
    # codebook keyed otherwise (or by file row) does not key respondents by
    survey = _tokened()
    with pytest.raises(ConfigError) as err:
        check_quality(survey, QualityRules(exclude_respondents={"tok0003x": TEAM,
                                                                "tok0007x": TEAM}))
    assert ("2 of them are values of the column 'Token', but the codebook keys respondents "
            "by 'ResponseId': add the line respondent_id: 'Token' to the codebook") \
        in str(err.value)
    # a column with repeated or blank values could not key respondents: never suggested
    with pytest.raises(ConfigError) as err:
        check_quality(survey, QualityRules(exclude_respondents={"10.0.0.3": TEAM}))
    assert "IPAddress" not in str(err.value) and "respondent_id:" not in str(err.value)
