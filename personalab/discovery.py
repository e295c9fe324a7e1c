"""Discovery: what the codebook does not catch, and what sets a segment apart.

* :func:`discover_themes` clusters the answers no theme caught and describes each cluster
  with key phrases (class-based TF-IDF, as BERTopic does), its size and its most typical
  answers, so a researcher can name it and add it to the theme codebook
  (:meth:`DiscoveredThemes.to_codebook_entry`).
* :func:`distinctive_terms` lists the words most characteristic of each segment
  (log-odds ratio with an informative Dirichlet prior, Monroe, Colaresi & Quinn 2008,
  or c-TF-IDF).
* :func:`distinctive_themes` tests which themes are over-represented in each segment.

Everything is deterministic: same answers and ``random_state`` -> same output.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse, stats
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize

from .errors import ConfigError, InputError
from .ids import in_ids

__all__ = [
    "DiscoveredThemes",
    "ctfidf",
    "discover_themes",
    "distinctive_terms",
    "distinctive_themes",
    "join_questions",
    "split_sentences",
]

UNASSIGNED = -1


# --------------------------------------------------------------------------- helpers
def join_questions(texts, sep=" . ") -> pd.Series:
    """One text per respondent: a Series as is, a DataFrame's text columns joined."""
    if isinstance(texts, pd.DataFrame):
        filled = texts.astype(object).where(texts.notna(), "")
        return filled.apply(lambda row: sep.join(str(v).strip() for v in row if str(v).strip()),
                            axis=1).astype(object)
    s = texts if isinstance(texts, pd.Series) else pd.Series(list(texts))
    return s.astype(object).where(s.notna(), "").map(str)


def align_labels(labels, index: pd.Index, *, what="labels") -> pd.Series:
    """Segment labels aligned to answers: a Series by id (string ids match too; missing ids
    become unassigned), an array by position. Shared with :mod:`personalab.quotes`."""
    if isinstance(labels, pd.Series):
        aligned = labels.reindex(index)
        if aligned.isna().all() and len(index):
            by_str = {str(k): v for k, v in labels.items()}
            aligned = pd.Series([by_str.get(str(i), np.nan) for i in index], index=index)
        if aligned.isna().all() and len(index):
            raise InputError(f"none of the answers' ids are in the {what}' index",
                             fix="index the labels by the same respondent ids as the answers")
        return aligned.fillna(UNASSIGNED)
    arr = np.asarray(labels)
    if len(arr) != len(index):
        raise InputError(f"{len(arr)} {what} for {len(index)} answers",
                         fix="pass one label per answer, or a Series indexed by respondent id")
    return pd.Series(arr, index=index)


def ctfidf(counts, class_rows) -> np.ndarray:
    """Class-based TF-IDF (Grootendorst 2022, BERTopic).

    Parameters
    ----------
    counts : sparse matrix
        Documents x terms, raw counts.
    class_rows : list of index arrays
        The documents of each class.

    Returns
    -------
    ndarray
        Classes x terms: ``tf(t, c) * log(1 + A / f(t))`` where ``tf`` is the term's
        frequency in the class's concatenated documents, normalised by the class's total,
        ``A`` the average number of words per class and ``f(t)`` the term's frequency over
        all classes.
    """
    counts = sparse.csr_matrix(counts)
    tf = np.vstack([np.asarray(counts[rows].sum(axis=0)).ravel() for rows in class_rows]).astype(float)
    totals = tf.sum(axis=1, keepdims=True)
    avg_words = totals.mean()
    freq = tf.sum(axis=0)
    idf = np.log(1 + avg_words / np.maximum(freq, 1e-12))
    return np.divide(tf, totals, out=np.zeros_like(tf), where=totals > 0) * idf


def _top_terms(scores: np.ndarray, vocab: np.ndarray, n: int, min_score=0.0) -> list[str]:
    """Top ``n`` terms by score (ties by term), skipping words already inside a chosen phrase."""
    order = np.lexsort((vocab, -scores))
    chosen: list[str] = []
    for j in order:
        if scores[j] <= min_score or len(chosen) >= n:
            break
        term = vocab[j]
        words = set(term.split())
        if any(words <= set(c.split()) or set(c.split()) <= words for c in chosen):
            continue
        chosen.append(term)
    return chosen


