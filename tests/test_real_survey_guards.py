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


# ----------------------------------------------------------------- tiny clusters (Cantera)
def _small_survey_with_outliers(n=58, seed=0):
    """The shape of a small real export (the Cantera user survey, 60 respondents): two
    groups on four 1-5 items, and two respondents with answers far from everyone (a
    'years of use' of 40 and 60 where the others say 1-6): k-means with 3 or more
    clusters gives each outlier a cluster of its own."""
    rng = np.random.default_rng(seed)
    group = np.repeat([0, 1], n // 2)
    data = {"ResponseId": [f"r{i:03d}" for i in range(n + 2)]}
    qs = []
    for j in range(4):
        x = np.clip(np.round(rng.normal(np.where(group == j % 2, 4.3, 1.8), 0.7)), 1, 5)
        data[f"Q{j}"] = np.r_[x, [5.0, 1.0]]
        qs.append(Question(f"Q{j}", type="likert", role="segment", scale=LIKERT5))
    data["years"] = np.r_[rng.integers(1, 7, n).astype(float), [40.0, 60.0]]
    qs.append(Question("years", type="numeric", role="segment"))
    return survey_from_frame(pd.DataFrame(data), qs), np.r_[group, [-1, -1]]


def test_an_outlier_is_never_a_segment_of_its_own():
    survey, group = _small_survey_with_outliers()
    outliers = survey.data.index[-2:]
    for k in (3, 4):
        model = PersonaModel(reducer="identity", clusterer="kmeans", n_segments=k,
                             random_state=0).fit(survey)
        labels = pd.Series(model.labels_, index=survey.data.index)
        sizes = labels[labels != -1].value_counts()
        assert sizes.min() >= model.min_segment_size(len(labels)) == 3
        # the outliers are unassigned, each with the reason; nobody else is
        assert (labels[outliers] == -1).all() and (labels.drop(outliers) != -1).all()
        assert list(model.unassigned_reasons_.index) == list(outliers)
        assert model.unassigned_reasons_.str.contains(
            r"in a cluster of [12] respondent\(s\), fewer than the 3").all()
        assert any("too few for a persona" in w for w in model.warnings_)
        assert sum(d["n"] for d in model.dissolved_) == 2
        assert model.n_segments_ == k - len(model.dissolved_) == 2
        # new respondents like the outliers are unassigned too; membership has one
        # column per remaining segment and sums to 1
        assert (model.predict(survey.subset(outliers)) == -1).all()
        assert model.membership_.shape[1] == model.n_segments_
        assert np.allclose(model.membership_.sum(axis=1), 1)
    # the largest cluster is kept even when every cluster is under the share
    few = PersonaModel(reducer="identity", clusterer="kmeans", n_segments=3,
                       min_segment_share=0.9, random_state=0).fit(survey)
    assert few.n_segments_ == 1 and (few.labels_ == 0).sum() >= 28


def test_auto_segmentation_of_a_small_survey_with_outliers_reaches_golden_questions():
    """The segment step crashed on the Cantera export ('segment 4 has a single
    respondent'): the setting it fitted had a one-respondent segment, which the golden
    questions cannot cross-validate. Here the researcher asks for 4 segments."""
    from personalab.golden import golden_questions

    survey, group = _small_survey_with_outliers()
    res = segment_survey(survey, n_segments=4, seed=42, n_boot=3)
    # the run fits what the sweep measured: 4 clusters asked, the outliers' dissolved
    row = res.recommendation.row
    assert row["n_segments_asked"] == 4 and res.model.n_segments == 4
    assert res.model.n_segments_ == row["n_segments"] < 4
    assert res.model.unassigned_share_ == pytest.approx(row["unassigned_share"])
    assert res.model.unassigned_share_ > 0
    labels = pd.Series(res.model.labels_, index=survey.data.index)
    assigned = labels[labels != -1]
    assert assigned.value_counts().min() >= 3
    assert set(labels[labels == -1].index) == set(res.model.unassigned_reasons_.index)
    if res.model.n_segments_ >= 2:
        golden_questions(survey, labels, random_state=0)   # raised InputError before
    # the two planted groups are found among the respondents who are assigned
    known = group != -1
    assert adjusted_rand_score(group[known], labels.to_numpy()[known]) >= 0.9


def test_the_closest_setting_never_has_a_segment_below_min_share():
    table = pd.DataFrame({
        "reducer": ["identity"] * 3, "clusterer": ["kmeans"] * 3, "n_segments": [2, 3, 5],
        "unassigned_share": [0.0] * 3, "smallest_share": [0.2, 0.1, 1 / 60],
        "stability_ari": [0.40, 0.50, 0.66], "stability_ari_min": [0.1, 0.2, 0.5],
        "jaccard_min": [0.4, 0.3, 0.46], "stable": [False] * 3, "flag": ["", "", ""],
        "dbcv": [np.nan] * 3, "silhouette": [0.2, 0.18, 0.14], "bic": [np.nan] * 3})
    rec = recommend(table)
    assert not rec.stable and rec.row["n_segments"] == 3


# ----------------------------------------------------- categorical cells (clothing reviews)
def _reviews_like(n=900, seed=0):
    """The shape of the clothing-reviews export: a 1-5 rating, a yes/no 'recommended'
    that follows the rating, a 3-level 'division' and a 6-level 'department', all
    segment inputs, and no segments: k-means on them cuts along the categories."""
    rng = np.random.default_rng(seed)
    rating = rng.choice([1, 2, 3, 4, 5], n, p=[0.05, 0.07, 0.13, 0.22, 0.53]).astype(float)
    rec = np.where(rating >= 4, "yes", np.where(rating == 3, rng.choice(["yes", "no"], n),
                                                  "no"))
    division = rng.choice(["General", "Petite", "Intimates"], n, p=[0.6, 0.33, 0.07])
    department = rng.choice(["Tops", "Dresses", "Bottoms", "Jackets", "Intimate", "Trend"],
                            n, p=[0.44, 0.27, 0.16, 0.05, 0.07, 0.01])
    frame = pd.DataFrame({"ResponseId": [f"r{i:04d}" for i in range(n)], "rating": rating,
                          "recommended": rec, "division": division, "department": department})
    qs = [Question("rating", type="likert", role="segment", scale=LIKERT5),
          Question("recommended", type="single", role="segment"),
          Question("division", type="single", role="segment"),
          Question("department", type="single", role="segment")]
    return survey_from_frame(frame, qs), frame


def test_segments_that_are_cells_of_categorical_answers_are_refused():
    survey, frame = _reviews_like()
    F = FeatureBuilder().fit_transform(survey)
    # 'division' is one-hot coded into three columns: it is judged as one input
    assert sum(q == "division" for q in F.attrs["feature_map"].values()) == 3
    general = (frame["division"] == "General").to_numpy()
    yes = (frame["recommended"] == "yes").to_numpy()
    # a split on 'recommended' that 'rating' (which it follows) reproduces almost as well:
    # the one-input check asks for a gap and let it through
    g = segment_guards(survey, yes.astype(int), features=F)
    assert g.dominated_by == "recommended" and "cells of categorical answers" in g.reason
    # the cells of division x recommended: 100% / 0% on each, no single input explains them
    cells = np.where(yes, np.where(general, 0, 1), 2)
    g = segment_guards(survey, cells, features=F)
    assert g.reason is not None and g.accuracy < 0.9
    assert set(g.dominated_by.split(" + ")) == {"division", "recommended"}
    # ... and the run's sweep refuses every such solution: no stable personas, said why
    res = segment_survey(survey, seed=0, n_boot=3)
    assert res.sweep["flag"].str.contains("cells of categorical answers").all()
    assert not res.recommendation.stable
    assert any("categorical answers explain" in f for f in res.recommendation.flags)


def test_planted_personas_with_a_categorical_input_are_not_refused():
    """Segments that differ on several items, with a categorical input that agrees with
    them only in part, are personas: the cells guard leaves them alone."""
    rng = np.random.default_rng(3)
    n = 600
    seg = np.repeat([0, 1, 2], n // 3)
    data = {"ResponseId": [f"r{i:04d}" for i in range(n)]}
    qs = []
    for j in range(5):
        data[f"L{j}"] = np.clip(np.round(rng.normal(np.where(seg == j % 3, 4.4, 2.0), 0.7)),
                                1, 5)
        qs.append(Question(f"L{j}", type="likert", role="segment", scale=LIKERT5))
    agree = rng.random(n) < 0.7
    data["plan"] = np.where(agree, np.array(["Basic", "Plus", "Pro"])[seg],
                            rng.choice(["Basic", "Plus", "Pro"], n))
    qs.append(Question("plan", type="single", role="segment"))
    survey = survey_from_frame(pd.DataFrame(data), qs)
    g = segment_guards(survey, seg, features=FeatureBuilder().fit_transform(survey))
    assert g.reason is None


def test_segments_csv_gives_every_unassigned_respondent_its_reason(tmp_path):
    """The segment step's export: every kept respondent is in a segment or unassigned
    with the reason (here two outliers, each alone in a k-means cluster too small for a
    persona); ids that look like formulas are neutralised as in the other exports."""
    from personalab import steps
    from personalab.codebook import Codebook, save_codebook

    rng = np.random.default_rng(0)
    n = 58
    group = np.repeat([0, 1], n // 2)
    ids = [f"r{i:03d}" for i in range(n)] + ["=HYPERLINK(\"x\")", "r_out"]
    rows = {"rid": ids}
    questions = [Question("rid", "Respondent", "id", "ignore")]
    for j in range(4):
        x = np.clip(np.round(rng.normal(np.where(group == j % 2, 4.3, 1.8), 0.7)), 1, 5)
        rows[f"Q{j}"] = np.r_[x, [5.0, 1.0] if j % 2 else [1.0, 5.0]].astype(int)
        questions.append(Question(f"Q{j}", f"Item {j}", "likert", "segment", scale=LIKERT5))
    rows["years"] = np.r_[rng.integers(1, 7, n), [40, 60]]
    questions.append(Question("years", "Years of use", "numeric", "segment"))
    pd.DataFrame(rows).to_csv(tmp_path / "wave.csv", index=False)
    save_codebook(Codebook(survey="s", respondent_id="rid", questions=questions),
                  tmp_path / "cb.yml")
    out = tmp_path / "out"
    steps.ingest(tmp_path / "wave.csv", output_dir=out, codebook_path=tmp_path / "cb.yml")
    res = steps.segment(out, seed=0, reducer="identity", clusterer="kmeans", n_segments=4,
                        n_boot=2)
    assert res.model.n_segments_ == 2 and len(res.model.dissolved_) == 2
    csv = pd.read_csv(out / "segments.csv", encoding="utf-8-sig", dtype=str,
                      keep_default_na=False)
    assert list(csv.columns) == ["respondent_id", "segment", "reason"]
    assert len(csv) == len(res.labels) == n + 2
    out_rows = csv[csv["segment"] == "-1"]
    # the two outliers, and nobody else, are unassigned, each with its reason
    assert list(out_rows["respondent_id"]) == ["'=HYPERLINK(\"x\")", "r_out"]
    assert out_rows["reason"].str.fullmatch(
        r"in a cluster of 1 respondent\(s\), fewer than the 3 a segment needs "
        r"\(min_segment_share\)").all()
    assert (csv.loc[csv["segment"] != "-1", "reason"] == "").all()
    # the golden questions type into the two segments
    assert res.golden is not None and len(res.golden.classes_) == 2


# ------------------------------------------------------------ one segment is a skip pattern
PROFILES = np.array([[1.8, 4.2, 3.0, 1.8, 4.2, 3.0, 1.8, 4.2],
                     [4.2, 1.8, 4.2, 3.0, 1.8, 1.8, 4.2, 3.0],
                     [3.0, 3.0, 1.8, 4.2, 3.0, 4.2, 3.0, 1.8]])


def _split_ballot_personas(n=600, not_asked_share=0.25, block=6, seed=0):
    """Three planted personas on eight 1-5 items, and a block of ``block`` 1-5 items (noise)
    that a random ``not_asked_share`` of respondents were never asked (split ballot).
    Returns (survey, persona, asked)."""
    rng = np.random.default_rng(seed)
    persona = rng.permutation(np.arange(n) % 3)
    asked = rng.random(n) >= not_asked_share
    data = {"ResponseId": [f"R_{i:04d}" for i in range(n)]}
    qs = []
    for j in range(8):
        data[f"A{j}"] = np.clip(np.round(rng.normal(PROFILES[persona, j], 0.8)), 1, 5)
        qs.append(Question(f"A{j}", f"Attitude {j}", "likert", "segment", scale=LIKERT5))
    for j in range(block):
        x = rng.integers(1, 6, n).astype(float)
        x[~asked] = np.nan
        data[f"B{j}"] = x
        qs.append(Question(f"B{j}", f"Ballot B item {j} on the new office", "likert",
                           "segment", scale=LIKERT5))
    return survey_from_frame(pd.DataFrame(data), qs), persona, asked


def test_a_segment_that_is_the_respondents_not_asked_a_block_is_flagged():
    """Issue 12 on OSMI 2016: three of six segments were the self-employed (who skipped
    the current-employer block) and those with no previous employer; the partition-level
    missing-answer check passed them. Here: personas 0-2 among the asked, segment 3 = the
    25% never asked the B block."""
    survey, persona, asked = _split_ballot_personas()
    F = FeatureBuilder().fit_transform(survey)
    labels = np.where(asked, persona, 3)
    g = segment_guards(survey, labels, features=F)
    # the partition as a whole is not a missing-answer pattern (segments 0-2 all answered)
    assert g.reason is None
    assert g.not_asked == {3: [f"B{j}" for j in range(6)]}
    [line] = g.segment_flags
    assert line.startswith("segment(s) 3: defined by not answering 6 questions "
                           "('Ballot B item 0 on the new office'")
    assert "not a persona" in line and "balanced accuracy 100%" in line
    # the same survey segmented by persona only: the missing block explains no segment
    clean = segment_guards(survey, persona, features=F)
    assert clean.not_asked == {} and clean.segment_flags == []


def test_a_survey_without_skip_patterns_flags_no_segment():
    survey, persona = planted_personas(n=600, k=3, random_state=0)
    F = FeatureBuilder().fit_transform(survey)
    g = segment_guards(survey, persona, features=F)
    assert g.reason is None and g.not_asked == {} and g.segment_flags == []
    # answers missing at random (10% of every item) are no block either
    rng = np.random.default_rng(3)
    items = [q.id for q in survey.questions(role="segment")]
    frame = survey.data[items].reset_index(drop=True)
    frame = frame.mask(rng.random(frame.shape) < 0.10)
    frame.insert(0, "ResponseId", [f"R_{i:04d}" for i in range(len(frame))])
    holes = survey_from_frame(frame, list(survey.questions(role="segment")))
    assert holes.likert(role="segment").isna().mean().between(0.06, 0.15).all()
    g = segment_guards(holes, persona, features=FeatureBuilder().fit_transform(holes))
    assert g.not_asked == {} and g.segment_flags == []


def test_stability_and_recommend_name_the_not_asked_segment():
    survey, persona, asked = _split_ballot_personas()
    truth = np.where(asked, persona, 3)
    model = PersonaModel(reducer=None, clusterer="kmeans", n_segments=4, random_state=0,
                         encoder=FeatureBuilder(missing_indicators=True))
    res = stability(model, survey, n_boot=3)
    model.fit(survey)
    assert adjusted_rand_score(truth, model.labels_) >= 0.9
    # k-means found the not-asked quarter as a segment of its own: named, loudly
    seg = int(pd.Series(model.labels_[~asked]).mode()[0])
    assert res.not_asked_segments == [seg]
    assert res.not_asked_flags[seg] in res.flags and res.not_asked_flags[seg].startswith(
        f"segment(s) {seg}: defined by not answering")
    assert list(res.segments.index[res.segments["not_asked"]]) == [seg]
    assert any(f.startswith(f"segment(s) {seg}: defined by not answering 6 questions")
               for f in res.flags)
    assert "not personas" in res.verdict
    # the other three segments still reproduce: the solution is not refused as a whole
    assert res.dominated_by is None
    # a sweep carries it in its segment_flag column
    table = sweep(survey, {"reducer": ["identity"], "clusterer": ["kmeans"],
                           "n_segments": [4]},
                  model=PersonaModel(random_state=0,
                                     encoder=FeatureBuilder(missing_indicators=True)),
                  n_boot=3)
    assert "defined by not answering 6 questions" in table.loc[0, "segment_flag"]
    assert table.attrs["stability"][0].not_asked_segments == [seg]


def test_recommend_prefers_a_setting_without_not_asked_segments():
    line = ("segment(s) 3: defined by not answering 6 questions ('B0', 'B1', 'B2', … 3 "
            "more): respondents who were not asked them")
    table = pd.DataFrame({
        "reducer": ["identity"] * 3, "clusterer": ["kmeans"] * 3, "n_segments": [3, 4, 5],
        "unassigned_share": [0.0] * 3, "smallest_share": [0.2, 0.2, 0.1],
        "silhouette": [0.2] * 3, "dbcv": [0.1] * 3, "bic": [np.nan] * 3,
        "stability_ari": [0.97, 0.98, 0.97], "stability_ari_min": [0.95] * 3,
        "jaccard_min": [0.9] * 3, "stable": [True] * 3, "flag": [""] * 3,
        "segment_flag": ["", line, line]})
    rec = recommend(table)
    # without the check the finest stable setting (5) would be chosen
    assert recommend(table, prefer_answered=False).row["n_segments"] == 5
    assert rec.stable and rec.row["n_segments"] == 3
    assert any(f.startswith("Passed over 2 stable setting(s) with segments that are only "
                            "respondents who were not asked") for f in rec.flags)
    # when every stable setting has one, it is chosen and flagged
    only = recommend(table[table["n_segments"] > 3])
    assert only.stable and only.row["n_segments"] == 5
    assert f"The chosen setting is flagged: {line}." in only.flags
    # the closest setting of an unstable sweep is flagged the same way
    shaky = table.assign(stability_ari=[0.5, 0.6, 0.7])
    closest = recommend(shaky)
    assert not closest.stable and closest.row["n_segments"] == 3
    assert not any("flagged" in f for f in closest.flags)
    worst = recommend(shaky[shaky["n_segments"] > 3])
    assert f"The closest setting is flagged: {line}." in worst.flags
