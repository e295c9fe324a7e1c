"""waves: known answers on the bundled sample (wave 1 as baseline, ``wave2`` as the new wave).

``wave2`` plants a size shift for every wave-1 segment and an emerging segment
(``investors``) that wave 1 does not have; its ground truth lives in
``tests/fixtures/sample_truth``. When the bundled files are not there yet they are written,
byte for byte the same (``write_sample`` is deterministic), into a temporary folder.

The baseline model is fitted once per module (PCA + GMM with 6 segments: seconds, and it
recovers the six planted wave-1 segments).
"""
from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from personalab import paths
from personalab.codebook import Codebook, load_codebook
from personalab.errors import CodebookError, ConfigError
from personalab.loaders import RawWave, load_export
from personalab.quality import check_quality
from personalab.segmentation import PersonaModel
from personalab.survey import Survey
from personalab.waves import (BASELINE_ARTIFACTS, Baseline, WaveComparison, _correspondence,
                              compare_codebooks, track_wave, visualize_drift,
                              visualize_size_shift)

SEED = 0


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """(data folder, truth folder) of the bundled sample, written when not bundled yet."""
    data, truth = paths.SAMPLE_DIR, paths.TESTS_DIR / "fixtures" / "sample_truth"
    if not ((data / "wave2.csv").exists() and (truth / "summary.json").exists()):
        from personalab.datasets import write_sample

        root = tmp_path_factory.mktemp("sample")
        data, truth = root / "sample", root / "truth"
        write_sample(data, truth)
    return data, truth


def _kept(raw, codebook, wave):
    survey = Survey.from_raw(raw, codebook, wave=wave)
    return check_quality(survey).apply(survey)


@pytest.fixture(scope="module")
def waves(sample):
    data, truth = sample
    cb = load_codebook(data / "codebook.yml")
    raw1, raw2 = load_export(data / "sample_wave.csv"), load_export(data / "wave2.csv")
    s1, s2 = _kept(raw1, cb, "sample"), _kept(raw2, cb, "wave2")
    t1 = pd.read_csv(truth / "sample_wave_truth.csv").set_index("ResponseId")["segment"]
    t2 = pd.read_csv(truth / "wave2_truth.csv").set_index("ResponseId")["segment"]
    summary = json.loads((truth / "summary.json").read_text(encoding="utf-8"))
    return dict(s1=s1, s2=s2, raw2=raw2, cb=cb, t1=t1.reindex(s1.data.index),
                t2=t2.reindex(s2.data.index), summary=summary)


@pytest.fixture(scope="module")
def baseline(waves):
    model = PersonaModel(reducer="pca", clusterer="gmm", n_segments=6, random_state=SEED)
    model.fit(waves["s1"])
    # persona names from the planted truth, so failures read in the planted segments' terms
    truth_of = pd.crosstab(model.labels_, waves["t1"].to_numpy()).idxmax(axis=1).to_dict()
    return Baseline(model=model, survey=waves["s1"], personas=truth_of)


@pytest.fixture(scope="module")
def comparison(baseline, waves):
    return track_wave(baseline, waves["s2"], random_state=SEED)


def _variant(waves, *, rename=None, relabel=None):
    """wave2 with a question renamed ({old: new}) and/or Likert labels changed
    ({qid: {old_label: new_label}}), in the raw export and its codebook alike."""
    raw = waves["raw2"]
    data = raw.data.copy()
    d = copy.deepcopy(waves["cb"].to_dict())
    labels = dict(raw.labels)
    for qid, new_labels in (relabel or {}).items():
        data[qid] = data[qid].map(lambda v: new_labels.get(v, v) if isinstance(v, str) else v)
        q = next(q for q in d["questions"] if q["id"] == qid)
        for opt in q["scale"]:
            opt["label"] = new_labels.get(opt["label"], opt["label"])
    for old, new in (rename or {}).items():
        data = data.rename(columns={old: new})
        labels[new] = labels.pop(old)
        next(q for q in d["questions"] if q["id"] == old)["id"] = new
    raw = RawWave(data=data, path=Path("wave2_variant.csv"), format="csv", sha256="0" * 64,
                  labels=labels)
    return _kept(raw, Codebook.from_dict(d), "wave2")


# --------------------------------------------------------------------------- known answers
def test_emerging_segment_is_one_candidate_with_most_planted_members(comparison, waves):
    planted = set(waves["summary"]["emerging_members"]) & set(waves["s2"].data.index)
    assert len(planted) > 50
    cands = comparison.candidates
    assert len(cands) == 1, cands.drop(columns="respondent_ids")
    members = set(cands.loc[0, "respondent_ids"])
    recall = len(members & planted) / len(planted)
    precision = len(members & planted) / len(members)
    assert recall >= 0.80, recall
    assert precision >= 0.80, precision
    assert set(comparison.members(0)) == members
    # the candidate's profile is its own: the planted investment-tracking item stands out
    prof = comparison.candidate_profiles
    top = prof[(prof["segment"] == 0) & prof["significant"]].sort_values(
        "effect_size", key=abs, ascending=False)
    assert "Q3_2" in set(top["variable"].head(3))


def _planted_shift(waves):
    return {s: v["shift_pp"] for s, v in waves["summary"]["wave2_shift"].items()}