# --------------------------------------------------------------------------- discovery
@dataclass
class DiscoveredThemes:
    """Candidate themes found among the answers no codebook theme caught.

    Attributes
    ----------
    themes : DataFrame
        One row per candidate, largest first: candidate, size (answers), n_units
        (sentences or answers clustered), share (of the uncaught answers), cohesion (mean
        cosine of its units to their centroid in the reduced TF-IDF space; low = a
        grab-bag), key_phrases (list), examples (list of the most typical units' texts),
        example_ids (their answer ids).
    examples : DataFrame
        Tidy: candidate, rank, answer_id, unit (the sentence, or the answer), text (the
        whole answer), similarity (to the candidate's centroid). One example per answer.
    assignments : DataFrame
        Tidy: answer_id, unit, candidate (``-1``: in a cluster smaller than ``min_size``),
        similarity - every clustered unit.
    n_uncaught, n_answers : int
    """

    themes: pd.DataFrame
    examples: pd.DataFrame
    assignments: pd.DataFrame
    n_uncaught: int
    n_answers: int
    params: dict = field(default_factory=dict)

    def answers(self, candidate: int) -> list:
        """Ids of the answers with a unit in ``candidate`` (sorted)."""
        a = self.assignments
        return sorted(a.loc[a["candidate"] == candidate, "answer_id"].unique(), key=str)

    def to_codebook_entry(self, candidate: int, *, id: str | None = None, label: str | None = None,
                          n_phrases: int = 8, polarity: str | None = None) -> dict:
        """A theme-codebook entry (YAML schema_version 1) for a candidate.

        The phrases are the candidate's key phrases, as surface words; review and edit them
        (they are matched on lemmas) before adding the entry to ``themes.yml``.
        """
        rows = self.themes[self.themes["candidate"] == candidate]
        if rows.empty:
            raise ConfigError(f"no candidate {candidate}",
                              fix=f"pick one of {self.themes['candidate'].tolist()}")
        row = rows.iloc[0]
        phrases = list(row["key_phrases"])[:n_phrases]
        example = row["examples"][0] if len(row["examples"]) else ""
        default_id = ("candidate_" + "_".join(phrases[0].split())) if phrases else f"candidate_{candidate}"
        entry = {
            "id": id or default_id,
            "label": label or " / ".join(phrases[:3]).capitalize(),
            "description": (f"Discovered among {row['size']} answers no theme caught "
                            f"(e.g. \"{example[:120]}\"). Review, rename and edit the phrases."),
            "parent": None,
            "phrases": phrases,
            "patterns": [],
            "exclude": [],
        }
        if polarity is not None:
            entry["polarity"] = polarity
        return entry


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|[\r\n;]+")


def split_sentences(text: str) -> list[str]:
    """Sentences of an answer (punctuation and line breaks; no language model needed)."""
    return [p.strip() for p in _SENTENCE_END.split(text) if p and p.strip(" .!?")]


