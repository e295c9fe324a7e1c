"""Representative quotes: a few answers per segment that a persona can stand on.

BERTopic shows three random "representative documents" per topic; researchers asked for
more, typical and diverse ones. :func:`representative_quotes` picks, for each segment:

* **typical** answers - close to the segment's centre in answer space (the segmentation
  embedding) *and* in text space (TF-IDF of the answers);
* **diverse** among themselves - maximal marginal relevance, and never two near-duplicates
  or two quotes from one respondent;
* **covering** the segment's distinctive themes - a greedy bonus for each over-represented
  theme (:func:`personalab.discovery.distinctive_themes`) a quote adds;
* **safe** - never from an excluded or flagged respondent, never with unredacted personal
  data (each quote goes through :func:`personalab.pii.redact`, and answers that were mostly
  personal data are skipped), within a length range.

Selection has no randomness: same input, same quotes; ties go to the smaller id.
"""
from __future__ import annotations

import difflib
import re

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from .discovery import UNASSIGNED, align_labels, distinctive_themes
from .errors import ConfigError, InputError

__all__ = ["QUOTE_COLUMNS", "pii_share", "representative_quotes"]

QUOTE_COLUMNS = ["segment", "rank", "respondent_id", "question", "text", "themes", "covers",
                 "sentiment", "typicality", "typicality_answers", "typicality_text", "n_words",
                 "redacted"]

_WORD = re.compile(r"\S+")