def test_every_persona_size_shift_is_within_3_points_of_the_planted_shift(comparison, waves):
    planted = _planted_shift(waves)
    sizes = comparison.sizes.copy()
    sizes["truth"] = [comparison.persona_names.get(s, "investors" if s == "emerging" else s)
                      for s in sizes["segment"]]
    assert set(planted) <= set(sizes["truth"])
    # an emerging respondent fits no persona: it counts in the emerging row only, so each
    # persona's shift is the planted one; the planners lose share to the new investors
    err = sizes.set_index("truth")["unweighted_shift"] - pd.Series(planted)
    assert err.dropna().abs().max() <= 3.0, err
    assert planted["planners"] < -3
    planners = sizes.set_index("truth").loc["planners"]
    assert planners["shift"] < -2 and planners["unweighted_shift"] < -2, planners
    # the check has teeth: counting everyone in the persona they are typed into (no
    # emerging row, the accounting of 4e94e44: planners +0.04) misses by more than 3 points
    a = comparison.assignments
    naive = 100 * a["segment"].map(comparison.persona_names).value_counts(normalize=True)
    base = sizes.set_index("truth")["share_baseline"] * 100
    naive_err = (naive - base.reindex(naive.index)) - pd.Series(planted).reindex(naive.index)
    assert naive_err.abs().max() > 3.0
    # each respondent is in one row: a persona's row leaves out its emerging ones, which
    # n_emerging counts (they are in the emerging row)
    for seg, row in sizes.set_index("segment").drop(["emerging", "unassigned"],
                                                    errors="ignore").iterrows():
        typed = a["segment"] == seg
        assert row["n_new"] == (typed & (a["candidate"] < 0)).sum()
        assert row["n_emerging"] == (typed & (a["candidate"] >= 0)).sum()
    emerging = sizes.set_index("segment").loc["emerging"]
    assert emerging["n_new"] == (a["candidate"] >= 0).sum()
    assert sizes["n_new"].sum() == len(a)
    # the rows of each wave sum to one (emerging and unassigned are rows of their own)
    assert sizes["share_baseline"].sum() == pytest.approx(1.0)
    assert sizes["share_new"].sum() == pytest.approx(1.0)


def test_weighted_size_shift_matches_the_truth_labels_weighted_shift(comparison, waves):
    """Weighted shares estimate the population; their known answer is the weighted shift of
    the planted labels themselves."""
    s1, s2 = waves["s1"], waves["s2"]
    w1, w2 = s1.weights(), s2.weights()
    true1 = w1.groupby(waves["t1"].fillna("none")).sum() / w1.sum()
    true2 = w2.groupby(waves["t2"].fillna("none")).sum() / w2.sum()
    true_shift = 100 * (true2.reindex(true1.index.union(true2.index), fill_value=0)
                        - true1.reindex(true1.index.union(true2.index), fill_value=0))
    sizes = comparison.sizes
    names = [comparison.persona_names.get(s, "investors" if s == "emerging" else s)
             for s in sizes["segment"]]
    err = pd.Series(sizes["shift"].to_numpy(), index=names) - true_shift.reindex(names)
    assert err.dropna().abs().max() <= 3.0, err
    # the emerging row: its CI (of the new share alone) holds the true share; no test
    # against a baseline share that is zero by construction
    row = sizes.set_index("segment").loc["emerging"]
    assert row["ci_low"] <= true_shift["investors"] <= row["ci_high"]
    assert np.isnan(row["p_value"]) and np.isnan(row["p_adjusted"]) and not row["significant"]


def test_size_shift_ci_and_test_agree_with_statsmodels(comparison, baseline, waves):
    from statsmodels.stats.proportion import proportions_ztest

    from personalab.profiles import kish_n

    row = comparison.sizes.iloc[0]
    w1, w2 = waves["s1"].weights().to_numpy(), waves["s2"].weights().to_numpy()
    in1 = baseline.labels.to_numpy() == row["segment"]
    in2 = (comparison.assignments["category"] == str(row["segment"])).to_numpy()
    p1, p2 = w1[in1].sum() / w1.sum(), w2[in2].sum() / w2.sum()
    n1, n2 = kish_n(w1), kish_n(w2)
    z, p = proportions_ztest([p2 * n2, p1 * n1], [n2, n1])
    assert row["share_baseline"] == pytest.approx(p1) and row["share_new"] == pytest.approx(p2)
    assert row["statistic"] == pytest.approx(z) and row["p_value"] == pytest.approx(p)
    half = 1.959964 * np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    assert row["ci_high"] - row["shift"] == pytest.approx(100 * half, rel=1e-4)
    tested = comparison.sizes["p_value"].notna()
    assert (comparison.sizes["p_adjusted"] >= comparison.sizes["p_value"] - 1e-12)[tested].all()
    # the correction's family is the tested rows only (the emerging row has no p-value)
    from statsmodels.stats.multitest import multipletests

    tested = comparison.sizes.dropna(subset=["p_value"])
    assert len(tested) == len(comparison.sizes) - 1
    assert np.allclose(tested["p_adjusted"],
                       multipletests(tested["p_value"], method="fdr_bh")[1])


def test_every_new_respondent_is_typed_with_a_membership(comparison, waves):
    a = comparison.assignments
    assert a.index.equals(waves["s2"].data.index)
    assert a["membership"].between(0, 1).all()
    fits = (a["candidate"] == -1) & (a["segment"] >= 0)
    truth = waves["t2"][fits]
    agree = pd.Series(a.loc[fits, "segment"].map(comparison.persona_names).to_numpy(),
                      index=truth.index) == truth
    assert agree.mean() >= 0.95


