"""Segmentation: respondents -> segments (the model behind the personas).

`PersonaModel` is one scikit-learn estimator with three swappable stages::

    encoder  (Survey -> numeric features; pass-through for arrays/DataFrames)
      -> reducer   ("umap" | "pca" | "identity"/None | any object with fit/transform)
      -> clusterer ("gmm" | "hdbscan" | "kmeans" | "kprototypes" | any object with fit)

Every respondent gets a hard label (``-1`` = unassigned, HDBSCAN noise; reported in
``unassigned_share_``, never hidden) and a soft membership row (``membership_``).
Segments are renumbered by size, 0 = largest, so reruns read the same.

Operations on a fitted model are free functions, hdbscan-style:
`hybrid_respondents(model)` and `assign_wave(model, new_survey)`.

``PersonaModel()`` alone is UMAP + HDBSCAN; a pipeline run (``reducer``/``clusterer``
"auto") instead sweeps k-means on the scaled features for 2-7 segments and keeps the finest
solution that reproduces and that no single input or missing-answer pattern explains
(``personalab.diagnostics``): measured on seven real surveys with known groups, UMAP +
HDBSCAN reproduced on two. Why: ``docs/segmentation_defaults.md``.
"""
from __future__ import annotations

import inspect
import math
import os
import sys
import typing
import warnings
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from personalab.errors import ConfigError, InputError
from personalab.neighbors import kneighbors

__all__ = [
    "UNASSIGNED",
    "PersonaModel",
    "SegmentationError",
    "check_segmentable",
    "hybrid_respondents",
    "assign_wave",
    "IdentityReducer",
    "KnnUMAP",
    "distance_membership",
    "membership_temperature",
]

#: Label given to respondents no segment claims (HDBSCAN noise).
UNASSIGNED = -1

_REDUCERS = ("umap", "pca", "identity")
_CLUSTERERS = ("gmm", "hdbscan", "kmeans", "kprototypes")

# Defaults chosen from measurements; see docs/segmentation_defaults.md.
_DEFAULT_N_NEIGHBORS = 15
#: HDBSCAN min_samples under min_samples='auto' (never above min_cluster_size)
_AUTO_MIN_SAMPLES = 40
_DEFAULT_N_COMPONENTS = 5
#: UMAP layout epochs (docs/segmentation_defaults.md, "Layout epochs")
_DEFAULT_N_EPOCHS = 100
_DEFAULT_FIT_SAMPLE_SIZE = 10_000
_N_ASSIGN_NEIGHBORS = 15
_MAX_AUTO_SEGMENTS = 12
_BIC_SAMPLE_SIZE = 5000
#: Membership of its own segment that the median fitted respondent gets under a k-means
#: model's distance softmax (a clear majority: 3 to 1 against all other segments together).
MEDIAN_MEMBERSHIP = 0.75


# --------------------------------------------------------------------------- lazy imports
def _import_umap():
    """Import umap-learn, turning on numba's on-disk cache for its jitted functions.

    umap-learn decorates almost none of its functions with ``cache=True``, so every fresh
    process spends ~30-45 s compiling them. Enabling the cache on its module-level
    dispatchers (before their first call) cuts a fresh-process fit by that much on the
    second run. Set ``PERSONALAB_NUMBA_CACHE=0`` to opt out. The cache lives where numba
    puts it: ``NUMBA_CACHE_DIR`` when set (the Makefile sets ``.cache/numba``).
    """
    try:
        import umap  # noqa: F401
    except ImportError as exc:  # pragma: no cover - umap-learn is a dependency
        raise ConfigError(
            "reducer='umap' needs the umap-learn package.",
            fix="pip install umap-learn, or use reducer='pca'.",
        ) from exc
    if os.environ.get("PERSONALAB_NUMBA_CACHE", "1") != "0":
        _enable_numba_cache(("umap", "pynndescent"))
        # a few pynndescent functions hold dynamic globals and stay uncached; numba says
        # so once per process, which is noise to a researcher
        warnings.filterwarnings("ignore", message="Cannot cache compiled function")
    return umap


_CACHE_ENABLED: set[str] = set()


def _enable_numba_cache(packages):
    try:
        from numba.core.registry import CPUDispatcher
    except ImportError:  # pragma: no cover
        return
    for name, module in list(sys.modules.items()):
        if module is None or name in _CACHE_ENABLED or name.split(".")[0] not in packages:
            continue
        _CACHE_ENABLED.add(name)
        for obj in list(vars(module).values()):
            if (
                isinstance(obj, CPUDispatcher)
                and type(obj._cache).__name__ == "NullCache"
                and not obj.signatures  # only before the first compilation
            ):
                try:
                    obj.enable_caching()
                except Exception:  # pragma: no cover - a function numba cannot cache
                    pass


def _import_hdbscan():
    try:
        import hdbscan
        import hdbscan.prediction  # noqa: F401
    except ImportError as exc:  # pragma: no cover
        raise ConfigError(
            "clusterer='hdbscan' needs the hdbscan package.",
            fix="pip install hdbscan, or use clusterer='gmm' or 'kmeans'.",
        ) from exc
    return hdbscan


def _is_survey(X) -> bool:
    """A personalab Survey, recognised without importing personalab.survey."""
    return type(X).__name__ == "Survey" and hasattr(X, "codebook") and hasattr(X, "data")


class SegmentationError(InputError):
    """The respondents cannot be segmented as they are (too few, all alike, bad weights).

    An :class:`~personalab.errors.InputError` (so a ``PersonaLabError`` and a
    ``ValueError``): the message names the file, the column and the rows, and a fix.
    """


def _where(X, positions=None):
    """(file, file rows) of a Survey's respondents at ``positions`` (all when None)."""
    if not _is_survey(X):
        return None, None
    source = getattr(X, "source", None)
    rows = getattr(X, "file_rows", None)
    if rows is None or len(rows) != len(X.data):
        return source, None
    rows = np.asarray(rows)
    if positions is not None:
        rows = rows[np.asarray(positions)]
    return source, [int(r) for r in rows[:50]]


def check_segmentable(survey, *, min_respondents=20):
    """Refuse a Survey that cannot be segmented, before any model is fitted.

    Raises
    ------
    SegmentationError
        Fewer than ``min_respondents`` respondents, or every respondent gave the same
        answers to every segmentation question. The message names the file, the
        segmentation questions and the rows, and says what to do; the ingest step's
        data-quality tables (``exclusions.csv``, ``quality_flags.csv``) are already written
        by then.
    """
    n = len(survey.data)
    source, rows = _where(survey)
    if n < min_respondents:
        raise SegmentationError(
            f"only {n} respondent{'s are' if n != 1 else ' is'} left to segment after the "
            f"quality exclusions; segmenting needs at least {min_respondents} (two segments "
            "that reproduce on 80% subsamples)",
            file=source, row=rows or None,
            fix="collect more responses, or check exclusions.csv and quality_flags.csv (the "
                "data-quality report of the ingest step) for respondents excluded by mistake")
    from personalab.features import question_blocks

    frames = [f for _, _, f in question_blocks(survey, "segment") if f is not None]
    if frames:
        answers = pd.concat(frames, axis=1).astype(object)
        answers = answers.where(answers.notna(), "<no answer>")
        if len(answers.drop_duplicates()) <= 1:
            cols = [str(c) for c in answers.columns]
            raise SegmentationError(
                f"all {n} respondents gave identical answers to every segmentation question, "
                "so there is nothing to segment on",
                file=source, column=", ".join(cols[:10]) + (" ..." if len(cols) > 10 else ""),
                row=rows or None,
                fix="check the export (a test or duplicated file?) and the codebook's "
                    "segment-role questions")