def representative_quotes(texts, labels, *, n=5, embedding=None, tag_matrix=None, sentiment=None,
                          exclude_ids=(), flagged_ids=(), min_words=6, max_words=60,
                          diversity=0.5, redact=True, random_state=None, coverage=0.5,
                          max_similarity=0.6, max_pii_share=0.3, alpha=0.05,
                          max_answers=5000, questions=None, eligible=None) -> pd.DataFrame:
    """N typical, diverse, theme-covering, redacted quotes per segment.

    Parameters
    ----------
    texts : Series or DataFrame
        Open answers indexed by respondent id; a DataFrame has one text column per
        question (the column name is the quote's ``question``).
    labels : Series or array
        Segment per respondent (Series: aligned by id; array: by position). ``-1`` =
        unassigned: never quoted.
    n : int, default 5
        Quotes per segment (fewer when the segment has too few eligible answers).
    embedding : DataFrame or ndarray, optional
        The segmentation space, one row per respondent (DataFrame: indexed by id; array:
        in the order of ``labels``, or of ``texts`` when ``labels`` is an array).
    tag_matrix : DataFrame or dict, optional
        Respondent x theme 0/1 (``TagResult.matrix``, ``AutoCoder.labels_``), or
        ``{question: matrix}`` for several questions. Gives each quote its ``themes`` and
        the segment's distinctive themes to cover.
    sentiment : Series, DataFrame, False or None
        Scores in [-1, 1] (Series by respondent, or DataFrame like ``texts``). None:
        computed for the chosen quotes with :func:`personalab.sentiment.sentiment_scores`,
        each with its question's wording (see ``questions``), so "Nothing" answering
        "What could we improve?" scores as praise (NaN when that module is unavailable).
        False: not computed.
    exclude_ids, flagged_ids : iterable, DataFrame or QualityResult
        Respondents never quoted (``QualityResult.exclusions`` / ``.flags`` or their
        ``respondent_id`` column, or plain ids).
    min_words, max_words : int
        Length range, in words of the original answer.
    diversity : float in [0, 1], default 0.5
        MMR trade-off: 0 = most typical first, 1 = most different from those chosen.
    redact : bool or callable, default True
        True: :func:`personalab.pii.redact`; a callable ``str -> str``; False: quote as is
        (only for data already free of personal data).
    random_state : int, numpy Generator or None
        Seed of the sample drawn when a segment gave more than ``max_answers`` answers to
        a question (None: 0, so the selection stays deterministic). Otherwise unused: the
        selection itself has no randomness.
    coverage : float, default 0.5
        Bonus for a quote that adds a distinctive theme not yet covered (scaled by the
        share of the segment's distinctive themes it adds).
    max_similarity : float, default 0.6
        A candidate whose TF-IDF cosine to a chosen quote reaches this is a near-duplicate
        and is skipped.
    max_pii_share : float, default 0.3
        Answers whose characters are more than this share personal data are skipped.
    alpha : float, default 0.05
        Significance level for the distinctive themes.
    max_answers : int or None, default 5000
        Largest number of answers per (segment, question) that quotes are chosen from and
        that the segment's text centre is computed on; larger groups are replaced by a
        random sample of this many (seeded by ``random_state``, drawn in respondent-id
        order so the input's row order does not matter). The most typical of 5,000 random
        answers are as typical as those of 50,000, while the text space costs time in
        proportion to the answers (a minute at a million respondents). Distinctive themes
        are still computed on every respondent. None: every answer.
    questions : dict, optional
        ``{question column: question wording}`` for the sentiment computed here
        (``sentiment=None``). A column missing from it is its own wording when it reads
        like a question ("What could we improve?").
    eligible : dict, optional
        ``{segment: respondent ids}``: a segment named here is quoted only from these
        respondents (segments not named: from any of their members). Pass
        :func:`personalab.personas.typical_respondents` so that every quote comes from a
        respondent typical of the persona on the traits its card states; a segment with no
        eligible answer gets no quotes.

    Returns
    -------
    DataFrame
        One row per quote (columns ``QUOTE_COLUMNS``): segment, rank (1 = best),
        respondent_id, question, text (redacted), themes (tuple), covers (distinctive
        themes this quote brought in), sentiment, typicality (mean of the two closeness
        percentiles below, in [0, 1]), typicality_answers (closeness to the segment
        centre in the embedding, percentile within the segment's candidates; NaN without
        an embedding), typicality_text (same, TF-IDF cosine to the segment's answers to
        that question), n_words, redacted (whether redaction changed the text).
    """
    if n < 1:
        raise ConfigError(f"n must be at least 1, got {n}")
    if not 0 <= diversity <= 1:
        raise ConfigError(f"diversity must be between 0 and 1, got {diversity}")
    if min_words > max_words:
        raise ConfigError(f"min_words ({min_words}) is larger than max_words ({max_words})")
    redactor = _redactor(redact)
    answers = _long_answers(texts)
    respondents = _respondent_index(texts)
    seg = align_labels(labels, respondents, what="labels")
    blocked = _id_set(exclude_ids) | _id_set(flagged_ids)

    if max_answers is not None and (not isinstance(max_answers, (int, np.integer))
                                    or max_answers < 1):
        raise ConfigError(f"max_answers must be a positive integer or None, got {max_answers!r}")
    answers["segment"] = answers["respondent_id"].map(seg)
    answers["key"] = answers["respondent_id"].map(str)
    answers = answers[answers["text"].str.strip() != ""].reset_index(drop=True)
    if answers.empty:
        return pd.DataFrame(columns=QUOTE_COLUMNS)
    if max_answers is not None:
        answers = _sample_groups(answers, max_answers, random_state)
    answers["n_words"] = answers["text"].map(lambda t: len(_WORD.findall(t)))

    # one text space for every question, so near-duplicates are caught across questions too
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode",
                                 stop_words="english")
    try:
        X = normalize(vectorizer.fit_transform(answers["text"].tolist()))
    except ValueError:  # empty vocabulary
        X = normalize(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4))
                      .fit_transform(answers["text"].tolist()))
    E = _embedding_rows(embedding, respondents, labels)
    themes_for = _themes_lookup(tag_matrix)
    distinctive = _distinctive(tag_matrix, seg, alpha)

    eligible_mask = ((answers["segment"] != UNASSIGNED) & answers["segment"].notna()
                     & ~answers["key"].isin(blocked)
                     & answers["n_words"].between(min_words, max_words)).to_numpy()
    if eligible is not None:
        if not isinstance(eligible, dict):
            raise ConfigError(f"eligible must be a dict {{segment: respondent ids}}, not "
                              f"{type(eligible).__name__}",
                              fix="pass personalab.personas.typical_respondents(...) or None")
        keep = np.ones(len(answers), dtype=bool)
        for s, ids in eligible.items():
            in_s = (answers["segment"] == s).to_numpy()
            keep[in_s] = answers.loc[in_s, "key"].isin(_id_set(ids)).to_numpy()
        eligible_mask = eligible_mask & keep
    segments = sorted((s for s in answers["segment"].dropna().unique() if s != UNASSIGNED),
                      key=lambda s: (str(type(s)), s))
    rows = []
    for s in segments:
        in_seg = (answers["segment"] == s).to_numpy()
        cand = np.flatnonzero(in_seg & eligible_mask)
        if len(cand) == 0:
            continue
        frame = answers.iloc[cand].copy()
        frame["pos"] = cand
        # text typicality: cosine to the centre of the segment's answers to the same question
        text_sim = np.zeros(len(cand))
        for q in frame["question"].unique():
            members = np.flatnonzero(in_seg & (answers["question"] == q).to_numpy())
            centre = normalize(np.asarray(X[members].mean(axis=0)))
            sel = (frame["question"] == q).to_numpy()
            text_sim[sel] = np.asarray(X[cand[sel]] @ centre.T).ravel()
        frame["typicality_text"] = _percentile(text_sim, frame["key"])
        if E is not None:
            seg_ids = seg.index[(seg == s).to_numpy()]
            centre = E.loc[E.index.intersection(seg_ids)].mean(axis=0).to_numpy()
            coords = E.reindex(frame["respondent_id"]).to_numpy()
            dist = np.linalg.norm(coords - centre, axis=1)
            closeness = np.where(np.isnan(dist), np.nan, -dist)
            frame["typicality_answers"] = _percentile(closeness, frame["key"])
        else:
            frame["typicality_answers"] = np.nan
        frame["typicality"] = frame[["typicality_answers", "typicality_text"]].mean(axis=1)
        frame["themes"] = themes_for(frame["respondent_id"].to_numpy(),
                                     frame["question"].to_numpy())
        frame = frame.sort_values(["typicality", "key", "question"], ascending=[False, True, True],
                                  kind="mergesort").reset_index(drop=True)
        rows += _select(frame, X, n, diversity, coverage, max_similarity, max_pii_share,
                        distinctive.get(s, []), redactor, s)
    out = pd.DataFrame(rows, columns=[c for c in QUOTE_COLUMNS if c != "sentiment"] + ["_original"])
    out["sentiment"] = _sentiment(sentiment, out, questions)
    return out.drop(columns="_original")[QUOTE_COLUMNS].reset_index(drop=True)