def test_no_drift_where_none_is_planted_and_planted_drift_is_found(baseline, waves,
                                                                   comparison):
    # the generator keeps every persona's answers fixed between waves; the emerging
    # respondents fit no persona, so they are in no persona's drift and nothing moves
    # (with them kept in the persona they are typed into, the planners "drifted" on the
    # investors' own items)
    d = comparison.drift
    assert not d[d["type"] == "likert"]["significant"].any(), comparison.top_drift(3)
    a = comparison.assignments
    for seg, n in d.groupby("segment")["n_new"].max().items():
        assert n == ((a["segment"] == seg) & (a["candidate"] < 0)).sum()
    # plant drift: one persona spends three times as much in wave 2 (a profile variable)
    s2 = waves["s2"]
    planners = waves["t2"] == "planners"
    data = s2.data.copy()
    data.loc[planners.to_numpy(), "Q6"] *= 3
    drifted = Survey(data, s2.codebook, wave="wave2", source=s2.source,
                     file_rows=s2.file_rows, missing_reasons=s2.missing_reasons,
                     no_answer=s2._answered)
    cmp = track_wave(baseline, drifted, refit=False, random_state=SEED)
    top = cmp.top_drift(1)
    planner_seg = next(s for s, n in comparison.persona_names.items() if n == "planners")
    assert top.loc[top["segment"] == planner_seg, "variable"].tolist() == ["Q6"]
    assert set(top["variable"]) == {"Q6"}  # no other persona drifted


def test_theme_shifts_per_persona(baseline, waves):
    """A theme planted in wave 2's tags for one persona only is the one significant shift."""
    s1, s2 = waves["s1"], waves["s2"]
    rng = np.random.default_rng(0)
    m1 = pd.DataFrame({"price": rng.random(len(s1)) < 0.2, "trust": rng.random(len(s1)) < 0.3},
                      index=s1.data.index).astype(int)
    m2 = pd.DataFrame({"price": rng.random(len(s2)) < 0.2, "trust": rng.random(len(s2)) < 0.3},
                      index=s2.data.index).astype(int)
    goal = (waves["t2"] == "goal_savers").to_numpy()
    m2.loc[goal, "price"] = (rng.random(goal.sum()) < 0.6).astype(int)
    b = Baseline(model=baseline.model, survey=s1, personas=baseline.personas, tags={"Q9": m1})
    cmp = track_wave(b, s2, new_tags={"Q9": m2}, refit=False, random_state=SEED)
    t = cmp.theme_shifts
    sig = t[t["significant"]]
    assert set(zip(sig["persona"], sig["theme"])) == {("goal_savers", "price")}
    assert sig["diff"].iloc[0] == pytest.approx(0.4, abs=0.1)


def test_refit_correspondence_on_the_sample(comparison):
    corr = comparison.correspondence
    assert len(corr) == comparison.refit_model.n_segments_
    assert set(corr["kind"]) <= {"same", "split", "merge", "new", "mixed"}
    same = corr[corr["kind"] == "same"]
    # the stable personas come back: each matched once, mostly the same respondents
    assert same["matched_segment"].is_unique
    assert (same["overlap_share"] >= 0.6).all() and (same["jaccard"] > 0.5).all()
    assert (same["matched_segment"] == same["closest_segment"]).all()
    assert len(same) >= 5
    # only a "same" segment is a baseline persona
    assert (corr.loc[corr["kind"] != "same", "matched_segment"] == -1).all()
    assert (corr.loc[corr["kind"] != "same", "persona"] == "").all()
    # six refit segments cannot hold six personas and the emerging one: the emerging
    # respondents show up as a new segment or merged into a persona, never hidden
    odd = corr[corr["kind"].isin(["new", "merge"])]
    assert len(odd) >= 1 and odd["composition"].str.contains("emerging").any()


def test_correspondence_kinds_known_answers():
    base = Baseline.__new__(Baseline)
    base.personas, base.model = {0: "A", 1: "B", 2: "C"}, type("M", (), {"n_segments_": 3})()
    base.labels = pd.Series([0, 1, 2])
    # refit 0 = persona A; refits 1 and 2 split persona B; refit 3 merges C and A;
    # refit 4 = respondents who fit no persona (emerging)
    refit = np.array([0] * 50 + [1] * 30 + [2] * 30 + [3] * 40 + [4] * 25)
    cat = np.array(["0"] * 50 + ["1"] * 30 + ["1"] * 30 + ["2"] * 20 + ["0"] * 20
                   + ["emerging"] * 25, dtype=object)
    corr = _correspondence(refit, cat, base).set_index("refit_segment")
    assert corr.loc[0, "kind"] == "same" and corr.loc[0, "persona"] == "A"
    assert corr.loc[1, "kind"] == "split" and corr.loc[2, "kind"] == "split"
    assert corr.loc[3, "kind"] == "merge"
    assert corr.loc[4, "kind"] == "new"
    # Hungarian: each persona is matched at most once
    matched = corr["matched_segment"][corr["matched_segment"] >= 0]
    assert matched.is_unique


# --------------------------------------------------------------------------- codebooks
def test_identical_codebooks_are_all_same(waves):
    diff = compare_codebooks(waves["cb"], waves["cb"])
    assert set(diff.table()["status"]) == {"same"}
    assert diff.ok and diff.check() is diff


