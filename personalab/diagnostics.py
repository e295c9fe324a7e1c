"""Diagnostics: is there a segmentation worth writing personas about, and which one?

- `sweep(X, param_grid)`: fit a grid of settings and measure each (segments, silhouette,
  DBCV, BIC, smallest segment, unassigned share, stability on 80% subsamples, and the
  guards: one input or a missing-answer pattern explaining the segments, look-alikes).
- `recommend(table)`: the setting to use, with reasons in plain words, or a plain
  "no stable segments"; settings the guards flag are refused (``Recommendation.flags``).
- `stability(model, X)`: how well one model's segments reproduce on subsamples: mean ARI
  and per-segment clusterwise Jaccard (Hennig 2007), with a verdict.
- `segment_guards(X, labels)`: is a solution a split on one input, or on who left
  questions unanswered (or was never asked them), rather than personas? And, segment by
  segment, is one segment only the respondents not asked a block of questions
  (``StabilityResult.not_asked_segments``, named in ``flags``)?

Every stability figure, in the sweep and in the run, comes from the same refits: the whole
pipeline (encoder and its scaling included) refitted on each random subsample with the
same seeds, the same fit sample and the same number of subsamples as the run uses, so a
setting the sweep calls stable is the one the run reports as stable.
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
    "UMAP_GRID",
    "segment_guards",
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

#: A solution is refused when one input (or the missing-answer pattern) reproduces its
#: segments with at least this balanced accuracy.
MAX_SINGLE_INPUT_ACCURACY = 0.90
#: ... while no other input comes within this much of it (balanced accuracy).
DOMINANCE_GAP = 0.10
#: One segment is flagged when which segmentation questions its members left unanswered
#: (or were never asked) tells them from everyone else with at least this balanced
#: accuracy: a skip pattern, not a persona (:func:`segment_guards`, per segment).
MAX_SEGMENT_MISSING_ACCURACY = 0.90
#: The block of questions a flagged segment is named by: those its members left
#: unanswered at least this much more often (share) than the rest, or the reverse.
SKIP_BLOCK_GAP = 0.50
#: ... and only when that block holds at least this many questions: a questionnaire branch
#: (an employer block the self-employed never saw), not the follow-ups of one answer
#: ("If yes, which condition?"), whose segment is that answer (the one-input checks').
MIN_SKIP_BLOCK = 5
#: The categorical-cells guard tries combinations of at most this many categorical
#: inputs (single-choice, multi-select, yes/no: every column two-valued).
MAX_CELL_INPUTS = 3
#: ... among the categorical inputs that alone reproduce the segments best.
_CELL_CANDIDATES = 10
#: Two segments are look-alikes when they differ by less than this many (pooled) standard
#: deviations on every input.
MIN_SEPARATION = 1.0
#: `recommend` takes the finest stable solution whose stability ARI is within this of the
#: most stable one's (about 2-3 standard errors of a 10-subsample mean).
STABILITY_TOLERANCE = 0.02
#: Numbers of segments `sweep` tries by default: few, distinct personas.
DEFAULT_N_SEGMENTS = [2, 3, 4, 5, 6, 7]

#: The grid `sweep` runs when none is given (``reducer="auto", clusterer="auto"``): k-means
#: on the scaled features for 2-7 segments. Measured on seven real surveys
#: (benches/bench_real.py, docs/segmentation_defaults.md): a PCA(5) step before k-means
#: recovered the known groups no better at any number of segments (0.00-0.02 ARI lower
#: on 5 of 7), GMM on PCA made reproducible splits on one item, and UMAP + HDBSCAN
#: (`UMAP_GRID`, still available) reproduced on 2 of 7 sets, leaving up to 55% unassigned.
DEFAULT_GRID = [
    {
        "reducer": ["identity"],
        "clusterer": ["kmeans"],
        "n_segments": DEFAULT_N_SEGMENTS,
    },
]
#: The former default family, for ``reducer="umap"`` / ``clusterer="hdbscan"`` sweeps.
UMAP_GRID = [
    {
        "reducer": ["umap"],
        "n_neighbors": [15, 30],
        "clusterer": ["hdbscan"],
        "min_segment_share": [0.05, 0.10],
    },
]


# --------------------------------------------------------------------------- sweep
def sweep(
    X,
    param_grid=None,
    *,
    model=None,
    n_boot=10,
    sample_frac=0.8,
    random_state=0,
    max_score_rows=2000,
    truth=None,
    sample_weight=None,
    max_respondents=20_000,
):
    """Fit every setting in ``param_grid`` and measure it, as the run would fit it.

    Each setting is fitted on everyone with ``random_state`` (the model the run then uses)
    and refitted on ``n_boot`` random subsamples, the whole pipeline each time: the
    encoder (its scaling and imputation included) is refitted on every subsample, and the
    refits use the same seeds, subsamples, fit sample and weights as :func:`stability`,
    so a row's ``stability_ari`` is exactly what ``stability(model, X)`` reports for the
    model that setting gives. (The encoder's output does not depend on the clusterer, so
    each subsample is encoded once and shared by every setting.)

    Parameters
    ----------
    X : Survey, DataFrame or array-like
    param_grid : dict or list of dicts, optional
        PersonaModel parameters to vary, as for ``sklearn.model_selection.ParameterGrid``
        (e.g. ``{"clusterer": ["gmm"], "n_segments": [3, 4, 5]}``). Default:
        `DEFAULT_GRID`.
    model : PersonaModel, optional
        Template for everything not in the grid (default ``PersonaModel()``).
    n_boot : int, default=10
        Subsamples for the stability ARI (0 skips it); the run's stability check uses 10.
    sample_frac : float, default=0.8
    random_state : int, default=0
    max_score_rows : int, default=2000
        Silhouette and DBCV are computed on a random sample of at most this many rows
        (DBCV is quadratic in rows).
    truth : array-like of shape (n_respondents,), optional
        Known segments (synthetic data): adds a ``truth_ari`` column.
    sample_weight : array-like, optional
        Respondent weights (default: a Survey's weight column), passed to every fit.
    max_respondents : int or None, default=20000
        Largest subsample, as in :func:`stability`.

    Returns
    -------
    DataFrame, one row per setting: the varied parameters, ``n_segments`` (found: fewer
    than asked when PersonaModel dissolved a cluster too small for a persona),
    ``n_segments_asked`` (when the grid varies it), ``unassigned_share``,
    ``smallest_share``, ``silhouette``, ``dbcv``, ``bic`` (gmm only), ``stability_ari``
    (mean over subsamples), ``stability_ari_min``, ``jaccard_min`` (least reproducible
    segment), ``stable`` (the bar of :func:`stability`), ``flag`` (why the guards refuse
    the solution: one input, the answers to a few categorical questions or a
    missing-answer pattern explains it, or two segments are look-alikes; empty when
    none), ``separation`` (smallest largest-standardised-difference between two
    segments), ``seconds``. ``table.attrs["stability"]`` holds each row's
    :class:`StabilityResult`.
    """
    base = PersonaModel(random_state=random_state) if model is None else clone(model)
    if base.random_state is None:
        base.set_params(random_state=random_state)
    grid = list(ParameterGrid(DEFAULT_GRID if param_grid is None else param_grid))
    if not grid:
        raise ConfigError("param_grid is empty.")
    refits = _Refits(base, X, n_boot=n_boot, sample_frac=sample_frac,
                     random_state=random_state, max_respondents=max_respondents,
                     sample_weight=sample_weight)
    F = refits.features
    n = F.shape[0]
    if truth is not None:
        truth = pd.Series(np.asarray(truth, dtype=object)).to_numpy()
    rng = np.random.default_rng(random_state)
    score_rows = np.sort(rng.choice(n, min(n, max_score_rows), replace=False))

    rows, results = [], {}
    for params in grid:
        t1 = time.perf_counter()
        m = clone(base).set_params(**params, encoder=None)
        ref = clone(m).fit(F, sample_weight=refits.weights)
        labels = ref.labels_
        row = dict(params)
        E = ref.embedding_
        row.update(_scores(ref, E, labels, score_rows))
        if "n_segments" in params:
            # the number asked for; ``n_segments`` is the number found, fewer when a
            # cluster too small for a persona was dissolved (PersonaModel.dissolved_)
            row["n_segments_asked"] = params["n_segments"]
        res = None
        if n_boot:
            res = _compare(ref, refits.run(m), refits.seeds, n, refits.n_sub, sample_frac)
            row["stability_ari"] = res.mean_ari
            row["stability_ari_min"] = float(res.ari.min())
            row["jaccard_min"] = float(res.segments["jaccard_mean"].min()) \
                if len(res.segments) else np.nan
            row["stable"] = bool(res.stable)
        else:
            row.update(stability_ari=np.nan, stability_ari_min=np.nan, jaccard_min=np.nan,
                       stable=False)
        guard = segment_guards(refits.source, labels, features=refits.frame,
                               feature_map=refits.feature_map)
        row["flag"] = guard.reason or ""
        row["segment_flag"] = "; ".join(guard.segment_flags)
        row["separation"] = guard.separation
        if res is not None and guard.reason:
            _flag_result(res, guard)
            row["stable"] = False
        if res is not None:
            _flag_segments(res, guard)
        if truth is not None:
            known = pd.notna(truth)
            row["truth_ari"] = float(adjusted_rand_score(truth[known].astype(str), labels[known]))
        row["seconds"] = time.perf_counter() - t1
        results[len(rows)] = res
        rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs["n_respondents"] = n
    table.attrs["n_boot"] = n_boot
    table.attrs["sample_frac"] = sample_frac
    table.attrs["stability"] = _RowResults(results)
    table.attrs["encoder"] = refits.encoder_description
    return table


class _RowResults(dict):
    """Row -> StabilityResult, kept in ``table.attrs``. Compared by identity: pandas
    compares attrs when it concatenates frames, and a StabilityResult holds frames (whose
    ``==`` has no single truth value)."""

    def __eq__(self, other):
        return self is other

    __hash__ = None


class _Refits:
    """The wave encoded as the run encodes it, and each stability subsample encoded by an
    encoder refitted on that subsample alone (what a whole-pipeline refit sees)."""

    def __init__(self, base, X, *, n_boot, sample_frac, random_state, max_respondents,
                 sample_weight=None, seeds=None):
        self.source = X
        enc = clone(base)._make_encoder(X)
        n = _n_rows(X)
        w = _weights(X, sample_weight, n)
        self.weights = w
        self.frame = _encode(enc, X)
        self.encoder = enc
        self.encoder_description = getattr(enc, "scale_description_", None)
        self.feature_map = getattr(enc, "feature_map_", None) or \
            getattr(self.frame, "attrs", {}).get("feature_map")
        self.features = _finite(self.frame)
        self.seeds = list(seeds) if seeds is not None else \
            [random_state + 1 + b for b in range(n_boot)]
        n_sub = max(2, int(round(sample_frac * n)))
        if max_respondents is not None and n_sub > max_respondents:
            n_sub = max(2, int(max_respondents))
        self.n_sub = n_sub
        self.subsamples = []
        for seed in self.seeds:
            idx = _subsample(n, n_sub, seed)
            Fb = _finite(_encode(clone(enc) if enc is not None else None, _take(X, idx)))
            self.subsamples.append((idx, Fb, None if w is None else w[idx]))

    def run(self, m):
        """Refit model ``m`` (encoder=None) on every encoded subsample."""
        for seed, (idx, Fb, wb) in zip(self.seeds, self.subsamples):
            mb = clone(m).set_params(random_state=seed)
            mb._labels_only_fit = True
            mb.fit(Fb, sample_weight=wb)
            yield idx, np.asarray(mb.labels_), int(mb.n_segments_)


def _n_rows(X):
    return len(X.data) if _is_survey(X) else len(X)


def _take(X, idx):
    if _is_survey(X):
        return X.subset(X.data.index[idx])
    if isinstance(X, (pd.DataFrame, pd.Series)):
        return X.iloc[idx]
    return np.asarray(X)[idx]


def _subsample(n, n_sub, seed):
    return np.sort(np.random.default_rng(seed).choice(n, n_sub, replace=False))


def _weights(X, sample_weight, n):
    """Weights every fit gets (None when all equal, as PersonaModel.fit decides)."""
    if sample_weight is None and _is_survey(X):
        sample_weight = np.asarray(X.weights(), dtype=float)
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=float)
    if len(w) != n:
        raise ConfigError(f"{len(w)} weights for {n} respondents.",
                          fix="pass one weight per respondent, in row order")
    return None if np.allclose(w, w[0]) else w


def _encode(enc, X):
    F = enc.fit_transform(X) if enc is not None else X
    if _is_survey(F):
        raise ConfigError("A Survey needs encoder='auto' or a transformer to be swept.")
    return F


def _finite(F):
    F = np.asarray(F, dtype=float)
    if F.ndim != 2 or not np.isfinite(F).all():
        raise ConfigError(
            "The features to segment must be a finite 2-D numeric table.",
            fix="Impute or drop missing answers first (FeatureBuilder does this for a Survey).",
        )
    return F


def _features(base, X):
    """The encoded feature matrix (the encoder fitted on everyone)."""
    return _finite(_encode(clone(base)._make_encoder(X), X))


# --------------------------------------------------------------------------- guards
@dataclass
class GuardResult:
    """What :func:`segment_guards` found.

    Attributes
    ----------
    reason : str or None
        Why the solution should not become personas (None: nothing found).
    dominated_by : str or None
        The input that alone reproduces the segments, the categorical inputs whose
        answers do (joined by " + "), or ``"missing-answer pattern"``, named as a reader
        knows them: by the codebook's short labels (as the report's charts and tables
        name them, :func:`personalab.codebook.distinct_labels`) when X is a Survey, else
        by the feature map's question ids. The report and the persona cards print it.
    accuracy : float
        Balanced accuracy with which the best single input reproduces the segments.
    missing_accuracy : float
        ... and with which the pattern of unanswered questions does (NaN: no missing).
    separation : float
        Over pairs of segments, the smallest of their largest standardised mean
        difference on any input (look-alikes below `MIN_SEPARATION`).
    inputs : DataFrame
        ``features.dominant_input_check``'s table (one row per input).
    not_asked : dict
        Segment -> the block of questions whose missing answers alone tell that segment
        apart (balanced accuracy >= `MAX_SEGMENT_MISSING_ACCURACY`): respondents who were
        not asked those questions (skip logic, split ballot) or skipped them, not a persona.
        Empty when none (or X is not a Survey).
    segment_flags : list of str
        The same in words, one line per block (segments sharing a block together), for
        ``flags``: "segment(s) 3, 5: defined by not answering 24 questions (...)".
    not_asked_flags : dict
        Segment -> its line of ``segment_flags``.
    dominated_ids : tuple of str
        The question ids behind ``dominated_by`` (empty for none, and for the
        missing-answer pattern).
    """

    reason: str | None
    dominated_by: str | None
    accuracy: float
    missing_accuracy: float
    separation: float
    inputs: pd.DataFrame = field(default_factory=pd.DataFrame)
    not_asked: dict = field(default_factory=dict)
    segment_flags: list = field(default_factory=list)
    not_asked_flags: dict = field(default_factory=dict)
    dominated_ids: tuple = ()


def _reader_labels(X) -> dict:
    """{question id: how the report names it} for a Survey's questions
    (:func:`personalab.codebook.distinct_labels`: the short label, the same in the charts
    and tables); empty for anything else (then ids are shown)."""
    if not _is_survey(X):
        return {}
    from .codebook import distinct_labels

    try:
        return distinct_labels(list(X.codebook.questions))
    except (AttributeError, TypeError):
        return {}


def segment_guards(X, labels, *, features=None, feature_map=None,
                   max_accuracy=MAX_SINGLE_INPUT_ACCURACY, min_separation=MIN_SEPARATION,
                   max_rows=5000, random_state=0) -> GuardResult:
    """Is a solution a split on one input, on a missing-answer pattern, or look-alikes?

    Four checks on the assigned respondents (label -1 left out):

    * one input: a small decision tree (at most 2 leaves per segment) that sees only
      one question reproduces the segments with balanced accuracy >= ``max_accuracy``
      (``personalab.features.dominant_input_check``) while no other question's tree
      comes within `DOMINANCE_GAP` of it: the "segments" are bands of one answer (a
      Gaussian mixture putting a whole segment on "Europe = 11"), not segments that
      differ on many inputs at once;
    * categorical cells: such a tree that sees only the answers to at most
      `MAX_CELL_INPUTS` categorical questions (every feature column two-valued: one-hot
      levels, options, yes/no) does, with no gap asked for: the segments are cells of
      a cross-tabulation of those answers (100% of one department, 0% of the others);
    * missing-answer pattern (Survey only): such a tree on which questions each
      respondent left unanswered, or was never shown (split-ballot, skip logic), does:
      the segments are who answered what, not what they answered;
    * look-alikes: two segments whose means differ by less than ``min_separation``
      pooled standard deviations on every input: one persona told twice.

    And one check per segment (Survey only), whatever the checks above found: a tree of
    at most 4 leaves on the same missing-answer pattern tells the segment's members from
    everyone else with balanced accuracy >= `MAX_SEGMENT_MISSING_ACCURACY` (``not_asked``,
    ``segment_flags``). The partition as a whole may pass while some of its segments are
    only who was not asked a block of questions: on OSMI 2016 (drafted codebook, k-means,
    6 segments) the self-employed, who skipped the current-employer block, and those with
    no previous employer, who skipped that block, were three of the six segments.

    Parameters
    ----------
    X : Survey, DataFrame or array
        The respondents (a Survey also gives the missing-answer pattern).
    labels : array-like of int
    features : DataFrame or array, optional
        The encoded features (default: X when it is not a Survey).
    feature_map : dict, optional
        Feature -> question (default: ``features.attrs["feature_map"]``).

    Returns
    -------
    GuardResult
    """
    from personalab.features import dominant_input_check

    labels = np.asarray(labels)
    if features is None:
        if _is_survey(X):
            raise ConfigError("segment_guards needs the encoded features of a Survey.",
                              fix="pass features=FeatureBuilder().fit_transform(survey)")
        features = X
    frame = pd.DataFrame(np.asarray(features, dtype=float),
                         columns=getattr(features, "columns", None))
    if feature_map is None:
        feature_map = getattr(features, "attrs", {}).get("feature_map")
    keep = labels != UNASSIGNED
    k = len(np.unique(labels[keep]))
    nan = float("nan")
    if k < 2:
        return GuardResult(None, None, nan, nan, nan)
    M = qids = None
    if keep.sum() > max_rows:
        pick = np.sort(np.random.default_rng(random_state).choice(
            np.flatnonzero(keep), max_rows, replace=False))
    else:
        pick = np.flatnonzero(keep)
    y = labels[pick]
    inputs = dominant_input_check(frame.iloc[pick].reset_index(drop=True), y,
                                  feature_map=feature_map, warn=False)
    best = inputs.iloc[0]
    acc = float(best["tree_accuracy"])
    runner_up = float(inputs["tree_accuracy"].iloc[1]) if len(inputs) > 1 else 0.0
    miss_acc = nan
    reason = dominated = None
    dominated_ids: tuple = ()
    # a reader knows a question by its label, not by the export's column (the ids stay in
    # ``dominated_ids``)
    reader = _reader_labels(X)

    def name(qid):
        return " ".join(str(reader.get(str(qid), qid)).split())

    # one input, not every input: well-separated segments differ on many inputs, and
    # then several reproduce them about as well as the best one does
    if acc >= max_accuracy and runner_up <= acc - DOMINANCE_GAP:
        dominated_ids = (str(best["input"]),)
        dominated = name(best["input"])
        reason = (f"one input alone explains the segments: {dominated!r} reproduces "
                  f"{acc:.0%} of them (balanced accuracy), so they are bands of one answer, "
                  "not personas")
    if reason is None:
        cells = _categorical_cells(frame.iloc[pick].to_numpy(), y, list(frame.columns),
                                   feature_map or {}, inputs, max_accuracy)
        if cells is not None:
            ids, acc_cells = cells
            dominated_ids = tuple(str(q) for q in ids)
            names = [name(q) for q in ids]
            dominated = " + ".join(names)
            quoted = ", ".join(repr(q) for q in names)
            reason = (f"the segments are cells of categorical answers: {quoted} alone "
                      f"reproduce{'s' if len(names) == 1 else ''} {acc_cells:.0%} of them "
                      "(balanced accuracy), so they are groups a cross-tabulation of "
                      f"{'that answer' if len(names) == 1 else 'those answers'} gives, "
                      "not personas")
    if _is_survey(X):
        M, qids = _missing_pattern(X, with_ids=True)
    if reason is None and M is not None:
        if M.shape[1]:
            from sklearn.metrics import balanced_accuracy_score
            from sklearn.tree import DecisionTreeClassifier

            Mp = M[pick]
            tree = DecisionTreeClassifier(max_leaf_nodes=max(2, 2 * k), random_state=0)
            miss_acc = float(balanced_accuracy_score(y, tree.fit(Mp, y).predict(Mp)))
            if miss_acc >= max_accuracy:
                dominated = "missing-answer pattern"
                reason = ("the segments follow which questions respondents left unanswered "
                          f"or were not asked (split ballot, skip logic): that pattern alone "
                          f"reproduces {miss_acc:.0%} of them, so they are not personas")
    separation = _separation(frame.to_numpy()[pick], y)
    if reason is None and separation < min_separation:
        reason = (f"two segments are look-alikes: they differ by less than {min_separation} "
                  f"standard deviations on every input ({separation:.2f}); fewer segments "
                  "describe the same people")
    not_asked, segment_flags, flag_of = {}, [], {}
    if M is not None and M.shape[1]:
        not_asked, segment_flags, flag_of = _skip_segments(M[pick], y, qids, X)
    return GuardResult(reason, dominated, acc, miss_acc, separation, inputs,
                       not_asked, segment_flags, flag_of, dominated_ids)


def _skip_segments(M, y, qids, survey, max_accuracy=MAX_SEGMENT_MISSING_ACCURACY):
    """Segments whose members the missing-answer pattern ``M`` alone tells apart.

    Per segment: a decision tree of at most 4 leaves (2 per class, as the partition's
    missing-answer check) on ``M``, classes balanced, segment vs the rest; flagged at
    balanced accuracy >= ``max_accuracy``. The block named is every question whose
    missing share in the segment differs from the rest's by >= `SKIP_BLOCK_GAP`; a
    segment is flagged only when that block holds >= `MIN_SKIP_BLOCK` questions.
    Returns ({segment: block of question ids}, [one line per block], {segment: its line}).
    """
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.tree import DecisionTreeClassifier

    from .codebook import short_label

    labels_of = {str(q.id): short_label(q) for q in survey.questions(role="segment")}
    found, groups = {}, {}
    for s in np.unique(y):
        member = y == s
        if member.all() or not member.any():
            continue
        tree = DecisionTreeClassifier(max_leaf_nodes=4, class_weight="balanced", random_state=0)
        acc = float(balanced_accuracy_score(member, tree.fit(M, member).predict(M)))
        if acc < max_accuracy:
            continue
        diff = M[member].mean(axis=0) - M[~member].mean(axis=0)
        skipped = tuple(qids[j] for j in np.flatnonzero(diff >= SKIP_BLOCK_GAP))
        answered = tuple(qids[j] for j in np.flatnonzero(diff <= -SKIP_BLOCK_GAP))
        if max(len(skipped), len(answered)) < MIN_SKIP_BLOCK:
            continue
        if len(skipped) < MIN_SKIP_BLOCK:
            skipped = ()
        else:
            answered = ()
        found[int(s)] = list(skipped or answered)
        key = (skipped, answered)
        for other in groups:
            # segments missing nearly the same block (Jaccard >= 0.8) are named together
            a, b = set(other[0] or other[1]), set(skipped or answered)
            if bool(other[0]) == bool(skipped) and len(a & b) >= 0.8 * len(a | b):
                key = other
                break
        groups.setdefault(key, []).append((int(s), acc, member.mean()))
    lines, line_of = [], {}
    for (skipped, answered), segs in groups.items():
        ids = ", ".join(str(s) for s, _, _ in segs)
        accs = ", ".join(f"{a:.0%}" for _, a, _ in segs)
        if skipped:
            what = (f"defined by not answering {len(skipped)} question"
                    f"{'s' if len(skipped) != 1 else ''} ({_short_labels(skipped, labels_of)})"
                    ": respondents who were not asked them (skip logic, split ballot) or "
                    "skipped them, not a persona")
        else:
            what = (f"defined by answering {len(answered)} question"
                    f"{'s' if len(answered) != 1 else ''} ({_short_labels(answered, labels_of)})"
                    " that the rest were not asked or skipped: who was asked them, "
                    "not a persona")
        lines.append(f"segment(s) {ids}: {what} (which questions went unanswered tells "
                     f"them apart with balanced accuracy {accs})")
        line_of.update({s: lines[-1] for s, _, _ in segs})
    return found, lines, line_of


def _short_labels(qids, labels_of, n=3, width=40):
    out = []
    for q in qids[:n]:
        text = " ".join(labels_of.get(q, q).split())
        out.append(repr(text if len(text) <= width else text[: width - 1] + "…"))
    return ", ".join(out) + (f", … {len(qids) - n} more" if len(qids) > n else "")


def _categorical_cells(F, y, columns, feature_map, inputs, max_accuracy):
    """The fewest categorical inputs (at most `MAX_CELL_INPUTS`) whose answers alone
    reproduce the segments with balanced accuracy >= ``max_accuracy``, or None.

    A categorical input is a question whose feature columns all take at most two values
    (one-hot levels of a single-choice question, multi-select options, yes/no flags,
    their missing-answer indicators). k-means on such columns carves the sample along
    them: "segments" that are 100% one level and 0% the others (a department, a yes/no
    answer, or their combinations). Inputs are added greedily (each step the one that
    raises the tree's balanced accuracy most), the same tree as the one-input check (at
    most 2 leaves per segment). Unlike that check no gap to the runner-up is asked for:
    a segment that is one categorical answer is a cross-tab cell even when an item that
    correlates with the answer reproduces it almost as well.
    """
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.tree import DecisionTreeClassifier

    groups: dict[str, list[int]] = {}
    for j, col in enumerate(columns):
        groups.setdefault(str(feature_map.get(col, col)), []).append(j)
    two_valued = [len(np.unique(F[:, j])) <= 2 for j in range(F.shape[1])]
    categorical = [q for q, cols in groups.items()
                   if all(two_valued[j] for j in cols) and np.ptp(F[:, cols], axis=0).any()]
    if not categorical:
        return None
    ranked = [str(q) for q in inputs["input"] if str(q) in categorical][:_CELL_CANDIDATES]
    k = len(np.unique(y))
    chosen, best_acc = [], 0.0
    for _ in range(min(MAX_CELL_INPUTS, len(ranked))):
        step = None
        for q in ranked:
            if q in chosen:
                continue
            cols = [j for c in chosen + [q] for j in groups[c]]
            tree = DecisionTreeClassifier(max_leaf_nodes=max(2, 2 * k), random_state=0)
            acc = float(balanced_accuracy_score(y, tree.fit(F[:, cols], y).predict(F[:, cols])))
            if step is None or acc > step[1]:
                step = (q, acc)
        if step is None or step[1] <= best_acc:
            return None
        chosen.append(step[0])
        best_acc = step[1]
        if best_acc >= max_accuracy:
            return chosen, best_acc
    return None


def _missing_pattern(survey, with_ids=False):
    """Respondents x segmentation questions: 1 where the question has no answer (and,
    ``with_ids``, the question ids of the columns)."""
    from personalab.features import question_blocks

    cols, ids = [], []
    for qid, qtype, frame in question_blocks(survey, "segment"):
        if frame is None or not frame.shape[1]:
            continue
        miss = frame.isna().all(axis=1).to_numpy()
        if 0 < miss.sum() < len(miss):
            cols.append(miss)
            ids.append(str(qid))
    n = len(survey.data)
    M = np.column_stack(cols).astype(float) if cols else np.zeros((n, 0))
    return (M, ids) if with_ids else M


def _separation(F, y):
    """min over segment pairs of max over features of |mean difference| / pooled sd."""
    segs = np.unique(y)
    means = np.array([F[y == s].mean(axis=0) for s in segs])
    var = np.array([F[y == s].var(axis=0) for s in segs])
    best = np.inf
    for a in range(len(segs)):
        for b in range(a + 1, len(segs)):
            sd = np.sqrt((var[a] + var[b]) / 2)
            d = np.abs(means[a] - means[b]) / np.where(sd > 1e-12, sd, np.inf)
            best = min(best, float(np.max(d)) if d.size else 0.0)
    return best


#: How a "No stable segments" verdict ends when some segments reproduce on their own; a
#: guard that refuses segments takes the invitation back for them (:func:`_describable`)
_DESCRIBE_ON_THEIR_OWN = " and may be described on their own, as exploratory findings."


def _describable(verdict: str, refused=None) -> str:
    """``verdict`` with its "Segment(s) … do reproduce (Jaccard >= 0.75) and may be
    described on their own" sentence kept for the segments the guards do not refuse:
    ``refused`` None refuses every one (the sentence then states only that they reproduce),
    else the segments in it are left out of the invitation."""
    import re

    m = re.search(r" Segment\(s\) ([\d, ]+) do reproduce \(Jaccard >= 0\.75\)"
                  + re.escape(_DESCRIBE_ON_THEIR_OWN), verdict)
    if m is None:
        return verdict
    keep = [int(x) for x in m.group(1).split(",")]
    left = [] if refused is None else [x for x in keep if x not in {int(r) for r in refused}]
    if left == keep:
        return verdict
    said = f" Segment(s) {', '.join(map(str, keep))} do reproduce (Jaccard >= 0.75)"
    said += (f"; of these, segment(s) {', '.join(map(str, left))} may be described on their "
             "own, as exploratory findings." if left else ".")
    return verdict[:m.start()] + said + verdict[m.end():]


def stability_verdict(stab) -> str:
    """The stability result's verdict as the report and the persona cards quote it: as
    saved, except that a result saved before the guards took it back (:func:`_describable`)
    no longer invites describing on their own the segments the guards refuse (all of them
    when one input or a missing-answer pattern explains the segments, "Besides, …"; else
    the ``not_asked_segments``)."""
    verdict = str(getattr(stab, "verdict", "") or "")
    if getattr(stab, "dominated_by", None) or " Besides, " in verdict:
        return _describable(verdict)
    return _describable(verdict, list(getattr(stab, "not_asked_segments", None) or ()))


def _flag_result(res, guard):
    """Mark a StabilityResult whose solution the guards refuse."""
    res.dominated_by = guard.dominated_by
    res.dominated_ids = tuple(getattr(guard, "dominated_ids", ()) or ())
    res.flags = [guard.reason]
    res.stable = False
    if res.verdict.startswith("Stable"):
        res.verdict = ("Not personas: the segments reproduce on resampling (mean ARI "
                       f"{res.mean_ari:.2f}) but {guard.reason}.")
    else:
        # the guard refuses every segment, so those that reproduce are not to be described
        # on their own either: the verdict keeps the fact, not the invitation
        res.verdict = _describable(res.verdict)
        res.verdict += f" Besides, {guard.reason}."


def _flag_segments(res, guard):
    """Name, in a StabilityResult, the segments that are a skip pattern (loudly: in
    ``flags``, which the report shows at the top; ``not_asked_segments``; the
    ``not_asked`` column of ``segments``)."""
    res.not_asked_segments = sorted(guard.not_asked)
    res.not_asked_flags = dict(guard.not_asked_flags)
    if "not_asked" not in res.segments:
        res.segments["not_asked"] = [int(s) in guard.not_asked for s in res.segments.index]
    if guard.segment_flags:
        res.flags = [*res.flags, *guard.segment_flags]
        res.verdict = _describable(res.verdict, res.not_asked_segments)
        res.verdict += (" Segment(s) " + ", ".join(map(str, res.not_asked_segments))
                        + " are respondents who were not asked (or skipped) a block of "
                        "questions, not personas.")


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
        ``n_segments`` is the number the sweep asked for (``row["n_segments"]``, the
        number found, is smaller when a cluster too small for a persona was dissolved).
    row : Series
        The chosen row of the sweep table.
    stable : bool
        False means no setting met the stability bar: the data holds no stable segments.
    verdict : str
        One sentence for the report.
    reasons : list of str
        Why this setting, in plain words.
    flags : list of str
        What the guards refused (settings whose segments one input or a missing-answer
        pattern explains, look-alikes), and why the chosen setting is flagged when it is.
        For the report: say these out loud.
    """

    params: dict
    row: pd.Series
    stable: bool
    verdict: str
    reasons: list[str] = field(default_factory=list)
    # a class-level default: results pickled before flags existed still read as ()
    flags: list[str] | tuple = ()

    def model(self, **overrides):
        """A PersonaModel with the recommended settings (unfitted)."""
        return PersonaModel(**{**self.params, **overrides})

    def __str__(self):
        return "\n".join([self.verdict, *("- " + r for r in self.reasons)])


