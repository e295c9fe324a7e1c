"""diagnostics: sweep / recommend / stability on data with a known answer."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from personalab.diagnostics import recommend, stability, sweep, visualize_stability, visualize_sweep
from personalab.segmentation import PersonaModel


def blobs(n=600, k=4, p=6, seed=0, spread=8.0):
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-spread, spread, size=(k, p))
    y = rng.integers(0, k, n)
    return centers[y] + rng.normal(size=(n, p)), y


FAST_GRID = [
    {"reducer": ["pca"], "n_components": [3], "clusterer": ["gmm", "kmeans"], "n_segments": [2, 3, 4, 5, 6]},
    {"reducer": [None], "clusterer": ["hdbscan"], "min_segment_share": [0.05, 0.1]},
]


@pytest.fixture(scope="module")
def known_k_table():
    X, y = blobs()
    return sweep(X, FAST_GRID, n_boot=3, random_state=0, truth=y)


def test_sweep_measures_every_setting(known_k_table):
    t = known_k_table
    assert len(t) == 12
    for col in ["n_segments", "silhouette", "dbcv", "bic", "smallest_share", "unassigned_share",
                "stability_ari", "stability_ari_min", "truth_ari", "clusterer", "reducer"]:
        assert col in t.columns
    gmm = t[t["clusterer"] == "gmm"].set_index("n_segments")
    assert gmm["bic"].notna().all() and gmm["bic"].idxmin() == 4  # BIC knows k
    assert t.loc[t["clusterer"] == "kmeans", "bic"].isna().all()  # BIC only where it applies
    assert (t["unassigned_share"].between(0, 1)).all()
    four = t[(t["n_segments"] == 4) & (t["clusterer"] == "kmeans")].iloc[0]
    assert four["stability_ari"] >= 0.95 and four["truth_ari"] >= 0.95


def test_recommend_finds_the_known_number_of_segments(known_k_table):
    rec = recommend(known_k_table)
    assert rec.stable
    assert rec.row["n_segments"] == 4
    assert rec.row["truth_ari"] >= 0.95
    assert rec.verdict.startswith("Stable segmentation: 4 segments")
    assert any("subsamples" in r for r in rec.reasons)
    # the recommendation is directly usable
    X, y = blobs()
    model = rec.model(random_state=0).fit(X)
    assert model.n_segments_ == 4


def test_recommend_says_plainly_when_nothing_is_stable():
    table = pd.DataFrame(
        {
            "clusterer": ["kmeans", "kmeans", "hdbscan"],
            "n_segments": [2, 3, 4],
            "unassigned_share": [0.0, 0.0, 0.45],
            "smallest_share": [0.4, 0.2, 0.05],
            "silhouette": [0.3, 0.2, 0.1],
            "dbcv": [0.1, 0.1, 0.2],
            "bic": [np.nan] * 3,
            "stability_ari": [0.62, 0.48, 0.93],
            "stability_ari_min": [0.5, 0.3, 0.9],
        }
    )
    rec = recommend(table)
    assert not rec.stable
    assert rec.verdict.startswith("No stable segments")
    # the closest setting is the most stable multi-segment one, unassigned considered only as a bar
    assert rec.row["n_segments"] == 4
    assert "45% unassigned" in str(rec)


def test_stability_of_a_good_model_on_known_segments():
    X, _ = blobs()
    res = stability(PersonaModel(reducer="pca", clusterer="kmeans", n_segments=4), X, n_boot=4)
    assert res.stable and res.mean_ari >= 0.95
    assert res.n_segments == 4 and res.unstable_segments == []
    assert (res.segments["jaccard_mean"] >= 0.9).all()
    assert len(res.ari) == 4
    assert res.verdict.startswith("Stable: 4 segments")


def test_stability_flags_random_noise_as_no_stable_segments():
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(600, 10))
    # forcing 4 k-means segments on structureless data: the split is arbitrary
    res = stability(PersonaModel(reducer=None, clusterer="kmeans", n_segments=4), noise, n_boot=4)
    assert not res.stable
    assert res.verdict.startswith("No stable segments")
    assert res.mean_ari < 0.9
    # the default model on the same noise
    default = stability(PersonaModel(), noise, n_boot=3)
    assert not default.stable and default.verdict.startswith("No stable segments")


def test_stability_flags_the_one_segment_that_does_not_reproduce():
    rng = np.random.default_rng(3)
    tight = rng.normal(size=(300, 2)) * 0.5 + [20, 0]
    diffuse = rng.normal(size=(600, 2)) * 3  # one Gaussian blob split in two by k-means
    X = np.vstack([tight, diffuse])
    res = stability(PersonaModel(reducer=None, clusterer="kmeans", n_segments=3), X, n_boot=5)
    tight_seg = int(pd.Series(PersonaModel(reducer=None, clusterer="kmeans", n_segments=3, random_state=0)
                              .fit_predict(X)[:300]).mode()[0])
    assert res.segments.loc[tight_seg, "jaccard_mean"] >= 0.95
    assert tight_seg not in res.unstable_segments


def test_figures_are_plotly_figures(known_k_table):
    fig = visualize_sweep(known_k_table)
    assert isinstance(fig, go.Figure) and len(fig.data) >= 2
    X, _ = blobs()
    res = stability(PersonaModel(reducer="pca", clusterer="kmeans", n_segments=4), X, n_boot=2)
    fig2 = visualize_stability(res)
    assert isinstance(fig2, go.Figure)
    assert list(fig2.data[0].x) == [f"Segment {i}" for i in range(4)]


@pytest.mark.parametrize("model", [
    PersonaModel(reducer=None, clusterer="kmeans", n_segments=4),
    PersonaModel(n_neighbors=15),  # UMAP + HDBSCAN, the pipeline's default
], ids=["kmeans", "umap-hdbscan"])
def test_stability_in_parallel_gives_the_same_result_as_one_after_the_other(model):
    rng = np.random.default_rng(0)
    # structureless data: every refit's labels depend on its own seed and subsample
    X = rng.normal(size=(500, 6))
    one = stability(model, X, n_boot=4, n_jobs=1)
    two = stability(model, X, n_boot=4, n_jobs=2)
    pd.testing.assert_series_equal(one.ari, two.ari)
    pd.testing.assert_frame_equal(one.segments, two.segments)
    assert one.boot_n_segments == two.boot_n_segments
    assert one.verdict == two.verdict
    if model.clusterer == "kmeans":
        assert one.ari.nunique() == 4   # the check above would see a mixed-up seed


def test_stability_caps_the_subsamples_of_a_large_wave():
    X, _ = blobs(n=2000)
    model = PersonaModel(reducer="pca", clusterer="kmeans", n_segments=4)
    res = stability(model, X, n_boot=3, max_respondents=300)
    assert res.stable and res.mean_ari >= 0.95
    assert "3 refits on random subsamples of 300 of the 2,000 respondents (15%)" in res.verdict
    assert res.segments["n"].sum() == 2000          # sizes still count everyone
    full = stability(model, X, n_boot=3, max_respondents=None)
    assert "3 refits on random 80% subsamples" in full.verdict
    below = stability(model, X, n_boot=3, max_respondents=1600)   # 80% of 2,000: no cap
    pd.testing.assert_series_equal(below.ari, full.ari)
    assert below.verdict == full.verdict


def test_a_stability_refit_skips_soft_membership_but_keeps_every_label():
    from sklearn.base import clone

    from personalab.diagnostics import _subsample, _subsample_refit

    X, _ = blobs(n=1500, k=4)
    # fitted on 400 of each 1,000-respondent subsample: the rest are placed by neighbours
    base = PersonaModel(reducer=None, fit_sample_size=400, random_state=0)
    sub = _subsample(len(X), 1000, 5)
    idx, labels, k = _subsample_refit(base, sub, X[sub], None, 5)
    full = clone(base).set_params(random_state=5).fit(X[idx])
    assert k == full.n_segments_ >= 3
    np.testing.assert_array_equal(labels, full.labels_)
    assert full.clusterer_.prediction_data          # a normal fit keeps what predict needs
    lean = clone(base).set_params(random_state=5)
    lean._labels_only_fit = True
    lean.fit(X[idx])
    assert not lean.clusterer_.prediction_data      # a refit does not build it
    np.testing.assert_array_equal(lean.labels_, full.labels_)
    # a model that attaches the unassigned reads membership: never labels-only
    attach = clone(base).set_params(random_state=5, attach_unassigned=True)
    attach._labels_only_fit = True
    assert attach.fit(X[idx]).clusterer_.prediction_data


def test_stability_started_before_the_fit_gives_what_stability_gives():
    from personalab.diagnostics import start_stability

    X, _ = blobs(n=900, k=4)
    model = PersonaModel(reducer="pca", clusterer="kmeans", n_segments=4, random_state=3)
    # refits dispatched to two worker processes before the model is fitted ...
    run = start_stability(model, X, n_boot=4, random_state=3, n_jobs=2)
    model.fit(X)
    early = run.result(model)
    # ... give exactly what stability() gives on the fitted model, one refit after another
    late = stability(model, X, n_boot=4, random_state=3, n_jobs=1)
    pd.testing.assert_series_equal(early.ari, late.ari)
    pd.testing.assert_frame_equal(early.segments, late.segments)
    assert early.verdict == late.verdict and early.boot_n_segments == late.boot_n_segments
    # and an unfitted model is fitted as the reference, as stability() does
    unfitted = PersonaModel(reducer="pca", clusterer="kmeans", n_segments=4, random_state=3)
    assert start_stability(unfitted, X, n_boot=4, random_state=3).result().verdict == late.verdict


def test_stability_chart_names_each_persona_in_its_colour():
    from types import SimpleNamespace

    from personalab.plotting import segment_colors, visualize_segment_map

    segments = pd.DataFrame({"n": [300, 200, 100], "share": [0.5, 1 / 3, 1 / 6],
                             "jaccard_mean": [0.95, 0.88, 0.41],
                             "jaccard_min": [0.9, 0.8, 0.2],
                             "unstable": [False, False, True]}, index=[0, 1, 4])
    result = SimpleNamespace(segments=segments, mean_ari=0.81,
                             verdict="No stable segments: segment 4 <dissolves>.")
    names = {0: "Planner Pat", 1: "Saver Sam", 4: "Drifter Dee"}
    fig = visualize_stability(result, names=names)
    bar = fig.data[0]
    assert list(bar.x) == ["Planner Pat", "Saver Sam", "Drifter Dee"]
    # the bars have the colours the segment map gives the same personas
    labels = np.array([0] * 5 + [1] * 5 + [4] * 5)
    seg_map = visualize_segment_map(np.random.default_rng(0).normal(size=(15, 2)), labels,
                                    names=names)
    map_colors = {t.name: t.marker.color for t in seg_map.data}
    assert dict(zip(bar.x, bar.marker.color)) == map_colors
    assert list(bar.marker.color) == [segment_colors([0, 1, 4])[s] for s in (0, 1, 4)]
    # the one that dissolves is hatched and says so; the others are plain
    assert list(bar.marker.pattern.shape) == ["", "", "/"]
    assert list(bar.text) == ["", "", "dissolves"]
    assert "<dissolves>" not in fig.layout.title.text
    # without names, segments read as the report writes them
    assert list(visualize_stability(result).data[0].x) == ["Segment 0", "Segment 1",
                                                          "Segment 4"]