def test_renamed_question_is_reported_not_silently_dropped(waves, baseline, comparison):
    # a profile question renamed: the comparison runs, and says so
    new = _variant(waves, rename={"Q6": "Q6_spend"})
    diff = compare_codebooks(waves["cb"], new.codebook)
    row = diff.table().set_index("baseline_id").loc["Q6"]
    assert row["status"] == "renamed" and row["new_id"] == "Q6_spend"
    assert row["similarity"] == 1.0
    assert diff.suggested_mapping == {"Q6_spend": "Q6"}
    assert "Q6_spend" not in set(diff.table().loc[diff.table()["status"] == "added", "new_id"])
    # a profile question: no warning (the report's Questionnaire table says it is out)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cmp = track_wave(baseline, new, refit=False, random_state=SEED)
    assert not [w for w in caught if "Q6" in str(w.message)], caught
    assert any("'Q6'" in n and "Q6_spend" in n for n in cmp.notes)
    assert "Q6" not in set(cmp.drift["question"])
    # mapped, it is used again
    cmp = track_wave(baseline, new, mapping={"Q6_spend": "Q6"}, refit=False, random_state=SEED)
    assert "Q6" in set(cmp.drift["question"])
    assert compare_codebooks(waves["cb"], new.codebook, {"Q6_spend": "Q6"}).table() \
        .set_index("baseline_id").loc["Q6", "status"] == "mapped"


def test_renamed_segmentation_input_is_refused_until_mapped(waves, baseline, comparison):
    new = _variant(waves, rename={"Q3_2": "Q3_2b"})
    with pytest.raises(CodebookError, match=r"(?s)'Q3_2'.*renamed.*mapping=\{'Q3_2b': 'Q3_2'\}"):
        track_wave(baseline, new, refit=False)
    cmp = track_wave(baseline, new, mapping={"Q3_2b": "Q3_2"}, refit=False, random_state=SEED)
    pd.testing.assert_frame_equal(cmp.assignments, comparison.assignments)


def test_similar_text_suggests_a_rename(waves):
    d = copy.deepcopy(waves["cb"].to_dict())
    q = next(q for q in d["questions"] if q["id"] == "Q1_1")
    q["id"], q["text"] = "Q1_1x", "I track every single purchase I make"
    diff = compare_codebooks(waves["cb"], Codebook.from_dict(d))
    row = diff.table().set_index("baseline_id").loc["Q1_1"]
    assert row["status"] == "renamed" and 0.8 <= row["similarity"] < 1
    assert diff.suggested_mapping == {"Q1_1x": "Q1_1"}


def test_dropped_and_added_questions(waves):
    d = copy.deepcopy(waves["cb"].to_dict())
    d["questions"] = [q for q in d["questions"] if q["id"] != "Q1_8"]
    d["questions"].append({"id": "Q15", "text": "How did you hear about the new pricing?",
                           "type": "text", "role": "profile"})
    diff = compare_codebooks(waves["cb"], Codebook.from_dict(d))
    t = diff.table()
    assert t.set_index("baseline_id").loc["Q1_8", "status"] == "dropped"
    assert t.set_index("new_id").loc["Q15", "status"] == "added"
    with pytest.raises(CodebookError, match=r"'Q1_8' dropped"):
        diff.check()
    with pytest.warns(UserWarning, match="Q1_8"):
        diff.check(strict=False)


def test_changed_scale_is_refused_with_a_clear_message_unless_mapped(waves, baseline,
                                                                     comparison):
    relabel = {"Q1_1": {"Somewhat agree": "Agree", "Somewhat disagree": "Disagree"}}
    new = _variant(waves, relabel=relabel)
    diff = compare_codebooks(waves["cb"], new.codebook)
    row = diff.table().set_index("baseline_id").loc["Q1_1"]
    assert row["status"] == "changed_scale"
    assert "'Agree'" in row["detail"] and "'Somewhat agree'" in row["detail"]
    with pytest.raises(CodebookError) as err:
        track_wave(baseline, new, refit=False)
    msg = str(err.value)
    assert "'Q1_1'" in msg and "scale changed" in msg and "scale_mapping" in msg
    # mapped back, the new wave reads exactly as the original
    back = {"Q1_1": {"Agree": "Somewhat agree", "Disagree": "Somewhat disagree"}}
    assert compare_codebooks(waves["cb"], new.codebook, scale_mapping=back).table() \
        .set_index("baseline_id").loc["Q1_1", "status"] == "scale_mapped"
    cmp = track_wave(baseline, new, scale_mapping=back, refit=False, random_state=SEED)
    pd.testing.assert_frame_equal(cmp.assignments, comparison.assignments)


def test_reordered_scale_and_changed_type_are_changes(waves):
    d = copy.deepcopy(waves["cb"].to_dict())
    q = next(q for q in d["questions"] if q["id"] == "Q2_1")
    q["scale"] = q["scale"][::-1]
    q2 = next(q for q in d["questions"] if q["id"] == "Q2_3")
    q2["type"], q2.pop("scale"), q2.pop("missing", None), q2.pop("reverse", None)
    q2.pop("grid", None)
    q2["type"] = "numeric"
    t = compare_codebooks(waves["cb"], Codebook.from_dict(d)).table().set_index("baseline_id")
    assert t.loc["Q2_1", "status"] == "changed_scale"
    assert t.loc["Q2_3", "status"] == "changed_type"