def recommend(table, *, min_ari=MIN_ARI, max_unassigned=MAX_UNASSIGNED, min_share=0.02,
              max_segments=7, prefer_answered=True):
    """Pick a setting from a `sweep` table, with reasons.

    Rule: keep the settings with at least 2 segments, mean stability ARI >= ``min_ari``,
    unassigned share <= ``max_unassigned``, no segment below ``min_share``, no segment
    that dissolves on resampling (the ``stable`` column) and nothing the guards flag (the
    ``flag`` column: one input, a few categorical answers or a missing-answer pattern
    explains the segments, or two segments are look-alikes). Among them, few distinct personas: the largest number of
    segments up to ``max_segments`` whose stability ARI is within `STABILITY_TOLERANCE`
    of the most stable one's (the finest partition that reproduces as well as the best;
    a finer split that reproduces clearly worse is usually one persona cut in two). When
    Gaussian mixtures are among them, the number with the lowest BIC among those
    mixtures instead: stability alone cannot tell a real segment from a reproducible
    split of one elongated segment. Among settings with that number: higher stability,
    then fewer unassigned, then higher DBCV. Silhouette is reported but never decides:
    it prefers 2 segments on almost any survey.

    When no setting passes, the most stable unflagged setting whose smallest segment
    holds at least ``min_share`` (when any does) is returned with ``stable=False`` and a verdict that says the data holds no stable segments.

    With ``prefer_answered`` (default), settings with a segment that is only respondents
    not asked a block of questions (the sweep's ``segment_flag``: the per-segment
    missing-answer check of :func:`segment_guards`) are passed over while a setting
    without one is left to choose from (said in ``flags``); when the chosen (or
    closest) setting has such segments, ``flags`` says which.
    """
    if table.empty:
        raise ConfigError("The sweep table is empty.")
    params_cols = [c for c in table.columns if c in PersonaModel().get_params()]
    t = table.copy()
    flag = t["flag"].fillna("").astype(str) if "flag" in t else pd.Series("", index=t.index)
    multi = t[t["n_segments"] >= 2]
    passes = (
        (multi["stability_ari"] >= min_ari)
        & (multi["unassigned_share"] <= max_unassigned)
        & (multi["smallest_share"] >= min_share)
        & (multi["n_segments"] <= max_segments)
    )
    if "jaccard_min" in multi:
        passes &= ~(multi["jaccard_min"] < MIN_JACCARD)
    refused = multi[passes & (flag[multi.index] != "")]
    ok = multi[passes & (flag[multi.index] == "")]
    seg_flag = t["segment_flag"].fillna("").astype(str) if "segment_flag" in t \
        else pd.Series("", index=t.index)
    n_boot = table.attrs.get("n_boot", "several")
    frac = table.attrs.get("sample_frac", 0.8)
    reasons, flags = [], []
    if len(refused):
        kinds = refused["flag"].map(_flag_kind).value_counts()
        flags.append(
            f"Refused {len(refused)} setting(s) that reproduce but are not personas: "
            + "; ".join(f"{n} because {kind}" for kind, n in kinds.items()) + "."
        )
        for _, r in refused.head(3).iterrows():
            flags.append(f"{_describe(r, params_cols)}: {r['flag']}.")
    n_ok = len(ok)
    answered = ok[seg_flag[ok.index] == ""]
    if prefer_answered and len(answered) and len(answered) < n_ok:
        skipped = ok[seg_flag[ok.index] != ""]
        flags.append(
            f"Passed over {len(skipped)} stable setting(s) with segments that are only "
            "respondents who were not asked (or skipped) a block of questions: "
            + "; ".join(f"{_describe(r, params_cols)}: {r['segment_flag']}"
                        for _, r in skipped.head(3).iterrows()) + ".")
        ok = answered
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
        else:
            # a finer split that reproduces clearly worse than the most reproducible
            # solution is usually one persona cut in two along a noisy item
            top = float(ok["stability_ari"].max())
            ok = ok[ok["stability_ari"] >= top - STABILITY_TOLERANCE]
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
            f"subsamples, the whole pipeline refitted each time (mean ARI >= {min_ari:.2f}, "
            f"every segment's Jaccard >= {MIN_JACCARD}) with <= {max_unassigned:.0%} "
            "unassigned and passed the guards (no single input, categorical cells, "
            "missing-answer pattern or look-alike segments); "
            + (
                f"BIC of the stable Gaussian mixtures is lowest at {k_bic} segments."
                if len(by_bic)
                else "this is the one with the most segments (at most "
                f"{max_segments}) among those that reproduce within {STABILITY_TOLERANCE} "
                "of the most stable."
            )
        )
    else:
        pool = multi if len(multi) else t
        clean = pool[flag[pool.index] == ""]
        pool = clean if len(clean) else pool
        if prefer_answered:
            answered = pool[seg_flag[pool.index] == ""]
            pool = answered if len(answered) else pool
        # a closest setting is still fitted and profiled: never one with a segment too
        # small to describe (a lone outlier) when another setting has none
        sized = pool[pool["smallest_share"] >= min_share]
        pool = sized if len(sized) else pool
        best = pool.sort_values(
            ["stability_ari", "unassigned_share"], ascending=[False, True], na_position="last", kind="stable"
        ).iloc[0]
        stable = False
        verdict = (
            "No stable segments: no setting reproduced on subsamples "
            f"(mean ARI >= {min_ari:.2f}, every segment's Jaccard >= {MIN_JACCARD}) with "
            f"<= {max_unassigned:.0%} unassigned"
            + (" that the guards accept" if len(refused) else "")
            + ". Treat any segments from this data as exploratory, not as personas."
        )
        if not len(multi):
            reasons.append("Every setting found fewer than 2 segments.")
        reasons.append(f"Closest setting: {_describe(best, params_cols)}.")
        if str(best.get("flag", "") or ""):
            flags.append(f"The closest setting is flagged: {best['flag']}.")
    if str(best.get("segment_flag", "") or ""):
        flags.append(f"The {'chosen' if stable else 'closest'} setting is flagged: "
                     f"{best['segment_flag']}.")
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
    if pd.notna(best.get("n_segments_asked", np.nan)):
        # refit what the sweep fitted: k-means asked for k may keep fewer segments
        params["n_segments"] = int(best["n_segments_asked"])
    return Recommendation(params=params, row=best, stable=stable, verdict=verdict,
                          reasons=reasons, flags=flags)