def _sample_groups(answers: pd.DataFrame, cap: int, random_state) -> pd.DataFrame:
    """At most ``cap`` answers per (segment, question): a seeded random sample of each
    larger group, drawn from its answers in id order (row order does not matter)."""
    seg = answers["segment"].astype(object).where(answers["segment"].notna(), "(none)")
    groups = answers.groupby([seg.map(str), answers["question"].map(str)], sort=True).indices
    if all(len(ix) <= cap for ix in groups.values()):
        return answers
    rng = np.random.default_rng(0 if random_state is None else random_state)
    keys = answers["key"].to_numpy()
    keep = []
    for g in sorted(groups):
        ix = groups[g]
        if len(ix) > cap:
            ix = rng.choice(ix[np.argsort(keys[ix], kind="stable")], cap, replace=False)
        keep.append(ix)
    return answers.iloc[np.sort(np.concatenate(keep))].reset_index(drop=True)


# --------------------------------------------------------------------------- selection
def _select(frame, X, n, diversity, coverage, max_similarity, max_pii_share, distinctive,
            redactor, segment) -> list[dict]:
    """Greedy MMR with a coverage bonus; ``frame`` is sorted best-first (ties broken)."""
    typ = frame["typicality"].fillna(0).to_numpy()
    V = X[frame["pos"].to_numpy()]
    max_sim = np.zeros(len(frame))
    available = np.ones(len(frame), dtype=bool)
    covered: set = set()
    quoted: set = set()
    chosen = []
    target = set(distinctive)
    theme_sets = [set(t) for t in frame["themes"]]
    while len(chosen) < n and available.any():
        bonus = np.zeros(len(frame))
        if target and coverage:
            missing = target - covered
            if missing:
                bonus = np.array([len(ts & missing) for ts in theme_sets]) / len(target)
        score = (1 - diversity) * typ - diversity * max_sim + coverage * bonus
        score[~available] = -np.inf
        i = int(np.argmax(score))   # first maximum = best-ranked = smallest id among ties
        available[i] = False
        row = frame.iloc[i]
        if row["key"] in quoted or max_sim[i] >= max_similarity:
            continue
        original = row["text"]
        text = redactor(original)
        if pii_share(original, text) > max_pii_share:
            continue
        chosen.append(dict(
            segment=segment, rank=len(chosen) + 1, respondent_id=row["respondent_id"],
            question=row["question"], text=text, themes=tuple(row["themes"]),
            covers=tuple(sorted(theme_sets[i] & (target - covered))),
            typicality=float(row["typicality"]), typicality_answers=float(row["typicality_answers"]),
            typicality_text=float(row["typicality_text"]), n_words=int(row["n_words"]),
            redacted=text != original, _original=original,
        ))
        quoted.add(row["key"])
        covered |= theme_sets[i] & target
        sims = np.asarray((V @ V[i].T).todense()).ravel()
        max_sim = np.maximum(max_sim, sims)
    return chosen