def discover_themes(texts, tag_result=None, n_themes="auto", *, unit="sentence", min_size=5,
                    n_phrases=10, n_examples=8, n_components=50, max_answers=20_000,
                    random_state=0) -> DiscoveredThemes:
    """Cluster the answers that no theme caught into candidate themes.

    Parameters
    ----------
    texts : Series or DataFrame
        Answers indexed by answer id (a DataFrame's text columns are joined per row).
    tag_result : TagResult, optional
        An answer is *uncaught* when its row in ``tag_result.matrix`` is all zero (or it
        has no row); ``AutoCoder.labels_`` can stand in for ``.matrix`` too (any object
        with a ``.matrix``, or the DataFrame itself). Without it, every answer is clustered.
    n_themes : int or 'auto'
        'auto': HDBSCAN finds the clusters and leaves what fits none out (``-1``);
        an int: k-means with that many clusters (every unit gets one).
    unit : {'sentence', 'answer'}, default 'sentence'
        What is clustered. Survey answers often touch two subjects in two sentences
        ("Parking is a nightmare. Staff are lovely."); clustering sentences keeps each
        subject whole, and an answer can then support more than one candidate.
    min_size : int, default 5
        Clusters with fewer answers are reported as ``-1`` (not a candidate).
    n_phrases, n_examples : int
        Key phrases and example answers per candidate.
    n_components : int, default 50
        Truncated SVD (LSA) dimensions before k-means.
    max_answers : int or None, default 20000
        Candidates are proposed from a seeded random sample of at most this many uncaught
        answers (in their original order), so a million-answer wave clusters in seconds;
        cluster sizes then count the sample's answers. None clusters every uncaught answer.
    random_state : int, default 0

    Returns
    -------
    DiscoveredThemes

    Notes
    -----
    TF-IDF (uni- and bigrams, English stop words) -> truncated SVD (LSA) -> unit length
    -> HDBSCAN (or k-means). Key phrases: c-TF-IDF over each cluster's concatenated units, with the
    caught answers as one more class so that words common to the whole survey do not
    come out as key phrases. Examples: the units nearest the cluster's centroid, one per
    answer - typical, not three random documents as in BERTopic.
    """
    from threadpoolctl import threadpool_limits

    if unit not in ("sentence", "answer"):
        raise ConfigError(f"unit must be 'sentence' or 'answer', got {unit!r}")
    texts = join_questions(texts)
    if texts.index.has_duplicates:
        raise InputError("answer ids are not unique", fix="index the answers by a unique id")
    nonblank = texts[texts.str.strip() != ""]
    caught_mask = _caught(nonblank.index, tag_result)
    uncaught = nonblank[~caught_mask]
    caught = nonblank[caught_mask]
    params = dict(n_themes=n_themes, unit=unit, min_size=min_size, random_state=random_state)
    n_uncaught = len(uncaught)
    if max_answers is not None and len(uncaught) > max_answers:
        keep = np.sort(np.random.default_rng(random_state).choice(len(uncaught), max_answers,
                                                                    replace=False))
        params.update(max_answers=max_answers, n_uncaught=len(uncaught))
        uncaught = uncaught.iloc[keep]
    if max_answers is not None and len(caught) > max_answers:
        # the caught answers are one more class for the key phrases: a sample is as good
        keep = np.sort(np.random.default_rng(random_state + 1).choice(len(caught), max_answers,
                                                                        replace=False))
        caught = caught.iloc[keep]

    if unit == "sentence":
        pairs = [(a, s) for a, t in uncaught.items() for s in split_sentences(t)]
    else:
        pairs = list(uncaught.items())
    units = pd.DataFrame(pairs, columns=["answer_id", "unit"])
    if units["answer_id"].nunique() < max(2 * min_size, 4):
        return _empty_discovery(uncaught, len(texts), params)

    tfidf = TfidfVectorizer(ngram_range=(1, 2), stop_words="english", sublinear_tf=True,
                            min_df=2, strip_accents="unicode")
    try:
        X = tfidf.fit_transform(units["unit"].tolist())
    except ValueError:  # empty vocabulary: all stop words, or every word unique
        return _empty_discovery(uncaught, len(texts), params)
    has_terms = np.asarray(X.getnnz(axis=1)) > 0   # "Ok." has nothing to cluster on
    units, X = units[has_terms].reset_index(drop=True), X[has_terms]
    if units["answer_id"].nunique() < max(2 * min_size, 4):
        return _empty_discovery(uncaught, len(texts), params)
    k_dims = min(n_components, X.shape[1] - 1, X.shape[0] - 1)
    Z = TruncatedSVD(k_dims, random_state=random_state).fit_transform(X) if k_dims >= 2 else X.toarray()
    Z = normalize(Z)

    if n_themes == "auto":
        # density clustering: the number of themes is found, and answers that fit none
        # stay out (-1) instead of diluting a candidate
        import hdbscan

        clusterer = hdbscan.HDBSCAN(min_cluster_size=max(min_size, 2),
                                    cluster_selection_method="eom").fit(Z)
        raw = clusterer.labels_
    else:
        if isinstance(n_themes, bool) or not isinstance(n_themes, (int, np.integer)) or n_themes < 1:
            raise ConfigError(f"n_themes must be a positive integer or 'auto', got {n_themes!r}")
        # k-means on small data is fastest single-threaded (OpenMP oversubscribes small VMs)
        with threadpool_limits(limits=1):
            raw = KMeans(min(int(n_themes), len(units)), n_init=4,
                         random_state=random_state).fit(Z).labels_
    clusters = sorted(set(raw) - {UNASSIGNED})
    centroids = np.zeros((max(clusters, default=-1) + 2, Z.shape[1]))
    for c in clusters:
        centroids[c] = Z[raw == c].mean(axis=0)
    centroids = normalize(centroids)   # row -1 (noise) stays all zero: similarity 0
    units["similarity"] = (Z * centroids[raw]).sum(axis=1)
    units["raw"] = raw
    units["key"] = units["answer_id"].map(str)
    answers_in = units.groupby("raw")["answer_id"].nunique()
    first_key = units.groupby("raw")["key"].min()
    kept = sorted((c for c in answers_in.index if c != UNASSIGNED and answers_in[c] >= min_size),
                  key=lambda c: (-answers_in[c], first_key[c]))
    renumber = {c: i for i, c in enumerate(kept)}
    units["candidate"] = units["raw"].map(lambda c: renumber.get(c, UNASSIGNED))

    counter = CountVectorizer(ngram_range=(1, 2), stop_words="english", strip_accents="unicode",
                              min_df=2)
    docs = units["unit"].tolist() + caught.tolist()
    try:
        counts = counter.fit_transform(docs)
    except ValueError:
        counts = counter.set_params(min_df=1).fit_transform(docs)
    vocab = counter.get_feature_names_out()
    classes = [np.flatnonzero(raw == c) for c in kept]
    if len(caught):
        classes.append(np.arange(len(units), len(docs)))
    scores = ctfidf(counts, classes)

    theme_rows, example_rows = [], []
    for c in kept:
        cand = renumber[c]
        members = units[units["raw"] == c].sort_values(["similarity", "key"], ascending=[False, True],
                                                       kind="mergesort")
        # one example per answer, and no two examples saying the very same thing
        best_per_answer = (members.assign(norm=members["unit"].str.lower().str.strip(" .!?"))
                           .drop_duplicates("answer_id").drop_duplicates("norm"))
        top = best_per_answer.head(n_examples)
        for rank, row in enumerate(top.itertuples(), start=1):
            example_rows.append(dict(candidate=cand, rank=rank, answer_id=row.answer_id, unit=row.unit,
                                     text=uncaught.loc[row.answer_id], similarity=float(row.similarity)))
        theme_rows.append(dict(
            candidate=cand, size=int(answers_in[c]), n_units=len(members),
            share=answers_in[c] / len(uncaught), cohesion=float(members["similarity"].mean()),
            key_phrases=_top_terms(scores[cand], vocab, n_phrases),
            examples=top["unit"].tolist(), example_ids=top["answer_id"].tolist(),
        ))
    themes = pd.DataFrame(theme_rows, columns=_THEME_COLUMNS)
    examples = pd.DataFrame(example_rows, columns=_EXAMPLE_COLUMNS)
    assignments = units[["answer_id", "unit", "candidate", "similarity"]]
    return DiscoveredThemes(themes, examples, assignments, n_uncaught, len(texts), params)