def _flag_kind(reason: str) -> str:
    if reason.startswith("one input"):
        return "one input explains the segments"
    if "unanswered" in reason:
        return "a missing-answer pattern explains the segments"
    if reason.startswith("the segments are cells"):
        return "categorical answers explain the segments"
    if "look-alike" in reason:
        return "two segments are look-alikes"
    return reason


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
        mean_ari >= 0.90, unassigned <= 10%, at least 2 segments, none unstable, and
        no guard refuses the solution (see ``flags``).
    verdict : str
    dominated_by : str or None
        The input, or "missing-answer pattern", that alone reproduces the segments, named
        as a reader knows it (``GuardResult.dominated_by``: its short label); None when
        none does.
    dominated_ids : tuple of str
        The question ids behind ``dominated_by`` (empty on results pickled before it
        existed).
    flags : list of str
        Why the guards refuse these segments as personas (:func:`segment_guards`): one
        input or a missing-answer pattern explains them, or two are look-alikes; and one
        line per block of questions that some segments are only the respondents not
        asked (or skipping): "segment(s) 3, 5: defined by not answering ...".
    not_asked_segments : list of int
        Those segments (``GuardResult.not_asked``); ``segments["not_asked"]`` marks them.
        They do not make the solution unstable: the other segments may be personas.
    not_asked_flags : dict or None
        Segment -> its line of ``flags`` (None on results pickled before it existed).
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
    dominated_by: str | None = None
    # class-level defaults: results pickled before these existed (a baseline run's
    # artifacts) still read as "nothing flagged"
    flags: list | tuple = ()
    not_asked_segments: list | tuple = ()
    not_asked_flags: dict | None = None
    dominated_ids: tuple = ()

    def __str__(self):
        return self.verdict