def pii_share(original: str, redacted: str) -> float:
    """Share of the original's characters that redaction replaced (0 = untouched)."""
    if original == redacted or not original:
        return 0.0
    matcher = difflib.SequenceMatcher(None, original, redacted, autojunk=False)
    kept = sum(block.size for block in matcher.get_matching_blocks())
    return 1 - kept / len(original)


def _percentile(values, keys) -> np.ndarray:
    """Within-group percentile in [0, 1] (1 = highest); NaN stays NaN; ties share a rank."""
    s = pd.Series(np.asarray(values, dtype=float))
    if s.notna().sum() <= 1:
        return np.where(s.notna(), 1.0, np.nan)
    ranks = s.rank(method="average", na_option="keep")
    return ((ranks - 1) / (s.notna().sum() - 1)).to_numpy()


# --------------------------------------------------------------------------- inputs
def _long_answers(texts) -> pd.DataFrame:
    if isinstance(texts, pd.DataFrame):
        if texts.index.has_duplicates:
            raise InputError("respondent ids are not unique in the answers",
                             fix="index the answers by respondent id, one row each")
        frames = []
        for q in texts.columns:
            col = texts[q]
            frames.append(pd.DataFrame({"respondent_id": texts.index.to_list(), "question": str(q),
                                        "text": col.astype(object).where(col.notna(), "").map(str).to_list()}))
        if not frames:  # a survey without open questions has nothing to quote
            return pd.DataFrame({"respondent_id": pd.Series([], dtype=object),
                                 "question": pd.Series([], dtype=object),
                                 "text": pd.Series([], dtype=object)})
        return pd.concat(frames, ignore_index=True)
    s = texts if isinstance(texts, pd.Series) else pd.Series(list(texts))
    if s.index.has_duplicates:
        raise InputError("respondent ids are not unique in the answers",
                         fix="index the answers by respondent id, one row each")
    question = str(s.name) if s.name is not None else "text"
    return pd.DataFrame({"respondent_id": s.index.to_list(), "question": question,
                         "text": s.astype(object).where(s.notna(), "").map(str).to_list()})


def _respondent_index(texts) -> pd.Index:
    return texts.index if isinstance(texts, (pd.Series, pd.DataFrame)) else pd.RangeIndex(len(texts))


def _embedding_rows(embedding, respondents: pd.Index, labels) -> pd.DataFrame | None:
    if embedding is None:
        return None
    if isinstance(embedding, pd.DataFrame):
        return embedding.astype(float)
    arr = np.asarray(embedding, dtype=float)
    index = labels.index if isinstance(labels, pd.Series) else respondents
    if arr.ndim != 2 or len(arr) != len(index):
        raise InputError(f"embedding has shape {arr.shape}; expected one row per respondent "
                         f"({len(index)})",
                         fix="pass the segmentation embedding (n_respondents x k), or a DataFrame "
                             "indexed by respondent id")
    return pd.DataFrame(arr, index=index)


def _id_set(ids) -> set[str]:
    if ids is None:
        return set()
    for attr in ("exclusions", "flags"):  # a QualityResult passed whole
        if hasattr(ids, attr) and not isinstance(ids, pd.DataFrame):
            return _id_set(getattr(ids, attr))
    if isinstance(ids, pd.DataFrame):
        if "respondent_id" in ids.columns:
            return {str(i) for i in ids["respondent_id"]}
        return {str(i) for i in ids.index}
    if isinstance(ids, (str, bytes)):
        return {str(ids)}
    return {str(i) for i in ids}