# --------------------------------------------------------------------------- stand-ins
class IdentityReducer(TransformerMixin, BaseEstimator):
    """The "no reduction" stage: passes features through unchanged."""

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X):
        return np.asarray(X, dtype=float)


# --------------------------------------------------------------------------- the model
class KnnUMAP(TransformerMixin, BaseEstimator):
    """UMAP on an exact k-nearest-neighbour graph computed by scikit-learn.

    umap-learn finds neighbours with pynndescent, several of whose numba functions cannot be
    cached: every fresh process (each notebook kernel) spends 20-40 s compiling them before
    the first fit. An exact neighbour graph from ``sklearn.neighbors.NearestNeighbors``
    costs well under a second at the sizes PersonaModel fits (at most ``fit_sample_size``
    rows) and is at least as good as the approximate one, so UMAP gets it through its
    ``precomputed_knn`` argument and pynndescent is never compiled.

    New respondents are placed at the inverse-distance-weighted mean embedding of their
    ``transform_neighbors`` nearest fitted respondents (umap-learn's own ``transform``
    needs pynndescent's search index); a fitted respondent maps onto itself.

    Parameters
    ----------
    n_neighbors, n_components, min_dist, n_epochs, random_state, n_jobs
        As for ``umap.UMAP``.
    transform_neighbors : int, default=15

    Attributes
    ----------
    embedding_ : ndarray (n_fitted, n_components)
    nn_ : fitted NearestNeighbors
    umap_ : the fitted ``umap.UMAP``
    """

    def __init__(self, n_neighbors=15, n_components=5, min_dist=0.0, n_epochs=200,
                 random_state=None, n_jobs=1, transform_neighbors=15):
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.min_dist = min_dist
        self.n_epochs = n_epochs
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.transform_neighbors = transform_neighbors

    def fit(self, X, y=None):
        self.fit_transform(X)
        return self

    def fit_transform(self, X, y=None):
        from sklearn.neighbors import NearestNeighbors

        X = np.asarray(X, dtype=float)
        k = max(2, min(self.n_neighbors, len(X) - 1))
        self.nn_ = NearestNeighbors(n_neighbors=k).fit(X)
        dists, idx = kneighbors(self.nn_, X, k, anchor=np.arange(len(X)))
        umap = _import_umap()
        with warnings.catch_warnings():
            # "precomputed_knn without a search index: transform unavailable" - we place new
            # respondents ourselves (see transform)
            warnings.simplefilter("ignore", UserWarning)
            self.umap_ = umap.UMAP(n_neighbors=k, n_components=self.n_components,
                                   min_dist=self.min_dist, n_epochs=self.n_epochs,
                                   random_state=self.random_state, n_jobs=self.n_jobs,
                                   precomputed_knn=(idx, dists, None))
            self.embedding_ = np.asarray(self.umap_.fit_transform(X), dtype=float)
        return self.embedding_

    def transform(self, X):
        check_is_fitted(self, "embedding_")
        X = np.asarray(X, dtype=float)
        k = max(1, min(self.transform_neighbors, len(self.embedding_)))
        dists, idx = kneighbors(self.nn_, X, k)
        w = 1.0 / np.maximum(dists, 1e-12)
        w /= w.sum(axis=1, keepdims=True)
        return np.einsum("ij,ijk->ik", w, self.embedding_[idx])


class Placement(typing.NamedTuple):
    """Respondents placed by :meth:`PersonaModel.place`."""

    labels: np.ndarray
    membership: np.ndarray
    embedding: np.ndarray
    confidence: np.ndarray
    strength: np.ndarray
    index: object