def test_bad_mapping_is_a_config_error(waves):
    with pytest.raises(ConfigError, match="not in the new codebook"):
        compare_codebooks(waves["cb"], waves["cb"], mapping={"nope": "Q1_1"})
    with pytest.raises(ConfigError, match="not in the baseline codebook"):
        compare_codebooks(waves["cb"], waves["cb"], mapping={"Q1_1": "nope"})


# --------------------------------------------------------------------------- runs, figures
def test_same_inputs_and_seed_give_identical_output(baseline, waves, comparison):
    again = track_wave(baseline, waves["s2"], random_state=SEED)
    for name in ("assignments", "sizes", "drift", "candidate_profiles", "correspondence"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(comparison, name))
    pd.testing.assert_frame_equal(again.candidates, comparison.candidates)
    assert again.notes == comparison.notes


def test_baseline_from_run_reads_the_documented_artifacts(tmp_path, baseline, waves):
    from personalab.artifacts import ArtifactStore
    from personalab.persistence import save_model

    store = ArtifactStore(tmp_path)
    full = Survey.from_raw(load_export(waves["s1"].source), waves["cb"], wave="sample")
    store.save("survey", full)
    store.save("quality", check_quality(full))
    save_model(baseline.model, store.path("model"))
    store.save("personas", baseline.personas)
    store.save_table("sizes", pd.DataFrame({"segment": [0], "n": [1]}))
    b = Baseline.from_run(tmp_path)
    assert b.survey.data.index.equals(waves["s1"].data.index)
    assert (b.labels.to_numpy() == baseline.model.labels_).all()
    assert b.personas == baseline.personas and b.sizes is not None and b.tags is None
    assert {"survey", "model", "quality", "labels", "profile", "sizes", "tags",
            "personas"} == set(BASELINE_ARTIFACTS)
    with pytest.raises(Exception, match="'model'"):
        Baseline.from_run(tmp_path / "nothing")


def test_figures_hold_the_numbers_and_never_show(comparison, monkeypatch):
    monkeypatch.setattr(go.Figure, "show", lambda *a, **k: pytest.fail("show() called"))
    fig = visualize_size_shift(comparison)
    assert isinstance(fig, go.Figure)
    shift = next(t for t in fig.data if t.name == "shift")
    assert sorted(np.round(shift.x, 6)) == sorted(np.round(comparison.sizes["shift"], 6))
    assert any("emerging" in str(y) for t in fig.data for y in (t.y or []))
    fig = visualize_drift(comparison, n=3)
    assert isinstance(fig, go.Figure)
    assert len(fig.data) == 2 * comparison.sizes["segment"].map(
        lambda s: isinstance(s, (int, np.integer))).sum()


def test_comparison_is_a_plain_dataclass_of_tidy_tables(comparison):
    assert isinstance(comparison, WaveComparison)
    for name in ("assignments", "sizes", "drift", "candidates", "candidate_profiles",
                 "correspondence", "theme_shifts"):
        assert isinstance(getattr(comparison, name), pd.DataFrame)
    assert comparison.theme_shifts.empty  # no tags given


# --------------------------------------------------------------------------- k-means membership
def test_the_baseline_file_again_fits_its_k_means_personas_strongly(waves):
    # k-means is the default segmentation; the old membership (a softmax scaled by the
    # within-segment variance) gave 3 of 1,419 respondents 50% or more on this very file.
    model = PersonaModel(reducer="identity", clusterer="kmeans", n_segments=6,
                         random_state=42).fit(waves["s1"])
    cmp = track_wave(Baseline(model=model, survey=waves["s1"]), waves["s1"], refit=False,
                     random_state=SEED)
    a = cmp.assignments
    assert (a["segment"].to_numpy() == model.labels_).all()
    assert (a["membership"] >= 0.5).mean() >= 0.85
    assert a["membership"].median() == pytest.approx(0.75, abs=0.01)
    assert (a["fit"] == "persona").mean() >= 0.85
    assert cmp.params["membership_temperature"] > 0
    assert (cmp.sizes.set_index("segment").loc[list(range(6)), "shift"].abs() < 1e-12).all()


def test_k_means_membership_is_high_at_a_centre_and_even_half_way():
    from personalab.waves import kmeans_membership

    class Fitted:              # a model that clusters the 2-D points as given
        n_segments_ = 2

        def transform(self, X):
            return np.asarray(X, dtype=float)

    rng = np.random.default_rng(1)
    base = np.vstack([rng.normal((0, 0), 1, (200, 2)), rng.normal((6, 0), 1, (200, 2))])
    labels = np.repeat([0, 1], 200)
    new = np.array([[0.0, 0.0], [6.0, 0.0], [3.0, 0.0], [3.0, 5.0], [-2.0, 0.0], [2.0, 0.0]])
    m, T = kmeans_membership(Fitted(), base, labels, new)
    assert np.allclose(m.sum(axis=1), 1)
    mb, _ = kmeans_membership(Fitted(), base, labels, base)
    assert np.median(mb[np.arange(400), labels]) == pytest.approx(0.75, abs=1e-3)
    # at a centre: placed like the baseline's typical member (the median, 3/4)
    assert m[0, 0] == pytest.approx(0.75, abs=0.03) and m[1, 1] == pytest.approx(0.75, abs=0.03)
    assert m[2, 0] == pytest.approx(0.5, abs=0.02)        # half-way: no majority
    assert m[3, 0] == pytest.approx(0.5, abs=0.02)
    assert m[4, 0] > m[0, 0] + 0.05 > m[5, 0] + 0.1 > 0.6   # away from the other: clearer


