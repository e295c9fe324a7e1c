"""What the profile's significance marks may claim, on small surveys with known answers.

From the audit of the stakeholder report on eight real exports:

1. Segments are formed to differ on their input questions, so a test of an input is
   circular (8 independent noise items, k-means k=2: half of them at adjusted p < 0.001).
   The profile keeps those tests (personas rank traits by them) but says which rows are
   inputs (``segmentation_input``); the report marks them and gives them no star.
2. A z-test on tiny cells: 1 of 4 respondents against 0 of 500 (an OSMI write-in, a single
   respondent's health self-disclosure) came out at p 1e-30. Fisher's exact test on small
   expected counts, and no row resting on fewer than 5 respondents is significant or a trait.
3. Heat-map rows were chosen by effect size alone: a 2-respondent answer (Typeform
   "Constant-density", Cohen's h 3.1) outranked every real difference.
4. The heat map was coloured by the index, a ratio of scale positions for means: a Likert
   item with d = 4 looked paler than a yes/no answer at h = 0.3.
10. The data-quality share printed "0.00" for 1 of 250; the heat map showed both answers of a
   yes/no question; the Questions table counted every response read, not the analysed ones.
"""
from __future__ import annotations

import re
from html import unescape

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from _persona_drafts import artifact_store
from _planted_survey import LIKERT5, survey_from_frame
from personalab.codebook import Question
from personalab.plotting import visualize_profile_heatmap
from personalab.profiles import MIN_SUPPORT, profile_segments, supported, top_traits

WRITE_IN = ("I haven't been formally diagnosed, so I felt uncomfortable answering, but "
            "Social Anxiety and Depression.")