class PersonaModel(ClusterMixin, TransformerMixin, BaseEstimator):
    """Segment respondents: encoder -> reducer -> clusterer, each stage swappable.

    Parameters
    ----------
    encoder : "auto", None or transformer, default="auto"
        "auto": a personalab ``Survey`` goes through ``personalab.features.FeatureBuilder()``;
        arrays and DataFrames pass through unchanged (scale them yourself). None: pass
        through. Any object with ``fit_transform``/``transform``: used (cloned) as is.
    reducer : {"umap", "pca", "identity"}, None or transformer, default="umap"
        Dimension reduction before clustering. UMAP is run with ``min_dist=0`` (dense,
        clusterable embeddings). None/"identity" clusters the features directly.
    clusterer : {"hdbscan", "gmm", "kmeans", "kprototypes"} or estimator, default="hdbscan"
        "gmm": Gaussian mixture, posteriors are the soft membership; the number of
        segments is chosen by BIC unless ``n_segments`` is set. "hdbscan": density
        clusters with ``prediction_data=True``; respondents in no dense region are
        unassigned (-1). "kmeans": KMeans (k by BIC as for gmm), soft membership from a
        softmax over squared distances to the centres, its temperature set on the fitted
        respondents so that the median one holds 0.75 of its own segment
        (:func:`membership_temperature`; ``membership_temperature_``). "kprototypes": k-prototypes on the encoded features (integer
        columns with few levels are treated as categorical), for categorical-dominated
        inputs; needs ``n_segments``. Any object with ``fit`` and ``labels_`` or
        ``predict`` (``predict_proba`` is used for membership when present).
    min_segment_share : float, default=0.05
        Smallest segment worth a persona, as a share of respondents. HDBSCAN:
        ``min_cluster_size = ceil(min_segment_share * n)``; gmm/kmeans: caps the number
        of segments BIC may pick at ``1 / min_segment_share`` (and at 12). gmm, kmeans
        and kprototypes: a cluster with fewer than ``max(2, ceil(min_segment_share * n))``
        of the n fitted respondents (outliers k-means put in a cluster of their own) is
        dissolved: its respondents are unassigned (-1), see ``dissolved_``.
    n_neighbors : int, default=15
        UMAP neighbourhood size (capped at n - 1).
    n_components : int, default=5
        Dimensions of the reduced space (umap, pca).
    n_epochs : int, default=100
        UMAP layout epochs. Every epoch costs the same, and the layout is most of a
        seeded fit (single-threaded so that it reproduces). 100 found the planted
        segments exactly as 200 did, with the same stability, in a third less
        time (docs/segmentation_defaults.md, "Layout epochs").
    min_samples : int, "auto" or None, default="auto"
        HDBSCAN ``min_samples``: how many neighbours define a respondent's local density.
        "auto" = 40, or min_cluster_size when that is smaller (small waves). None means
        HDBSCAN's own default (= min_cluster_size), which leaves far more respondents
        unassigned on real surveys. docs/segmentation_defaults.md has the measurements.
    n_segments : int or None, default=None
        Fixed number of segments for gmm/kmeans/kprototypes; None chooses it (BIC).
    attach_unassigned : bool, default=False
        Attach each unassigned respondent to the segment with its highest soft
        membership. ``unassigned_share_`` still reports how many were unassigned, and
        ``confidence_`` holds that membership (a value in (0, 1]; HDBSCAN membership
        vectors sum to 1 over segments, so 1/k means "no preference") so weak
        attachments can be filtered.
    fit_sample_size : int or None, default=10000
        Above this many respondents the reducer and clusterer are fitted on a random
        sample of this size; every other respondent takes the (inverse-distance weighted)
        embedding, membership and segment of its 15 nearest fitted respondents in feature
        space (recorded in ``notes_``). None fits on everyone.
    random_state : int, RandomState or None, default=None
        Seed for UMAP, sampling, k-means and GMM. Same data + same int -> same labels.

    Attributes
    ----------
    labels_ : ndarray of shape (n_respondents,)
        Segment per respondent, 0 = largest; -1 = unassigned.
    membership_ : DataFrame (respondents x segments)
        Soft membership; rows sum to 1 when the model has at least one segment.
    membership_temperature_ : float or None
        k-means only: the temperature ``T`` of the membership softmax
        ``exp(-d2_k / T) / sum_j exp(-d2_j / T)`` over squared distances ``d2`` to the
        segments' centres (dissolved clusters left out), set so that the median fitted
        respondent in a segment holds ``MEDIAN_MEMBERSHIP`` (0.75) of it; the same
        calibration as ``personalab.waves.kmeans_membership``. None for other clusterers.
    probabilities_ : ndarray
        Strength of each respondent's hard assignment (HDBSCAN: its ``probabilities_``;
        otherwise the largest membership).
    confidence_ : ndarray
        Largest soft membership per respondent.
    embedding_ : ndarray (n_respondents, n_components)
        Respondents in the reduced space.
    n_segments_ : int
    unassigned_share_ : float
    unassigned_reasons_ : Series of str
        Indexed by the unassigned respondents (label -1 before any attaching): why each
        is unassigned (a dissolved cluster too small for a persona, HDBSCAN noise, or
        placed next to unassigned fitted respondents).
    dissolved_ : list of dict
        Clusters dissolved for holding fewer respondents than a segment needs
        (``cluster``: the clusterer's id, ``n``: respondents), also said in ``warnings_``.
        Share of respondents labelled -1 by the clusterer (before any attaching).
    segment_sizes_ : DataFrame
        Indexed by segment (-1 last when present): ``n`` and ``share``.
    respondent_ids_ : Index
        Row labels of the input (respondent ids for a Survey/DataFrame).
    encoder_, reducer_, clusterer_ : the fitted stages.
    fit_indices_ : ndarray
        Rows the reducer and clusterer were fitted on (all rows unless sampled).
    notes_ : list of str
        What was resolved and how (k chosen by BIC, weights not honoured, sampling...).
    warnings_ : list of str
        Things a researcher must read: many unassigned, tiny segments, one segment.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, _ = make_blobs(600, centers=3, random_state=0)
    >>> model = PersonaModel(reducer="pca", clusterer="kmeans", n_segments=3, random_state=0)
    >>> model.fit(X).n_segments_
    3
    """

    def __init__(
        self,
        encoder="auto",
        reducer="umap",
        clusterer="hdbscan",
        min_segment_share=0.05,
        n_neighbors=_DEFAULT_N_NEIGHBORS,
        n_components=_DEFAULT_N_COMPONENTS,
        n_epochs=_DEFAULT_N_EPOCHS,
        min_samples="auto",
        n_segments=None,
        attach_unassigned=False,
        fit_sample_size=_DEFAULT_FIT_SAMPLE_SIZE,
        random_state=None,
    ):
        self.encoder = encoder
        self.reducer = reducer
        self.clusterer = clusterer
        self.min_segment_share = min_segment_share
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.n_epochs = n_epochs
        self.min_samples = min_samples
        self.n_segments = n_segments
        self.attach_unassigned = attach_unassigned
        self.fit_sample_size = fit_sample_size
        self.random_state = random_state

    # ------------------------------------------------------------------ scikit-learn tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, sample_weight=None):
        """Fit the encoder, reducer and clusterer and label every respondent.

        Parameters
        ----------
        X : Survey, DataFrame or array-like of shape (n_respondents, n_features)
        y : ignored
        sample_weight : array-like of shape (n_respondents,), optional
            Honoured where the clusterer supports it (kmeans, kprototypes, custom
            clusterers whose ``fit`` takes ``sample_weight``); otherwise recorded in
            ``notes_``. A Survey's codebook weights are used when none are given.

        Returns
        -------
        self
        """
        self._check_params()
        self.notes_, self.warnings_ = [], []
        rng = check_random_state(self.random_state)
        seed = self._seed(rng)

        if sample_weight is None and _is_survey(X):
            w = np.asarray(X.weights(), dtype=float)
            if not np.allclose(w, w[0]):
                sample_weight = w
                self.notes_.append("Used the survey's weight column as sample_weight.")
        if _is_survey(X):
            n_rows = len(X.data)
        else:
            shape = getattr(X, "shape", None) or np.asarray(X).shape
            n_rows = shape[0] if len(shape) else 0
        if n_rows < 2:
            source, rows = _where(X)
            raise SegmentationError(
                f"PersonaModel needs at least 2 respondents; got n_samples = {n_rows}",
                file=source, row=rows or None,
                fix="segment a wave with more respondents (the segment step needs 20)")
        if sample_weight is not None:
            sample_weight = _checked_weight(sample_weight, X, n_rows)
        self.encoder_ = self._make_encoder(X)
        F, ids = self._encode(X, fit=True)
        n = F.shape[0]
        self.respondent_ids_ = ids
        if n >= 2 and np.all(np.ptp(F, axis=0) == 0):
            source, rows = _where(X)
            raise SegmentationError(
                f"all {n} respondents have identical features: there is nothing to segment on",
                file=source, row=rows or None,
                fix="check the export and the codebook's segment-role questions")

        # Fit on a representative random sample when the wave is large.
        if self.fit_sample_size is not None and n > self.fit_sample_size:
            fit_idx = np.sort(rng.choice(n, self.fit_sample_size, replace=False))
            self.notes_.append(
                f"Fitted the reducer and clusterer on a random sample of {len(fit_idx):,} "
                f"of {n:,} respondents; the rest were assigned from their "
                f"{_N_ASSIGN_NEIGHBORS} nearest fitted respondents."
            )
        else:
            fit_idx = np.arange(n)
        rest = np.setdiff1d(np.arange(n), fit_idx, assume_unique=True)
        self.fit_indices_ = fit_idx
        F_fit = F[fit_idx]
        w_fit = None if sample_weight is None else sample_weight[fit_idx]

        self.reducer_ = self._make_reducer(len(fit_idx), F.shape[1], seed)
        Z_fit = np.asarray(self.reducer_.fit_transform(F_fit), dtype=float)
        if w_fit is not None:
            self.notes_.append(
                f"The reducer ({type(self.reducer_).__name__}) does not take weights: "
                "the reduced space is unweighted."
            )
        Z = np.empty((n, Z_fit.shape[1]))
        Z[fit_idx] = Z_fit

        C_fit = F_fit if self._clusters_features() else Z_fit
        self.clusterer_ = self._make_clusterer(C_fit, seed)
        raw_fit = self._fit_clusterer(C_fit, w_fit)
        strength = np.empty(n)
        strength[fit_idx] = self._raw_strength(training=True, labels=raw_fit)

        self._set_label_order(raw_fit)
        self._dissolve_tiny(raw_fit)
        self.membership_temperature_ = (None if self._labels_only()
                                        else self._calibrate_membership(C_fit, raw_fit))
        labels = np.empty(n, dtype=int)
        labels[fit_idx] = self._relabel(raw_fit)
        member = np.zeros((n, self.n_segments_))
        if not self._labels_only():
            member[fit_idx] = self._membership(C_fit, training=True)
        if len(rest):
            # The rest of a large wave: each respondent takes the inverse-distance-weighted
            # average of its nearest fitted respondents (in feature space) for embedding,
            # membership and label. umap.transform + hdbscan.approximate_predict give the
            # same segments but cost ~1.3 ms per respondent (about 2 minutes at 100,000).
            Z[rest], labels[rest], member[rest], strength[rest] = _knn_assign(
                F_fit, F[rest], Z_fit, labels[fit_idx], member[fit_idx], strength[fit_idx]
            )
        self.embedding_ = Z
        if len(rest) and self.n_segments_ > 1:
            labels, member = self._resort_by_size(labels, member)

        if type(self.clusterer_).__name__ != "HDBSCAN" and self.n_segments_:
            strength = np.where(labels != UNASSIGNED, member.max(axis=1), 0.0)
        labels_ref, strength_ref = labels.copy(), strength.copy()
        unassigned = labels == UNASSIGNED
        self.unassigned_reasons_ = self._unassigned_reasons(labels, raw_fit, fit_idx, ids)
        self.unassigned_share_ = float(unassigned.mean())
        self.confidence_ = member.max(axis=1) if self.n_segments_ else np.zeros(n)
        if self.attach_unassigned and unassigned.any() and self.n_segments_:
            labels[unassigned] = member[unassigned].argmax(axis=1)
            strength[unassigned] = self.confidence_[unassigned]
            self.notes_.append(
                f"Attached {int(unassigned.sum()):,} unassigned respondents to the segment "
                "with their highest membership (see confidence_)."
            )
        self.labels_ = labels
        self.probabilities_ = strength
        # what place() needs to put further respondents where fit put the unsampled ones
        self._reference_ = (F_fit, self.embedding_[fit_idx], labels_ref[fit_idx],
                            member[fit_idx], strength_ref[fit_idx])
        self.membership_ = pd.DataFrame(
            member, index=ids, columns=pd.RangeIndex(self.n_segments_, name="segment")
        )
        self.segment_sizes_ = _segment_sizes(labels, raw_labels=None)
        if self.attach_unassigned:
            self.unassigned_mask_ = unassigned
        self._collect_warnings(labels)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit and return ``labels_``."""
        return self.fit(X, sample_weight=sample_weight).labels_

    # ------------------------------------------------------------------ use a fitted model
    def transform(self, X):
        """Respondents in the reduced space (what the clusterer sees, for umap/pca)."""
        check_is_fitted(self, "labels_")
        F, _ = self._encode(X, fit=False)
        return np.asarray(self.reducer_.transform(F), dtype=float)

    def predict(self, X):
        """Segment of new respondents (-1 = unassigned unless ``attach_unassigned``).

        HDBSCAN uses ``hdbscan.approximate_predict``; gmm/kmeans their ``predict``.
        """
        check_is_fitted(self, "labels_")
        F, _ = self._encode(X, fit=False)
        C = F if self._clusters_features() else np.asarray(self.reducer_.transform(F), dtype=float)
        raw, _ = self._predict_raw(C)
        labels = self._relabel(raw)
        if self.attach_unassigned and self.n_segments_:
            miss = labels == UNASSIGNED
            if miss.any():
                labels[miss] = self._membership(C[miss], training=False).argmax(axis=1)
        return labels

    def place(self, X):
        """Place respondents the way :meth:`fit` places a large wave's unsampled ones.

        Each respondent takes the inverse-distance-weighted embedding, membership and
        segment of its nearest fitted respondents in feature space, exactly as ``fit``
        assigns everyone outside its fit sample (so a wave fitted on a sample and placed
        part by part, e.g. by the Dask engine, gets the labels ``fit`` would give those
        respondents). Much faster than :meth:`predict` (no UMAP transform); each row is
        placed independently of the others.

        Parameters
        ----------
        X : Survey, DataFrame or array-like
            Respondents with the columns the model was fitted on.

        Returns
        -------
        Placement
            ``labels`` (-1 = unassigned unless ``attach_unassigned``), ``membership``
            (n, n_segments_), ``embedding`` (n, n_components), ``confidence`` and
            ``strength``, and ``index`` (respondent ids).
        """
        check_is_fitted(self, "labels_")
        F, ids = self._encode(X, fit=False)
        F_fit, Z_fit, labels_fit, member_fit, strength_fit = self._reference_
        Z, labels, member, strength = _knn_assign(F_fit, F, Z_fit, labels_fit, member_fit,
                                                  strength_fit)
        labels = np.asarray(labels, dtype=int)
        if type(self.clusterer_).__name__ != "HDBSCAN" and self.n_segments_:
            strength = np.where(labels != UNASSIGNED, member.max(axis=1), 0.0)
        confidence = member.max(axis=1) if self.n_segments_ else np.zeros(len(labels))
        if self.attach_unassigned and self.n_segments_:
            miss = labels == UNASSIGNED
            labels[miss] = member[miss].argmax(axis=1)
            strength = np.where(miss, confidence, strength)
        return Placement(labels, member, Z, confidence, strength, ids)

    def predict_proba(self, X):
        """Soft membership of new respondents, ndarray (n, n_segments_)."""
        check_is_fitted(self, "labels_")
        F, _ = self._encode(X, fit=False)
        C = F if self._clusters_features() else np.asarray(self.reducer_.transform(F), dtype=float)
        return self._membership(C, training=False)

    def membership(self, X):
        """Soft membership of new respondents as a DataFrame (respondents x segments)."""
        proba = self.predict_proba(X)
        ids = X.data.index if _is_survey(X) else getattr(X, "index", None)
        if ids is None or len(ids) != len(proba):
            ids = pd.RangeIndex(len(proba))
        return pd.DataFrame(proba, index=ids, columns=pd.RangeIndex(self.n_segments_, name="segment"))

    # ------------------------------------------------------------------ internals: params
    def _check_params(self):
        share = self.min_segment_share
        if not (isinstance(share, (float, int)) and 0 < share < 1):
            raise ConfigError(
                f"min_segment_share must be a share between 0 and 1; got {share!r}.",
                fix="Use e.g. 0.05 for 'a segment needs at least 5% of respondents'.",
            )
        if self.n_segments is not None and not (
            isinstance(self.n_segments, Integral) and self.n_segments >= 1
        ):
            raise ConfigError(f"n_segments must be a positive integer or None; got {self.n_segments!r}.")
        if self.fit_sample_size is not None and not (
            isinstance(self.fit_sample_size, Integral) and self.fit_sample_size >= 10
        ):
            raise ConfigError(f"fit_sample_size must be an integer >= 10 or None; got {self.fit_sample_size!r}.")
        if not (isinstance(self.n_epochs, Integral) and not isinstance(self.n_epochs, bool)
                and self.n_epochs >= 1):
            raise ConfigError(f"n_epochs must be a positive integer; got {self.n_epochs!r}.",
                              fix="Use e.g. 100 (the default) or 200.")
        ms = self.min_samples
        if not (ms is None or ms == "auto" or (isinstance(ms, Integral) and ms >= 1)):
            raise ConfigError(f"min_samples must be a positive integer, 'auto' or None; got {ms!r}.")
        if isinstance(self.reducer, str) and self.reducer not in _REDUCERS:
            raise ConfigError(
                f"Unknown reducer {self.reducer!r}.",
                fix=f"Use one of {', '.join(_REDUCERS)}, None, or an object with fit/transform.",
            )
        if isinstance(self.clusterer, str) and self.clusterer not in _CLUSTERERS:
            raise ConfigError(
                f"Unknown clusterer {self.clusterer!r}.",
                fix=f"Use one of {', '.join(_CLUSTERERS)} or an object with fit and labels_/predict.",
            )

    @staticmethod
    def _seed(rng):
        return int(rng.randint(np.iinfo(np.int32).max))

    def _family(self):
        return self.clusterer if isinstance(self.clusterer, str) else "custom"

    def _clusters_features(self):
        return self.clusterer == "kprototypes"

    # ------------------------------------------------------------------ internals: encoder
    def _make_encoder(self, X):
        enc = self.encoder
        if enc is None or enc == "passthrough":
            return None
        if isinstance(enc, str):
            if enc != "auto":
                raise ConfigError(f"Unknown encoder {enc!r}.", fix="Use 'auto', None or a transformer.")
            if not _is_survey(X):
                return None
            try:
                from personalab.features import FeatureBuilder
            except ImportError as exc:  # pragma: no cover - during development only
                raise ConfigError(
                    "encoder='auto' on a Survey needs personalab.features.FeatureBuilder.",
                    fix="Pass a numeric feature DataFrame instead, or encoder=<your transformer>.",
                ) from exc
            return FeatureBuilder()
        return clone(enc) if hasattr(enc, "get_params") else enc

    def _encode(self, X, fit):
        if self.encoder_ is not None:
            F = self.encoder_.fit_transform(X) if fit else self.encoder_.transform(X)
        else:
            if _is_survey(X):
                raise ConfigError(
                    "This model has no encoder, so it cannot read a Survey.",
                    fix="Fit with encoder='auto' or pass the feature matrix.",
                )
            F = X
        ids = getattr(F, "index", None)
        if F is X and not isinstance(X, pd.DataFrame):
            ids = None
        if self._clusters_features() and isinstance(F, pd.DataFrame):
            F = _codes_for_categoricals(F)
        F = validate_data(self, F, reset=fit, dtype=np.float64, ensure_min_samples=2 if fit else 1)
        if ids is None or len(ids) != F.shape[0]:
            ids = pd.RangeIndex(F.shape[0], name="respondent")
        return F, ids

    # ------------------------------------------------------------------ internals: reducer
    def _make_reducer(self, n, p, seed):
        r = self.reducer
        if r is None or r == "identity":
            return IdentityReducer()
        if r == "pca":
            from sklearn.decomposition import PCA

            return PCA(n_components=max(1, min(self.n_components, p, n)), random_state=seed)
        if r == "umap":
            nn = max(2, min(self.n_neighbors, n - 1))
            if nn != self.n_neighbors:
                self.notes_.append(f"n_neighbors lowered to {nn} (only {n} respondents).")
            return KnnUMAP(
                n_neighbors=nn,
                n_components=max(1, min(self.n_components, p)),
                min_dist=0.0,
                random_state=seed if self.random_state is not None else None,
                # no parallel threads when seeded: UMAP is only reproducible single-threaded
                n_jobs=1 if self.random_state is not None else -1,
                n_epochs=self.n_epochs,
            )
        if not (hasattr(r, "fit") and hasattr(r, "transform")):
            raise ConfigError(
                f"reducer {type(r).__name__} has no fit/transform.",
                fix="Use 'umap', 'pca', None or an object with fit and transform.",
            )
        return clone(r) if hasattr(r, "get_params") else r

    # ------------------------------------------------------------------ internals: clusterer
    def _k_max(self, n):
        return max(1, min(_MAX_AUTO_SEGMENTS, int(math.floor(1 / self.min_segment_share)), n - 1))

    def _choose_k(self, Z, seed):
        """Number of segments by BIC of a full-covariance Gaussian mixture."""
        from sklearn.mixture import GaussianMixture

        from threadpoolctl import threadpool_limits

        if len(Z) > _BIC_SAMPLE_SIZE:  # BIC's choice is stable long before this many rows
            rows = np.random.default_rng(seed).choice(len(Z), _BIC_SAMPLE_SIZE, replace=False)
            Z = Z[rows]
        bics = {}
        # small dense matrices: BLAS threads only add overhead (and contend on 2 cores)
        with threadpool_limits(1, user_api="blas"):
            for k in range(1, self._k_max(len(Z)) + 1):
                gm = GaussianMixture(k, covariance_type="full", random_state=seed, reg_covar=1e-5)
                try:
                    bics[k] = gm.fit(Z).bic(Z)
                except ValueError:  # too few points for that many components
                    break
        k = min(bics, key=bics.get)
        self.bic_ = pd.Series(bics, name="bic").rename_axis("n_segments")
        self.notes_.append(f"Chose {k} segments by BIC over k = 1..{max(bics)}.")
        if k == 1:
            self.warnings_.append(
                "BIC prefers a single segment: the data shows no distinct segments."
            )
        return k

    def _make_clusterer(self, C, seed):
        c = self.clusterer
        n = len(C)
        if c == "hdbscan":
            hdbscan = _import_hdbscan()
            mcs = self.min_segment_size(n)
            ms = self.min_samples
            if ms == "auto":
                ms = min(_AUTO_MIN_SAMPLES, mcs)
            ms = None if ms is None else max(1, min(ms, n - 1))
            return hdbscan.HDBSCAN(min_cluster_size=mcs, min_samples=ms,
                                   prediction_data=not self._labels_only())
        if c in ("gmm", "kmeans"):
            k = self.n_segments if self.n_segments is not None else self._choose_k(C, seed)
            k = min(k, n)
            if c == "gmm":
                from sklearn.mixture import GaussianMixture

                return GaussianMixture(k, covariance_type="full", n_init=3, random_state=seed, reg_covar=1e-5)
            from sklearn.cluster import KMeans

            return KMeans(k, n_init=10, random_state=seed)
        if c == "kprototypes":
            if self.n_segments is None:
                raise ConfigError(
                    "clusterer='kprototypes' needs n_segments.",
                    fix="Set n_segments, or pick it with personalab.diagnostics.sweep.",
                )
            from kmodes.kmodes import KModes
            from kmodes.kprototypes import KPrototypes

            self._categorical_ = _categorical_columns(C)
            k = min(self.n_segments, n)
            if len(self._categorical_) == C.shape[1]:
                self.notes_.append("All features look categorical: used k-modes.")
                return KModes(k, init="Cao", n_init=3, random_state=seed)
            if not len(self._categorical_):
                self.notes_.append("No feature looks categorical: k-prototypes ran as k-means on numbers.")
                from sklearn.cluster import KMeans

                return KMeans(k, n_init=10, random_state=seed)
            return KPrototypes(k, init="Cao", n_init=3, random_state=seed)
        if not hasattr(c, "fit"):
            raise ConfigError(f"clusterer {type(c).__name__} has no fit method.")
        est = clone(c) if hasattr(c, "get_params") else c
        return est

    def _labels_only(self) -> bool:
        """A fit whose labels are all that is read (a stability refit, see
        ``diagnostics._subsample_refit``): soft membership is skipped (HDBSCAN's prediction
        data, ~0.7 s of a 10,000-respondent fit; k-means' calibrated temperature, ~35% of a
        k-means fit at 10,000). Labels are unchanged:
        they come from the clusterer's own labels and, for respondents outside the fit
        sample, from their neighbours' labels. Never with ``attach_unassigned``, which
        reads membership."""
        return (getattr(self, "_labels_only_fit", False)
                and self.clusterer in ("hdbscan", "kmeans") and not self.attach_unassigned)

    def _fit_clusterer(self, C, w):
        est = self.clusterer_
        kwargs = {}
        if type(est).__name__ == "KPrototypes":
            kwargs["categorical"] = list(self._categorical_)
        if w is not None:
            if "sample_weight" in inspect.signature(est.fit).parameters:
                kwargs["sample_weight"] = w
                self.notes_.append(f"Weights honoured by {type(est).__name__}.")
            else:
                self.notes_.append(
                    f"Weights not honoured: {type(est).__name__} does not take sample_weight; "
                    "segments are found unweighted (weight the profiles instead)."
                )
        if type(est).__name__ in ("KMeans", "GaussianMixture"):
            from threadpoolctl import threadpool_limits

            # one thread: on a busy 2-core machine OpenMP's spinning threads made each
            # k-means start ~30x slower (0.1 s instead of 3 ms on 1,000 x 7), and the
            # labels never depend on the machine's thread count
            with threadpool_limits(1):
                est.fit(C, **kwargs)
        else:
            est.fit(C, **kwargs)
        labels = getattr(est, "labels_", None)
        if labels is None:
            labels = est.predict(C)
        labels = np.asarray(labels, dtype=int)
        if not hasattr(est, "predict") and self._family() == "custom":
            from sklearn.neighbors import KNeighborsClassifier

            keep = labels != UNASSIGNED
            self._knn_ = KNeighborsClassifier(n_neighbors=min(15, max(1, int(keep.sum())))).fit(
                C[keep], labels[keep]
            )
            self.notes_.append(
                f"{type(est).__name__} cannot predict: new respondents get the segment of "
                "their nearest fitted neighbours."
            )
        return labels

    def _raw_strength(self, training, labels):
        est = self.clusterer_
        if training and hasattr(est, "probabilities_"):
            return np.asarray(est.probabilities_, dtype=float)
        return (labels != UNASSIGNED).astype(float)  # replaced by membership below when known

    def _predict_raw(self, C):
        est = self.clusterer_
        name = type(est).__name__
        if name == "HDBSCAN":
            hdbscan = _import_hdbscan()
            if est.labels_.max() < 0:
                return np.full(len(C), UNASSIGNED), np.zeros(len(C))
            lab, strength = hdbscan.prediction.approximate_predict(est, C)
            return np.asarray(lab, dtype=int), np.asarray(strength, dtype=float)
        if name == "KPrototypes":
            lab = est.predict(C, categorical=list(self._categorical_))
        elif hasattr(est, "predict"):
            lab = est.predict(C)
        else:
            lab = self._knn_.predict(C)
        lab = np.asarray(lab, dtype=int)
        return lab, (lab != UNASSIGNED).astype(float)

    def _raw_membership(self, C, training):
        """Soft membership in the clusterer's own cluster order."""
        est = self.clusterer_
        name = type(est).__name__
        k_raw = len(self._raw_ids())
        if len(self._order_) == 0:
            return np.zeros((len(C), 0))
        if name == "HDBSCAN":
            hdbscan = _import_hdbscan()
            if k_raw == 1:
                return np.ones((len(C), 1))
            m = (
                hdbscan.prediction.all_points_membership_vectors(est)
                if training
                else hdbscan.prediction.membership_vector(est, C)
            )
            m = np.nan_to_num(np.asarray(m, dtype=float).reshape(len(C), -1))
            return m
        if name == "KMeans":
            d2 = est.transform(C) ** 2
            T = getattr(self, "membership_temperature_", None)
            if T is None:       # a model pickled before the calibration: its own softmax
                return _softmax(-d2 / (2.0 * self._kmeans_var_ * C.shape[1]))
            out = np.zeros_like(d2)
            kept = np.isin(self._raw_ids(), self._order_)
            out[:, kept] = distance_membership(d2[:, kept], T)
            return out
        if hasattr(est, "predict_proba"):
            return np.asarray(est.predict_proba(C), dtype=float)
        lab, _ = self._predict_raw(C)
        out = np.zeros((len(C), k_raw))
        pos = {r: i for i, r in enumerate(self._raw_ids())}
        for i, r in enumerate(lab):
            if r in pos:
                out[i, pos[r]] = 1.0
        return out

    def _calibrate_membership(self, C, raw):
        """Temperature of the k-means membership softmax, set on the fitted respondents
        ``C`` (clusterer ids ``raw``): the median one in a kept cluster holds
        ``MEDIAN_MEMBERSHIP`` of it (see :func:`membership_temperature`). None for
        other clusterers."""
        est = self.clusterer_
        if type(est).__name__ != "KMeans" or self.n_segments_ == 0:
            return None
        cols = np.searchsorted(self._raw_ids(), np.sort(self._order_))
        kept = np.isin(raw, self._order_)
        d2 = est.transform(C[kept])[:, cols] ** 2
        own = np.searchsorted(np.sort(self._order_), raw[kept])
        T = membership_temperature(d2, own)
        self.notes_.append(
            f"k-means membership: softmax over squared distances to the centres with "
            f"temperature {T:.3g}, at which the median fitted respondent holds "
            f"{MEDIAN_MEMBERSHIP:.2f} of its own segment.")
        return T

    def _membership(self, C, training):
        m = self._raw_membership(C, training)
        if m.shape[1] == 0:
            return m
        # raw column j is the clusterer's j-th cluster (sorted raw ids); reorder by size
        cols = np.searchsorted(self._raw_ids(), self._order_)
        m = m[:, cols]
        s = m.sum(axis=1, keepdims=True)
        return np.divide(m, s, out=np.full_like(m, 1.0 / m.shape[1]), where=s > 0)

    # ------------------------------------------------------------------ internals: labels
    def _set_label_order(self, raw):
        ids, counts = np.unique(raw[raw != UNASSIGNED], return_counts=True)
        order = sorted(zip(-counts, ids))  # largest first; ties by the clusterer's id
        self._order_ = np.array([i for _, i in order], dtype=int)
        self._raw_ids_ = np.sort(self._order_)
        self.n_segments_ = len(self._order_)
        self.dissolved_ = []

    def _raw_ids(self):
        """Every cluster id the clusterer made, sorted (the columns of its membership),
        dissolved ones included."""
        raw = getattr(self, "_raw_ids_", None)  # models pickled before dissolving existed
        return np.sort(self._order_) if raw is None else raw

    def min_segment_size(self, n):
        """Fewest respondents a segment of a fit on ``n`` respondents may hold:
        ``max(2, ceil(min_segment_share * n))``, HDBSCAN's ``min_cluster_size``."""
        return max(2, int(math.ceil(self.min_segment_share * n)))

    def _dissolve_tiny(self, raw):
        """k-means, GMM and k-prototypes always make the clusters they are asked for, so
        a few outlying respondents can end up as a cluster of their own (one respondent
        on a 60-respondent survey). A cluster with fewer respondents than
        :meth:`min_segment_size` is no persona: its respondents become unassigned (-1),
        with the reason in ``unassigned_reasons_`` and a warning; new respondents the
        clusterer would put there are unassigned too. HDBSCAN already keeps clusters
        above that size; custom clusterers are left as they are."""
        if self._family() not in ("kmeans", "gmm", "kprototypes") or self.n_segments_ < 2:
            return
        ids, counts = np.unique(raw[raw != UNASSIGNED], return_counts=True)
        size = dict(zip(ids.tolist(), counts.tolist()))
        need = self.min_segment_size(len(raw))
        # the largest cluster is always kept (order_ is largest first)
        keep = [r for j, r in enumerate(self._order_) if j == 0 or size[int(r)] >= need]
        if len(keep) == len(self._order_):
            return
        for r in self._order_:
            if int(r) not in keep:
                self.dissolved_.append({"cluster": int(r), "n": int(size[int(r)])})
        self._order_ = np.array(keep, dtype=int)
        self.n_segments_ = len(keep)
        n_out = sum(d["n"] for d in self.dissolved_)
        sizes = ", ".join(str(d["n"]) for d in self.dissolved_)
        self.warnings_.append(
            f"{len(self.dissolved_)} of the {len(ids)} clusters the {self._family()} found "
            f"held fewer than {need} respondents (min_segment_share = "
            f"{self.min_segment_share:.0%} of {len(raw)}): clusters of {sizes} respondent(s), "
            f"too few for a persona. Their {n_out} respondent(s) are unassigned (-1; "
            "unassigned_reasons_ says why); "
            f"{self.n_segments_} segment(s) remain."
        )

    def _unassigned_reasons(self, labels, raw_fit, fit_idx, ids):
        """Why each unassigned respondent is unassigned (a Series over them)."""
        miss = np.flatnonzero(labels == UNASSIGNED)
        reasons = pd.Series("", index=ids, dtype=object)
        if not len(miss):
            return reasons.iloc[:0]
        size = {d["cluster"]: d["n"] for d in getattr(self, "dissolved_", [])}
        need = self.min_segment_size(len(raw_fit))
        raw = np.full(len(labels), UNASSIGNED - 1)
        raw[fit_idx] = raw_fit
        for i in miss:
            r = int(raw[i])
            if r in size:
                reasons.iloc[i] = (f"in a cluster of {size[r]} respondent(s), fewer than the "
                                   f"{need} a segment needs (min_segment_share)")
            elif r == UNASSIGNED:
                reasons.iloc[i] = "in no dense region: the clusterer left them out (noise)"
            else:
                reasons.iloc[i] = "placed next to fitted respondents who are unassigned"
        return reasons.iloc[miss]

    def _resort_by_size(self, labels, member):
        """Renumber by size over every respondent (the order was set on the fit sample)."""
        counts = np.bincount(labels[labels != UNASSIGNED], minlength=self.n_segments_)
        perm = np.array(sorted(range(self.n_segments_), key=lambda s: (-counts[s], s)))
        if (perm == np.arange(self.n_segments_)).all():
            return labels, member
        new_of_old = np.empty_like(perm)
        new_of_old[perm] = np.arange(self.n_segments_)
        labels = np.where(labels == UNASSIGNED, UNASSIGNED, new_of_old[np.maximum(labels, 0)])
        self._order_ = self._order_[perm]
        return labels, member[:, perm]

    def _relabel(self, raw):
        lookup = {int(r): new for new, r in enumerate(self._order_)}
        return np.array([lookup.get(int(r), UNASSIGNED) for r in raw], dtype=int)

    def _collect_warnings(self, labels):
        if self.n_segments_ == 0:
            self.warnings_.append("No segments found: every respondent is unassigned.")
        elif self.n_segments_ == 1:
            self.warnings_.append("Only one segment found: there is no segmentation to report.")
        if self.unassigned_share_ > 0.10:
            self.warnings_.append(
                f"{self.unassigned_share_:.0%} of respondents are unassigned (label -1); "
                "see diagnostics.sweep for settings that assign more, or attach_unassigned=True."
            )
        sizes = self.segment_sizes_
        small = sizes[(sizes.index != UNASSIGNED) & (sizes["share"] < self.min_segment_share)]
        for seg, row in small.iterrows():
            self.warnings_.append(
                f"Segment {seg} holds {row['share']:.1%} of respondents "
                f"(less than min_segment_share = {self.min_segment_share:.0%})."
            )