def stability(model, X, n_boot=10, sample_frac=0.8, seeds=None, random_state=0, n_jobs=None,
              max_respondents=20_000, sample_weight=None):
    """Refit ``model`` on random subsamples and measure how its segments reproduce.

    The reference is ``model`` refitted on all of ``X`` (with its own random_state, or
    ``random_state`` when it has none); each subsample refit uses a different seed, so
    the ARI covers both sampling and algorithm randomness (UMAP, k-means starts).
    Subsamples are drawn without replacement (bootstrap duplicates distort density
    clusterers). Every refit is the whole pipeline as the run fits it: the encoder (its
    scaling and imputation) is refitted on the subsample, the fit sample and weights are
    the run's. The solution is also put through :func:`segment_guards`: segments that one
    input or a missing-answer pattern explains, or look-alikes, are not stable personas
    whatever their ARI (``dominated_by``, ``flags``).

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
    sample_weight : array-like, optional
        Respondent weights (default: a Survey's weight column), as the run passes them.

    Returns
    -------
    StabilityResult
    """
    return start_stability(model, X, n_boot=n_boot, sample_frac=sample_frac, seeds=seeds,
                           random_state=random_state, n_jobs=n_jobs,
                           max_respondents=max_respondents,
                           sample_weight=sample_weight).result(model)