def _rows(html: str, after: str) -> list[list[str]]:
    """Cell texts of the body rows of the first table after ``after``."""
    body = html.split(after, 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [[unescape(re.sub(r"<[^>]+>", "", c)).strip()
             for c in re.findall(r"<td>(.*?)</td>", r, re.S)]
            for r in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def _head(html: str, after: str) -> list[str]:
    part = html.split(after, 1)[1].split("</thead>", 1)[0]
    return re.findall(r"<th>(.*?)</th>", part)


# ------------------------------------------------------------------ 1. circular inputs


@pytest.fixture(scope="module")
def noise():
    """8 independent uniform 5-point items (segmentation inputs) cut by k-means k=2, and two
    profile-only noise questions: no real structure anywhere."""
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(0)
    n = 400
    frame = {"ResponseId": [f"R{i:03d}" for i in range(n)]}
    frame.update({f"N{j}": rng.integers(1, 6, n) for j in range(8)})
    frame["P_rate"] = rng.integers(1, 6, n)
    frame["P_plan"] = rng.choice(["Basic", "Plus", "Pro"], n)
    qs = [Question(f"N{j}", f"Noise item {j}", "likert", "segment", scale=LIKERT5)
          for j in range(8)]
    qs += [Question("P_rate", "How would you rate us?", "likert", "profile", scale=LIKERT5),
           Question("P_plan", "Plan", "single", "profile")]
    survey = survey_from_frame(pd.DataFrame(frame), qs)
    x = survey.likert(role="segment").to_numpy(float)
    labels = KMeans(2, n_init=10, random_state=0).fit_predict((x - x.mean(0)) / x.std(0))
    return survey, labels, profile_segments(survey, labels)


def test_inputs_are_flagged_and_keep_their_tests(noise):
    _, _, profile = noise
    inputs = profile[profile["segmentation_input"]]
    assert set(inputs["question"]) == {f"N{j}" for j in range(8)}
    assert not profile.loc[~profile["segmentation_input"], "question"].str.startswith("N").any()
    # the tests on inputs are still run and still "significant" (personas rank by them):
    # this is the circularity the report must not sell as a finding
    sig_inputs = inputs.loc[inputs["significant"], "question"].nunique()
    assert sig_inputs >= 3
    assert (inputs.loc[inputs["significant"], "p_adjusted"] < 0.001).any()
    # while the profile-only noise is not significant anywhere
    assert not profile.loc[~profile["segmentation_input"], "significant"].any()
    # large cells keep the z-test
    assert set(profile.loc[profile["question"] == "P_plan", "test"]) == {"two_proportion_z"}


def test_report_marks_inputs_and_stars_only_the_other_questions(noise, tmp_path):
    from personalab.report import profiles_section

    survey, labels, profile = noise
    store = artifact_store(tmp_path, survey=survey, profile=profile)
    html = str(profiles_section(store).html)
    intro = html.split("</p>", 1)[0]
    assert "◆ marks questions used to form the segments" in intro
    assert "expected, not tested" in intro and "on the other questions" in intro
    head = _head(html, "Top distinguishing traits")
    rows = _rows(html, "Top distinguishing traits")
    p_col, q_col = head.index("adjusted p"), head.index("question")
    input_rows = [r for r in rows if r[q_col].startswith("Noise item")]
    assert input_rows, rows
    assert all(r[p_col] == "◆ not tested" for r in input_rows)

    fig = visualize_profile_heatmap(profile, top_n=30)
    (hm,) = fig.data
    text = np.asarray(hm.text, dtype=str)
    marked = [i for i, y in enumerate(hm.y) if y.startswith("◆ ")]
    assert {hm.y[i][2:] for i in marked} <= {f"Noise item {j}" for j in range(8)}
    assert len(marked) >= 3
    # inputs that the tests call significant are drawn without the star
    sig_inputs = set(profile.loc[profile["segmentation_input"] & profile["significant"],
                                 "variable"])
    assert sig_inputs
    assert not any("*" in t for i in marked for t in text[i])
    assert "◆ = used to form the segments" in fig.layout.title.text


# ------------------------------------------------------------------ 2. tiny cells


@pytest.fixture(scope="module")
def tiny_cells():
    """504 respondents: segment 0 has 4 (one typed a write-in nobody else gave), segment 1
    has 20 (8 chose the rare answer 'Rare', which 10 of the other 484 chose), segment 2 the
    other 480."""
    cond = ([WRITE_IN] + ["Depression"] * 3 + ["Rare"] * 8 + ["Depression"] * 12
            + ["Rare"] * 10 + ["Depression"] * 470)
    labels = np.array([0] * 4 + [1] * 20 + [2] * 480)
    frame = pd.DataFrame({"ResponseId": [f"R{i:03d}" for i in range(len(cond))],
                          "cond": cond})
    survey = survey_from_frame(frame, [Question("cond", "Diagnosed condition", "single",
                                                "profile")])
    return survey, labels, profile_segments(survey, labels)


def _row(profile, seg, variable):
    return profile[(profile["segment"] == seg) & (profile["variable"] == variable)].iloc[0]


def test_a_single_respondents_write_in_is_tested_exactly_and_never_a_trait(tiny_cells):
    survey, labels, profile = tiny_cells
    row = _row(profile, 0, f"cond={WRITE_IN}")
    assert row["test"] == "fisher_exact"
    fisher = stats.fisher_exact([[1, 3], [0, 500]])
    assert row["p_value"] == pytest.approx(fisher.pvalue) and row["p_value"] > 0.005
    assert row["n_answer"] == 1 and row["n_answer_total"] == 1 and row["n"] == 4
    assert not row["significant"]
    assert not supported(profile[profile["variable"] == f"cond={WRITE_IN}"]).any()
    for significant_only in (True, False):
        top = top_traits(profile, n=10, significant_only=significant_only)
        assert WRITE_IN not in set(top["level"])


def test_a_rare_answer_held_by_enough_respondents_stays_significant(tiny_cells):
    _, _, profile = tiny_cells
    row = _row(profile, 1, "cond=Rare")
    # expected count of 'Rare' in a 20-respondent segment: 18 x 20 / 504 < 5 -> Fisher
    assert row["test"] == "fisher_exact"
    assert row["p_value"] == pytest.approx(stats.fisher_exact([[8, 12], [10, 474]]).pvalue)
    assert row["n_answer"] == 8 and row["n_answer_total"] == 18
    assert row["significant"]
    top = top_traits(profile, n=5)
    assert ((top["segment"] == 1) & (top["level"] == "Rare")).any()


def test_weighted_fisher_uses_the_kish_effective_counts(tiny_cells):
    """Equal weights leave every Kish-effective count a head count: the same p-values."""
    survey, labels, profile = tiny_cells
    weighted = profile_segments(survey, labels, weights=np.full(len(labels), 2.0))
    np.testing.assert_allclose(weighted["p_value"], profile["p_value"], rtol=1e-9)
    assert (weighted["test"] == profile["test"]).all()


def test_support_rule_by_hand():
    """Over-represented: the segment's givers count; under: its non-givers; a mean: n."""
    rows = pd.DataFrame({
        "measure": ["share", "share", "share", "share", "mean", "mean"],
        "n": [200, 200, 4, 300, 4, 5],
        "value": [0.02, 0.02, 0.0, 0.0, 3.0, 3.0],
        "n_answer": [4, 4, 0, 0, np.nan, np.nan],
        "n_answer_total": [60, 60, 200, 3, np.nan, np.nan],
        "effect_size": [0.5, -0.5, -1.0, -0.1, 1.0, 1.0]})
    assert list(supported(rows)) == [False, True, False, False, False, True]
    assert MIN_SUPPORT == 5


# ------------------------------------------------------------------ 3. heat-map rows


@pytest.fixture(scope="module")
def heat():
    """300 respondents. Segment 0 (2 respondents) both chose 'Constant-density', which
    nobody else chose (Cohen's h = pi); segment 1 scores 1 point higher on a Likert item
    (d about 0.8, significant); 'Yes' to a yes/no question is common in segment 1 only."""
    rng = np.random.default_rng(1)
    labels = np.array([0] * 2 + [1] * 149 + [2] * 149)
    n = len(labels)
    frame = pd.DataFrame({
        "ResponseId": [f"R{i:03d}" for i in range(n)],
        "model": ["Constant-density"] * 2 + list(rng.choice(["Ideal", "Real"], n - 2)),
        "L": np.clip(np.round(rng.normal(np.where(labels == 1, 3.5, 2.5), 1.1)), 1, 5),
        "yn": np.where(rng.random(n) < np.where(labels == 1, 0.3, 0.1), "Yes", "No")})
    survey = survey_from_frame(frame, [
        Question("model", "Which model do you use?", "single", "profile"),
        Question("L", "I like the docs", "likert", "profile", scale=LIKERT5),
        Question("yn", "Do you teach with it?", "single", "profile")])
    return profile_segments(survey, labels)


def test_heatmap_never_draws_a_row_resting_on_fewer_than_5_respondents(heat):
    profile = heat
    tiny = _row(profile, 0, "model=Constant-density")
    assert tiny["effect_size"] > 3 and tiny["n"] == 2 and tiny["value"] == 1
    assert _row(profile, 1, "L")["significant"]
    one = visualize_profile_heatmap(profile, top_n=1).data[0]
    assert list(one.y) == ["I like the docs"]
    every = visualize_profile_heatmap(profile).data[0]
    assert not any("Constant-density" in y for y in every.y)
    # the Likert row's cell of the 2-respondent segment is not compared
    j = list(every.x).index("Segment 0")
    i = list(every.y).index("I like the docs")
    assert np.isnan(np.asarray(every.z, dtype=float)[i, j]) and every.text[i][j] == "–"


def test_heatmap_shows_one_answer_of_a_yes_no_question(heat):
    rows = list(visualize_profile_heatmap(heat).data[0].y)
    yn = [y for y in rows if y.startswith("Do you teach with it?")]
    assert yn == ["Do you teach with it?: Yes"]     # the less common answer (about 17%)


# ------------------------------------------------------------------ 4. colour by effect


def test_heatmap_colour_is_the_effect_size_not_the_index():
    """Likert 4.5 vs 2.5 (d = 4, index 129) against Yes 12% vs 4% (h = 0.30, index 150): the
    Likert row must be the stronger colour; its text is the difference in points."""
    labels = np.repeat([0, 1], 200)
    likert = np.concatenate([np.tile([4, 5], 100), np.tile([2, 3], 100)])
    yes = np.concatenate([np.arange(200) < 24, np.arange(200) < 8])
    frame = pd.DataFrame({"ResponseId": [f"R{i:03d}" for i in range(400)], "L": likert,
                          "B": np.where(yes, "Yes", "No")})
    survey = survey_from_frame(frame, [
        Question("L", "Satisfied", "likert", "profile", scale=LIKERT5),
        Question("B", "Churned", "single", "profile")])
    profile = profile_segments(survey, labels)
    (hm,) = visualize_profile_heatmap(profile).data
    z = pd.DataFrame(np.asarray(hm.z, dtype=float), index=list(hm.y), columns=list(hm.x))
    strength = (z - hm.zmid).abs()
    assert strength.loc["Satisfied", "Segment 0"] > 3 * strength.loc["Churned: Yes",
                                                                        "Segment 0"]
    # Cohen's d: 2 points over the pooled SD (0.5 per group, ddof=1)
    assert z.loc["Satisfied", "Segment 0"] == pytest.approx(2 / np.sqrt(0.25 * 200 / 199))
    assert z.loc["Churned: Yes", "Segment 0"] == pytest.approx(
        2 * np.arcsin(np.sqrt(0.12)) - 2 * np.arcsin(np.sqrt(0.04)))
    text = pd.DataFrame(np.asarray(hm.text, dtype=str), index=list(hm.y), columns=list(hm.x))
    assert text.loc["Satisfied", "Segment 0"] == "+1.0*"          # 4.5 vs 3.5 points
    assert text.loc["Churned: Yes", "Segment 0"] == "150*"        # 12% vs 8%


def test_index_of_a_mean_is_nan_when_the_total_is_not_positive():
    """projoint: a mean of -100.1 against -92.4 read as index 108, 'over'."""
    labels = np.repeat([0, 1], 50)
    frame = pd.DataFrame({"ResponseId": [f"R{i:02d}" for i in range(100)],
                          "bal": np.concatenate([np.full(50, -100.0), np.full(50, -80.0)])
                          + np.tile([-1.0, 1.0], 50)})
    survey = survey_from_frame(frame, [Question("bal", "Balance", "numeric", "profile")])
    profile = profile_segments(survey, labels)
    assert profile["index"].isna().all()
    assert (profile["total"] < 0).all()
    (hm,) = visualize_profile_heatmap(profile).data
    assert list(hm.text[0]) == ["-10*", "+10*"]


# ------------------------------------------------------------------ 10. report details


@pytest.fixture
def run_with_one_exclusion(tmp_path):
    from personalab.quality import QualityRules, check_quality

    rng = np.random.default_rng(2)
    n = 250
    labels = np.repeat([0, 1], n // 2)
    frame = pd.DataFrame({"ResponseId": [f"R{i:03d}" for i in range(n)],
                          "L": np.where(labels == 0, rng.integers(4, 6, n), rng.integers(1, 3, n)),
                          "plan": np.where(rng.random(n) < np.where(labels == 0, .8, .2),
                                           "Pro", "Basic")})
    survey = survey_from_frame(frame, [
        Question("L", "I plan ahead", "likert", "segment", scale=LIKERT5),
        Question("plan", "Plan", "single", "profile")])
    quality = check_quality(survey, QualityRules(exclude_respondents={"R007": "test response"}))
    kept = quality.apply(survey)
    lab = pd.Series(labels, index=survey.data.index).reindex(kept.data.index)
    return artifact_store(tmp_path, survey=survey, quality=quality,
                          profile=profile_segments(kept, lab))


def test_data_quality_share_is_a_percentage(run_with_one_exclusion):
    from personalab.report import quality_section

    html = str(quality_section(run_with_one_exclusion).html)
    head = _head(html, "<h3>Checks</h3>")
    rows = _rows(html, "<h3>Checks</h3>")
    share = {r[0]: r[head.index("share")] for r in rows}
    assert share["listed"] == "0.4%" and share["total"] == "0.4%"     # 1 of 250
    assert "0.00" not in share.values()


def test_questions_table_counts_the_analysed_respondents(run_with_one_exclusion):
    from personalab.report import questions_section

    html = str(questions_section(run_with_one_exclusion).html)
    assert "over the 249 analysed respondents" in html
    assert "the 1 excluded in Data quality are left out" in html
    head = _head(html, "</p>")
    rows = _rows(html, "</p>")
    answered = [int(r[head.index("n_answered")]) for r in rows]
    assert answered == [249, 249]


def test_top_traits_table_shows_n_and_the_effect_size(run_with_one_exclusion):
    from personalab.report import profiles_section

    store = run_with_one_exclusion
    profile = store.load("profile")
    html = str(profiles_section(store).html)
    head = _head(html, "Top distinguishing traits")
    assert {"n", "vs total", "effect size", "adjusted p"} <= set(head)
    rows = _rows(html, "Top distinguishing traits")
    plan = [r for r in rows if r[head.index("question")] == "Plan"]
    assert plan
    for r in plan:
        seg = 0 if "0" in r[head.index("persona")] else 1
        p = _row(profile, seg, f"plan={r[head.index('level')]}")
        assert r[head.index("n")] == f"{int(p['n_answer'])} of {int(p['n'])}"
        assert r[head.index("effect size")] == f"h = {p['effect_size']:.2f}"
        assert r[head.index("vs total")] == f"{p['index']:.0f}"
        assert r[head.index("adjusted p")] in ("< 0.001", f"{p['p_adjusted']:.3f}")
    likert = [r for r in rows if r[head.index("question")] == "I plan ahead"]
    assert likert and all(r[head.index("adjusted p")] == "◆ not tested" for r in likert)
    assert all(r[head.index("vs total")].endswith(" points") for r in likert)
    assert all(r[head.index("effect size")].startswith("d = ") for r in likert)