# --------------------------------------------------------------------------- free functions
def hybrid_respondents(model, threshold=0.6, X=None):
    """Respondents no single segment clearly claims.

    A respondent is *hybrid* when their largest soft membership is below ``threshold``
    (they sit between personas).

    Parameters
    ----------
    model : fitted PersonaModel
    threshold : float, default=0.6
    X : Survey, DataFrame or array, optional
        New respondents; default: the respondents the model was fitted on.

    Returns
    -------
    DataFrame indexed by respondent with ``segment``, ``top_segment``,
    ``top_membership``, ``second_segment``, ``second_membership``; weakest first.
    """
    check_is_fitted(model, "labels_")
    if X is None:
        member, labels = model.membership_, model.labels_
    else:
        member, labels = model.membership(X), model.predict(X)
    cols = ["segment", "top_segment", "top_membership", "second_segment", "second_membership"]
    if member.shape[1] == 0:
        return pd.DataFrame(columns=cols, index=member.index[:0])
    values = member.to_numpy()
    order = np.argsort(-values, axis=1, kind="stable")
    top = order[:, 0]
    second = order[:, 1] if values.shape[1] > 1 else np.full(len(values), UNASSIGNED)
    rows = np.arange(len(values))
    out = pd.DataFrame(
        {
            "segment": labels,
            "top_segment": top,
            "top_membership": values[rows, top],
            "second_segment": second,
            "second_membership": values[rows, second] if values.shape[1] > 1 else 0.0,
        },
        index=member.index,
    )
    out = out[out["top_membership"] < threshold]
    return out.sort_values("top_membership", kind="stable")