def test_wave_charts_draw_each_persona_in_its_one_colour(comparison):
    from personalab.plotting import segment_colors

    sizes = comparison.sizes
    colors = segment_colors(list(sizes["segment"]))
    fig = visualize_size_shift(comparison, colors=colors)
    shown = sizes.iloc[::-1]
    lines = [t for t in fig.data if t.mode == "lines"]
    assert [t.line.color for t in lines] == [colors[s] for s in shown["segment"]]
    for t in fig.data:
        if t.mode == "markers":               # both waves' shares and the shift
            assert list(t.marker.color) == [colors[s] for s in shown["segment"]]
    shift = next(t for t in fig.data if t.name == "shift")
    assert list(shift.marker.symbol) == ["circle" if sig else "circle-open"
                                         for sig in shown["significant"]]
    ticks = fig.layout.yaxis.ticktext
    persona = shown.iloc[0]
    assert ticks[0].startswith(f"<span style='color:{colors[persona['segment']]}'>")
    # without a colour map: as before (waves told apart by colour)
    plain = visualize_size_shift(comparison)
    assert {t.line.color for t in plain.data if t.mode == "lines"} == {"#B0B0B0"}

    drift = visualize_drift(comparison, n=3, colors=colors)
    top = comparison.top_drift(3, significant_only=False)
    segs = list(dict.fromkeys(top["segment"]))
    bars = [t for t in drift.data if t.type == "bar"]
    assert len(bars) == 2 * len(segs)
    for k, seg in enumerate(segs):
        base, new = bars[2 * k], bars[2 * k + 1]
        assert base.marker.color == new.marker.color == colors[seg]
        assert base.marker.opacity < new.marker.opacity == 1
    titles = [a.text for a in drift.layout.annotations]
    assert titles[0].startswith(f"<span style='color:{colors[segs[0]]}'>")


# --------------------------------------------------------------------------- synthetic pairs
def _synthetic(X, wave, prefix, year=None):
    """A Survey of numeric segmentation items ``x0, x1, ...`` (and a profile ``year``)."""
    cols = {f"x{j}": X[:, j] for j in range(X.shape[1])}
    qs = [{"id": f"x{j}", "text": f"item {j}", "type": "numeric", "role": "segment"}
          for j in range(X.shape[1])]
    if year is not None:
        cols["year"] = np.full(len(X), float(year))
        qs.append({"id": "year", "text": "Year of the wave", "type": "numeric",
                   "role": "profile"})
    ids = pd.Index([f"{prefix}{i}" for i in range(len(X))], name="rid")
    cb = Codebook.from_dict({"schema_version": 1, "survey": "synthetic",
                             "respondent_id": "rid", "questions": qs})
    return Survey(pd.DataFrame(cols, index=ids), cb, wave=wave,
                  no_answer={c: np.ones(len(X), bool) for c in cols})


def _bare_baseline(names, labels=(0, 1)):
    base = Baseline.__new__(Baseline)
    base.personas = dict(names)
    base.model = type("M", (), {"n_segments_": len(names)})()
    base.labels = pd.Series(list(labels))
    return base


def test_correspondence_a_segment_mostly_of_another_persona_is_not_named_after_it():
    # the audit's case: Mary has 150 placed members, Linda 50. Refit 0 holds 40 Mary and 5
    # Linda; refit 1 the other 110 Mary and 45 Linda. Hungarian matching on the counts
    # gave refit 0 to Linda ("same", overlap 0.11): its largest part is Mary
    base = _bare_baseline({0: "Mary", 1: "Linda"})
    refit = np.array([0] * 45 + [1] * 155)
    cat = np.array(["0"] * 40 + ["1"] * 5 + ["0"] * 110 + ["1"] * 45, dtype=object)
    corr = _correspondence(refit, cat, base).set_index("refit_segment")
    r0, r1 = corr.loc[0], corr.loc[1]
    assert r0["kind"] == "split"            # 27% of Mary here, 73% in refit 1
    assert r0["matched_segment"] == -1 and r0["persona"] == ""
    assert r0["closest"] == "Mary" and r0["jaccard"] == pytest.approx(40 / 155)
    assert r0["overlap_share"] == pytest.approx(40 / 45)
    # refit 1 holds 73% of Mary's and 90% of Linda's members: both merged
    assert r1["kind"] == "merge" and r1["matched_segment"] == -1 and r1["persona"] == ""
    assert r1["closest"] == "Mary" and r1["jaccard"] == pytest.approx(110 / 195)