def start_stability(model, X, n_boot=10, sample_frac=0.8, seeds=None, random_state=0,
                    n_jobs=None, max_respondents=20_000, sample_weight=None) -> "StabilityRun":
    """Start :func:`stability`'s refits and return at once.

    Each subsample is encoded here by an encoder refitted on that subsample alone (the
    whole pipeline is refitted, its scaling included); with worker processes (see
    ``n_jobs`` in :func:`stability`) the reducer and clusterer refits run while the
    caller goes on, typically fitting ``model`` itself. ``start_stability(model,
    X).result(model)``, once ``model`` is fitted on ``X``, returns exactly what
    ``stability(model, X)`` returns; the refits never read the fitted model, only its
    parameters.

    Returns
    -------
    StabilityRun
        ``.result(model=None)`` waits for the refits and compares them with ``model``
        (default: the model given here).
    """
    base = clone(model)
    if base.random_state is None:
        base.set_params(random_state=random_state)
    if seeds is not None and not list(seeds):
        raise ConfigError("stability needs at least one subsample (n_boot >= 1).")
    if seeds is None and n_boot < 1:
        raise ConfigError("stability needs at least one subsample (n_boot >= 1).")
    refits = _Refits(base, X, n_boot=n_boot, sample_frac=sample_frac,
                     random_state=random_state, max_respondents=max_respondents,
                     sample_weight=sample_weight, seeds=seeds)
    base.set_params(encoder=None)
    n_sub = refits.n_sub
    if n_jobs is None:
        n_jobs = -1 if n_sub >= _PARALLEL_MIN_ROWS and len(refits.seeds) > 1 else 1
    futures = None
    if n_jobs != 1:
        from joblib import Parallel, delayed

        # a generator: joblib dispatches the refits now and keeps them in submission order
        futures = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator")(
            delayed(_subsample_refit)(base, idx, Fb, wb, seed)
            for seed, (idx, Fb, wb) in zip(refits.seeds, refits.subsamples))
    return StabilityRun(model, base, refits, sample_frac, futures)