def assign_wave(model, X):
    """Assign a new wave's respondents to a fitted model's segments.

    Returns a DataFrame indexed by respondent: ``segment`` (-1 = unassigned) and
    ``confidence`` (largest soft membership).
    """
    labels = model.predict(X)
    member = model.membership(X)
    conf = member.max(axis=1).to_numpy() if member.shape[1] else np.zeros(len(labels))
    return pd.DataFrame({"segment": labels, "confidence": conf}, index=member.index)


# --------------------------------------------------------------------------- helpers
def _knn_assign(F_fit, F_rest, Z_fit, labels_fit, member_fit, strength_fit, k=_N_ASSIGN_NEIGHBORS):
    """Embedding, label, membership and strength of new rows from their fitted neighbours."""
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(F_fit))
    dist, idx = kneighbors(NearestNeighbors(n_neighbors=k).fit(F_fit), F_rest, k)
    w = 1.0 / (dist + 1e-9)
    w /= w.sum(axis=1, keepdims=True)
    Z = np.einsum("nk,nkd->nd", w, Z_fit[idx])
    member = np.einsum("nk,nks->ns", w, member_fit[idx]) if member_fit.shape[1] else np.zeros((len(F_rest), 0))
    strength = np.einsum("nk,nk->n", w, strength_fit[idx])
    classes = np.unique(labels_fit)
    votes = np.stack([(w * (labels_fit[idx] == c)).sum(axis=1) for c in classes], axis=1)
    labels = classes[votes.argmax(axis=1)]
    return Z, labels, member, strength