_THEME_COLUMNS = ["candidate", "size", "n_units", "share", "cohesion", "key_phrases", "examples",
                  "example_ids"]
_EXAMPLE_COLUMNS = ["candidate", "rank", "answer_id", "unit", "text", "similarity"]


def _caught(index: pd.Index, tag_result) -> np.ndarray:
    if tag_result is None:
        return np.zeros(len(index), dtype=bool)
    matrix = tag_result if isinstance(tag_result, pd.DataFrame) else tag_result.matrix
    caught_ids = matrix.index[matrix.fillna(0).to_numpy().sum(axis=1) > 0]
    mask = in_ids(index, caught_ids)
    if not mask.any() and len(caught_ids):  # ids read as strings on one side only
        keys = {str(i) for i in caught_ids}
        mask = np.array([str(i) in keys for i in index])
    return mask


def _empty_discovery(uncaught, n_answers, params) -> DiscoveredThemes:
    return DiscoveredThemes(pd.DataFrame(columns=_THEME_COLUMNS), pd.DataFrame(columns=_EXAMPLE_COLUMNS),
                            pd.DataFrame(columns=["answer_id", "unit", "candidate", "similarity"]),
                            len(uncaught), n_answers, params)


# --------------------------------------------------------------------------- segments
def distinctive_terms(texts, labels, n=10, *, method="log_odds", prior=1.0, min_count=3,
                      ngram_range=(1, 2)) -> pd.DataFrame:
    """Terms most distinctive of each segment.

    Parameters
    ----------
    texts : Series or DataFrame
        Answers indexed by respondent id (a DataFrame's text columns are joined).
    labels : Series or array
        Segment per respondent; ``-1`` (unassigned) answers are left out entirely.
    n : int
        Terms per segment.
    method : {'log_odds', 'ctfidf'}
        'log_odds': the segment against all other segments, log-odds ratio with an
        informative Dirichlet prior (Monroe et al. 2008, eq. 16-22), reported as a z-score;
        the prior is the whole corpus's counts times ``prior`` (larger = more shrinkage of
        rare words). 'ctfidf': class-based TF-IDF (BERTopic).
    prior : float, default 1.0
    min_count : int, default 3
        Terms used fewer times overall are ignored.

    Returns
    -------
    DataFrame
        Tidy: segment, rank, term, score (z for log-odds), count (in the segment),
        doc_share (share of the segment's answers using it), doc_share_rest.
    """
    texts = join_questions(texts)
    seg = align_labels(labels, texts.index)
    keep = (seg != UNASSIGNED) & (texts.str.strip() != "")
    texts, seg = texts[keep], seg[keep]
    segments = sorted(seg.unique(), key=lambda s: (str(type(s)), s))
    if len(segments) < 2:
        raise InputError("distinctive terms need at least two segments",
                         fix="check the labels: all answers are in one segment or unassigned")
    counter = CountVectorizer(ngram_range=ngram_range, stop_words="english",
                              strip_accents="unicode", min_df=1)
    counts = counter.fit_transform(texts.tolist()).tocsc()
    total = np.asarray(counts.sum(axis=0)).ravel()
    usable = np.flatnonzero(total >= min_count)
    counts, total = counts[:, usable].tocsr(), total[usable]
    vocab = counter.get_feature_names_out()[usable]
    present = (counts > 0).astype(int)
    rows_of = {s: np.flatnonzero((seg == s).to_numpy()) for s in segments}
    if method == "ctfidf":
        scores = ctfidf(counts, [rows_of[s] for s in segments])
    elif method == "log_odds":
        alpha = total * prior
        a0 = alpha.sum()
        scores = []
        for s in segments:
            y_i = np.asarray(counts[rows_of[s]].sum(axis=0)).ravel().astype(float)
            y_j = total - y_i
            n_i, n_j = y_i.sum(), y_j.sum()
            delta = (np.log((y_i + alpha) / (n_i + a0 - y_i - alpha))
                     - np.log((y_j + alpha) / (n_j + a0 - y_j - alpha)))
            var = 1 / (y_i + alpha) + 1 / (y_j + alpha)
            scores.append(delta / np.sqrt(var))
        scores = np.vstack(scores)
    else:
        raise ConfigError(f"method must be 'log_odds' or 'ctfidf', got {method!r}")
    rows = []
    n_docs = len(texts)
    all_docs = np.asarray(present.sum(axis=0)).ravel()
    for k, s in enumerate(segments):
        r = rows_of[s]
        seg_counts = np.asarray(counts[r].sum(axis=0)).ravel()
        seg_docs = np.asarray(present[r].sum(axis=0)).ravel()
        order = np.lexsort((vocab, -scores[k]))
        rank = 0
        for j in order:
            if rank >= n or seg_counts[j] == 0 or not np.isfinite(scores[k, j]) or scores[k, j] <= 0:
                break
            rank += 1
            rest = n_docs - len(r)
            rows.append(dict(segment=s, rank=rank, term=vocab[j], score=float(scores[k, j]),
                             count=int(seg_counts[j]), doc_share=seg_docs[j] / len(r),
                             doc_share_rest=(all_docs[j] - seg_docs[j]) / rest if rest else np.nan))
    return pd.DataFrame(rows, columns=["segment", "rank", "term", "score", "count", "doc_share",
                                       "doc_share_rest"])


