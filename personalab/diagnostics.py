"""Diagnostics: is there a segmentation worth writing personas about, and which one?

- `sweep(X, param_grid)`: fit a grid of settings and measure each (segments, silhouette,
  DBCV, BIC, smallest segment, unassigned share, stability on 80% subsamples).
- `recommend(table)`: the setting to use, with reasons in plain words, or a plain
  "no stable segments".
- `stability(model, X)`: how well one model's segments reproduce on subsamples: mean ARI
  and per-segment clusterwise Jaccard (Hennig 2007), with a verdict.
- `visualize_sweep(table)`, `visualize_stability(result)`: Plotly figures (never shown).

Why these criteria and not silhouette alone: silhouette picks k = 2 on almost every real
survey; see ``docs/segmentation_defaults.md``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.model_selection import ParameterGrid

from personalab.errors import ConfigError
from personalab.segmentation import UNASSIGNED, PersonaModel, _is_survey

__all__ = [
    "sweep",
    "recommend",
    "stability",
    "start_stability",
    "Recommendation",
    "StabilityResult",
    "visualize_sweep",
    "visualize_stability",
    "DEFAULT_GRID",
    "MIN_ARI",
    "MAX_UNASSIGNED",
]

#: A solution counts as stable at this mean ARI between subsample refits and the full fit.
MIN_ARI = 0.90
#: ... and with at most this share of respondents unassigned.
MAX_UNASSIGNED = 0.10
#: Hennig (2007): clusterwise Jaccard below this means the segment dissolves on resampling.
MIN_JACCARD = 0.60

_REDUCER_KEYS = ("reducer", "n_neighbors", "n_components")

#: The grid `sweep` runs when none is given: the families and ranges that mattered in
#: docs/segmentation_defaults.md.
DEFAULT_GRID = [
    {
        "reducer": ["umap"],
        "n_neighbors": [15, 30, 50],
        "clusterer": ["hdbscan"],
        "min_segment_share": [0.02, 0.05, 0.10],
    },
    {
        "reducer": ["pca"],
        "clusterer": ["gmm", "kmeans"],
        "n_segments": [2, 3, 4, 5, 6, 7, 8],
    },
]


# --------------------------------------------------------------------------- sweep
def sweep(
    X,
    param_grid=None,
    *,
    model=None,
    n_boot=3,
    sample_frac=0.8,
    random_state=0,
    max_score_rows=2000,
    truth=None,
):
    """Fit every setting in ``param_grid`` and measure it.

    The reducer is fitted once per reducer setting (and once per subsample), and every
    clusterer setting is run on that embedding, so a sweep costs about
    ``(1 + n_boot) x (number of reducer settings)`` reducer fits.

    Parameters
    ----------
    X : Survey, DataFrame or array-like
    param_grid : dict or list of dicts, optional
        PersonaModel parameters to vary, as for ``sklearn.model_selection.ParameterGrid``
        (e.g. ``{"clusterer": ["gmm"], "n_segments": [3, 4, 5]}``). Default:
        `DEFAULT_GRID`.
    model : PersonaModel, optional
        Template for everything not in the grid (default ``PersonaModel()``).
    n_boot : int, default=3
        Subsamples for the stability ARI (0 skips it).
    sample_frac : float, default=0.8
    random_state : int, default=0
    max_score_rows : int, default=2000
        Silhouette and DBCV are computed on a random sample of at most this many rows
        (DBCV is quadratic in rows).
    truth : array-like of shape (n_respondents,), optional
        Known segments (synthetic data): adds a ``truth_ari`` column.

    Returns
    -------
    DataFrame, one row per setting: the varied parameters, ``n_segments``,
    ``unassigned_share``, ``smallest_share``, ``silhouette``, ``dbcv``, ``bic`` (gmm
    only), ``stability_ari`` (mean over subsamples), ``stability_ari_min``, ``seconds``.
    """
    base = PersonaModel(random_state=random_state) if model is None else clone(model)
    if base.random_state is None:
        base.set_params(random_state=random_state)
    grid = list(ParameterGrid(DEFAULT_GRID if param_grid is None else param_grid))
    if not grid:
        raise ConfigError("param_grid is empty.")
    F = _features(base, X)
    n = F.shape[0]
    if truth is not None:
        truth = pd.Series(np.asarray(truth, dtype=object)).to_numpy()
    rng = np.random.default_rng(random_state)
    subsamples = [
        np.sort(rng.choice(n, max(2, int(round(sample_frac * n))), replace=False)) for _ in range(n_boot)
    ]
    score_rows = np.sort(rng.choice(n, min(n, max_score_rows), replace=False))

    # group the grid by reducer setting so each embedding is computed once
    groups: dict[tuple, list[dict]] = {}
    for params in grid:
        key = tuple((k, params[k]) for k in _REDUCER_KEYS if k in params)
        groups.setdefault(key, []).append(params)

    rows = []
    for key, settings in groups.items():
        red_params = dict(key)
        t0 = time.perf_counter()
        E = _embed(base, red_params, F, seed=random_state)
        E_boot = [_embed(base, red_params, F[idx], seed=random_state + 1 + b) for b, idx in enumerate(subsamples)]
        embed_secs = time.perf_counter() - t0
        for params in settings:
            t1 = time.perf_counter()
            clus_params = {k: v for k, v in params.items() if k not in _REDUCER_KEYS}
            m = clone(base).set_params(
                **clus_params, encoder=None, reducer=None, fit_sample_size=None, attach_unassigned=False
            )
            ref = clone(m).fit(E)
            labels = ref.labels_
            aris = []
            for b, idx in enumerate(subsamples):
                mb = clone(m).set_params(random_state=random_state + 1 + b).fit(E_boot[b])
                aris.append(adjusted_rand_score(labels[idx], mb.labels_))
            row = {**params, **_scores(ref, E, labels, score_rows)}
            row["stability_ari"] = float(np.mean(aris)) if aris else np.nan
            row["stability_ari_min"] = float(np.min(aris)) if aris else np.nan
            if truth is not None:
                known = pd.notna(truth)
                row["truth_ari"] = float(adjusted_rand_score(truth[known], labels[known]))
            row["seconds"] = time.perf_counter() - t1 + embed_secs / len(settings)
            rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs["n_respondents"] = n
    table.attrs["n_boot"] = n_boot
    table.attrs["sample_frac"] = sample_frac
    return table


def _features(base, X):
    """The encoded feature matrix (the encoder is fitted once, on everyone)."""
    m = clone(base)
    enc = m._make_encoder(X)
    F = enc.fit_transform(X) if enc is not None else X
    if _is_survey(F):
        raise ConfigError("A Survey needs encoder='auto' or a transformer to be swept.")
    F = np.asarray(F, dtype=float)
    if F.ndim != 2 or not np.isfinite(F).all():
        raise ConfigError(
            "The features to segment must be a finite 2-D numeric table.",
            fix="Impute or drop missing answers first (FeatureBuilder does this for a Survey).",
        )
    return F


def _embed(base, red_params, F, seed):
    m = clone(base).set_params(**red_params)
    m.notes_, m.warnings_ = [], []
    reducer = m._make_reducer(F.shape[0], F.shape[1], seed)
    return np.asarray(reducer.fit_transform(F), dtype=float)


def _scores(model, E, labels, rows):
    n = len(labels)
    assigned = labels != UNASSIGNED
    sizes = np.bincount(labels[assigned]) if assigned.any() else np.array([], dtype=int)
    out = {
        "n_segments": int(model.n_segments_),
        "unassigned_share": float(1 - assigned.mean()),
        "smallest_share": float(sizes.min() / n) if len(sizes) else 0.0,
        "silhouette": np.nan,
        "dbcv": np.nan,
        "bic": np.nan,
    }
    sub = rows[assigned[rows]]
    sub_labels = labels[sub]
    if len(np.unique(sub_labels)) >= 2 and len(sub) > len(np.unique(sub_labels)):
        out["silhouette"] = float(silhouette_score(E[sub], sub_labels))
        out["dbcv"] = _dbcv(E[sub], sub_labels)
    if type(model.clusterer_).__name__ == "GaussianMixture":
        out["bic"] = float(model.clusterer_.bic(E))
    return out


def _dbcv(E, labels):
    """Density-based cluster validity (Moulavi et al. 2014) via hdbscan.validity."""
    try:
        from hdbscan.validity import validity_index
    except ImportError:  # pragma: no cover
        return np.nan
    try:
        with np.errstate(all="ignore"):
            return float(validity_index(np.ascontiguousarray(E, dtype=np.float64), labels))
    except (ValueError, ZeroDivisionError, FloatingPointError):
        return np.nan


# --------------------------------------------------------------------------- recommend
@dataclass
class Recommendation:
    """What `recommend` chose and why.

    Attributes
    ----------
    params : dict
        PersonaModel parameters of the chosen setting: ``PersonaModel(**rec.params)``.
    row : Series
        The chosen row of the sweep table.
    stable : bool
        False means no setting met the stability bar: the data holds no stable segments.
    verdict : str
        One sentence for the report.
    reasons : list of str
        Why this setting, in plain words.
    """

    params: dict
    row: pd.Series
    stable: bool
    verdict: str
    reasons: list[str] = field(default_factory=list)

    def model(self, **overrides):
        """A PersonaModel with the recommended settings (unfitted)."""
        return PersonaModel(**{**self.params, **overrides})

    def __str__(self):
        return "\n".join([self.verdict, *("- " + r for r in self.reasons)])


def recommend(table, *, min_ari=MIN_ARI, max_unassigned=MAX_UNASSIGNED, min_share=0.02):
    """Pick a setting from a `sweep` table, with reasons.

    Rule: keep the settings with at least 2 segments, mean stability ARI >= ``min_ari``,
    unassigned share <= ``max_unassigned`` and no segment below ``min_share``. When
    Gaussian mixtures are among them, the number of segments is the one with the lowest
    BIC among those stable mixtures (subsample stability alone cannot tell a real segment
    from a reproducible split of one elongated segment; BIC can). Otherwise it is the
    largest stable number of segments (the finest partition that still reproduces). Among
    settings with that number: higher stability, then fewer unassigned, then higher DBCV.
    Silhouette is reported but never decides: it prefers 2 segments on almost any survey.

    When no setting passes, the most stable setting is returned with
    ``stable=False`` and a verdict that says the data holds no stable segments.
    """
    if table.empty:
        raise ConfigError("The sweep table is empty.")
    params_cols = [c for c in table.columns if c in PersonaModel().get_params()]
    t = table.copy()
    multi = t[t["n_segments"] >= 2]
    ok = multi[
        (multi["stability_ari"] >= min_ari)
        & (multi["unassigned_share"] <= max_unassigned)
        & (multi["smallest_share"] >= min_share)
    ]
    n_boot = table.attrs.get("n_boot", "several")
    frac = table.attrs.get("sample_frac", 0.8)
    reasons = []
    n_ok = len(ok)
    if n_ok:
        by_bic = ok.dropna(subset=["bic"]) if "bic" in ok else ok.iloc[:0]
        red_cols = [c for c in _REDUCER_KEYS if c in by_bic]
        if len(by_bic) and red_cols:
            # BICs are only comparable on the same embedding: use the reducer setting with
            # the most stable mixtures
            key = by_bic[red_cols].apply(lambda r: repr(tuple(r)), axis=1)
            by_bic = by_bic[key == key.value_counts().index[0]]
        if len(by_bic):
            k_bic = int(by_bic.loc[by_bic["bic"].idxmin(), "n_segments"])
            ok = ok[ok["n_segments"] == k_bic]
        best = ok.sort_values(
            ["n_segments", "stability_ari", "unassigned_share", "dbcv"],
            ascending=[False, False, True, False],
            na_position="last",
            kind="stable",
        ).iloc[0]
        stable = True
        verdict = (
            f"Stable segmentation: {int(best['n_segments'])} segments "
            f"({_describe(best, params_cols)})."
        )
        reasons.append(
            f"{n_ok} of {len(t)} settings reproduced on {n_boot} random {frac:.0%} "
            f"subsamples (mean ARI >= {min_ari:.2f}) with <= {max_unassigned:.0%} unassigned; "
            + (
                f"BIC of the stable Gaussian mixtures is lowest at {k_bic} segments."
                if len(by_bic)
                else "this is the one with the most segments among them."
            )
        )
    else:
        pool = multi if len(multi) else t
        best = pool.sort_values(
            ["stability_ari", "unassigned_share"], ascending=[False, True], na_position="last", kind="stable"
        ).iloc[0]
        stable = False
        verdict = (
            "No stable segments: no setting reproduced on subsamples "
            f"(mean ARI >= {min_ari:.2f}) with <= {max_unassigned:.0%} unassigned. "
            "Treat any segments from this data as exploratory, not as personas."
        )
        if not len(multi):
            reasons.append("Every setting found fewer than 2 segments.")
        reasons.append(f"Closest setting: {_describe(best, params_cols)}.")
    reasons.append(
        f"Stability ARI {best['stability_ari']:.2f} (worst subsample "
        f"{best['stability_ari_min']:.2f}); {best['unassigned_share']:.0%} unassigned; "
        f"smallest segment {best['smallest_share']:.1%} of respondents."
    )
    if pd.notna(best.get("dbcv", np.nan)):
        reasons.append(f"DBCV {best['dbcv']:.2f}; silhouette {best['silhouette']:.2f} (reported, not used).")
    sil = multi.dropna(subset=["silhouette"])
    if len(sil):
        top = sil.loc[sil["silhouette"].idxmax()]
        if int(top["n_segments"]) != int(best["n_segments"]):
            reasons.append(
                f"Silhouette alone would pick {int(top['n_segments'])} segments "
                f"({top['silhouette']:.2f}); it favours few, coarse segments, so it is not used to choose."
            )
    params = {c: _plain(best[c]) for c in params_cols if pd.notna(best[c])}
    return Recommendation(params=params, row=best, stable=stable, verdict=verdict, reasons=reasons)


def _plain(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        f = float(v)
        return int(f) if f.is_integer() and f > 1 else f
    return v


def _describe(row, cols):
    return ", ".join(f"{c}={_plain(row[c])!r}" for c in cols if pd.notna(row[c]))


# --------------------------------------------------------------------------- stability
@dataclass
class StabilityResult:
    """How well a model's segments reproduce on subsamples.

    Attributes
    ----------
    mean_ari : float
        Mean adjusted Rand index between each subsample refit and the full fit, on the
        subsampled respondents (unassigned counts as a label of its own).
    ari : Series
        ARI per subsample (indexed by seed).
    segments : DataFrame
        Per segment of the full fit: ``n``, ``share``, ``jaccard_mean``, ``jaccard_min``,
        ``rating`` (Hennig 2007: < 0.6 "dissolves", < 0.75 "pattern", < 0.85 "stable",
        otherwise "highly stable") and ``unstable`` (jaccard_mean < 0.6).
    unstable_segments : list of int
    n_segments : int
    unassigned_share : float
    boot_n_segments : list of int
    stable : bool
        mean_ari >= 0.90, unassigned <= 10%, at least 2 segments, none unstable.
    verdict : str
    """

    mean_ari: float
    ari: pd.Series
    segments: pd.DataFrame
    unstable_segments: list
    n_segments: int
    unassigned_share: float
    boot_n_segments: list
    stable: bool
    verdict: str

    def __str__(self):
        return self.verdict


def stability(model, X, n_boot=10, sample_frac=0.8, seeds=None, random_state=0, n_jobs=None,
              max_respondents=20_000):
    """Refit ``model`` on random subsamples and measure how its segments reproduce.

    The reference is ``model`` refitted on all of ``X`` (with its own random_state, or
    ``random_state`` when it has none); each subsample refit uses a different seed, so
    the ARI covers both sampling and algorithm randomness (UMAP, k-means starts).
    Subsamples are drawn without replacement (bootstrap duplicates distort density
    clusterers). The encoder is fitted once on everyone.

    On a large wave a subsample holds at most ``max_respondents``: a PersonaModel fits
    on its own sample of ``fit_sample_size`` and places the rest of a subsample by their
    nearest fitted neighbours, so a larger subsample changes no refit, it only adds
    respondents to place and compare (the cost that grows with the wave). The ARI and
    Jaccard of 20,000 random respondents differ from those of all of them by sampling
    error only (a few thousandths), while placing 40,000 more per refit cost ~1.5 s each.

    Parameters
    ----------
    model : PersonaModel
        Only its parameters are used for the refits. When it is already fitted on ``X``
        with a fixed ``random_state``, its labels are the reference (no second full fit).
    X : Survey, DataFrame or array-like
    n_boot : int, default=10
    sample_frac : float, default=0.8
    seeds : list of int, optional
        Seeds of the subsample refits (overrides n_boot).
    random_state : int, default=0
    n_jobs : int or None, default=None
        Worker processes for the refits (joblib's loky backend), as in scikit-learn:
        ``-1`` uses every core. None uses every core when the subsamples have at least
        5,000 respondents (each refit then takes several seconds, more than starting a
        worker), else runs them one after the other. Every refit keeps its own seed, so
        the result does not depend on ``n_jobs``. Workers inherit ``NUMBA_CACHE_DIR``,
        so they load umap-learn's compiled code instead of compiling it again.
    max_respondents : int or None, default=20000
        Largest subsample; None: always ``sample_frac`` of the respondents.

    Returns
    -------
    StabilityResult
    """
    return start_stability(model, X, n_boot=n_boot, sample_frac=sample_frac, seeds=seeds,
                           random_state=random_state, n_jobs=n_jobs,
                           max_respondents=max_respondents).result(model)


def start_stability(model, X, n_boot=10, sample_frac=0.8, seeds=None, random_state=0,
                    n_jobs=None, max_respondents=20_000) -> "StabilityRun":
    """Start :func:`stability`'s refits and return at once.

    With worker processes (see ``n_jobs`` in :func:`stability`) the refits run while the
    caller goes on, typically fitting ``model`` itself: a seeded UMAP fit keeps one core
    busy and leaves the other mostly idle. ``start_stability(model, X).result(model)``,
    once ``model`` is fitted on ``X``, returns exactly what ``stability(model, X)``
    returns; the refits never read the fitted model, only its parameters.

    Returns
    -------
    StabilityRun
        ``.result(model=None)`` waits for the refits and compares them with ``model``
        (default: the model given here).
    """
    base = clone(model)
    if base.random_state is None:
        base.set_params(random_state=random_state)
    F = _features(base, X)
    base.set_params(encoder=None)
    n = len(F)
    seeds = list(seeds) if seeds is not None else [random_state + 1 + b for b in range(n_boot)]
    if not seeds:
        raise ConfigError("stability needs at least one subsample (n_boot >= 1).")
    n_sub = max(2, int(round(sample_frac * n)))
    if max_respondents is not None and n_sub > max_respondents:
        n_sub = max(2, int(max_respondents))
    if n_jobs is None:
        n_jobs = -1 if n_sub >= _PARALLEL_MIN_ROWS and len(seeds) > 1 else 1
    refits = None
    if n_jobs != 1:
        from joblib import Parallel, delayed

        # a generator: joblib dispatches the refits now and keeps them in submission order
        refits = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator")(
            delayed(_subsample_refit)(base, F, n_sub, seed) for seed in seeds)
    return StabilityRun(model, base, F, seeds, n_sub, sample_frac, refits)


class StabilityRun:
    """Refits started by :func:`start_stability`; :meth:`result` compares them."""

    def __init__(self, model, base, F, seeds, n_sub, sample_frac, refits):
        self._model, self._base, self._F = model, base, F
        self._seeds, self._n_sub, self._sample_frac = seeds, n_sub, sample_frac
        self._refits = refits

    def result(self, model=None) -> "StabilityResult":
        """Wait for the refits; compare them with ``model`` fitted on the same respondents."""
        model = self._model if model is None else model
        base, F, seeds, n_sub = self._base, self._F, self._seeds, self._n_sub
        sample_frac = self._sample_frac
        n = len(F)
        fitted_here = (getattr(model, "labels_", None) is not None and len(model.labels_) == n
                       and model.random_state is not None)
        # a model already fitted on these respondents with a fixed seed would refit to the
        # same labels: it is the reference fit itself
        ref = model if fitted_here else clone(base).fit(F)
        refits = self._refits
        if refits is None:
            refits = (_subsample_refit(base, F, n_sub, seed) for seed in seeds)
        return _compare(ref, refits, seeds, n, n_sub, sample_frac)


def _compare(ref, refits, seeds, n, n_sub, sample_frac) -> "StabilityResult":
    labels = np.asarray(ref.labels_)
    segs = np.arange(ref.n_segments_)
    jacc = np.full((len(seeds), len(segs)), np.nan)
    aris, boot_k = [], []
    for b, (idx, lb, k_b) in enumerate(refits):
        boot_k.append(k_b)
        ref_b = labels[idx]
        aris.append(adjusted_rand_score(ref_b, lb))
        for s in segs:
            a = ref_b == s
            if not a.any():
                continue
            best = 0.0
            for t in np.unique(lb[lb != UNASSIGNED]):
                bmask = lb == t
                inter = np.sum(a & bmask)
                if inter:
                    best = max(best, inter / np.sum(a | bmask))
            jacc[b, s] = best
    sizes = np.bincount(labels[labels != UNASSIGNED], minlength=len(segs))
    jm = np.nanmean(jacc, axis=0) if len(segs) else np.array([])
    table = pd.DataFrame(
        {
            "n": sizes,
            "share": sizes / n,
            "jaccard_mean": jm,
            "jaccard_min": np.nanmin(jacc, axis=0) if len(segs) else [],
        },
        index=pd.Index(segs, name="segment"),
    )
    table["rating"] = pd.cut(
        table["jaccard_mean"],
        [-np.inf, MIN_JACCARD, 0.75, 0.85, np.inf],
        labels=["dissolves", "pattern", "stable", "highly stable"],
        right=False,
    )
    table["unstable"] = table["jaccard_mean"] < MIN_JACCARD
    unstable = [int(s) for s in table.index[table["unstable"]]]
    mean_ari = float(np.mean(aris))
    k = int(ref.n_segments_)
    unassigned = float(ref.unassigned_share_)
    stable = k >= 2 and mean_ari >= MIN_ARI and unassigned <= MAX_UNASSIGNED and not unstable
    runs = f"{len(seeds)} refits on random {sample_frac:.0%} subsamples"
    if n_sub < round(sample_frac * n):
        runs = (f"{len(seeds)} refits on random subsamples of {n_sub:,} of the {n:,} "
                f"respondents ({n_sub / n:.0%})")
    if stable:
        verdict = (
            f"Stable: {k} segments reproduce across {runs} (mean ARI {mean_ari:.2f}; "
            f"every segment's Jaccard >= {MIN_JACCARD}); {unassigned:.0%} unassigned."
        )
    else:
        why = []
        if k < 2:
            why.append(f"the model found {k} segment{'s' if k != 1 else ''}")
        if mean_ari < MIN_ARI:
            why.append(f"mean ARI {mean_ari:.2f} is below {MIN_ARI:.2f} over {runs}")
        if unassigned > MAX_UNASSIGNED:
            why.append(f"{unassigned:.0%} of respondents are unassigned")
        if unstable:
            why.append(f"segment(s) {', '.join(map(str, unstable))} dissolve on resampling (Jaccard < {MIN_JACCARD})")
        verdict = "No stable segments: " + "; ".join(why) + "."
        keep = [int(s) for s in table.index[table["jaccard_mean"] >= 0.75]]
        if keep and k >= 2:
            verdict += (
                f" Segment(s) {', '.join(map(str, keep))} do reproduce (Jaccard >= 0.75) "
                "and may be described on their own, as exploratory findings."
            )
    return StabilityResult(
        mean_ari=mean_ari,
        ari=pd.Series(aris, index=pd.Index(seeds, name="seed"), name="ari"),
        segments=table,
        unstable_segments=unstable,
        n_segments=k,
        unassigned_share=unassigned,
        boot_n_segments=boot_k,
        stable=stable,
        verdict=verdict,
    )


#: `stability` runs its refits in parallel (n_jobs=None) from this many respondents per
#: subsample: a refit then takes longer than starting a worker process.
_PARALLEL_MIN_ROWS = 5000


def _subsample_refit(base, F, n_sub, seed):
    """One refit of `stability`: the subsample and the model both come from ``seed``."""
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(F), n_sub, replace=False))
    mb = clone(base).set_params(random_state=seed)
    mb._labels_only_fit = True     # only its labels are compared: no membership vectors
    mb.fit(F[idx])
    return idx, np.asarray(mb.labels_), int(mb.n_segments_)


# --------------------------------------------------------------------------- figures
def visualize_sweep(table, *, min_ari=MIN_ARI):
    """Stability and unassigned share against the number of segments, per setting.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("Stability on subsamples (ARI)", "Unassigned share")
    )
    params_cols = [c for c in table.columns if c in PersonaModel().get_params()]
    fam = table.get("clusterer", pd.Series(["model"] * len(table), index=table.index)).astype(str)
    if "reducer" in table:
        fam = fam + " on " + table["reducer"].astype(str)
    hover = table.apply(lambda r: "<br>".join(f"{c}={r[c]}" for c in params_cols if pd.notna(r[c])), axis=1)
    for i, name in enumerate(pd.unique(fam)):
        sel = fam == name
        sub = table[sel]
        for col, ycol in ((1, "stability_ari"), (2, "unassigned_share")):
            fig.add_trace(
                go.Scatter(
                    x=sub["n_segments"],
                    y=sub[ycol],
                    mode="markers",
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    marker=dict(size=10, color=_COLORS[i % len(_COLORS)]),
                    text=hover[sel],
                    hovertemplate="%{text}<br>segments=%{x}<br>" + ycol + "=%{y:.2f}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    fig.add_hline(y=min_ari, line_dash="dash", row=1, col=1, annotation_text=f"stable ({min_ari})")
    fig.add_hline(y=MAX_UNASSIGNED, line_dash="dash", row=1, col=2)
    fig.update_xaxes(title_text="segments")
    fig.update_yaxes(range=[-0.05, 1.05])
    fig.update_layout(title="Segmentation sweep", template="plotly_white")
    return fig


def visualize_stability(result):
    """Per-segment reproducibility (clusterwise Jaccard) of a `stability` result.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go

    seg = result.segments
    colors = ["#d62728" if u else "#2ca02c" for u in seg["unstable"]]
    fig = go.Figure(
        go.Bar(
            x=[f"Segment {s}" for s in seg.index],
            y=seg["jaccard_mean"],
            error_y=dict(
                type="data",
                symmetric=False,
                array=np.zeros(len(seg)),
                arrayminus=(seg["jaccard_mean"] - seg["jaccard_min"]).to_numpy(),
            ),
            marker_color=colors,
            customdata=np.c_[seg["share"], seg["n"]],
            hovertemplate="%{x}<br>Jaccard %{y:.2f}<br>%{customdata[0]:.1%} (n=%{customdata[1]})<extra></extra>",
        )
    )
    fig.add_hline(y=MIN_JACCARD, line_dash="dash", annotation_text="dissolves below 0.6")
    fig.update_yaxes(range=[0, 1.05], title_text="clusterwise Jaccard (mean; bar to worst)")
    fig.update_layout(
        title=f"Segment reproducibility: mean ARI {result.mean_ari:.2f}<br><sup>{_wrap(result.verdict)}</sup>",
        template="plotly_white",
    )
    return fig


def _wrap(text, width=110):
    import textwrap

    return "<br>".join(textwrap.wrap(text, width))


_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