def test_correspondence_merge_needs_a_fifth_of_each_personas_members():
    base = _bare_baseline({0: "Emily", 1: "Jacob"})
    # a 77/23 mix whose 23 are 11.5% of Jacob's 200 members is Emily's segment (the old
    # rule, 20% of the segment's own make-up, called it a merge)
    refit = np.array([0] * 100 + [1] * 200)
    cat = np.array(["0"] * 77 + ["1"] * 23 + ["0"] * 23 + ["1"] * 177, dtype=object)
    corr = _correspondence(refit, cat, base).set_index("refit_segment")
    assert corr.loc[0, "kind"] == "same" and corr.loc[0, "persona"] == "Emily"
    assert corr.loc[0, "jaccard"] == pytest.approx(77 / 123)
    assert corr.loc[1, "kind"] == "same" and corr.loc[1, "persona"] == "Jacob"
    # a 50/50 mix of two personas' members takes no name: half of each is in it
    refit = np.array([0] * 100 + [1] * 100)
    cat = np.array(["0"] * 50 + ["1"] * 50 + ["0"] * 50 + ["1"] * 50, dtype=object)
    corr = _correspondence(refit, cat, base)
    assert set(corr["kind"]) == {"merge"} and set(corr["matched_segment"]) == {-1}
    # a small segment of one persona's fringe, too little of anyone to be a part: mixed
    refit = np.array([0] * 40 + [1] * 360)
    cat = np.array(["0"] * 30 + ["1"] * 10 + ["0"] * 170 + ["1"] * 190, dtype=object)
    corr = _correspondence(refit, cat, base).set_index("refit_segment")
    assert corr.loc[0, "kind"] == "mixed" and corr.loc[0, "matched_segment"] == -1
    assert corr.loc[0, "closest"] == "Emily"


def test_emerging_candidate_is_completed_from_the_poorly_fitting_only_and_sizes_keep_it():
    """Two personas (one long along x0) in both waves, plus 60 new respondents in a tight
    clump on the long persona's flank. The old completion pulled 36 well-fitting persona
    members into the candidate and cut them out of the persona, so its share fell
    significantly (-9 points) though it did not change."""
    rng = np.random.default_rng(0)

    def personas():
        return np.vstack([rng.normal((0, 0), (3, 1), (400, 2)),
                          rng.normal((0, 8), 1, (300, 2))])

    new_people = rng.normal((7, 0), 0.3, (60, 2))
    s1 = _synthetic(personas(), "w2011", "a", year=2011)
    s2 = _synthetic(np.vstack([personas(), new_people]), "w2012", "b", year=2012)
    model = PersonaModel(reducer=None, clusterer="kmeans", n_segments=2,
                         random_state=0).fit(s1)
    cmp = track_wave(Baseline(model=model, survey=s1), s2, refit=False, min_size=20,
                     random_state=SEED)
    a = cmp.assignments
    members = a[a["candidate"] >= 0]
    planted = {f"b{i}" for i in range(700, 760)}
    assert planted <= set(members.index)
    assert (members["fit"] != "persona").all()       # nobody who fits a persona well
    assert len(members) <= 60 + 20
    assert np.median(members["novelty"]) >= cmp.params["novelty_ratio"]
    # sizes: each respondent in one row; the personas hold what they held, the new
    # people are the emerging row (n_emerging: the ones the model would type in)
    sizes = cmp.sizes.set_index("segment")
    assert sizes.loc[[0, 1], "n_new"].sum() + len(members) == len(a)
    assert sizes.loc[[0, 1], "n_emerging"].sum() == len(members)
    assert sizes.loc[[0, 1], "n_new"].sum() >= 700 - 20
    # the emerging row: no test against a baseline share of zero by construction
    row = sizes.loc["emerging"]
    assert row["n_new"] == len(members) and row["share_baseline"] == 0
    assert np.isnan(row["p_value"]) and not row["significant"]
    assert row["ci_low"] < 100 * len(members) / len(a) < row["ci_high"]
    # the wave's own year is constant in each wave: no drift test, a note names it
    assert "year" not in set(cmp.drift["question"])
    assert any("'year' (2011 in w2011, 2012 in w2012)" in n for n in cmp.notes), cmp.notes
    assert cmp.params["drift_left_out"] == {
        "year": "one answer for everyone in each wave (2011 in w2011, 2012 in w2012)"}


def test_emerging_candidate_whose_completion_is_not_new_is_dropped():
    """A tight clump of 25 very new respondents (novelty 4) inside a cloud of 60 poorly
    fitting but familiar ones (novelty 1): completed, the candidate's median novelty is 1,
    below the ratio, so it is no emerging segment (the old code kept all 85)."""
    from personalab.waves import _emerging

    rng = np.random.default_rng(0)
    Z1 = np.vstack([rng.normal((0, 0), 1, (300, 2)), rng.normal((8, 0), 1, (300, 2))])
    lab1 = np.repeat([0, 1], 300)
    Z2 = np.vstack([Z1, rng.normal((4, 6), 0.2, (25, 2)), rng.normal((4, 6), 1.5, (60, 2))])
    seg2 = np.r_[lab1, np.zeros(85, int)]
    pool = np.r_[np.zeros(600, bool), np.ones(85, bool)]
    novelty = np.r_[np.ones(600), np.full(25, 4.0), np.full(60, 1.0)]
    assert (_emerging(Z1, lab1, Z2, seg2, pool, novelty, 2.5, 20, 0) == -1).all()
    # the clump alone (the cloud fits well, so it is not in the pool) is a candidate
    pool[625:] = False
    out = _emerging(Z1, lab1, Z2, seg2, pool, novelty, 2.5, 20, 0)
    assert (out[600:625] == 0).all() and (out[625:] == -1).all() and (out[:600] == -1).all()


