"""Features: turn a Survey's segmentation inputs into a numeric feature matrix.

Only questions whose codebook role is ``segment`` feed in; profile-only questions
(demographics, outcomes) never leak into the segmentation, so personas are described
by them rather than defined by them.

Two guards against spurious segments live here as well:

* :class:`FeatureBuilder` refuses id-like inputs (respondent ids, serial numbers,
  high-cardinality codes) with an :class:`~personalab.errors.InputError`: a clusterer
  happily "finds" segments in a serial number.
* :func:`dominant_input_check` warns when a single input alone reproduces the segment
  labels: the segments are then a split on one question, not personas.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.metrics import balanced_accuracy_score
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.validation import check_is_fitted

from personalab.errors import ConfigError, InputError

__all__ = [
    "FeatureBuilder",
    "PersonaLabWarning",
    "dominant_input_check",
    "question_blocks",
]


class PersonaLabWarning(UserWarning):
    """A result that is computed but should not be trusted without a look."""


#: Question types that can never be segmentation inputs.
_NOT_INPUT_TYPES = {"id", "weight", "date", "meta"}
#: Share of missing answers above which a missingness indicator is considered.
MISSING_SHARE_MIN = 0.05
#: Smallest standardised mean difference that makes missingness "informative".
MISSING_MIN_EFFECT = 0.2
_MISSING_SUFFIX = ":(missing)"
#: FeatureBuilder(scale=...) values.
_SCALES = ("standard", "range", "rank", "none")


# --------------------------------------------------------------------------- helpers


def _qattr(question, name, default=None):
    """Attribute of a codebook question (object or mapping)."""
    if isinstance(question, dict):
        return question.get(name, default)
    return getattr(question, name, default)


def _owner(column: str, qids: list[str]) -> str | None:
    """The question id a survey column belongs to (exact id, or ``<qid>:<option>``)."""
    if column in qids:
        return column
    for qid in sorted(qids, key=len, reverse=True):
        if column.startswith(qid + ":"):
            return qid
    return None


def question_blocks(survey, role="segment", *, include_text=False):
    """The survey's questions of one role as ``(question_id, type, DataFrame)`` blocks.

    Each block holds the columns that one question contributes through the Survey
    accessors: ``likert`` (float codes, reverse-keyed flipped), ``multi`` (0/1
    indicators ``<qid>:<option>``), ``single`` (categorical), ``numeric`` (float) and,
    when ``include_text``, ``text``.

    Parameters
    ----------
    survey : Survey
    role : str or None
        ``"segment"`` (segmentation inputs), ``"profile"``, or None for every role
        except ``ignore``.
    include_text : bool
        Also return open-text questions.

    Returns
    -------
    list of tuple
        ``(question_id, type, frame)`` in codebook order.
    """
    questions = list(survey.questions(role=role))
    qids = [str(_qattr(q, "id")) for q in questions]
    qtype = {str(_qattr(q, "id")): _qattr(q, "type") for q in questions}
    accessors = [("likert", survey.likert), ("multi", survey.multi),
                 ("single", survey.categorical), ("numeric", survey.numeric)]
    if include_text:
        accessors.append(("text", survey.text))
    columns: dict[str, list] = {}
    kinds: dict[str, str] = {}
    frames = {}
    for kind, accessor in accessors:
        frame = accessor(role=role)
        frames[kind] = frame
        for col in frame.columns:
            qid = _owner(str(col), qids) or str(col)
            if qid in kinds and kinds[qid] != kind:
                continue  # a question is read through one accessor only (likert wins)
            kinds[qid] = kind
            columns.setdefault(qid, []).append(col)
    order = [q for q in qids if q in columns] + [q for q in columns if q not in qids]
    blocks = []
    for qid in order:
        kind = kinds[qid]
        declared = qtype.get(qid)
        if declared == "likert" or kind != "single":
            qt = kind
        else:
            qt = "single"
        blocks.append((qid, qt, frames[kind][columns[qid]]))
    # Questions of a type no accessor returns (id, date, weight, meta) still matter:
    # a segment-role id column must be refused, not silently dropped.
    for q in questions:
        qid = str(_qattr(q, "id"))
        if qid not in columns and _qattr(q, "type") in _NOT_INPUT_TYPES:
            blocks.append((qid, _qattr(q, "type"), None))
    return blocks


def _id_like_reason(values: pd.Series, kind: str) -> str | None:
    """Why a categorical or numeric column looks like an identifier (None if it does not)."""
    s = values.dropna()
    n = len(s)
    if n < 10:
        return None
    n_unique = s.nunique()
    if kind == "numeric":
        x = s.astype(float).to_numpy()
        integral = np.all(np.isfinite(x)) and np.allclose(x, np.round(x))
        # Unique whole numbers packed densely (a range under 3n) are serial numbers; unique
        # whole numbers spread widely may be real amounts (income in dollars), so pass.
        if integral and n_unique == n and np.ptp(x) < 3 * n:
            return "every respondent has a different whole number, like a serial number"
        d = np.diff(x)
        if n_unique == n and (np.all(d > 0) or np.all(d < 0)):
            return "its values rise (or fall) strictly with the row order, like a serial number"
        return None
    if n_unique == n:
        return "every respondent has a different value"
    if n_unique >= 20 and n_unique > 0.5 * n:
        return f"it has {n_unique} distinct values for {n} respondents (a high-cardinality code)"
    return None


def _refuse(qid: str, why: str):
    raise InputError(
        f"question {qid!r} looks like an identifier, not an answer: {why}. "
        "Segmenting on it would produce spurious segments.",
        column=qid,
        fix=f"set the role of {qid!r} to 'ignore' in the codebook (or to 'profile' if it is "
        "a real answer you only want to describe segments with)",
    )


def _checked_weights(survey) -> np.ndarray:
    """The survey's weights as floats, refused (naming rows) when unusable."""
    w = np.asarray(survey.weights(), dtype=float)
    weight_col = getattr(getattr(survey, "codebook", None), "weight", None)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any() or not w.sum() > 0:
        rows = None
        file_rows = getattr(survey, "file_rows", None)
        where = np.flatnonzero(bad) if bad.any() else np.arange(len(w))
        if file_rows is not None and len(file_rows) == len(w):
            rows = [int(r) for r in np.asarray(file_rows)[where][:50]]
        source = getattr(survey, "source", None)
        problem = (f"{int(bad.sum())} weight(s) are infinite, missing or negative"
                   if bad.any() else "every weight is zero")
        raise InputError(
            f"{problem}: respondents with such weights cannot be segmented", file=source,
            column=weight_col, row=rows,
            fix="correct the weights in the export (finite, >= 0, not all zero), or remove "
                "the weight column from the codebook to segment unweighted")
    return w