def _checked_weight(sample_weight, X, n):
    """sample_weight as floats, or a SegmentationError naming the column and rows."""
    w = np.asarray(sample_weight, dtype=float).reshape(-1)
    column = getattr(getattr(X, "codebook", None), "weight", None) if _is_survey(X) else None
    if len(w) != n:
        raise SegmentationError(f"{len(w)} weights for {n} respondents",
                                column=column or "sample_weight",
                                fix="pass one weight per respondent, in row order")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any() or not w.sum() > 0:
        where = np.flatnonzero(bad) if bad.any() else None
        source, rows = _where(X, where)
        if rows is None and where is not None:
            rows = None
        problem = (f"{int(bad.sum())} weight(s) are infinite, missing or negative"
                   + ("" if rows is not None or where is None else
                      f" (positions {', '.join(map(str, where[:10]))})")
                   if bad.any() else "every weight is zero: every respondent would be ignored")
        raise SegmentationError(
            problem, file=source, column=column or "sample_weight", row=rows or None,
            fix="correct the weights (finite, >= 0, not all zero), or segment unweighted")
    return w


def distance_membership(d2, temperature):
    """Soft membership from squared distances: ``exp(-d2_k / T) / sum_j exp(-d2_j / T)``.

    Parameters
    ----------
    d2 : ndarray (n, k)
        Squared distance of each respondent to each segment's centre.
    temperature : float
        ``T`` > 0 (see :func:`membership_temperature`).

    Returns
    -------
    ndarray (n, k), rows sum to 1.
    """
    d2 = np.asarray(d2, dtype=float)
    if d2.shape[1] == 0:
        return d2.copy()
    # shift each row by its smallest distance: the softmax is unchanged, nothing underflows
    e = np.exp(-(d2 - d2.min(axis=1, keepdims=True)) / float(temperature))
    return e / e.sum(axis=1, keepdims=True)