def test_weak_fit_threshold_makes_half_way_weak_with_two_personas():
    """With two personas the top membership is never below 0.5, so the old fixed 0.5 line
    called nobody weak, even a respondent exactly half-way between the two."""
    rng = np.random.default_rng(2)
    X1 = np.vstack([rng.normal((0, 0), 1, (300, 2)), rng.normal((6, 0), 1, (300, 2))])
    s1 = _synthetic(X1, "w1", "a")
    model = PersonaModel(reducer=None, clusterer="kmeans", n_segments=2,
                         random_state=0).fit(s1)
    baseline = Baseline(model=model, survey=s1)
    X2 = np.vstack([rng.normal((0, 0), 1, (300, 2)), rng.normal((6, 0), 1, (300, 2)),
                    [[3.0, 0.0], [3.0, 1.0], [0.0, 0.0]]])
    cmp = track_wave(baseline, _synthetic(X2, "w2", "b"), refit=False, random_state=SEED)
    a = cmp.assignments
    thr = cmp.params["min_membership"]
    assert 0.5 < thr < 0.75                      # the calibrated median is 0.75
    assert a.loc[["b600", "b601"], "membership"].max() < 0.55
    assert (a.loc[["b600", "b601"], "fit"] != "persona").all()      # half-way: weak
    assert a.loc["b602", "fit"] == "persona"                         # at a centre
    # the line is the baseline's own: about 1 in 10 baseline respondents fit as loosely
    again = track_wave(baseline, s1, refit=False, random_state=SEED)
    assert again.params["min_membership"] == pytest.approx(thr)
    assert (again.assignments["membership"] < thr).mean() == pytest.approx(0.10, abs=0.01)
    # a threshold given is the one used
    assert track_wave(baseline, s1, refit=False, min_membership=0.6,
                      random_state=SEED).params["min_membership"] == 0.6


def test_changed_scale_fix_maps_the_added_answers_and_says_where():
    def cb(labels):
        return Codebook.from_dict({"schema_version": 1, "survey": "exit",
                                   "respondent_id": "rid", "questions": [
                                       {"id": "reason", "text": "Main factor for leaving",
                                        "type": "single", "role": "segment",
                                        "scale": [{"code": i + 1, "label": lab}
                                                  for i, lab in enumerate(labels)]}]})

    old = ["Career Move - Private Sector", "Career Move - Public Sector", "Retirement"]
    diff = compare_codebooks(cb(old), cb(old + ["Study"]))
    row = diff.table().set_index("baseline_id").loc["reason"]
    assert row["status"] == "changed_scale"
    assert "{'reason': {'Study': '<baseline answer>'}}" in row["fix"]
    assert "Career Move" not in row["fix"]
    assert "scale_mapping:" in row["fix"] and "06_waves" in row["fix"]
    # the fix, filled in, is accepted
    done = compare_codebooks(cb(old), cb(old + ["Study"]),
                             scale_mapping={"reason": {"Study": "Retirement"}})
    assert done.table().set_index("baseline_id").loc["reason", "status"] == "scale_mapped"
    # reordered answers: no new answer; mapping them by label onto themselves recodes them
    diff = compare_codebooks(cb(old), cb(old[::-1]))
    fix = diff.table().set_index("baseline_id").loc["reason", "fix"]
    assert "{'reason': {'Retirement': 'Retirement', 'Career Move - Public Sector': " \
           "'Career Move - Public Sector'}}" in fix
    same = compare_codebooks(cb(old), cb(old[::-1]), scale_mapping={
        "reason": {"Retirement": "Retirement"}})
    assert same.table().set_index("baseline_id").loc["reason", "status"] == "scale_mapped"


def test_correspondence_a_few_emerging_respondents_do_not_unmake_a_persona():
    # two personas of 500; an emerging candidate of 50 whose members the refit put 10 in
    # Mary's segment and 40 in Linda's: each segment is still its persona (Jaccard 0.98
    # and 0.92); the emerging part is 2% and 8% of them, under min_part of the segment
    base = _bare_baseline({0: "Mary", 1: "Linda"})
    refit = np.array([0] * 500 + [1] * 520)
    cat = np.array(["0"] * 490 + ["emerging"] * 10 + ["1"] * 480 + ["emerging"] * 40,
                   dtype=object)
    corr = _correspondence(refit, cat, base).set_index("refit_segment")
    assert corr.loc[0, "kind"] == "same" and corr.loc[0, "persona"] == "Mary"
    assert corr.loc[1, "kind"] == "same" and corr.loc[1, "persona"] == "Linda"
    # a real part of the segment (25% emerging) still makes it a merge
    refit = np.array([0] * 600)
    cat = np.array(["0"] * 450 + ["emerging"] * 150, dtype=object)
    corr = _correspondence(refit, cat, base).set_index("refit_segment")
    assert corr.loc[0, "kind"] == "merge"


def test_drift_on_a_handful_of_respondents_is_never_significant():
    """A persona of 400 in each wave: one answer goes from 0 to 4 respondents (a z-test
    gives p ~ 0.04 uncorrected; too few people to call a change), another from 10% to 40%
    (a real change). Only the second is significant; a small cell is tested with Fisher's
    exact test."""
    from personalab.profiles import MIN_SUPPORT
    from personalab.profiles import _share_test as _change_test
    from personalab.waves import _withhold_unsupported

    test, _, p, _ = _change_test(4 / 400, 400, 0.0, 400)
    assert test == "fisher_exact" and p == pytest.approx(stats_fisher(4, 396, 0, 400))
    out = pd.DataFrame({"p_adjusted": [0.01, 0.001, np.nan]})
    sig = _withhold_unsupported(out, np.array([4 >= MIN_SUPPORT, True, True]), 0.05)
    assert sig.tolist() == [False, True, False]


def stats_fisher(a, b, c, d):
    from scipy import stats
    return stats.fisher_exact([[a, b], [c, d]])[1]