def _matrices(tag_matrix) -> dict:
    if tag_matrix is None:
        return {}
    if isinstance(tag_matrix, dict):
        return {str(q): m for q, m in tag_matrix.items()}
    if hasattr(tag_matrix, "matrix") and not isinstance(tag_matrix, pd.DataFrame):
        tag_matrix = tag_matrix.matrix  # a TagResult passed whole
    return {None: tag_matrix}


def _themes_lookup(tag_matrix):
    """``themes_for(respondents, questions)``: the themes of each (respondent, question).

    Vectorised per question (a million candidate answers cost seconds, not minutes).
    """
    mats = {}
    for q, m in _matrices(tag_matrix).items():
        hit = m.fillna(0).to_numpy(dtype=float) > 0
        index = pd.Index(m.index.astype("str"))
        mats[q] = (index, hit, np.asarray(m.columns, dtype=object))

    def themes_for(respondents, questions):
        resp = pd.Index(pd.Index(respondents).astype("str"))
        qs = np.asarray(questions, dtype=object)
        out = [()] * len(resp)
        for q in pd.unique(qs):
            entry = mats.get(q, mats.get(None))
            if entry is None:
                continue
            index, hit, cols = entry
            where = np.flatnonzero(qs == q)
            pos = index.get_indexer(resp[where])
            found = pos >= 0
            rows = np.zeros((len(where), hit.shape[1]), dtype=bool)
            rows[found] = hit[pos[found]]
            tagged = rows.any(axis=1)
            for w, row in zip(where[tagged], rows[tagged]):
                out[w] = tuple(cols[row])
        return out

    return themes_for


def _distinctive(tag_matrix, seg: pd.Series, alpha) -> dict:
    mats = _matrices(tag_matrix)
    if not mats:
        return {}
    combined = pd.concat([m.fillna(0).clip(0, 1) for m in mats.values()], axis=1)
    combined = combined.T.groupby(level=0).max().T   # a theme in any question counts
    combined.index = [str(i) for i in combined.index]
    labels = pd.Series(seg.to_numpy(), index=[str(i) for i in seg.index])
    combined = combined.loc[combined.index.intersection(labels.index)]
    if combined.empty or labels[labels != UNASSIGNED].nunique() < 2:
        return {}
    table = distinctive_themes(combined, labels.loc[combined.index], alpha=alpha)
    over = table[table["over"]]
    return {s: list(g["theme"]) for s, g in over.groupby("segment", sort=False)}


def _redactor(redact):
    if redact is True:
        from .pii import redact as pii_redact
        fn = pii_redact
    elif redact is False or redact is None:
        return lambda text: text
    elif callable(redact):
        fn = redact
    else:
        raise ConfigError(f"redact must be True, False or a callable, not {redact!r}")

    def run(text: str) -> str:
        out = fn(text)
        if isinstance(out, tuple):   # (text, spans)
            out = out[0]
        return str(getattr(out, "text", out))

    return run


def _sentiment(sentiment, quotes: pd.DataFrame, questions=None) -> np.ndarray:
    if quotes.empty or sentiment is False:
        return np.full(len(quotes), np.nan)
    if sentiment is None:
        try:
            from .sentiment import sentiment_scores
        except ImportError:
            return np.full(len(quotes), np.nan)
        wording = {str(k): v for k, v in (questions or {}).items()}
        out = np.full(len(quotes), np.nan)
        for q in pd.unique(quotes["question"]):
            at = np.flatnonzero((quotes["question"] == q).to_numpy())
            answers = pd.Series(quotes["_original"].iloc[at].to_list(), name=str(q))
            out[at] = sentiment_scores(answers, question=wording.get(str(q)))
        return out
    # look up the chosen quotes only (a dict of every score cost seconds on large waves)
    if isinstance(sentiment, pd.DataFrame):
        table, questions = sentiment, quotes["question"].map(str)
    else:   # one score per respondent, whatever the question
        table, questions = pd.Series(sentiment).to_frame("score"), ["score"] * len(quotes)
    table = table[~table.index.map(str).duplicated(keep="last")]
    pos = pd.Index(table.index.map(str)).get_indexer(quotes["respondent_id"].map(str))
    cols = {str(q): table[q].to_numpy(dtype=float) for q in table.columns}
    return np.array([cols[q][p] if p >= 0 and q in cols else np.nan
                     for p, q in zip(pos, questions)], dtype=float)