def _rank_map(x: np.ndarray, w: np.ndarray):
    """(values, weighted mid-rank shares) of one column, for np.interp."""
    u, inv = np.unique(x, return_inverse=True)
    wu = np.bincount(inv, weights=w, minlength=len(u))
    cum = np.cumsum(wu)
    mid = (cum - wu / 2) / cum[-1] if cum[-1] > 0 else np.linspace(0, 1, len(u))
    return u, mid


def _cohen_d(a: np.ndarray, b: np.ndarray) -> float:
    va, vb = np.var(a, ddof=1), np.var(b, ddof=1)
    pooled = np.sqrt(((len(a) - 1) * va + (len(b) - 1) * vb) / max(len(a) + len(b) - 2, 1))
    return float((np.mean(a) - np.mean(b)) / pooled) if pooled > 0 else 0.0


# --------------------------------------------------------------------------- builder


class FeatureBuilder(TransformerMixin, BaseEstimator):
    """Build the segmentation feature matrix from a Survey's ``segment``-role questions.

    Parameters
    ----------
    likert_centering : bool, default False
        Subtract each respondent's mean Likert answer from their Likert items
        (ipsatisation), which removes scale-use bias (yea-saying, central tendency).
        Use it when the Likert items share one scale.
    include_text : bool, default False
        Add open-text features for ``segment``-role text questions.
    text_components : int, default 20
        Dimensions kept per text question.
    text_method : {"tfidf", "embeddings", "auto"}, default "tfidf"
        ``"tfidf"``: TF-IDF + TruncatedSVD (offline, deterministic). ``"embeddings"``:
        sentence embeddings from the optional ``sentence-transformers`` package (reduced
        to ``text_components`` by TruncatedSVD). ``"auto"``: embeddings when that package
        is importable, TF-IDF otherwise.
    embedding_model : str, default "all-MiniLM-L6-v2"
        Sentence-transformers model name or path (``text_method="embeddings"``).
    missing_indicators : {"auto", True, False}, default "auto"
        Add a 0/1 ``<qid>:(missing)`` column per question. ``True``: for every question
        with missing answers. ``False``: never. ``"auto"``: only where missingness is
        informative: more than 5% of answers are missing *and* the respondents who did
        not answer differ from those who did on at least one other input (Welch t-test,
        Bonferroni-adjusted p < 0.05 over the other inputs, and a standardised mean
        difference of at least 0.2). Random "don't know"s then add no column and cannot
        become a segment of their own.
    random_state : int, default 0
        Seed of the text SVD.
    scale : {"standard", "rank", "none"}, default "standard"
        How the features are put on one footing before any distance is computed, so
        that no question decides the segments by having the widest answer scale (a 1-11
        item otherwise outweighs a 1-5 item four times over in squared distance).
        ``"standard"``: every feature is centred on its (weighted) mean, and each
        question's columns are divided by the square root of their summed (weighted)
        variance, so every question contributes the same total variance (a single-column
        question is z-scored; a single-choice or multi-select question's indicator columns
        share one unit between them instead of inflating rare levels).
        ``"rank"``: answers (Likert and numeric) are first replaced by their weighted
        mid-rank share (0-1, the empirical distribution of the fitted wave), then
        standardised as above: robust to long-tailed numbers. ``"none"``: the raw codes
        (numeric questions robust-scaled), as before version 0.x. Weights are the
        survey's weight column. Scaling is for the distance space only: profiles and
        personas report answers on their original scale.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        Output column names.
    feature_map_ : dict
        Feature name -> question id it comes from.
    feature_info_ : DataFrame
        One row per feature: feature, question, type, kind ('answer', 'level', 'option',
        'missing', 'text'), level.
    missing_indicator_questions_ : list of str
        Questions that received a missingness indicator.
    fill_values_ : dict
        Column -> value used to impute its missing answers (median or mode).
    scale_ : str
        The scaling applied ("standard", "rank" or "none").
    scale_description_ : str
        One sentence for a report's methods section saying how inputs were scaled.
    feature_center_, feature_scale_ : Series
        Per output feature: the value subtracted and the divisor applied (after the rank
        transform under ``scale="rank"``).

    Examples
    --------
    >>> fb = FeatureBuilder(likert_centering=True)
    >>> X = fb.fit_transform(survey)          # doctest: +SKIP
    >>> fb.feature_map_["Q3_1"]               # doctest: +SKIP
    'Q3_1'
    """

    def __init__(self, likert_centering=False, include_text=False, text_components=20,
                 missing_indicators="auto", text_method="tfidf",
                 embedding_model="all-MiniLM-L6-v2", random_state=0, scale="standard"):
        self.likert_centering = likert_centering
        self.include_text = include_text
        self.text_components = text_components
        self.missing_indicators = missing_indicators
        self.text_method = text_method
        self.embedding_model = embedding_model
        self.random_state = random_state
        self.scale = scale

    # -- fitting -------------------------------------------------------------------

    def fit(self, X, y=None):
        """Learn levels, scalers, fill values and indicators from a Survey.

        Parameters
        ----------
        X : Survey
        y : ignored

        Returns
        -------
        self
        """
        if self.missing_indicators not in ("auto", True, False):
            raise ConfigError(
                f"missing_indicators={self.missing_indicators!r} is not one of 'auto', True, False",
                fix="use missing_indicators='auto' (default), True or False")
        if self.text_method not in ("tfidf", "embeddings", "auto"):
            raise ConfigError(f"text_method={self.text_method!r} is not one of "
                              "'tfidf', 'embeddings', 'auto'", fix="use text_method='tfidf'")
        if self.scale not in _SCALES:
            raise ConfigError(f"scale={self.scale!r} is not one of {', '.join(map(repr, _SCALES))}",
                              column="scale", fix="use scale='standard' (default), 'rank' or 'none'")
        blocks = question_blocks(X, "segment", include_text=self.include_text)
        specs = []
        for qid, qtype, frame in blocks:
            if qtype in _NOT_INPUT_TYPES:
                if qtype == "id":
                    _refuse(qid, "its codebook type is 'id'")
                raise InputError(
                    f"question {qid!r} of type {qtype!r} cannot be a segmentation input",
                    column=qid, fix=f"set the role of {qid!r} to 'ignore' (or 'profile') "
                    "in the codebook")
            if qtype in ("single", "numeric"):
                for col in frame.columns:
                    why = _id_like_reason(frame[col], qtype)
                    if why:
                        _refuse(qid, why)
            specs.append(self._fit_block(qid, qtype, frame))
        if not specs:
            raise InputError(
                "the survey has no questions with role 'segment' to build features from",
                fix="give the segmentation questions `role: segment` in the codebook")
        self.blocks_ = specs
        self.missing_indicator_questions_ = self._choose_indicators(X)
        self.fill_values_ = {c: v for s in specs for c, v in s.get("fill", {}).items()}
        out = self._assemble(X)
        self.feature_names_out_ = np.asarray(out.columns, dtype=object)
        self.n_features_out_ = out.shape[1]
        info = out.attrs["feature_info"]
        self.feature_info_ = info
        self.feature_map_ = dict(zip(info["feature"], info["question"]))
        self._scale_codes = {}
        for q in X.questions():
            codes = [c for c in (getattr(q, "scale_codes", None) or [])
                     if isinstance(c, (int, float, np.integer, np.floating))]
            if codes:
                self._scale_codes[str(_qattr(q, "id"))] = [float(c) for c in codes]
        self._fit_scaling(out, info, _checked_weights(X))
        return self

    def fit_transform(self, X, y=None):
        """Fit, then return :meth:`transform` of the same survey."""
        return self.fit(X).transform(X)

    # -- scaling -------------------------------------------------------------------

    def _fit_scaling(self, out, info, w):
        """Centres and divisors per feature (and the rank maps under scale='rank')."""
        self.scale_ = self.scale
        cols = list(out.columns)
        self._rank_maps_ = {}
        if self.scale == "none":
            self.feature_center_ = pd.Series(0.0, index=cols)
            self.feature_scale_ = pd.Series(1.0, index=cols)
            self.scale_description_ = (
                "Inputs entered the segmentation on their raw answer codes (numeric "
                "answers robust-scaled): items with wider scales weigh more.")
            return
        values = out.to_numpy(dtype=float)
        if self.scale == "range":
            self._fit_range(out, info)
            return
        if self.scale == "rank":
            answer = set(info.loc[info["kind"] == "answer", "feature"])
            for j, col in enumerate(cols):
                if col in answer:
                    self._rank_maps_[col] = _rank_map(values[:, j], w)
                    values[:, j] = np.interp(values[:, j], *self._rank_maps_[col])
        total = w.sum()
        center = (w[:, None] * values).sum(axis=0) / total
        var = (w[:, None] * (values - center) ** 2).sum(axis=0) / total
        # one unit of variance per question (its missing-answer indicator is an input of
        # its own, so it does not water down the answers)
        kind = dict(zip(info["feature"], info["kind"]))
        block = [(self.feature_map_.get(c, c), kind.get(c) == "missing") for c in cols]
        block_var: dict = {}
        for b, v in zip(block, var):
            block_var[b] = block_var.get(b, 0.0) + v
        factor = np.array([np.sqrt(block_var[b]) for b in block])
        factor = np.where(factor > 1e-12, factor, 1.0)  # a constant input stays at 0
        self.feature_center_ = pd.Series(center, index=cols)
        self.feature_scale_ = pd.Series(factor, index=cols)
        weighted = not np.allclose(w, w[0])
        how = (f"replaced by its {'weighted ' if weighted else ''}mid-rank share, then "
               if self.scale == "rank" else "")
        self.scale_description_ = (
            f"Before segmenting, every input was {how}centred and scaled so that each "
            "question carries the same weight (unit variance; the indicator columns of a "
            "multiple-choice question share one unit)"
            + (", using the survey weights" if weighted else "")
            + "; profiles report answers on their original scale.")

    def _fit_range(self, out, info):
        """scale='range': Likert codes onto 0-1 by their declared scale, numbers by their
        mid-rank share (0-1), 0/1 indicators as they are."""
        cols = list(out.columns)
        kind = dict(zip(info["feature"], info["kind"]))
        qtype = dict(zip(info["feature"], info["type"]))
        center = np.zeros(len(cols))
        factor = np.ones(len(cols))
        w = np.ones(len(out))
        for j, col in enumerate(cols):
            if kind.get(col) != "answer":
                continue
            if qtype.get(col) == "likert":
                codes = self._scale_codes.get(col)
                x = out[col].to_numpy(dtype=float)
                lo, hi = (min(codes), max(codes)) if codes else (np.nanmin(x), np.nanmax(x))
                if self.likert_centering:
                    lo = 0.0
                center[j] = lo
                factor[j] = (hi - lo) if hi > lo else 1.0
            elif qtype.get(col) == "numeric":
                self._rank_maps_[col] = _rank_map(out[col].to_numpy(dtype=float), w)
        self.feature_center_ = pd.Series(center, index=cols)
        self.feature_scale_ = pd.Series(factor, index=cols)
        self.scale_description_ = (
            "Before segmenting, every input was put on a 0-1 range so that no question "
            "weighs more for having a wider answer scale: rating items by their scale's "
            "lowest and highest answer, numbers by their rank share, choices as 0/1; "
            "profiles report answers on their original scale.")

    def _apply_scaling(self, out):
        if getattr(self, "scale_", "none") == "none":
            return out
        values = out.to_numpy(dtype=float, copy=True)
        for j, col in enumerate(out.columns):
            if col in self._rank_maps_:
                values[:, j] = np.interp(values[:, j], *self._rank_maps_[col])
        values = (values - self.feature_center_.to_numpy()) / self.feature_scale_.to_numpy()
        scaled = pd.DataFrame(values, index=out.index, columns=out.columns)
        scaled.attrs.update(out.attrs)
        return scaled

    def _fit_block(self, qid, qtype, frame):
        spec = {"question": qid, "type": qtype, "columns": list(frame.columns)}
        if qtype == "likert":
            values = self._likert_values(frame, frame_all=None)
            spec["fill"] = {c: float(np.nanmedian(values[c])) if values[c].notna().any()
                            else 0.0 for c in values.columns}
        elif qtype == "multi":
            spec["fill"] = {c: float(frame[c].mode().iloc[0]) if frame[c].notna().any()
                            else 0.0 for c in frame.columns}
        elif qtype == "single":
            col = frame.columns[0]
            s = frame[col]
            if isinstance(s.dtype, pd.CategoricalDtype):
                observed = [c for c in s.cat.categories if (s == c).any()]
            else:
                observed = sorted(s.dropna().astype(str).unique())
            counts = s.dropna().astype(str).value_counts()
            spec["levels"] = [str(v) for v in observed]
            spec["fill"] = {col: str(counts.index[0]) if len(counts) else None}
        elif qtype == "numeric":
            from sklearn.preprocessing import RobustScaler

            spec["scalers"] = {}
            spec["fill"] = {}
            for col in frame.columns:
                x = frame[[col]].astype(float)
                scaler = RobustScaler().fit(x)  # NaN-aware: ignores missing values
                if not np.isfinite(scaler.scale_).all():
                    scaler.scale_ = np.ones(1)
                if not np.isfinite(scaler.center_).all():
                    scaler.center_ = np.zeros(1)
                spec["scalers"][col] = scaler
                spec["fill"][col] = float(np.nanmedian(x[col])) if x[col].notna().any() else 0.0
        elif qtype == "text":
            spec["encoders"] = {col: self._fit_text(frame[col]) for col in frame.columns}
        return spec

    # -- text ----------------------------------------------------------------------

    def _text_method(self):
        if self.text_method == "tfidf":
            return "tfidf"
        try:
            import sentence_transformers  # noqa: F401
        except ImportError:
            if self.text_method == "auto":
                return "tfidf"
            raise ImportError(
                "text_method='embeddings' needs the optional sentence-transformers package: "
                "pip install sentence-transformers (or use text_method='tfidf')") from None
        return "embeddings"

    def _fit_text(self, texts: pd.Series):
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        docs = texts.fillna("").astype(str).tolist()
        method = self._text_method()
        if method == "embeddings":
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(self.embedding_model)
            matrix = model.encode(docs, show_progress_bar=False)
            vectorizer = model
        else:
            vectorizer = TfidfVectorizer(min_df=2 if len(docs) >= 50 else 1,
                                         sublinear_tf=True, stop_words="english")
            try:
                matrix = vectorizer.fit_transform(docs)
            except ValueError:  # empty vocabulary: no usable text at all
                return {"method": method, "vectorizer": None, "svd": None, "k": 0}
        k = int(min(self.text_components, matrix.shape[1] - 1, len(docs) - 1))
        if k < 1:
            return {"method": method, "vectorizer": None, "svd": None, "k": 0}
        svd = TruncatedSVD(n_components=k, random_state=self.random_state).fit(matrix)
        return {"method": method, "vectorizer": vectorizer, "svd": svd, "k": k}

    @staticmethod
    def _text_features(encoder, texts: pd.Series) -> np.ndarray:
        docs = texts.fillna("").astype(str).tolist()
        if encoder["k"] == 0:
            return np.zeros((len(docs), 0))
        if encoder["method"] == "embeddings":
            matrix = encoder["vectorizer"].encode(docs, show_progress_bar=False)
        else:
            matrix = encoder["vectorizer"].transform(docs)
        return encoder["svd"].transform(matrix)

    # -- transforming --------------------------------------------------------------

    def _likert_values(self, frame, frame_all):
        values = frame.astype(float)
        if self.likert_centering:
            ref = (frame_all if frame_all is not None else frame).astype(float)
            answered = ref.notna().sum(axis=1)
            centre = ref.mean(axis=1, skipna=True).where(answered >= 2)
            values = values.sub(centre, axis=0)
        return values

    def _raw_blocks(self, survey):
        """Survey -> {question: (type, frame)} for the fitted questions, checked."""
        blocks = {qid: (qt, fr) for qid, qt, fr in
                  question_blocks(survey, "segment", include_text=self.include_text)}
        for spec in self.blocks_:
            qid = spec["question"]
            if qid not in blocks or blocks[qid][1] is None:
                raise InputError(
                    f"segmentation question {qid!r} that the features were fitted on is "
                    "missing from this survey", column=qid,
                    fix="use a survey with the same codebook (segment-role questions)")
            frame = blocks[qid][1]
            if spec["type"] != "multi":
                absent = [c for c in spec["columns"] if c not in frame.columns]
                if absent:
                    raise InputError(f"column {absent[0]!r} of question {qid!r} is missing",
                                     column=absent[0], fix="use the codebook the features "
                                     "were fitted with")
        return blocks

    def _assemble(self, survey, return_masks=False):
        """The feature frame (and, with ``return_masks``, each question's missing-answer
        mask: per-respondent data that is never kept on the fitted encoder)."""
        blocks = self._raw_blocks(survey)
        index = survey.data.index
        likert_all = [blocks[s["question"]][1] for s in self.blocks_ if s["type"] == "likert"]
        likert_all = pd.concat(likert_all, axis=1) if likert_all else None
        parts, info = [], []
        missing_masks = {}

        def add(name, values, qid, qtype, kind, level=None):
            parts.append(pd.Series(np.asarray(values, dtype=float), index=index, name=name))
            info.append((name, qid, qtype, kind, level))

        for spec in self.blocks_:
            qid, qtype = spec["question"], spec["type"]
            frame = blocks[qid][1]
            if qtype == "likert":
                frame = frame[spec["columns"]]
                values = self._likert_values(frame, likert_all)
                missing_masks[qid] = frame.isna().all(axis=1)
                for col in spec["columns"]:
                    add(col, values[col].fillna(spec["fill"][col]), qid, qtype, "answer")
            elif qtype == "multi":
                frame = frame.reindex(columns=spec["columns"])
                missing_masks[qid] = frame.isna().all(axis=1)
                for col in spec["columns"]:
                    level = col[len(qid) + 1:] if col.startswith(qid + ":") else col
                    add(col, frame[col].astype(float).fillna(spec["fill"][col]),
                        qid, qtype, "option", level)
            elif qtype == "single":
                col = spec["columns"][0]
                s = frame[col]
                missing_masks[qid] = s.isna()
                s = s.astype(object).where(s.notna(), spec["fill"][col])
                s = s.map(lambda v: None if v is None or v is pd.NA else str(v))
                for level in spec["levels"]:
                    add(f"{qid}={level}", (s == level).astype(float), qid, qtype, "level", level)
            elif qtype == "numeric":
                for col in spec["columns"]:
                    x = frame[[col]].astype(float)
                    missing_masks[qid] = x[col].isna()
                    scaled = spec["scalers"][col].transform(x)[:, 0]
                    fill = spec["scalers"][col].transform(
                        pd.DataFrame({col: [spec["fill"][col]]}))[0, 0]
                    add(col, np.where(np.isnan(scaled), fill, scaled), qid, qtype, "answer")
            elif qtype == "text":
                for col in spec["columns"]:
                    z = self._text_features(spec["encoders"][col], frame[col])
                    for j in range(z.shape[1]):
                        add(f"{col}:text_{j + 1:02d}", z[:, j], qid, qtype, "text")
        for qid in getattr(self, "missing_indicator_questions_", []):
            add(qid + _MISSING_SUFFIX, missing_masks[qid].astype(float), qid,
                next(s["type"] for s in self.blocks_ if s["question"] == qid), "missing")
        out = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=index)
        feature_info = pd.DataFrame(info, columns=["feature", "question", "type", "kind", "level"])
        out.attrs["feature_info"] = feature_info
        out.attrs["feature_map"] = dict(zip(feature_info["feature"], feature_info["question"]))
        return (out, missing_masks) if return_masks else out

    def _choose_indicators(self, survey) -> list[str]:
        if self.missing_indicators is False:
            return []
        self.missing_indicator_questions_ = []
        base, masks = self._assemble(survey, return_masks=True)
        info = base.attrs["feature_info"]
        chosen = []
        for qid, mask in masks.items():
            share = float(mask.mean())
            if share == 0 or share == 1:
                continue
            if self.missing_indicators is True:
                chosen.append(qid)
                continue
            if share <= MISSING_SHARE_MIN:
                continue
            others = info.loc[(info["question"] != qid) & (info["kind"] != "text"), "feature"]
            if self._missingness_differs(base[others.tolist()], mask.to_numpy(), masks):
                chosen.append(qid)
        return chosen

    @staticmethod
    def _missingness_differs(others: pd.DataFrame, mask: np.ndarray, masks) -> bool:
        """Do non-answerers differ from answerers on any other input? (see class doc)"""
        if others.shape[1] == 0 or mask.sum() < 2 or (~mask).sum() < 2:
            return False
        pvalues, effects = [], []
        for col in others.columns:
            x = others[col].to_numpy()
            a, b = x[mask], x[~mask]
            if np.nanstd(x) == 0:
                continue
            with warnings.catch_warnings():
                # nearly constant columns: scipy warns of precision loss, p is then ~1
                warnings.simplefilter("ignore", RuntimeWarning)
                p = stats.ttest_ind(a, b, equal_var=False, nan_policy="omit").pvalue
            pvalues.append(p if np.isfinite(p) else 1.0)
            effects.append(abs(_cohen_d(a, b)))
        if not pvalues:
            return False
        adjusted = np.minimum(np.asarray(pvalues) * len(pvalues), 1.0)
        return bool(np.any((adjusted < 0.05) & (np.asarray(effects) >= MISSING_MIN_EFFECT)))

    def transform(self, X):
        """Feature matrix of a Survey.

        Parameters
        ----------
        X : Survey
            A survey with the codebook the builder was fitted on (e.g. a later wave).

        Returns
        -------
        DataFrame
            Indexed by respondent id, one column per feature. ``.attrs["feature_map"]``
            maps each column to its question (as :attr:`feature_map_`).
        """
        check_is_fitted(self, "blocks_")
        out = self._assemble(X)
        attrs = dict(out.attrs)
        out = out.reindex(columns=self.feature_names_out_, fill_value=0.0)
        out.attrs.update(attrs)
        return self._apply_scaling(out)

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns."""
        check_is_fitted(self, "feature_names_out_")
        return np.asarray(self.feature_names_out_, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # input is a Survey, not an array
        return tags


# --------------------------------------------------------------------------- dominance


def _eta_squared(x: np.ndarray, labels: np.ndarray) -> float:
    """Correlation ratio: share of x's variance explained by the labels."""
    total = np.sum((x - x.mean()) ** 2)
    if total == 0:
        return 0.0
    between = sum(np.sum(labels == g) * (x[labels == g].mean() - x.mean()) ** 2
                  for g in np.unique(labels))
    return float(between / total)


