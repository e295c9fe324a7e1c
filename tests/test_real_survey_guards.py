"""The contradictions found on real surveys (issue 12), each reproduced on a small
synthetic survey with a known answer: segments split on one wide-scale item, on a
missing-answer (split-ballot) pattern, look-alike segments, a sweep whose "stable" was not
the run's, the number of personas asked for, and inputs that cannot be segmented."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from _planted_survey import LIKERT5, planted_personas, planted_survey, survey_from_frame
from personalab.codebook import Question, ScaleOption
from personalab.diagnostics import recommend, segment_guards, stability, sweep
from personalab.errors import InputError, PersonaLabError
from personalab.features import FeatureBuilder
from personalab.segmentation import PersonaModel, SegmentationError
from personalab.steps import segment_survey

ELEVEN = [ScaleOption(i, str(i)) for i in range(1, 12)]


def _noise_with_one_bimodal_item(n=500, seed=0):
    """Three 1-5 noise items and a 1-11 'europe' item answered either 1-2 or 10-11,
    independently of everything else: the only "structure" is bands of one answer."""
    rng = np.random.default_rng(seed)
    data = {"ResponseId": [f"r{i:04d}" for i in range(n)]}
    qs = []
    for j in range(3):
        data[f"N{j}"] = rng.integers(1, 6, n).astype(float)
        qs.append(Question(f"N{j}", type="likert", role="segment", scale=LIKERT5))
    high = rng.random(n) < 0.5
    data["europe"] = np.where(high, rng.integers(10, 12, n), rng.integers(1, 3, n)).astype(float)
    qs.append(Question("europe", type="likert", role="segment", scale=ELEVEN))
    return survey_from_frame(pd.DataFrame(data), qs), high


def test_a_split_on_one_input_is_refused_not_recommended():
    survey, high = _noise_with_one_bimodal_item()
    res = segment_survey(survey, seed=0, n_boot=5)
    table, rec = res.sweep, res.recommendation
    two = table[table["n_segments"] == 2].iloc[0]
    # the split is real and reproducible: exactly the europe bands ...
    assert two["stability_ari"] >= 0.95
    assert "europe" in two["flag"] and not two["stable"]
    # ... but it is one answer, not personas: refused, loudly
    assert any("one input" in f for f in rec.flags)
    assert not (rec.stable and rec.row["n_segments"] == 2)
    if not rec.stable:
        assert rec.verdict.startswith("No stable segments")
        assert not res.stability.stable


def test_segment_guards_name_the_input_and_the_missing_answer_pattern():
    survey, high = _noise_with_one_bimodal_item()
    F = FeatureBuilder().fit_transform(survey)
    g = segment_guards(survey, high.astype(int), features=F)
    assert g.dominated_by == "europe" and g.accuracy == pytest.approx(1.0)
    # split ballot: 40% were never asked N3 and N4; segments that follow who was asked
    rng = np.random.default_rng(1)
    n = 400
    asked = rng.random(n) < 0.6
    data = {"ResponseId": [f"r{i:04d}" for i in range(n)]}
    qs = []
    for j in range(5):
        x = rng.integers(1, 6, n).astype(float)
        if j in (3, 4):
            x[~asked] = np.nan
        data[f"N{j}"] = x
        qs.append(Question(f"N{j}", type="likert", role="segment", scale=LIKERT5))
    ballot = survey_from_frame(pd.DataFrame(data), qs)
    Fb = FeatureBuilder(missing_indicators=False).fit_transform(ballot)
    g = segment_guards(ballot, asked.astype(int), features=Fb)
    assert g.dominated_by == "missing-answer pattern"
    assert "not asked" in g.reason and g.missing_accuracy == pytest.approx(1.0)
    # ... and a stability check of such a solution says so in its verdict and flags
    res = stability(PersonaModel(reducer=None, clusterer="kmeans", n_segments=2, random_state=0,
                                 encoder=FeatureBuilder(missing_indicators=True)),
                    ballot, n_boot=3)
    if res.dominated_by is not None:
        assert not res.stable and res.flags and "Not personas" in res.verdict


def test_look_alike_segments_are_flagged():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4))
    halves = (np.arange(600) % 2).astype(int)          # one blob cut at random
    g = segment_guards(X, halves)
    assert g.separation < 1.0 and "look-alike" in g.reason
    # genuinely different segments are not
    Y = np.r_[rng.normal(0, 1, (300, 4)), rng.normal(3, 1, (300, 4))]
    assert segment_guards(Y, np.repeat([0, 1], 300)).reason is None


def test_sweep_stability_is_the_run_stability():
    """The sweep refits the whole pipeline (encoder included) with the run's seeds,
    subsamples and fit sample: its stable is the run's stable."""
    survey, truth = planted_survey(n=450, k=3, random_state=4)
    grid = {"reducer": ["identity"], "clusterer": ["kmeans"], "n_segments": [2, 3, 4]}
    table = sweep(survey, grid, model=PersonaModel(random_state=7), random_state=7, n_boot=4)
    for _, row in table.iterrows():
        model = PersonaModel(reducer="identity", clusterer="kmeans",
                             n_segments=int(row["n_segments"]), random_state=7)
        run = stability(model, survey, n_boot=4, random_state=7)
        assert run.mean_ari == row["stability_ari"]
        assert run.stable == row["stable"]
    # the per-row results ride along in attrs without breaking frame operations
    assert len(pd.concat([table, table])) == 2 * len(table)
    assert table.attrs["stability"][0].mean_ari == table.loc[0, "stability_ari"]