def membership_temperature(d2, own, median_membership=MEDIAN_MEMBERSHIP):
    """Temperature ``T`` at which the median respondent holds ``median_membership`` of
    its own segment under :func:`distance_membership`.

    A respondent as clearly placed as the typical one then gets that share, one equally
    close to two segments at most one half. The median own membership falls as ``T``
    grows; ``T`` is found by bisection on ``log T`` (80 halvings), as
    ``personalab.waves.kmeans_membership`` does.

    Parameters
    ----------
    d2 : ndarray (n, k)
        Squared distances of the calibration respondents to the k centres.
    own : array-like of int (n,)
        Each respondent's own segment (a column of ``d2``).
    median_membership : float, default 0.75

    Returns
    -------
    float
        1.0 when there are fewer than two segments or no respondents (nothing to
        calibrate).
    """
    d2 = np.asarray(d2, dtype=float)
    own = np.asarray(own, dtype=int)
    if d2.ndim != 2 or d2.shape[1] < 2 or not len(d2):
        return 1.0
    D = d2 - d2.min(axis=1, keepdims=True)
    rows = np.arange(len(own))
    pos = D[D > 0]
    lo, hi = 1e-6, 1e6 * max(float(np.median(pos)) if len(pos) else 1.0, 1e-12)
    for _ in range(80):
        T = float(np.sqrt(lo * hi))
        med = float(np.median(distance_membership(D, T)[rows, own]))
        if med > median_membership:
            lo = T
        else:
            hi = T
    return float(np.sqrt(lo * hi))


def _softmax(logits):
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _segment_sizes(labels, raw_labels=None):
    seg, n = np.unique(labels, return_counts=True)
    sizes = pd.DataFrame({"n": n, "share": n / n.sum()}, index=pd.Index(seg, name="segment"))
    if UNASSIGNED in sizes.index:
        sizes = pd.concat([sizes.drop(index=UNASSIGNED), sizes.loc[[UNASSIGNED]]])
    return sizes


def _codes_for_categoricals(df):
    out = df.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]) or isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = pd.Categorical(out[col]).codes.astype(float)
    return out


def _categorical_columns(C, max_levels=12):
    """Integer-valued columns with few levels (codes, Likert items, 0/1 flags)."""
    idx = []
    for j in range(C.shape[1]):
        col = C[:, j]
        if np.all(np.equal(np.mod(col, 1), 0)) and len(np.unique(col)) <= max_levels:
            idx.append(j)
    return np.array(idx, dtype=int)