def dominant_input_check(features, labels, *, feature_map=None, accuracy_threshold=0.9,
                         eta2_threshold=0.5, dominance_ratio=3.0, max_rows=5000,
                         random_state=0, warn=True) -> pd.DataFrame:
    """Warn when one input alone explains most of the separation between segments.

    For every input (a question: its one-hot, option and missingness columns are taken
    together) two scores are computed against the assigned labels (-1 is left out):

    * ``tree_accuracy``: balanced accuracy of a small decision tree (at most 2 leaves per
      segment) that sees only that input;
    * ``eta2``: the largest correlation ratio (between-segment share of variance) of the
      input's columns.

    A :class:`PersonaLabWarning` is issued when the best input's tree reproduces the labels
    with balanced accuracy >= ``accuracy_threshold``, or when its eta² is
    >= ``eta2_threshold`` *and* at least ``dominance_ratio`` times the runner-up's.

    Parameters
    ----------
    features : DataFrame
        Feature matrix (e.g. from :class:`FeatureBuilder`), one row per respondent.
    labels : array-like of int
        Segment per row; -1 = unassigned.
    feature_map : dict, optional
        Feature -> input (question). Defaults to ``features.attrs["feature_map"]`` when
        present, else every column is its own input.
    max_rows : int
        Rows used (deterministic subsample) to keep the check fast on large waves.

    Returns
    -------
    DataFrame
        One row per input: input, n_features, eta2, tree_accuracy; best first.
    """
    if feature_map is None:
        feature_map = getattr(features, "attrs", {}).get("feature_map") or {}
    features = pd.DataFrame(features)
    labels = np.asarray(labels)
    if len(labels) != len(features):
        raise InputError(f"{len(labels)} labels for {len(features)} rows of features",
                         fix="pass one label per respondent, in the features' row order")
    keep = labels != -1
    X, y = features.to_numpy(dtype=float)[keep], labels[keep]
    if len(y) > max_rows:
        rng = np.random.default_rng(random_state)
        pick = np.sort(rng.choice(len(y), max_rows, replace=False))
        X, y = X[pick], y[pick]
    groups: dict[str, list[int]] = {}
    for j, col in enumerate(features.columns):
        groups.setdefault(str(feature_map.get(col, col)), []).append(j)
    k = len(np.unique(y))
    rows = []
    for name, cols in groups.items():
        sub = X[:, cols]
        eta2 = max(_eta_squared(sub[:, j], y) for j in range(sub.shape[1])) if len(y) else 0.0
        acc = np.nan
        if k >= 2:
            tree = DecisionTreeClassifier(max_leaf_nodes=max(2, 2 * k), random_state=0)
            acc = balanced_accuracy_score(y, tree.fit(sub, y).predict(sub))
        rows.append((name, len(cols), eta2, acc))
    table = (pd.DataFrame(rows, columns=["input", "n_features", "eta2", "tree_accuracy"])
             .sort_values(["tree_accuracy", "eta2"], ascending=False, ignore_index=True))
    if warn and k >= 2 and len(table):
        best = table.iloc[0]
        by_eta = table.sort_values("eta2", ascending=False, ignore_index=True)
        top_eta = by_eta.iloc[0]
        runner = by_eta["eta2"].iloc[1] if len(by_eta) > 1 else 0.0
        message = None
        if best["tree_accuracy"] >= accuracy_threshold:
            message = (f"one input alone reproduces the segments: {best['input']!r} predicts "
                       f"{best['tree_accuracy']:.0%} of the labels (balanced accuracy)")
        elif top_eta["eta2"] >= eta2_threshold and top_eta["eta2"] >= dominance_ratio * runner:
            message = (f"one input dominates the segments: {top_eta['input']!r} has "
                       f"eta²={top_eta['eta2']:.2f}, next best {runner:.2f}")
        if message:
            warnings.warn(
                message + ". The segments may be a split on one question rather than personas. "
                "Check whether that question should be a segmentation input (codebook role "
                "'profile' describes segments without defining them).",
                PersonaLabWarning, stacklevel=2)
    return table