def distinctive_themes(tag_matrix: pd.DataFrame, labels, *, alpha=0.05, min_expected=5,
                       correction="fdr_bh") -> pd.DataFrame:
    """Themes over-represented in each segment, with a test and an index.

    Each segment is compared with the other segments (unassigned ``-1`` left out).

    Parameters
    ----------
    tag_matrix : DataFrame
        Answer (respondent) id x theme, 0/1 (``TagResult.matrix`` or ``AutoCoder.labels_``).
    labels : Series or array
        Segment per respondent, aligned by index (Series) or by position.
    alpha : float, default 0.05
    min_expected : int, default 5
        Below this smallest expected cell count, Fisher's exact test replaces the
        two-proportion z-test.
    correction : str, default 'fdr_bh'
        ``statsmodels.stats.multitest.multipletests`` method over all segment x theme tests.

    Returns
    -------
    DataFrame
        Tidy, one row per segment x theme: segment, theme, n (answers in the segment),
        n_theme, share, share_rest, index (share / overall share x 100: 150 = 1.5 times
        as common as overall), diff (share - share_rest), test ('z' or 'fisher'),
        statistic, p_value, p_adjusted, over (significantly over-represented).
        Sorted by segment, then over-representation first (largest index first).
    """
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import proportions_ztest

    matrix = tag_matrix.fillna(0).astype(int).clip(0, 1)
    seg = align_labels(labels, matrix.index)
    keep = seg != UNASSIGNED
    matrix, seg = matrix[keep.to_numpy()], seg[keep]
    segments = sorted(seg.unique(), key=lambda s: (str(type(s)), s))
    if len(segments) < 2:
        raise InputError("distinctive themes need at least two segments",
                         fix="check the labels: all answers are in one segment or unassigned")
    n_all = len(matrix)
    rows = []
    for s in segments:
        in_seg = (seg == s).to_numpy()
        n, n_rest = int(in_seg.sum()), int((~in_seg).sum())
        for theme in matrix.columns:
            col = matrix[theme].to_numpy()
            k, k_rest = int(col[in_seg].sum()), int(col[~in_seg].sum())
            overall = (k + k_rest) / n_all
            share, share_rest = k / n, k_rest / n_rest
            table = np.array([[k, n - k], [k_rest, n_rest - k_rest]])
            expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
            if k + k_rest == 0 or k + k_rest == n_all:
                test, stat, p = "none", np.nan, 1.0
            elif expected.min() < min_expected:
                test = "fisher"
                stat, p = stats.fisher_exact(table, alternative="two-sided")
            else:
                test = "z"
                stat, p = proportions_ztest([k, k_rest], [n, n_rest])
            rows.append(dict(segment=s, theme=theme, n=n, n_theme=k, share=share,
                             share_rest=share_rest,
                             index=100 * share / overall if overall else np.nan,
                             diff=share - share_rest, test=test, statistic=float(stat),
                             p_value=float(p)))
    out = pd.DataFrame(rows)
    out["p_adjusted"] = multipletests(out["p_value"].to_numpy(), method=correction)[1]
    out["over"] = (out["p_adjusted"] < alpha) & (out["diff"] > 0)
    out = out.sort_values(["segment", "over", "index", "theme"],
                          ascending=[True, False, False, True], kind="mergesort")
    return out.reset_index(drop=True)
