"""Response-quality checks: known answers on planted data, accounting, rules, missing metadata.

The main tests run the real path — ``make_survey`` -> Qualtrics CSV -> ``read_survey`` ->
``check_quality`` — and compare the flags with the planted ground truth (``wave.truth``).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from personalab.codebook import Codebook, MissingCode, Question, ScaleOption
from personalab.datasets import codebook_yaml, make_survey, write_qualtrics_csv
from personalab.errors import ConfigError, InputError
from personalab.loaders import RawWave
from personalab.quality import (
    FLAGS,
    QualityResult,
    QualityRules,
    check_quality,
    quality_report_table,
)
from personalab.survey import Survey, read_survey

# flag -> truth column of make_survey
PLANTED = {
    "test_response": "is_test",
    "duplicate_answers": "is_duplicate",
    "incomplete": "is_incomplete",
    "speeder": "is_speeder",
    "straightliner": "is_straightliner",
    "attention_check": "fails_attention",
}
# False positives allowed per flag, beyond the planted respondents: 0.5 % of the wave.
FALSE_POSITIVE_SHARE = 0.005


def _wave_and_survey(tmp, n, seed):
    wave = make_survey(n, random_state=seed)
    csv = write_qualtrics_csv(wave, tmp / f"wave{seed}.csv")
    cb = tmp / f"codebook{seed}.yml"
    cb.write_text(codebook_yaml(wave.codebook), encoding="utf-8")
    return wave, read_survey(csv, codebook=cb, duplicate_ids="suffix")


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    cache = {}

    def get(n, seed):
        if (n, seed) not in cache:
            wave, survey = _wave_and_survey(tmp_path_factory.mktemp("quality"), n, seed)
            cache[n, seed] = wave, survey, check_quality(survey)
        return cache[n, seed]
    return get


@pytest.fixture(params=[(1500, 0), (900, 11)], ids=["n1500-seed0", "n900-seed11"])
def planted(request, build):
    return build(*request.param)


def _flagged(result, flag) -> set:
    return set(result.flags.loc[result.flags["flag"] == flag, "respondent_id"])


def _truth(wave, column) -> set:
    t = wave.truth
    return set(t.loc[t[column].astype(bool), "ResponseId"])


# --------------------------------------------------------------------------- known answers
@pytest.mark.parametrize("flag", list(PLANTED))
def test_every_planted_problem_is_found_with_few_false_positives(planted, flag):
    wave, survey, result = planted
    want = _truth(wave, PLANTED[flag])
    got = _flagged(result, flag)
    assert want, f"the sample plants no {flag}: this test would prove nothing"
    assert want <= got, f"missed {flag}: {sorted(want - got)[:5]}"
    extra = got - want
    assert len(extra) <= FALSE_POSITIVE_SHARE * len(survey.data), sorted(extra)[:5]


SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
SAMPLE_TRUTH = (Path(__file__).resolve().parent / "fixtures" / "sample_truth"
                / "sample_wave_truth.csv")


@pytest.mark.skipif(not SAMPLE_TRUTH.exists(), reason="the bundled sample's truth is not generated")
def test_bundled_sample_planted_problems_are_found():
    survey = read_survey(SAMPLE / "sample_wave.csv", codebook=SAMPLE / "codebook.yml")
    truth = pd.read_csv(SAMPLE_TRUTH)
    result = check_quality(survey)
    for flag, column in PLANTED.items():
        want = set(truth.loc[truth[column], "ResponseId"])
        got = _flagged(result, flag)
        assert want <= got, flag
        assert len(got - want) <= FALSE_POSITIVE_SHARE * len(truth), flag


def test_nothing_is_skipped_on_a_full_qualtrics_export(planted):
    _, _, result = planted
    assert result.skipped == {}


def test_duplicates_keep_the_earlier_respondent_and_name_the_twin(planted):
    wave, _, result = planted
    dups = wave.truth[wave.truth["is_duplicate"]]
    details = result.flags[result.flags["flag"] == "duplicate_answers"].set_index("respondent_id")
    for later, earlier in zip(dups["ResponseId"], dups["duplicate_of"]):
        assert earlier in details.loc[later, "detail"]
    assert not set(dups["duplicate_of"]) & _flagged(result, "duplicate_answers")


def test_details_say_why(planted):
    _, _, result = planted
    detail = result.flags.groupby("flag")["detail"].first()
    assert "cutoff" in detail["speeder"] and "median" in detail["speeder"]
    assert "expected 'Somewhat agree'" in detail["attention_check"]
    assert "Progress" in detail["incomplete"] or "Finished" in detail["incomplete"]
    assert "on all" in detail["straightliner"]
    assert (result.flags["detail"].str.len() > 0).all()


# --------------------------------------------------------------------------- exclusions
def test_default_excludes_every_flag_but_straightlining(planted):
    _, _, result = planted
    excluding = result.flags.groupby("flag")["excludes"].all()
    assert not excluding["straightliner"]
    assert excluding.drop("straightliner").all()
    # a straight-liner with no other problem is kept, and listed in the flags
    only_straight = (result.flags.groupby("respondent_id")["flag"]
                     .agg(lambda f: set(f) == {"straightliner"}))
    alone = only_straight[only_straight].index
    assert len(alone) > 0
    assert set(alone) <= set(result.kept)


def test_the_exclude_rule_changes_who_is_excluded(planted):
    _, survey, default = planted
    everything = check_quality(survey, QualityRules(exclude=QualityRules.ALL_FLAGS))
    straight = _flagged(default, "straightliner")
    assert straight <= set(everything.excluded)
    assert everything.n_excluded > default.n_excluded
    only_speeders = check_quality(survey, QualityRules(exclude=("speeder",)))
    assert set(only_speeders.excluded) == _flagged(default, "speeder")
    assert (only_speeders.exclusions["reasons"] == "speeder").all()
    nothing = check_quality(survey, QualityRules(exclude=()))
    assert nothing.n_excluded == 0 and nothing.n_kept == len(survey.data)
    assert len(nothing.flags) == len(default.flags)       # flags do not depend on exclude


def test_reasons_list_every_excluding_flag_in_order(planted):
    _, _, result = planted
    expected = (result.flags[result.flags["excludes"]].groupby("respondent_id", sort=False)["flag"]
                .agg(lambda f: "; ".join(sorted(f, key=FLAGS.index))))
    got = result.exclusions.set_index("respondent_id")["reasons"]
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False)
    assert got.str.contains("; ").any()                 # some respondents have several


# --------------------------------------------------------------------------- accounting
def test_accounting_every_respondent_is_kept_or_excluded_with_reasons(planted):
    _, survey, result = planted
    ids = set(survey.data.index)
    kept, excluded = set(result.kept), set(result.excluded)
    assert kept | excluded == ids and not kept & excluded
    assert result.n_total == result.n_kept + result.n_excluded == len(survey.data)
    assert (result.exclusions["reasons"].str.len() > 0).all()
    assert result.check_accounting() == {"n_total": len(ids), "n_kept": len(kept),
                                         "n_excluded": len(excluded)}


def test_accounting_check_catches_a_respondent_lost_or_counted_twice(planted):
    _, _, result = planted
    lost = QualityResult(**{**result.__dict__, "exclusions": result.exclusions.iloc[1:],
                            "_excluded_pos": None})
    with pytest.raises(RuntimeError, match="accounting"):
        lost.check_accounting()
    twice = QualityResult(**{**result.__dict__, "kept": result.kept.append(result.excluded[:1])})
    with pytest.raises(RuntimeError, match="accounting"):
        twice.check_accounting()


def test_apply_keeps_exactly_the_kept(planted):
    _, survey, result = planted
    clean = result.apply(survey)
    assert list(clean.data.index) == list(result.kept)
    with pytest.raises(InputError, match="different survey"):
        result.apply(clean)


def test_summary_and_report_table_agree_with_the_flags(planted):
    _, survey, result = planted
    summary = result.summary()
    counts = result.flags["flag"].value_counts()
    for flag in FLAGS:
        assert summary.loc[flag, "n_flagged"] == counts.get(flag, 0)
    assert summary.loc["any", "n_excluded"] == result.n_excluded
    assert summary.loc["speeder", "share"] == pytest.approx(counts["speeder"] / len(survey.data))
    table = quality_report_table(result, survey)
    assert list(table["flag"]) == [*FLAGS, "total"]
    assert {"flag", "description", "threshold", "n_flagged", "excludes"} <= set(table.columns)
    speeder = table.set_index("flag").loc["speeder"]
    assert "median" in speeder["threshold"] and speeder["status"] == "checked"
    assert table.iloc[-1]["n_excluded"] == result.n_excluded


# --------------------------------------------------------------------------- small surveys
AGREE = ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"]
SCALE = [ScaleOption(i, lab) for i, lab in enumerate(AGREE, start=1)]
DONT_KNOW = [MissingCode(9, "Don't know", "dont_know")]
META = ["Status", "Progress", "Duration (in seconds)", "Finished", "DistributionChannel"]


def _small(frame: pd.DataFrame, *, grid=True, attention=True, text=True, meta=META,
           duplicate_ids="suffix", dates="date") -> Survey:
    """A Survey typed from a raw frame (strings, as read), through Survey.from_raw;
    ``dates="meta"`` keeps StartDate/EndDate as text (metadata, as a codebook may say)."""
    qs = [Question("ResponseId", type="id")]
    qs += [Question(c, type="meta") for c in meta if c in frame]
    if "StartDate" in frame:
        qs += [Question("StartDate", type=dates), Question("EndDate", type=dates)]
    qs += [Question(f"G_{k}", type="likert", scale=SCALE, grid="G" if grid else None,
                    reverse=k == 3, missing=DONT_KNOW) for k in range(1, 7)]
    qs += [Question(f"H_{k}", type="likert", scale=SCALE) for k in range(1, 7)]
    if attention:
        qs.append(Question("ATT", type="likert", role="ignore", scale=SCALE,
                           grid="G" if grid else None, attention_check={"expected": "Agree"}))
    if text:
        qs.append(Question("comment", type="text"))
    used = [c for q in qs for c in q.data_columns]
    raw = RawWave(data=frame[used].astype(object).where(frame[used].notna(), None),
                  path="small.csv", format="csv", sha256="0" * 64, header_rows=1)
    cb = Codebook(survey="small", respondent_id="ResponseId", questions=qs)
    return Survey.from_raw(raw, cb, wave="small", duplicate_ids=duplicate_ids)


def _frame(n=40, seed=3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    f = pd.DataFrame({
        "ResponseId": [f"R_{i:03d}" for i in range(n)],
        "Status": "IP Address", "Progress": "100", "Duration (in seconds)": "600",
        "Finished": "True", "DistributionChannel": "anonymous",
        "StartDate": [f"2024-03-{1 + i // 24:02d} {i % 24:02d}:00:00" for i in range(n)],
        "EndDate": [f"2024-03-{1 + i // 24:02d} {i % 24:02d}:10:00" for i in range(n)],
        "ATT": "Agree",
        "comment": [f"answer number {i} about budgeting and saving" for i in range(n)],
    })
    for k in range(1, 7):     # a reverse-keyed item in the grid: nobody straight-lines by chance
        f[f"G_{k}"] = [AGREE[v] for v in rng.integers(0, 5, n)]
    for k in range(1, 7):
        f[f"H_{k}"] = [AGREE[v] for v in rng.integers(0, 5, n)]
    f.loc[:, "G_1"] = AGREE[0]
    f.loc[:, "G_2"] = AGREE[4]
    return f


def test_speeder_threshold_is_a_share_of_the_median_known_answer():
    f = _frame()
    f.loc[5, "Duration (in seconds)"] = "150"     # < 1/3 x 600
    f.loc[6, "Duration (in seconds)"] = "250"     # < 1/2 x 600 only
    f.loc[7, ["Duration (in seconds)", "Progress", "Finished"]] = ["30", "40", "False"]
    survey = _small(f)
    third = check_quality(survey)
    assert _flagged(third, "speeder") == {"R_005"}       # the partial response is 'incomplete'
    assert _flagged(third, "incomplete") == {"R_007"}
    half = check_quality(survey, QualityRules(speeder_ratio=0.5))
    assert _flagged(half, "speeder") == {"R_005", "R_006"}
    assert "median 600 s, cutoff 200 s" in third.thresholds["speeder"]
    assert "median 600 s, cutoff 300 s" in half.thresholds["speeder"]
    detail = third.flags.set_index("flag").loc["speeder", "detail"]
    assert detail == "completed in 150 s; cutoff 200 s = 1/3 × median 600 s"


def _timed(start, end) -> Survey:
    """_frame() without a Duration column: durations come from StartDate/EndDate, kept as
    text (metadata) so the quality check reads them itself."""
    f = _frame().drop(columns=["Duration (in seconds)"])
    f["StartDate"], f["EndDate"] = start, end
    return _small(f, meta=["Status", "Progress", "Finished", "DistributionChannel"],
                  dates="meta")


def _day_first(n=40):
    # day-first: the 13th to the 28th decide it, after a first row that reads both ways
    start = ["01/04/2024 10:00"] + [f"{13 + i % 16:02d}/04/2024 10:00" for i in range(1, n)]
    end = [v.replace("10:00", "10:10") for v in start]
    end[5] = start[5].replace("10:00", "10:01")                     # a 1-minute speeder
    return start, end


def test_speeder_durations_read_every_date_in_the_column_s_one_order():
    start, end = _day_first()
    # ten minutes across midnight, day-first like the rest of the column: 12 April 23:55
    # to 13 April 00:05 (row by row it read 4 December to 13 April: a negative duration)
    start[6], end[6] = "12/04/2024 23:55", "13/04/2024 00:05"
    result = check_quality(_timed(start, end))
    assert _flagged(result, "speeder") == {"R_005"}
    assert "(EndDate − StartDate): median 600 s" in result.thresholds["speeder"]


def test_speeder_check_refuses_dates_written_in_two_orders():
    start, end = _day_first()
    start[7], end[7] = "04/13/2024 10:00", "04/13/2024 10:10"        # month-first
    result = check_quality(_timed(start, end))
    assert _flagged(result, "speeder") == set()
    why = result.skipped["speeder"]
    assert "column 'StartDate'" in why and "mix two orders" in why and "row" in why
    assert "'04/13/2024 10:00' only month-first" in why and "fix:" in why


def test_speeder_durations_from_dates_that_read_both_ways():
    n = 40
    start = [f"{1 + i % 12:02d}/04/2024 10:00" for i in range(n)]    # no day over 12
    end = [v.replace("10:00", "10:10") for v in start]
    end[5] = start[5].replace("10:00", "10:01")
    # the same day either way: the durations do not depend on the order
    assert _flagged(check_quality(_timed(start, end)), "speeder") == {"R_005"}
    # across midnight they do (10 minutes day-first, a month month-first): refused
    start[6], end[6] = "03/04/2024 23:55", "04/04/2024 00:05"
    result = check_quality(_timed(start, end))
    assert _flagged(result, "speeder") == set()
    assert "reads both day-first and month-first" in result.skipped["speeder"]


def test_incomplete_by_progress_or_finished():
    f = _frame()
    f.loc[1, ["Progress", "Finished"]] = ["40", "False"]
    f.loc[2, "Finished"] = "False"                 # Progress 100 but never submitted
    f.loc[3, "Progress"] = "99"
    f.loc[4, "Finished"] = "0"                     # numeric export
    result = check_quality(_small(f))
    detail = result.flags[result.flags["flag"] == "incomplete"].set_index("respondent_id")["detail"]
    assert set(detail.index) == {"R_001", "R_002", "R_003", "R_004"}
    assert detail["R_001"] == "Progress 40%; Finished = false"
    assert detail["R_002"] == "Finished = false"


def test_test_rows_do_not_drag_the_speeder_median_down():
    f = _frame()
    f.loc[5, "Duration (in seconds)"] = "150"
    previews = pd.concat([f, f.iloc[:5]], ignore_index=True)     # 45 preview clicks at 20 s
    previews = previews.assign(Status="Survey Preview", **{"Duration (in seconds)": "20"})
    previews["ResponseId"] = [f"T_{i:03d}" for i in range(45)]
    previews["comment"] = [f"preview run {i} checking the routing works" for i in range(45)]
    result = check_quality(_small(pd.concat([f, previews], ignore_index=True)))
    genuine = {r for r in _flagged(result, "speeder") if r.startswith("R_")}
    assert genuine == {"R_005"}                         # median of the 40 genuine: 600 s
    assert "median 600 s" in result.thresholds["speeder"]


def test_straightlining_and_attention_known_answers():
    f = _frame()
    f.loc[3, [f"G_{k}" for k in range(1, 7)] + ["ATT"]] = "Neutral"   # all one column: both
    f.loc[4, [f"G_{k}" for k in range(1, 7)]] = "Agree"               # ATT as instructed
    f.loc[4, "ATT"] = "Agree"                                          # -> all seven the same
    f.loc[8, [f"G_{k}" for k in range(1, 7)]] = "Disagree"             # read the instruction:
    f.loc[9, "ATT"] = None                                             # blank is not a failure
    f.loc[11, [f"G_{k}" for k in range(1, 7)]] = ["Agree"] * 5 + ["Don't know"]   # not a line
    f.loc[11, "ATT"] = "Agree"
    survey = _small(f)
    result = check_quality(survey)
    assert _flagged(result, "straightliner") == {"R_003", "R_004"}
    assert _flagged(result, "attention_check") == {"R_003"}
    strict = check_quality(survey, QualityRules(attention_missing_fails=True))
    assert _flagged(strict, "attention_check") == {"R_003", "R_009"}
    f.loc[10, [f"G_{k}" for k in range(1, 7)]] = ["Agree"] * 5 + ["Strongly agree"]
    f.loc[10, "ATT"] = "Agree"
    near = check_quality(_small(f), QualityRules(straightline_max_sd=0.4))
    assert _flagged(near, "straightliner") == {"R_003", "R_004", "R_010"}
    assert "nearly the same answer, SD 0.35 over 7 items" in near.flags.set_index(
        "respondent_id").loc["R_010", "detail"]
    assert "R_010" not in _flagged(check_quality(_small(f)), "straightliner")
    fewer = check_quality(survey, QualityRules(min_grid_items=8))
    assert "straightliner" in fewer.skipped


def test_test_rows_by_status_channel_and_text():
    f = _frame()
    f.loc[1, "Status"] = "Survey Preview"
    f.loc[2, "DistributionChannel"] = "test"
    f.loc[3, "comment"] = "Testing 123"
    f.loc[4, "comment"] = "I tested three apps before this one"    # a real answer
    f.loc[5, "Status"] = "8"                                       # numeric export: Spam
    result = check_quality(_small(f))
    assert _flagged(result, "test_response") == {"R_001", "R_002", "R_003", "R_005"}


def test_duplicate_ids_flag_the_later_occurrence():
    f = _frame()
    again = f.iloc[[10]].assign(**{"G_4": "Neutral", "comment": "a second go at it"})
    f = pd.concat([f, again], ignore_index=True)
    survey = _small(f)
    result = check_quality(survey)
    assert _flagged(result, "duplicate_id") == {"R_010~2"}
    detail = result.flags.set_index("flag").loc["duplicate_id", "detail"]
    assert "'R_010' occurs 2 times" in detail and "rows 12, 42" in detail
    both = check_quality(survey, QualityRules(duplicate_id_keep="none"))
    assert _flagged(both, "duplicate_id") == {"R_010", "R_010~2"}


def test_exact_and_near_duplicates_known_answers():
    f = _frame()
    f.loc[30, f.columns.drop(["ResponseId", "StartDate", "EndDate"])] = \
        f.loc[2, f.columns.drop(["ResponseId", "StartDate", "EndDate"])]          # exact copy
    f.loc[31, f.columns.drop(["ResponseId", "StartDate", "EndDate"])] = \
        f.loc[4, f.columns.drop(["ResponseId", "StartDate", "EndDate"])]
    f.loc[31, "G_5"] = "Neutral" if f.loc[4, "G_5"] != "Neutral" else "Agree"     # near copy
    result = check_quality(_small(f))
    dup = result.flags[result.flags["flag"] == "duplicate_answers"].set_index("respondent_id")
    assert set(dup.index) == {"R_030", "R_031"}
    assert "same answers as R_002" in dup.loc["R_030", "detail"]
    assert "near-duplicate of R_004" in dup.loc["R_031", "detail"]
    exact_only = check_quality(_small(f), QualityRules(duplicate_near_share=None))
    assert _flagged(exact_only, "duplicate_answers") == {"R_030"}


# --------------------------------------------------------------------------- missing metadata
@pytest.mark.parametrize("drop, flag, reason", [
    (["Duration (in seconds)", "StartDate", "EndDate"], "speeder", "Duration"),
    (["Progress", "Finished"], "incomplete", "Progress"),
    (["Status", "DistributionChannel", "comment"], "test_response", "Status"),
])
def test_missing_metadata_is_skipped_with_a_reason(drop, flag, reason):
    f = _frame()
    f.loc[5, "Duration (in seconds)"] = "100"
    survey = _small(f.drop(columns=drop), text="comment" not in drop)
    result = check_quality(survey)
    assert flag in result.skipped and reason in result.skipped[flag]
    assert not _flagged(result, flag)
    assert result.thresholds[flag].startswith("skipped")
    table = quality_report_table(result, survey).set_index("flag")
    assert table.loc[flag, "status"] == "skipped"
    result.check_accounting()


def test_duration_falls_back_to_end_minus_start():
    f = _frame().drop(columns="Duration (in seconds)")
    f.loc[5, "EndDate"] = f.loc[5, "StartDate"].replace(":00:00", ":01:00")   # 60 s
    result = check_quality(_small(f))
    assert _flagged(result, "speeder") == {"R_005"}
    assert "EndDate − StartDate" in result.thresholds["speeder"]


def test_codebook_without_grids_or_attention_checks_skips_them():
    result = check_quality(_small(_frame(), grid=False, attention=False))
    assert set(result.skipped) == {"straightliner", "attention_check"}
    assert "grid" in result.skipped["straightliner"]


def test_a_bare_object_with_only_data_never_crashes():
    class Bare:                          # no meta(), questions(), text(), file_rows
        def __init__(self, data):
            self.data = data

    data = pd.DataFrame({"a": [1, 2, 1] * 5, "b": [3, 4, 3] * 5},
                        index=pd.Index([f"r{i}" for i in range(15)], name="respondent_id"))
    result = check_quality(Bare(data), QualityRules(duplicate_min_items=2))
    assert set(result.skipped) == set(FLAGS) - {"duplicate_answers"}
    assert all(result.skipped.values())
    assert _flagged(result, "duplicate_answers") == {f"r{i}" for i in range(2, 15)}
    assert result.n_kept == 2


# --------------------------------------------------------------------------- rules and scale
def test_rules_are_validated():
    with pytest.raises(ConfigError, match="unknown quality flag"):
        QualityRules(exclude=("speeders",))
    with pytest.raises(ConfigError, match="speeder_ratio"):
        QualityRules(speeder_ratio=0)
    with pytest.raises(ConfigError, match="min_grid_items"):
        QualityRules(min_grid_items=1)
    with pytest.raises(ConfigError, match="rules must be"):
        check_quality(_small(_frame()), rules={"speeder_ratio": 0.5})
    assert QualityRules(exclude="speeder").exclude == ("speeder",)


def test_large_wave_is_vectorised(build):
    """200,000 respondents in seconds, with planted exact and near duplicates found."""
    _, survey, _ = build(1500, 0)
    n, rng = 200_000, np.random.default_rng(0)
    src = np.tile(np.arange(len(survey.data)), n // len(survey.data) + 1)[:n]
    data = survey.data.iloc[src].set_axis(
        pd.Index([f"B{i:07d}" for i in range(n)], dtype="str", name="respondent_id"))
    for q in survey.questions(type="likert", role="all"):      # shuffle: rows become unique
        data[q.id] = rng.permutation(data[q.id].to_numpy())
    data["IPAddress"] = "10." + pd.Series(rng.integers(0, 2**24, n), index=data.index).astype("str")
    data.iloc[n - 1] = data.iloc[100]                                   # exact copy, later
    data.iloc[n - 2] = data.iloc[200]                                   # near copy, same IP
    data.iloc[n - 2, data.columns.get_loc("Q1_1")] = 9.0
    data["StartDate"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n), unit="s")
    big = Survey(data, survey.codebook, wave="big",
                 file_rows=pd.Series(np.arange(n) + 4, index=data.index))
    start = time.perf_counter()
    result = check_quality(big)
    elapsed = time.perf_counter() - start
    assert elapsed < 20, f"check_quality took {elapsed:.1f} s for {n} respondents"
    dup = result.flags[result.flags["flag"] == "duplicate_answers"].set_index("respondent_id")
    assert "same answers as B0000100" in dup.loc[f"B{n - 1:07d}", "detail"]
    assert "near-duplicate of B0000200" in dup.loc[f"B{n - 2:07d}", "detail"]
    assert result.n_total == result.n_kept + result.n_excluded == n


# --------------------------------------------------------------------------- real-survey shapes
def test_respondents_who_skipped_every_segmentation_item_are_excluded_with_the_reason():
    f = _frame()
    items = [f"G_{k}" for k in range(1, 7)] + [f"H_{k}" for k in range(1, 7)]
    f.loc[7, items] = None                     # skipped everything (still passed ATT)
    f.loc[8, items] = None
    f.loc[8, [f"G_{k}" for k in range(1, 7)]] = "Don't know"   # only missing codes
    f.loc[9, items] = None
    f.loc[9, ["H_4", "H_5"]] = "Agree"         # two of twelve: placed by imputed answers
    f.loc[10, items[3:]] = None                # three of twelve (a quarter): segmentable
    survey = _small(f)
    result = check_quality(survey)
    assert _flagged(result, "not_segmentable") == {"R_007", "R_008", "R_009"}
    excl = result.exclusions.set_index("respondent_id")["reasons"]
    assert excl["R_007"] == "not_segmentable" and excl["R_008"] == "not_segmentable"
    assert "R_010" in result.kept and "R_009" not in result.kept and "R_007" not in result.kept
    detail = result.flags.set_index(["respondent_id", "flag"])["detail"]
    # the detail says what the rule means (a break-off), then the count
    assert detail[("R_007", "not_segmentable")] == ("stopped early or skipped most questions: "
                                                    "no answer to any of the 12 segmentation "
                                                    "questions")
    assert detail[("R_009", "not_segmentable")] == ("stopped early or skipped most questions: "
                                                    "answered 2 of the 12 segmentation "
                                                    "questions most respondents answered "
                                                    "(fewer than 25%)")
    table = quality_report_table(result, survey).set_index("flag")
    # the count closing the criterion is that of the segmentation questions, named as such
    # (TAFE's "(49 question(s))" read as the number at least half answered)
    assert table.loc["not_segmentable", "threshold"].endswith(
        "(12 segmentation questions in this run)")
    assert "question(s)" not in table.loc["not_segmentable", "threshold"]
    assert table.loc["not_segmentable", "n_excluded"] == 3
    assert table.loc["not_segmentable", "status"] == "checked"
    result.check_accounting()
    # a researcher who wants to keep them says so; or flags only those who answered nothing
    kept = check_quality(survey, QualityRules(exclude=("test_response",)))
    assert {"R_007", "R_008", "R_009"} <= set(kept.kept)
    nothing = check_quality(survey, QualityRules(min_segment_answered=0))
    assert _flagged(nothing, "not_segmentable") == {"R_007", "R_008"}


def test_skipping_a_routed_block_is_not_breaking_off():
    """Exit-survey shape: a block of follow-ups only a third were asked (routing) never counts
    against anyone; respondents who stopped after the first question are flagged
    (Queensland TAFE: 84 of 702 formed a 'persona' of their own, placed by imputation)."""
    f = _frame(n=60, seed=5)
    g_items = [f"G_{k}" for k in range(1, 7)]
    h_items = [f"H_{k}" for k in range(1, 7)]
    f.loc[20:, h_items] = None                 # H block: asked of 20 of 60 (routing)
    f.loc[0:4, g_items[1:]] = None             # routed to the H block, stopped after G_1
    f.loc[0:4, h_items] = None
    f.loc[5:9, h_items] = None                 # routed to H, skipped it: 6 of 6 core answers
    f.loc[30:33, g_items[1:]] = None           # not asked the H block, stopped after G_1
    survey = _small(f)
    result = check_quality(survey)
    assert _flagged(result, "not_segmentable") == {f"R_{i:03d}" for i in
                                                   [0, 1, 2, 3, 4, 30, 31, 32, 33]}
    # those who were not routed to the H block, or skipped it, but answered the G block stay
    assert {f"R_{i:03d}" for i in range(5, 60) if not 30 <= i <= 33} <= set(result.kept)


def test_a_split_ballots_other_half_is_not_breaking_off():
    """A split ballot: 60 respondents saw block G, 40 block H, so only G is 'core' (answered
    by over half of everyone). The 40 who answered their own block in full are never 'not
    segmentable' (all 40 were, through the core rule alone); three who stopped after G_1
    are."""
    f = _frame(n=100, seed=7)
    g_items = [f"G_{k}" for k in range(1, 7)]
    h_items = [f"H_{k}" for k in range(1, 7)]
    f.loc[:59, h_items] = None                 # 60 saw G only
    f.loc[60:, g_items] = None                 # 40 saw H only
    f.loc[0:2, g_items[1:]] = None             # three of the G half stopped after G_1
    survey = _small(f)
    result = check_quality(survey)
    assert _flagged(result, "not_segmentable") == {"R_000", "R_001", "R_002"}
    assert {f"R_{i:03d}" for i in range(60, 100)} <= set(result.kept)


def test_min_segment_answered_is_a_share():
    with pytest.raises(ConfigError, match="min_segment_answered"):
        QualityRules(min_segment_answered=1.5)


def test_not_segmentable_is_skipped_without_segmentation_questions():
    f = _frame()
    survey = _small(f)
    for q in survey.codebook.questions:
        if q.role == "segment":
            q.role = "profile"
    result = check_quality(survey)
    assert "role: segment" in result.skipped["not_segmentable"]


def test_same_short_answers_of_different_people_are_not_duplicates():
    # A clinic survey: three ratings and a short open answer. Genuine patients very often
    # give identical answers ("5", "5", "Yes", "Good"); the old check excluded them by the
    # quarter. Duplicates need duplicate_min_items identical *closed* answers.
    rng = np.random.default_rng(1)
    n = 200
    five = ["1", "2", "3", "4", "5"]
    f = pd.DataFrame({
        "ResponseId": [f"P{i:03d}" for i in range(n)],
        "q1": rng.choice(five, n, p=[.02, .03, .05, .2, .7]),
        "q2": rng.choice(five, n, p=[.02, .03, .05, .2, .7]),
        "q3": rng.choice(["Yes", "No"], n, p=[.9, .1]),
        "comment": rng.choice(["Good", "Very good", "Nothing", "n/a", "Friendly staff"], n),
    })
    scale = [ScaleOption(i, str(i)) for i in range(1, 6)]
    qs = [Question("ResponseId", type="id"),
          Question("q1", type="likert", scale=scale), Question("q2", type="likert", scale=scale),
          Question("q3", type="single", scale=[ScaleOption(1, "Yes"), ScaleOption(2, "No")]),
          Question("comment", type="text")]
    raw = RawWave(data=f.astype(object), path="clinic.csv", format="csv", sha256="0" * 64,
                  header_rows=1)
    survey = Survey.from_raw(raw, Codebook(survey="clinic", respondent_id="ResponseId",
                                           questions=qs), wave="clinic")
    same = f.duplicated(subset=["q1", "q2", "q3", "comment"]).sum()
    assert same > 0.25 * n                      # the shape that was excluded before
    result = check_quality(survey)
    assert not _flagged(result, "duplicate_answers")
    assert "3 closed question(s)" in result.skipped["duplicate_answers"]
    assert result.n_excluded == 0