class StabilityRun:
    """Refits started by :func:`start_stability`; :meth:`result` compares them."""

    def __init__(self, model, base, refits, sample_frac, futures):
        self._model, self._base, self._refits = model, base, refits
        self._sample_frac = sample_frac
        self._futures = futures

    def result(self, model=None) -> "StabilityResult":
        """Wait for the refits; compare them with ``model`` fitted on the same respondents."""
        model = self._model if model is None else model
        base, refits = self._base, self._refits
        F = refits.features
        n = len(F)
        fitted_here = (getattr(model, "labels_", None) is not None and len(model.labels_) == n
                       and model.random_state is not None)
        # a model already fitted on these respondents with a fixed seed would refit to the
        # same labels: it is the reference fit itself
        ref = model if fitted_here else clone(base).fit(F, sample_weight=refits.weights)
        done = self._futures if self._futures is not None else refits.run(base)
        res = _compare(ref, done, refits.seeds, n, refits.n_sub, self._sample_frac)
        guard = segment_guards(refits.source, np.asarray(ref.labels_), features=refits.frame,
                               feature_map=refits.feature_map)
        if guard.reason:
            _flag_result(res, guard)
        _flag_segments(res, guard)
        return res


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
                f" Segment(s) {', '.join(map(str, keep))} do reproduce (Jaccard >= 0.75)"
                + _DESCRIBE_ON_THEIR_OWN
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


