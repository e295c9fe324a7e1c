"""profile_segments, top_traits, segment_sizes: known answers on planted and hand-sized data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (proportion_confint, proportion_effectsize,
                                          proportions_ztest)

from _planted_survey import LIKERT5, planted_survey, survey_from_frame
from personalab.codebook import Question
from personalab.errors import InputError
from personalab.profiles import (PROFILE_COLUMNS, kish_n, profile_segments, segment_sizes,
                                 top_traits)


@pytest.fixture(scope="module")
def planted():
    survey, labels = planted_survey(n=600, random_state=0)
    return survey, labels, profile_segments(survey, labels)


def test_planted_differences_are_found_and_nothing_else(planted):
    _, _, profile = planted
    assert list(profile.columns) == PROFILE_COLUMNS
    sig = profile[profile["significant"]]
    assert set(sig["variable"]) == {"L_a", "L_b"}
    by = profile.set_index(["segment", "variable"])["index"]
    assert by[(0, "L_a")] > 100 and by[(1, "L_a")] < 100 and by[(2, "L_a")] < 100
    assert by[(1, "L_b")] > 100 and by[(0, "L_b")] < 100 and by[(2, "L_b")] < 100
    # every segment x planted item is significant (6 rows), with the right effect sign
    assert len(sig) == 6
    assert (np.sign(sig["effect_size"]) == np.sign(sig["index"] - 100)).all()


def test_profiles_cover_profile_role_questions_but_not_text(planted):
    _, _, profile = planted
    assert {"age", "region", "plan", "channel", "spend"} <= set(profile["question"])
    region = profile[profile["question"] == "region"]
    assert set(region["level"]) == {"North", "South"}
    assert set(region["type"]) == {"single"} and set(region["measure"]) == {"share"}
    assert (profile.groupby("variable")["segment"].nunique() == 3).all()


def test_tests_match_the_library_computations_unweighted(planted):
    survey, labels, profile = planted
    row = profile[(profile["segment"] == 0) & (profile["variable"] == "L_a")].iloc[0]
    x = survey.likert()["L_a"].to_numpy()
    ins = labels == 0
    welch = stats.ttest_ind(x[ins], x[~ins], equal_var=False)
    assert row["p_value"] == pytest.approx(welch.pvalue, rel=1e-6)
    assert row["statistic"] == pytest.approx(welch.statistic, rel=1e-6)
    assert row["value"] == pytest.approx(x[ins].mean())
    assert row["total"] == pytest.approx(x.mean())
    assert row["index"] == pytest.approx(100 * x[ins].mean() / x.mean())
    assert row["n"] == ins.sum() and row["n_eff"] == pytest.approx(ins.sum())

    row = profile[(profile["segment"] == 2) & (profile["variable"] == "plan=Pro")].iloc[0]
    pro = (survey.categorical()["plan"] == "Pro").to_numpy()
    ins = labels == 2
    count = [pro[ins].sum(), pro[~ins].sum()]
    z, p = proportions_ztest(count, [ins.sum(), (~ins).sum()])
    assert row["p_value"] == pytest.approx(p, rel=1e-6)
    assert row["effect_size"] == pytest.approx(
        proportion_effectsize(pro[ins].mean(), pro[~ins].mean()))
    assert row["effect_measure"] == "cohen_h" and row["test"] == "two_proportion_z"


def test_multiple_testing_correction(planted):
    survey, labels, profile = planted
    expected = multipletests(profile["p_value"], method="fdr_bh")[1]
    np.testing.assert_allclose(profile["p_adjusted"], expected)
    raw = profile_segments(survey, labels, correction=None)
    np.testing.assert_allclose(raw["p_adjusted"], raw["p_value"])
    bonf = profile_segments(survey, labels, correction="bonferroni")
    np.testing.assert_allclose(bonf["p_adjusted"], np.minimum(bonf["p_value"] * len(bonf), 1))


def test_mann_whitney_option_reports_rank_biserial(planted):
    survey, labels, _ = planted
    mw = profile_segments(survey, labels, likert_test="mannwhitney")
    row = mw[(mw["segment"] == 0) & (mw["variable"] == "L_a")].iloc[0]
    x = survey.likert()["L_a"].to_numpy()
    res = stats.mannwhitneyu(x[labels == 0], x[labels != 0])
    assert row["test"] == "mann_whitney_u" and row["effect_measure"] == "rank_biserial"
    assert row["p_value"] == pytest.approx(res.pvalue)
    assert row["effect_size"] == pytest.approx(2 * res.statistic / (200 * 400) - 1)
    assert row["effect_size"] > 0.5
    numeric = mw[mw["variable"] == "spend"]
    assert set(numeric["test"]) == {"welch_t"}


def test_labels_given_as_a_series_are_aligned_by_respondent_id(planted):
    survey, labels, profile = planted
    shuffled = pd.Series(labels, index=survey.data.index).sample(frac=1, random_state=0)
    again = profile_segments(survey, shuffled)
    pd.testing.assert_frame_equal(again, profile)
    with pytest.raises(InputError, match="label"):
        profile_segments(survey, labels[:-1])


# ------------------------------------------------------------- weights, by hand


@pytest.fixture(scope="module")
def tiny():
    frame = pd.DataFrame({
        "ResponseId": [f"r{i}" for i in range(8)],
        "plan": ["Pro", "Pro", "Basic", "Basic", "Pro", "Basic", "Basic", "Basic"],
        "score": [5, 4, 2, 1, 3, 3, 2, 2],
        "weight": [3.0, 1.0, 1.0, 1.0, 2.0, 1.0, 0.5, 0.5],
    })
    survey = survey_from_frame(frame, [
        Question("plan", type="single", role="profile"),
        Question("score", type="likert", role="segment", scale=LIKERT5)], weight="weight")
    labels = np.array([0, 0, 0, 0, 1, 1, 1, -1])
    return survey, labels


def test_weights_change_shares_as_computed_by_hand(tiny):
    survey, labels = tiny
    prof = profile_segments(survey, labels).set_index(["segment", "variable"])
    # segment 0: weights 3,1,1,1; Pro for the first two -> (3+1)/6
    assert prof.loc[(0, "plan=Pro"), "value"] == pytest.approx(4 / 6)
    # total: Pro weights 3+1+2 over all weights 10
    assert prof.loc[(0, "plan=Pro"), "total"] == pytest.approx(6 / 10)
    assert prof.loc[(0, "plan=Pro"), "index"] == pytest.approx(100 * (4 / 6) / (6 / 10))
    # segment 1: weights 2,1,0.5; Pro only for the first -> 2/3.5
    assert prof.loc[(1, "plan=Pro"), "value"] == pytest.approx(2 / 3.5)
    # weighted mean score of segment 0: (15+4+2+1)/6
    assert prof.loc[(0, "score"), "value"] == pytest.approx(22 / 6)
    assert prof.loc[(0, "score"), "n"] == 4
    assert prof.loc[(0, "score"), "n_eff"] == pytest.approx(36 / 12)   # Kish
    unweighted = profile_segments(survey, labels, weights=False).set_index(["segment", "variable"])
    assert unweighted.loc[(0, "plan=Pro"), "value"] == pytest.approx(0.5)
    assert unweighted.loc[(0, "plan=Pro"), "total"] == pytest.approx(3 / 8)
    assert -1 not in set(prof.index.get_level_values("segment"))


def test_kish_effective_sample_size():
    assert kish_n([1, 1, 1, 1]) == pytest.approx(4)
    assert kish_n([3, 1, 1, 1]) == pytest.approx(3)


# ------------------------------------------------------------- top traits


def test_top_traits_rank_significant_traits_by_effect_size(planted):
    _, _, profile = planted
    top = top_traits(profile, n=5)
    assert top["significant"].all()
    first = top[top["rank"] == 1].set_index("segment")
    assert first.loc[0, "variable"] == "L_a" and first.loc[0, "direction"] == "over"
    assert first.loc[1, "variable"] == "L_b" and first.loc[1, "direction"] == "over"
    seg2 = top[top["segment"] == 2]
    assert set(seg2["variable"]) == {"L_a", "L_b"} and set(seg2["direction"]) == {"under"}
    one = top_traits(profile, n=1)
    assert len(one) == 3 and (one["rank"] == 1).all()
    loose = top_traits(profile, n=4, significant_only=False)
    assert (loose.groupby("segment").size() == 4).all()
    strengths = loose.assign(s=loose["effect_size"].abs()).groupby("segment")["s"]
    assert strengths.apply(lambda s: s.is_monotonic_decreasing).all()


def test_top_traits_list_a_two_answer_question_once_not_its_mirror():
    """'diagnosed: No' under the total is 'diagnosed: Yes' over it: one trait, not two; a
    three-answer question keeps its under-represented answer (it says something else)."""
    rng = np.random.default_rng(1)
    n = 400
    seg = np.repeat([0, 1], n // 2)
    frame = pd.DataFrame({
        "ResponseId": [f"r{i}" for i in range(n)],
        "diagnosed": np.where(rng.random(n) < np.where(seg == 0, 0.9, 0.2), "Yes", "No"),
        "remote": np.where(seg == 0, rng.choice(["Never", "Sometimes"], n),
                           rng.choice(["Always", "Sometimes", "Never"], n, p=[.8, .1, .1])),
    })
    survey = survey_from_frame(frame, [Question("diagnosed", type="single", role="profile"),
                                       Question("remote", type="single", role="profile")])
    top = top_traits(profile_segments(survey, seg), n=5)
    for s in (0, 1):
        rows = top[(top["segment"] == s) & (top["question"] == "diagnosed")]
        assert len(rows) == 1 and rows["direction"].iloc[0] == "over", rows
    assert rows["level"].iloc[0] == "No"
    seg0_remote = top[(top["segment"] == 0) & (top["question"] == "remote")]
    assert "Always" in set(seg0_remote["level"])       # under, and not a mirror


# ------------------------------------------------------------- sizes


def test_segment_sizes_with_unassigned_row_and_wilson_interval():
    labels = np.array([0] * 50 + [1] * 30 + [-1] * 20)
    sizes = segment_sizes(labels)
    assert list(sizes["segment"]) == [0, 1, "unassigned"]
    assert list(sizes["n"]) == [50, 30, 20]
    np.testing.assert_allclose(sizes["share"], [0.5, 0.3, 0.2])
    np.testing.assert_allclose(sizes["weighted_share"], sizes["share"])
    low, high = proportion_confint(30, 100, method="wilson")
    assert sizes.loc[1, "ci_low"] == pytest.approx(low)
    assert sizes.loc[1, "ci_high"] == pytest.approx(high)


def test_segment_sizes_weighted_by_hand():
    labels = np.array([0, 0, 1, 1, -1])
    weights = np.array([2.0, 2.0, 1.0, 1.0, 4.0])
    sizes = segment_sizes(labels, weights).set_index("segment")
    assert sizes.loc[0, "weighted_share"] == pytest.approx(0.4)
    assert sizes.loc["unassigned", "weighted_share"] == pytest.approx(0.4)
    assert sizes.loc[1, "share"] == pytest.approx(0.4)
    n_eff = 100 / 26
    low, high = proportion_confint(0.4 * n_eff, n_eff, method="wilson")
    assert sizes.loc[0, "ci_low"] == pytest.approx(low)
    assert sizes.loc[0, "ci_high"] == pytest.approx(high)
    assert sizes["weighted_share"].sum() == pytest.approx(1.0)


# ------------------------------------------------------------- mergeable statistics


def test_weighted_welch_from_moments_equals_statsmodels(planted):
    """The moment-based Welch test reproduces statsmodels on Kish-rescaled weights."""
    from statsmodels.stats.weightstats import DescrStatsW, ttest_ind

    survey, labels, _ = planted
    w = np.random.default_rng(3).gamma(2.0, 0.5, len(labels))
    prof = profile_segments(survey, labels, weights=w).set_index(["segment", "variable"])
    x = survey.data["L_a"].to_numpy(float)
    ok = np.isfinite(x)
    for seg in (0, 2):
        ins = (labels == seg) & ok
        rest = (labels != seg) & ok
        ws, wr = w[ins] * kish_n(w[ins]) / w[ins].sum(), w[rest] * kish_n(w[rest]) / w[rest].sum()
        t, p, _ = ttest_ind(x[ins], x[rest], usevar="unequal", weights=(ws, wr))
        ds, dr = DescrStatsW(x[ins], weights=ws, ddof=1), DescrStatsW(x[rest], weights=wr, ddof=1)
        ns, nr = ws.sum(), wr.sum()
        d = (ds.mean - dr.mean) / np.sqrt(((ns - 1) * ds.var + (nr - 1) * dr.var) / (ns + nr - 2))
        row = prof.loc[(seg, "L_a")]
        assert row["statistic"] == pytest.approx(t, rel=1e-9)
        assert row["p_value"] == pytest.approx(p, rel=1e-6, abs=1e-300)
        assert row["effect_size"] == pytest.approx(d, rel=1e-9)
        assert row["value"] == pytest.approx(np.average(x[ins], weights=w[ins]), rel=1e-12)


def test_partition_statistics_merge_to_the_whole_profile(planted):
    """Profiling partitions and merging their moments gives the whole wave's profile."""
    from personalab.profiles import (merge_profile_statistics, profile_from_statistics,
                                     profile_statistics)

    survey, labels, profile = planted
    lab = pd.Series(labels, index=survey.data.index)
    # uneven partitions; the last has no respondent of segment 2
    order = np.argsort(labels == 2, kind="stable")
    cuts = np.split(order, [50, 260, len(order) - int((labels == 2).sum())])
    tables = [profile_statistics(survey.subset(survey.data.index[i]), lab.iloc[i])
              for i in cuts if len(i)]
    merged = profile_from_statistics(merge_profile_statistics(tables))
    num = [c for c in PROFILE_COLUMNS if profile[c].dtype.kind == "f"]
    pd.testing.assert_frame_equal(merged.drop(columns=num), profile.drop(columns=num))
    for c in num:
        np.testing.assert_allclose(merged[c].to_numpy(float), profile[c].to_numpy(float),
                                   rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=c)
    # one partition alone is not the whole: the merge really combines them
    alone = profile_from_statistics(tables[0])
    assert not np.allclose(alone["value"].to_numpy(float)[:20], profile["value"].to_numpy(float)[:20],
                           equal_nan=True)


