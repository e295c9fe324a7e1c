"""FeatureBuilder and dominant_input_check: roles, encodings, id-like refusal, warnings."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from _planted_survey import LIKERT5, planted_survey, survey_from_frame
from personalab.codebook import MissingCode, Question, ScaleOption
from personalab.errors import InputError
from personalab.features import FeatureBuilder, PersonaLabWarning, dominant_input_check


@pytest.fixture(scope="module")
def planted():
    return planted_survey(n=300, random_state=1)


# ----------------------------------------------------------------------------- roles


def test_only_segment_questions_feed_in(planted):
    survey, _ = planted
    fb = FeatureBuilder().fit(survey)
    X = fb.transform(survey)
    segment_ids = {q.id for q in survey.questions(role="segment")}
    assert set(fb.feature_map_.values()) == segment_ids
    assert not {"age", "region"} & set(fb.feature_map_.values())
    assert not any(c.startswith(("age", "region")) for c in X.columns)
    assert list(X.columns) == list(fb.get_feature_names_out())
    assert X.index.equals(survey.data.index)


def test_profile_question_enters_once_its_role_is_segment(planted):
    survey, _ = planted
    for q in survey.codebook.questions:
        if q.id == "region":
            q.role = "segment"
    try:
        fb = FeatureBuilder().fit(survey)
        assert {"region=North", "region=South"} <= set(fb.feature_names_out_)
    finally:
        for q in survey.codebook.questions:
            if q.id == "region":
                q.role = "profile"


# ----------------------------------------------------------------------------- encodings


def test_encodings_of_each_question_type(planted):
    survey, _ = planted
    fb = FeatureBuilder(scale="none").fit(survey)
    X = fb.transform(survey)
    likert = survey.likert(role="segment")
    pd.testing.assert_series_equal(X["L_a"], likert["L_a"], check_names=False)
    multi = survey.multi(role="segment").astype(float)
    skipped = multi.isna().all(axis=1)     # ticked nothing: <NA> on every option
    assert skipped.any()
    for col in ["channel:Email", "channel:Phone", "channel:Chat"]:
        np.testing.assert_array_equal(X.loc[~skipped, col], multi.loc[~skipped, col])
        assert (X.loc[skipped, col] == multi[col].mode().iloc[0]).all()
    onehot = X[["plan=Basic", "plan=Plus", "plan=Pro"]]
    assert (onehot.sum(axis=1) == 1).all()
    plan = survey.categorical()["plan"].astype(str)
    np.testing.assert_array_equal(onehot["plan=Pro"].to_numpy(), (plan == "Pro").to_numpy())
    spend = X["spend"]
    assert spend.median() == pytest.approx(0.0, abs=1e-12)
    assert spend.quantile(0.75) - spend.quantile(0.25) == pytest.approx(1.0)
    assert fb.feature_map_["plan=Pro"] == "plan"
    assert fb.feature_map_["channel:Chat"] == "channel"
    assert X.attrs["feature_map"] == fb.feature_map_


def test_reverse_keyed_items_arrive_flipped():
    frame = pd.DataFrame({"ResponseId": [f"r{i}" for i in range(12)],
                          "fwd": [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 3, 3],
                          "rev": [1, 2, 3, 4, 5, 5, 4, 3, 2, 1, 3, 3]})
    survey = survey_from_frame(frame, [
        Question("fwd", type="likert", role="segment", scale=LIKERT5),
        Question("rev", type="likert", role="segment", scale=LIKERT5, reverse=True)])
    X = FeatureBuilder(scale="none").fit_transform(survey)
    np.testing.assert_array_equal(X["rev"].to_numpy(), 6 - frame["rev"].to_numpy())


def test_likert_centering_removes_each_respondents_mean(planted):
    survey, _ = planted
    X = FeatureBuilder(likert_centering=True, scale="none").fit_transform(survey)
    raw = FeatureBuilder(scale="none").fit_transform(survey)
    likert_cols = [c for c in X.columns if c.startswith(("L_", "N_"))]
    np.testing.assert_allclose(X[likert_cols].mean(axis=1), 0.0, atol=1e-12)
    expected = raw[likert_cols].sub(raw[likert_cols].mean(axis=1), axis=0)
    np.testing.assert_allclose(X[likert_cols].to_numpy(), expected.to_numpy())
    # non-Likert features are untouched
    np.testing.assert_array_equal(X["spend"].to_numpy(), raw["spend"].to_numpy())


def test_transform_on_another_wave_keeps_the_fitted_columns(planted):
    survey, _ = planted
    fb = FeatureBuilder().fit(survey)
    part = survey.subset(survey.data.index[:40])
    X = fb.transform(part)
    assert list(X.columns) == list(fb.feature_names_out_)
    pd.testing.assert_frame_equal(X, fb.transform(survey).iloc[:40])


def test_is_a_scikit_learn_estimator(planted):
    survey, _ = planted
    fb = FeatureBuilder(likert_centering=True, text_components=5)
    twin = clone(fb)
    assert twin.get_params() == fb.get_params()
    assert not hasattr(twin, "feature_map_")
    assert fb.fit(survey) is fb
    with pytest.raises(Exception, match="not fitted"):
        FeatureBuilder().transform(survey)


# ----------------------------------------------------------------------------- missing


def test_missing_answers_are_imputed_and_random_dont_knows_add_no_indicator():
    survey, _ = planted_survey(n=300, random_state=2, dont_know=0.15)
    assert survey.likert()["N_0"].isna().mean() > 0.05
    fb = FeatureBuilder(scale="none").fit(survey)
    X = fb.transform(survey)
    assert not X.isna().any().any()
    assert fb.missing_indicator_questions_ == []
    na = survey.likert()["N_0"].isna()
    assert (X.loc[na, "N_0"] == fb.fill_values_["N_0"]).all()
    assert fb.fill_values_["N_0"] == survey.likert()["N_0"].median()
    always = FeatureBuilder(missing_indicators=True, scale="none").fit(survey)
    assert {"N_0", "N_1", "N_2", "N_3"} <= set(always.missing_indicator_questions_)
    np.testing.assert_array_equal(always.transform(survey)["N_0:(missing)"].to_numpy(),
                                  na.to_numpy().astype(float))
    assert FeatureBuilder(missing_indicators=False).fit(survey).missing_indicator_questions_ == []


def test_informative_missingness_gets_an_indicator():
    survey, labels = planted_survey(n=300, random_state=3)
    # "Don't know" on N_0 only among segment 0 (who score high on L_a): informative.
    frame = survey.data.copy()
    rng = np.random.default_rng(0)
    dk = (labels == 0) & (rng.random(len(labels)) < 0.5)
    assert 0.05 < dk.mean()
    raw = pd.DataFrame({"ResponseId": frame.index, "L_a": frame["L_a"],
                        "L_b": frame["L_b"], "N_0": np.where(dk, 99, frame["N_0"])})
    dk_code = [MissingCode(99, "Don't know", "dont_know")]
    s2 = survey_from_frame(raw.reset_index(drop=True), [
        Question("L_a", type="likert", role="segment", scale=LIKERT5),
        Question("L_b", type="likert", role="segment", scale=LIKERT5),
        Question("N_0", type="likert", role="segment", scale=LIKERT5, missing=dk_code)])
    fb = FeatureBuilder().fit(s2)
    assert fb.missing_indicator_questions_ == ["N_0"]
    assert fb.feature_map_["N_0:(missing)"] == "N_0"


def test_a_fitted_encoder_keeps_no_per_respondent_data():
    # what a saved model carries to the next wave must not grow with the wave: at a million
    # respondents a kept missing-answer mask per question cost ~600 MB in model.joblib
    import pickle

    sizes = []
    for n in (300, 3000):
        survey, _ = planted_survey(n=n, random_state=2, dont_know=0.15)
        fb = FeatureBuilder(missing_indicators=True).fit(survey)
        assert fb.missing_indicator_questions_     # the masks were built and used
        fb.transform(survey)
        sizes.append(len(pickle.dumps(fb)))
    assert sizes[1] < sizes[0] * 1.2, sizes


# ----------------------------------------------------------------------------- text


def _text_survey(role="segment"):
    rng = np.random.default_rng(0)
    n = 80
    words = np.array(["price too high", "great support team", "app keeps crashing",
                      "love the design", "slow delivery times"])
    frame = pd.DataFrame({"ResponseId": [f"r{i}" for i in range(n)],
                          "L_a": rng.integers(1, 6, n),
                          "why": [f"{a} and {b}" for a, b in zip(rng.choice(words, n),
                                                                rng.choice(words, n))]})
    return survey_from_frame(frame, [
        Question("L_a", type="likert", role="segment", scale=LIKERT5),
        Question("why", type="text", role=role)])


def test_text_features_only_when_asked_and_only_for_segment_text():
    survey = _text_survey("segment")
    assert set(FeatureBuilder().fit(survey).feature_map_.values()) == {"L_a"}
    fb = FeatureBuilder(include_text=True, text_components=3).fit(survey)
    text_cols = [c for c in fb.feature_names_out_ if c.startswith("why:text_")]
    assert text_cols == ["why:text_01", "why:text_02", "why:text_03"]
    X = fb.transform(survey)
    assert X[text_cols].abs().sum().min() > 0
    profile_text = _text_survey("profile")
    assert set(FeatureBuilder(include_text=True).fit(profile_text).feature_map_.values()) == {"L_a"}


def test_embeddings_need_the_optional_extra():
    try:
        import sentence_transformers  # noqa: F401
        pytest.skip("sentence-transformers is installed here")
    except ImportError:
        pass
    with pytest.raises(ImportError, match="sentence-transformers"):
        FeatureBuilder(include_text=True, text_method="embeddings").fit(_text_survey())
    # "auto" falls back to TF-IDF offline
    fb = FeatureBuilder(include_text=True, text_method="auto", text_components=2)
    assert "why:text_01" in fb.fit(_text_survey()).feature_names_out_


# ----------------------------------------------------------------------------- id-like


def _with(column, values, qtype, **kw):
    base, _ = planted_survey(n=60, random_state=4, extra_noise_items=1)
    frame = pd.DataFrame({"ResponseId": base.data.index, "L_a": base.data["L_a"],
                          column: values})
    return survey_from_frame(frame, [
        Question("L_a", type="likert", role="segment", scale=LIKERT5),
        Question(column, type=qtype, role="segment", **kw)])


@pytest.mark.parametrize("column,values,qtype", [
    ("customer_no", np.arange(1000, 1060), "numeric"),                 # serial number
    ("member_no", np.random.default_rng(0).permutation(np.arange(5000, 5120))[:60],
     "numeric"),                                                        # shuffled serials
    ("panel_code", [f"P{i * 7919 % 100000:05d}" for i in range(60)], "single"),  # unique codes
    ("store", [f"S{i % 40}" for i in range(60)], "single"),            # high cardinality
    ("ts", np.linspace(0.5, 90.25, 60), "numeric"),                     # monotonic floats
])
def test_id_like_inputs_are_refused_naming_the_column_and_the_fix(column, values, qtype):
    survey = _with(column, values, qtype)
    with pytest.raises(InputError) as err:
        FeatureBuilder().fit(survey)
    assert err.value.column == column
    assert "ignore" in err.value.fix and column in err.value.fix


def test_id_typed_question_in_segment_role_is_refused():
    survey = _with("Email", [f"u{i}@x.org" for i in range(60)], "id")
    with pytest.raises(InputError, match="identifier") as err:
        FeatureBuilder().fit(survey)
    assert err.value.column == "Email"


def test_real_answers_are_not_mistaken_for_ids():
    rng = np.random.default_rng(5)
    survey = _with("income", np.round(rng.gamma(2, 20000, 60), 2), "numeric")  # unique floats
    assert "income" in FeatureBuilder().fit(survey).feature_names_out_
    dollars = rng.choice(np.arange(1000, 90000), 60, replace=False)          # unique, spread
    assert "spend" in FeatureBuilder().fit(_with("spend", dollars, "numeric")).feature_names_out_
    survey = _with("store", [f"S{i % 8}" for i in range(60)], "single")       # 8 levels
    assert "store=S0" in FeatureBuilder().fit(survey).feature_names_out_


# ----------------------------------------------------------------------------- dominance


def test_dominant_input_warning_fires_on_a_single_variable_split(planted):
    survey, _ = planted
    X = FeatureBuilder().fit_transform(survey)
    labels = np.where(X["spend"] > X["spend"].median(), 1, 0)   # a split on one input
    with pytest.warns(PersonaLabWarning, match="spend"):
        table = dominant_input_check(X, labels)
    assert table.iloc[0]["input"] == "spend"
    assert table.iloc[0]["tree_accuracy"] == pytest.approx(1.0)


def test_dominant_input_groups_one_hot_columns_into_their_question(planted):
    survey, _ = planted
    X = FeatureBuilder().fit_transform(survey)
    labels = X[["plan=Basic", "plan=Plus", "plan=Pro"]].to_numpy().argmax(axis=1)
    with pytest.warns(PersonaLabWarning, match="'plan'"):
        table = dominant_input_check(X, labels)
    assert table.iloc[0]["input"] == "plan" and table.iloc[0]["n_features"] == 3


def test_no_dominance_warning_on_balanced_segments(planted):
    survey, labels = planted
    X = FeatureBuilder().fit_transform(survey)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PersonaLabWarning)
        table = dominant_input_check(X, labels)
    assert set(table["input"].head(2)) == {"L_a", "L_b"}
    assert table["tree_accuracy"].max() < 0.9


def test_dominance_by_eta_squared_ratio():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2, 3], 100)
    # one feature carries most of the separation but cannot reproduce labels alone
    strong = labels + rng.normal(0, 0.6, 400)
    weak = [labels + rng.normal(0, 4, 400) for _ in range(3)]
    X = pd.DataFrame({"strong": strong, **{f"w{i}": w for i, w in enumerate(weak)}})
    with pytest.warns(PersonaLabWarning, match="dominates"):
        dominant_input_check(X, labels)
    unassigned = labels.copy()
    unassigned[:50] = -1
    with pytest.warns(PersonaLabWarning):
        dominant_input_check(X, unassigned)


# ----------------------------------------------------------------------------- scaling


def _wide_scale_survey(n=400, random_state=0, weights=None):
    """Two planted segments that differ on four 1-5 items, plus one 1-11 item of pure
    noise: on raw codes the wide item has more variance than the four together."""
    rng = np.random.default_rng(random_state)
    truth = rng.permutation(np.repeat([0, 1], n // 2))
    data = {"ResponseId": [f"r{i:04d}" for i in range(n)]}
    questions = []
    for j in range(4):
        data[f"L{j}"] = np.clip(np.round(rng.normal(np.where(truth == 0, 2.2, 3.8), 0.8)), 1, 5)
        questions.append(Question(f"L{j}", type="likert", role="segment", scale=LIKERT5))
    eleven = [ScaleOption(i, str(i)) for i in range(1, 12)]
    data["wide"] = rng.integers(1, 12, n).astype(float)
    questions.append(Question("wide", type="likert", role="segment", scale=eleven))
    if weights is not None:
        data["weight"] = weights
    survey = survey_from_frame(pd.DataFrame(data), questions,
                               weight="weight" if weights is not None else None)
    return survey, truth


def test_a_wide_scale_item_no_longer_decides_the_segments():
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    survey, truth = _wide_scale_survey()
    fb = FeatureBuilder()
    X = fb.fit_transform(survey)
    assert fb.scale_ == "standard" and "same weight" in fb.scale_description_
    found = KMeans(2, n_init=10, random_state=0).fit_predict(X)
    assert adjusted_rand_score(truth, found) >= 0.8
    # the old behaviour, kept as scale="none": the 1-11 noise item takes over
    raw = FeatureBuilder(scale="none").fit_transform(survey)
    assert adjusted_rand_score(truth, KMeans(2, n_init=10, random_state=0).fit_predict(raw)) < 0.3


def test_standard_scaling_is_weighted_and_gives_each_question_one_unit(planted):
    survey, _ = planted
    X = FeatureBuilder().fit_transform(survey)
    assert X["L_a"].mean() == pytest.approx(0.0, abs=1e-9)
    assert X["L_a"].var(ddof=0) == pytest.approx(1.0)
    plan = X[[c for c in X.columns if c.startswith("plan=")]]
    # the one-hot columns of one question share one unit of variance
    assert plan.var(ddof=0).sum() == pytest.approx(1.0)
    w = np.r_[np.full(150, 3.0), np.full(150, 1.0)]
    ws, _ = _wide_scale_survey(n=300, weights=w)
    Xw = FeatureBuilder().fit_transform(ws)
    col = Xw["L0"].to_numpy()
    assert np.average(col, weights=w) == pytest.approx(0.0, abs=1e-9)
    assert np.average(col ** 2, weights=w) == pytest.approx(1.0)
    assert abs(col.mean()) > 1e-3          # the unweighted mean is not what was centred


def test_scaling_is_fitted_once_and_applied_to_a_new_wave(planted):
    survey, _ = planted
    for scale in ("standard", "rank"):
        fb = FeatureBuilder(scale=scale).fit(survey)
        part = survey.subset(survey.data.index[:40])
        pd.testing.assert_frame_equal(fb.transform(part), fb.transform(survey).iloc[:40])


def test_rank_scaling_tames_a_long_tailed_number(planted):
    survey, _ = planted
    X = FeatureBuilder(scale="rank").fit_transform(survey)
    spend = survey.numeric()["spend"]
    # ranks keep the order and bound the range: no respondent sits far out on spend alone
    assert (np.diff(X["spend"].to_numpy()[np.argsort(spend.to_numpy(), kind="stable")]) >= -1e-12).all()
    assert X["spend"].abs().max() < 2.0
    with pytest.raises(InputError, match="scale"):
        FeatureBuilder(scale="minmax").fit(survey)


@pytest.mark.parametrize("bad", [np.inf, "zeros"])
def test_unusable_weights_are_refused_naming_the_weight_column_and_rows(bad):
    n = 60
    w = np.ones(n)
    if bad == "zeros":
        w[:] = 0.0
    else:
        w[[3, 7]] = bad
    survey, _ = _wide_scale_survey(n=n, weights=w)
    with pytest.raises(InputError) as err:
        FeatureBuilder().fit(survey)
    msg = str(err.value)
    assert "weight" in msg and "Fix:" in msg and "planted.csv" in msg
    if bad != "zeros":
        assert "rows 5, 9" in msg          # file lines: header + 1-based