def _subsample_refit(base, idx, Fb, wb, seed):
    """One refit of `stability` (in a worker): the encoded subsample drawn with ``seed``,
    the model refitted with ``seed``."""
    mb = clone(base).set_params(random_state=seed)
    mb._labels_only_fit = True     # only its labels are compared: no membership vectors
    mb.fit(Fb, sample_weight=wb)
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


def visualize_stability(result, names=None):
    """Per-segment reproducibility (clusterwise Jaccard) of a `stability` result.

    Parameters
    ----------
    result : StabilityResult
    names : dict, optional
        Segment label -> display name (the persona names): each bar is named as the
        persona is everywhere else (:func:`personalab.plotting.segment_label`) and drawn in
        its colour (:func:`personalab.plotting.segment_colors`). A segment that dissolves
        (Jaccard below 0.6) is hatched and says so in its label.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go

    from personalab.plotting._common import escape, segment_colors, segment_name

    seg = result.segments
    colors = segment_colors(list(seg.index))
    unstable = seg["unstable"].astype(bool).to_numpy()
    fig = go.Figure(
        go.Bar(
            x=[segment_name(s, names) for s in seg.index],
            y=seg["jaccard_mean"],
            error_y=dict(
                type="data",
                symmetric=False,
                array=np.zeros(len(seg)),
                arrayminus=(seg["jaccard_mean"] - seg["jaccard_min"]).to_numpy(),
            ),
            marker=dict(color=[colors[s] for s in seg.index],
                        pattern=dict(shape=["/" if u else "" for u in unstable],
                                     fgcolor="#a0271c")),
            text=["dissolves" if u else "" for u in unstable],
            textposition="inside",
            customdata=[[float(sh), int(n), escape(str(s))]
                        for s, sh, n in zip(seg.index, seg["share"], seg["n"])],
            hovertemplate="%{x} (segment %{customdata[2]})<br>Jaccard %{y:.2f}<br>"
                          "%{customdata[0]:.1%} (n=%{customdata[1]})<extra></extra>",
        )
    )
    fig.add_hline(y=MIN_JACCARD, line_dash="dash", annotation_text="dissolves below 0.6")
    fig.update_yaxes(range=[0, 1.05], title_text="clusterwise Jaccard (mean; bar to worst)")
    fig.update_layout(
        title=f"Segment reproducibility: mean ARI {result.mean_ari:.2f}<br><sup>{_wrap(escape(result.verdict))}</sup>",
        template="plotly_white",
    )
    return fig


def _wrap(text, width=110):
    import textwrap

    return "<br>".join(textwrap.wrap(text, width))


_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