def test_mean_test_of_two_constant_groups_has_no_p_value_or_effect():
    """A column that is constant within each group (a year column that defines the wave:
    2011 in one, 2012 in the other) has no sampling variance to test a difference against:
    NaN p and effect, not "p = 0, d = 0" (which read as a certain change of no size)."""
    from personalab.profiles import _mean_test

    w = np.ones(50)
    stat, p, d = _mean_test(np.full(50, 2012.0), w, np.full(50, 2011.0), w, "welch")
    assert np.isnan(stat) and np.isnan(p) and np.isnan(d)
    stat, p, d = _mean_test(np.full(50, 3.0), w, np.full(50, 3.0), w, "welch")
    assert np.isnan(p) and np.isnan(d)
    # one group varying: an ordinary Welch test, as scipy computes it
    rng = np.random.default_rng(0)
    x = rng.normal(3.5, 1, 50)
    stat, p, d = _mean_test(x, w, np.full(50, 3.0), w, "welch")
    ref = stats.ttest_ind(x, np.full(50, 3.0), equal_var=False)
    assert p == pytest.approx(ref.pvalue, rel=1e-6)
    assert d == pytest.approx((x.mean() - 3.0) / np.sqrt(x.var(ddof=1) / 2), rel=1e-6)


def test_merged_moments_of_two_constant_groups_have_no_p_value_or_effect():
    """The moments path (profile_segments' Welch test, the Dask engine) agrees with
    _mean_test: two constant groups give NaN p and effect, never "p = 0, d = 0", which
    starred a row of no size."""
    from personalab.profiles import _welch_from_moments

    stat, p, d = _welch_from_moments((50, 50.0, 50.0, 2012.0, 0.0), (80, 80.0, 80.0, 2011.0, 0.0))
    assert np.isnan(p) and np.isnan(d)
    stat, p, d = _welch_from_moments((50, 50.0, 50.0, 3.0, 0.0), (80, 80.0, 80.0, 3.0, 0.0))
    assert np.isnan(p) and np.isnan(d)