def test_stability_refits_the_encoder_on_every_subsample(monkeypatch):
    survey, _ = planted_survey(n=300, k=3, random_state=0)
    calls = []
    original = FeatureBuilder.fit

    def spy(self, X, y=None):
        calls.append(len(X.data))
        return original(self, X, y)

    monkeypatch.setattr(FeatureBuilder, "fit", spy)
    stability(PersonaModel(reducer=None, clusterer="kmeans", n_segments=3, random_state=0),
              survey, n_boot=3)
    assert calls.count(240) == 3 and calls.count(300) >= 1   # 80% subsamples, and everyone


def test_auto_recovers_planted_personas_and_honours_n_segments():
    survey, truth = planted_personas(n=600, k=4, random_state=0)
    res = segment_survey(survey, seed=0, n_boot=5)
    assert res.recommendation.stable and res.stability.stable
    assert res.model.n_segments_ == 4
    assert adjusted_rand_score(truth, res.model.labels_) >= 0.9
    assert res.model.encoder_.scale_ == "standard"
    # the former default (UMAP + HDBSCAN on raw codes) on the same survey: the wide noise
    # items decide its neighbourhoods
    old = PersonaModel(random_state=0, encoder=FeatureBuilder(scale="none")).fit(survey)
    assert adjusted_rand_score(truth, old.labels_) < 0.9
    asked = segment_survey(survey, seed=0, n_boot=3, n_segments=4)
    assert asked.model.n_segments_ == 4
    assert set(asked.sweep["n_segments"]) == {4}
    # same inputs and seed, same segments
    again = segment_survey(survey, seed=0, n_boot=5)
    np.testing.assert_array_equal(again.model.labels_, res.model.labels_)


# ----------------------------------------------------------------------------- bad input


def _tiny(n, identical=False, weights=None):
    rng = np.random.default_rng(0)
    data = {"ResponseId": [f"r{i}" for i in range(n)]}
    qs = []
    for j in range(3):
        data[f"L{j}"] = np.full(n, 3.0) if identical else rng.integers(1, 6, n).astype(float)
        qs.append(Question(f"L{j}", type="likert", role="segment", scale=LIKERT5))
    if weights is not None:
        data["weight"] = weights
    return survey_from_frame(pd.DataFrame(data), qs,
                             weight="weight" if weights is not None else None)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_too_few_respondents_is_a_clear_error_naming_file_and_rows(n):
    with pytest.raises(SegmentationError) as err:
        segment_survey(_tiny(n), seed=0)
    msg = str(err.value)
    assert isinstance(err.value, PersonaLabError)
    assert "planted.csv" in msg and "row" in msg and "Fix:" in msg
    assert f"only {n} respondent" in msg and "quality" in msg


def test_one_respondent_in_persona_model_is_a_personalab_error():
    with pytest.raises(SegmentationError, match="n_samples = 1"):
        PersonaModel(reducer=None, clusterer="kmeans", n_segments=2).fit(_tiny(1))


def test_identical_respondents_are_a_clear_error():
    with pytest.raises(SegmentationError, match="identical answers") as err:
        segment_survey(_tiny(40, identical=True), seed=0)
    assert "L0" in str(err.value) and "planted.csv" in str(err.value)
    with pytest.raises(SegmentationError, match="identical"):
        PersonaModel(reducer=None, clusterer="kmeans", n_segments=2).fit(np.ones((30, 3)))


@pytest.mark.parametrize("bad", ["inf", "zeros"])
def test_unusable_weights_are_a_clear_error_in_segmentation(bad):
    w = np.ones(40)
    if bad == "inf":
        w[[2, 5]] = np.inf
    else:
        w[:] = 0.0
    survey = _tiny(40, weights=w)
    with pytest.raises(InputError) as err:
        segment_survey(survey, seed=0, n_boot=2)
    msg = str(err.value)
    assert "weight" in msg and "planted.csv" in msg and "Fix:" in msg
    if bad == "inf":
        assert "rows 4, 7" in msg
    with pytest.raises(SegmentationError, match="sample_weight"):
        PersonaModel(reducer=None, clusterer="kmeans", n_segments=2).fit(
            np.random.default_rng(0).normal(size=(40, 3)), sample_weight=w)


def test_a_three_respondent_spss_file_is_a_clear_error(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    from personalab.survey import read_survey

    df = pd.DataFrame({"id": [1.0, 2.0, 3.0], "q1": [1.0, 4.0, 5.0], "q2": [2.0, 2.0, 3.0]})
    path = tmp_path / "three.sav"
    pyreadstat.write_sav(df, str(path), variable_value_labels={
        "q1": {float(i): lab for i, lab in enumerate(
            ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"], 1)},
        "q2": {float(i): lab for i, lab in enumerate(
            ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"], 1)}})
    survey = read_survey(path)
    for q in survey.codebook.questions:
        if q.id in ("q1", "q2"):
            q.role = "segment"
    with pytest.raises(SegmentationError) as err:
        segment_survey(survey, seed=0)
    assert "three.sav" in str(err.value) and "only 3 respondents" in str(err.value)


def test_asking_for_segments_the_data_does_not_hold_says_so():
    survey, truth = planted_personas(n=600, k=4, random_state=0)
    res = segment_survey(survey, seed=0, n_boot=4, n_segments=7)
    assert res.model.n_segments_ == 7
    assert not res.recommendation.stable
    assert res.recommendation.verdict.startswith("The 7 segments asked for are not stable")
    assert "No stable segments" in res.recommendation.verdict
    assert not res.stability.stable
