"""Profiles: describe each segment against the whole sample, with tests.

:func:`profile_segments` returns one tidy row per segment x variable (x answer level),
with weighted values, an index against the total (100 = average), a test of the segment
against everyone else, a multiple-testing adjusted p-value and an effect size.
:func:`top_traits` picks each segment's most distinguishing rows; :func:`segment_sizes`
gives segment shares with confidence intervals.

Decisions
---------
* The *total* is every respondent in the survey, unassigned ones included (they are
  part of the population); each segment is tested against all other respondents.
* Survey weights enter the tests through Kish's effective sample size: within each
  group the weights are rescaled to sum to that group's effective n, so a strongly
  weighted sample does not look more certain than it is. Unweighted, the tests reduce
  to the textbook ones.
* Proportions (single-choice levels, multi-select options): two-proportion z-test
  (``statsmodels.stats.proportion.proportions_ztest``), Cohen's h; Fisher's exact test
  (``scipy.stats.fisher_exact``, test ``"fisher_exact"``, statistic = its odds ratio)
  instead when an expected count of the segment-vs-rest 2x2 table is below
  :data:`MIN_EXPECTED` (5), where the z-test's normal approximation fails (1 of 4 against 0
  of 500: z-test p 4e-29, Fisher 0.008). Weighted, the table holds the Kish-effective
  counts the z-test uses (share x effective n), rounded to whole respondents: unweighted
  they are the head counts. Means (Likert,
  numeric): Welch t-test (``statsmodels.stats.weightstats.ttest_ind``), Cohen's d with
  the weighted pooled standard deviation. ``likert_test="mannwhitney"`` uses
  ``scipy.stats.mannwhitneyu`` (unweighted) with the rank-biserial correlation.
* Missing answers are left out per variable: shares are among those who answered.
* Support: a row is ``significant`` only when it rests on at least :data:`MIN_SUPPORT` (5)
  respondents (:func:`supported`): for an answer share, at least 5 respondents in the whole
  sample gave the answer, and at least 5 of the segment's respondents are on the side the
  row reports (gave it, when the segment is over the rest; did not, when under); for a mean,
  the segment has at least 5 answers. The test still runs (its p-value is in the table and
  in the multiple-testing correction); the flag is withheld. :func:`top_traits` and the
  heat map never show an unsupported row, so a write-in answer typed by one respondent
  (OSMI: a health self-disclosure) is never a trait.
* Segmentation inputs are tested like every other question (the personas rank their traits
  by these tests), but the column ``segmentation_input`` says which rows are on questions
  the segments were formed on: there a difference is expected by construction, and a
  p-value does not test anything (8 uniform noise items cut by k-means k=2: 6 of 8 at
  adjusted p < 0.001, tests/test_profile_significance.py). Reports show those rows as
  descriptive, with no significance mark.
* ``index`` (100 x segment / total) is for answer shares. For a mean it is a ratio of
  scale positions that depends on where the scale starts: NaN when the total is 0 or below
  (it flips or explodes there), and reports read a mean by the difference
  ``value - total`` in scale points instead.
* Reverse-keyed Likert items are profiled on the scale respondents answered (the flip that
  ``Survey.likert`` applies for segmentation is undone), so a value, its index and its
  direction read the way the question text reads: one direction for tables, heat maps and
  persona text alike.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (proportion_confint, proportion_effectsize,
                                          proportions_ztest)
from statsmodels.stats.weightstats import DescrStatsW, ttest_ind

from personalab.errors import ConfigError, InputError
from personalab.features import PersonaLabWarning, _qattr, question_blocks

__all__ = ["profile_segments", "profile_statistics", "merge_profile_statistics",
           "profile_from_statistics", "top_traits", "segment_sizes", "kish_n",
           "respondent_values", "supported", "mirror_rows", "UNASSIGNED", "MIN_SUPPORT",
           "MIN_EXPECTED"]

#: How the unassigned label (-1) is shown in tables.
UNASSIGNED = "unassigned"

#: Fewest respondents a row may rest on to be significant, a top trait or a heat-map row
#: (see the module doc and :func:`supported`).
MIN_SUPPORT = 5

#: Below this expected count in the 2x2 table an answer share is tested with Fisher's exact
#: test instead of the z-test (Cochran's rule).
MIN_EXPECTED = 5

PROFILE_COLUMNS = [
    "segment", "question", "question_text", "variable", "level", "type", "measure",
    "value", "total", "index", "test", "statistic", "p_value", "p_adjusted",
    "effect_size", "effect_measure", "n", "n_eff", "n_answer", "n_answer_total",
    "significant", "segmentation_input",
]


def kish_n(weights) -> float:
    """Kish's effective sample size, (sum w)^2 / sum w^2."""
    w = np.asarray(weights, dtype=float)
    w = w[np.isfinite(w)]
    s2 = np.sum(w ** 2)
    return float(np.sum(w) ** 2 / s2) if s2 > 0 else 0.0


def _align(survey_index, values, what) -> pd.Series:
    if isinstance(values, pd.Series) and values.index.equals(survey_index):
        return values
    if isinstance(values, pd.Series) and len(values.index.intersection(survey_index)) == len(
            survey_index):
        return values.reindex(survey_index)
    arr = np.asarray(values)
    if arr.ndim != 1 or len(arr) != len(survey_index):
        raise InputError(f"{what} has {len(arr)} entries for {len(survey_index)} respondents",
                         fix=f"pass one {what} per respondent, in the survey's row order "
                         "(or a Series indexed by respondent id)")
    return pd.Series(arr, index=survey_index)


def _weights(survey, weights) -> pd.Series:
    index = survey.data.index
    if weights is True:
        w = survey.weights().reindex(index)
    elif weights is False or weights is None:
        w = pd.Series(1.0, index=index)
    else:
        w = _align(index, weights, "weight").astype(float)
    if (w < 0).any() or w.isna().any():
        raise InputError("weights must be non-negative numbers with no missing values",
                         column="weight", fix="check the weight column of the codebook")
    return w.astype(float)


def _effective(w: np.ndarray) -> np.ndarray:
    """Weights rescaled to sum to their Kish effective n (see module doc)."""
    total = w.sum()
    return w * (kish_n(w) / total) if total > 0 else w


def _mean_test(xs, ws, xr, wr, test):
    """(statistic, p, effect) of ``xs`` against ``xr``: Mann-Whitney U with the
    rank-biserial correlation, or Welch's t on Kish-effective weights with Cohen's d.

    NaN throughout when a group has fewer than two values. Welch: when neither group
    varies (e.g. a year column that defines the wave: 2011 in one, 2012 in the other)
    there is no sampling variance to test against, so statistic, p and d are NaN too
    (not p = 0 or 1 and d = 0): such a difference is a fact of the data, not a finding.
    """
    if len(xs) < 2 or len(xr) < 2:
        return np.nan, np.nan, np.nan
    if test == "mannwhitney":
        res = stats.mannwhitneyu(xs, xr, alternative="two-sided")
        rank_biserial = 2.0 * res.statistic / (len(xs) * len(xr)) - 1.0
        return float(res.statistic), float(res.pvalue), float(rank_biserial)
    ws_e, wr_e = _effective(ws), _effective(wr)
    ds, dr = DescrStatsW(xs, weights=ws_e, ddof=1), DescrStatsW(xr, weights=wr_e, ddof=1)
    ns, nr = ws_e.sum(), wr_e.sum()
    if ds.var == 0 and dr.var == 0:
        return np.nan, np.nan, np.nan
    pooled = np.sqrt(((ns - 1) * ds.var + (nr - 1) * dr.var) / max(ns + nr - 2, 1))
    d = (ds.mean - dr.mean) / pooled if pooled > 0 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        tstat, pvalue, _ = ttest_ind(xs, xr, usevar="unequal", weights=(ws_e, wr_e))
    return float(tstat), float(pvalue), float(d)


def _prop_test(ps, ns_eff, pr, nr_eff):
    """(z, p, Cohen's h): the two-proportion z-test of share ``ps`` among ``ns_eff``
    against ``pr`` among ``nr_eff`` (also used by :mod:`personalab.waves`)."""
    h = float(proportion_effectsize(ps, pr))
    if ns_eff < 1 or nr_eff < 1:
        return np.nan, np.nan, h
    pooled = (ps * ns_eff + pr * nr_eff) / (ns_eff + nr_eff)
    if pooled <= 0 or pooled >= 1:  # nobody (or everybody) chose it: nothing to test
        return 0.0, 1.0, h
    z, p = proportions_ztest([ps * ns_eff, pr * nr_eff], [ns_eff, nr_eff])
    return float(z), float(p), h


def _share_test(ps, ns_eff, pr, nr_eff):
    """(test, statistic, p, Cohen's h) of a profile's answer share: the z-test
    (:func:`_prop_test`), or Fisher's exact test when an expected count of the 2x2 table
    of Kish-effective counts is below :data:`MIN_EXPECTED` (module doc)."""
    z, p, h = _prop_test(ps, ns_eff, pr, nr_eff)
    if ns_eff < 1 or nr_eff < 1 or not 0 < (ps * ns_eff + pr * nr_eff) / (ns_eff + nr_eff) < 1:
        return "two_proportion_z", z, p, h      # nothing to test (see _prop_test)
    table = np.array([[ps * ns_eff, (1 - ps) * ns_eff], [pr * nr_eff, (1 - pr) * nr_eff]])
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    if expected.min() < MIN_EXPECTED:
        odds, p = stats.fisher_exact(np.rint(table).astype(np.int64))
        return "fisher_exact", float(odds), float(p), h
    return "two_proportion_z", z, p, h


def _wmean(x, w):
    return float(np.average(x, weights=w)) if w.sum() > 0 else np.nan


def _reverse_sum(q) -> float | None:
    """min + max code of a reverse-keyed Likert item (what ``Survey.likert`` flipped it
    with), else None."""
    if not _qattr(q, "reverse", False) or _qattr(q, "type") != "likert":
        return None
    codes = [float(o.code) for o in (_qattr(q, "scale", None) or [])
             if isinstance(getattr(o, "code", None), (int, float))]
    return min(codes) + max(codes) if codes else None


def _variables(survey):
    """(question, question_text, variable, level, type, measure, values) per variable."""
    texts = {str(_qattr(q, "id")): _qattr(q, "text") or "" for q in survey.questions()}
    unflip = {str(_qattr(q, "id")): _reverse_sum(q) for q in survey.questions()}
    for qid, qtype, frame in question_blocks(survey, role=None, include_text=False):
        if frame is None:
            continue
        text = texts.get(qid, "")
        if qtype in ("likert", "numeric"):
            for col in frame.columns:
                values = frame[col].astype(float)
                if qtype == "likert" and unflip.get(qid) is not None:
                    # the Survey flips reverse-keyed items for segmentation; a profile is
                    # read next to the question text, so it reports what respondents answered
                    values = unflip[qid] - values
                yield qid, text, col, None, qtype, "mean", values
        elif qtype == "multi":
            for col in frame.columns:
                level = col[len(qid) + 1:] if str(col).startswith(qid + ":") else col
                yield qid, text, col, level, qtype, "share", frame[col].astype(float)
        elif qtype == "single":
            s = frame[frame.columns[0]]
            levels = (list(s.cat.categories) if isinstance(s.dtype, pd.CategoricalDtype)
                      else sorted(s.dropna().unique()))
            for level in levels:
                ind = (s == level).astype(float).where(s.notna())
                yield qid, text, f"{qid}={level}", str(level), qtype, "share", ind


def respondent_values(survey, variables=None) -> pd.DataFrame:
    """Each respondent's own value on the profile's variables, as the profile averages them.

    One column per profile ``variable``: a Likert or numeric answer on the scale respondents
    answered (reverse keying undone, as in the profile), and 1/0 for a single-choice level
    or a multi-select option (NaN where the question was not answered). A segment's mean of
    a column, unweighted, is its profile ``value``; :mod:`personalab.personas` reads a
    quote's respondent here to check the quote against the persona's traits.

    Parameters
    ----------
    survey : Survey
    variables : iterable of str, optional
        Only these variables (default: every one).

    Returns
    -------
    DataFrame
        Indexed by respondent id.
    """
    wanted = None if variables is None else set(variables)
    cols = {}
    for _, _, var, _, _, _, values in _variables(survey):
        if wanted is None or var in wanted:
            cols[var] = values.astype(float)
    return pd.DataFrame(cols, index=survey.data.index)


#: Columns of a :func:`profile_statistics` table.
STAT_COLUMNS = ["order", "question", "question_text", "variable", "level", "type", "measure",
                "segmentation_input", "group", "n", "w", "w2", "mean", "m2", "x_sum"]


def profile_statistics(survey, labels, *, weights=True) -> pd.DataFrame:
    """Mergeable sufficient statistics behind :func:`profile_segments`.

    For every variable (as :func:`profile_segments` lists them) and every label (segments
    and -1), over the respondents who answered it with a positive weight: ``n`` (count),
    ``w`` (sum of weights), ``w2`` (sum of squared weights), ``mean`` (weighted mean),
    ``m2`` (weighted sum of squared deviations from ``mean``) and ``x_sum`` (unweighted sum
    of the values: for an answer share, how many respondents gave the answer);
    ``segmentation_input`` says whether the question's codebook role is ``segment``.
    Tables of disjoint sets of respondents (partitions of a wave) combine exactly with
    :func:`merge_profile_statistics` and give the profile with
    :func:`profile_from_statistics`; that is how the Dask engine profiles a wave partition
    by partition (see docs/scale.md).

    Parameters
    ----------
    survey : Survey
    labels : array-like of int or Series
        Segment per respondent; -1 = unassigned.
    weights : bool or array-like, default True
        As in :func:`profile_segments`.

    Returns
    -------
    DataFrame
        Columns :data:`STAT_COLUMNS`; ``order`` numbers the variables in profile order.
    """
    index = survey.data.index
    lab = _align(index, labels, "label").to_numpy()
    w_all = _weights(survey, weights).to_numpy()
    groups, codes = np.unique(lab, return_inverse=True)
    k = len(groups)
    inputs = {str(_qattr(q, "id")) for q in survey.questions()
              if _qattr(q, "role") == "segment"}
    parts = []
    for order, (qid, text, var, level, qtype, measure, values) in enumerate(_variables(survey)):
        x_all = values.to_numpy(dtype=float)
        valid = np.isfinite(x_all) & (w_all > 0)
        x, w, g = x_all[valid], w_all[valid], codes[valid]
        n = np.bincount(g, minlength=k)
        sw = np.bincount(g, weights=w, minlength=k)
        sw2 = np.bincount(g, weights=w * w, minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(g, weights=w * x, minlength=k) / sw
        dev = x - mean[g]
        m2 = np.bincount(g, weights=w * dev * dev, minlength=k)
        x_sum = np.bincount(g, weights=x, minlength=k)
        # every label gets a row, answered or not, so segments are listed as the labels say
        parts.append(pd.DataFrame({
            "order": order, "question": qid, "question_text": text, "variable": var,
            "level": level, "type": qtype, "measure": measure,
            "segmentation_input": qid in inputs, "group": groups,
            "n": n, "w": sw, "w2": sw2, "mean": mean, "m2": m2, "x_sum": x_sum}))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in STAT_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    out["group"] = out["group"].astype(int)
    return out[STAT_COLUMNS]


def _merge_moments(a, b):
    """Chan et al.'s pairwise update of (n, w, w2, mean, m2), weighted."""
    n = a[0] + b[0]
    w = a[1] + b[1]
    w2 = a[2] + b[2]
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = b[3] - a[3]
        mean = np.where(a[1] == 0, b[3], np.where(b[1] == 0, a[3], a[3] + delta * b[1] / w))
        m2 = a[4] + b[4] + np.where((a[1] > 0) & (b[1] > 0), delta * delta * a[1] * b[1] / w, 0.0)
    return n, w, w2, mean, m2


def merge_profile_statistics(tables) -> pd.DataFrame:
    """Combine :func:`profile_statistics` tables of disjoint sets of respondents.

    The result is the table the whole set would give (to floating-point rounding):
    counts, weight sums and ``x_sum`` add; means and squared deviations combine by Chan et al.'s
    parallel formula, so no respondent-level data is needed.
    """
    tables = [t for t in tables if len(t)]
    if not tables:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in STAT_COLUMNS})
    if len(tables) == 1:
        return tables[0].reset_index(drop=True)
    keys = ["variable", "group"]
    describe = ["order", "question", "question_text", "level", "type", "measure",
                "segmentation_input"]
    # variables are numbered per table; the first table that has a variable names its order
    all_rows = pd.concat(tables, ignore_index=True)
    first = all_rows.drop_duplicates("variable", keep="first")
    order_of = dict(zip(first["variable"], range(len(first))))
    acc = None
    for t in tables:
        t = t.set_index(keys)
        if acc is None:
            acc = t
            continue
        both = acc.index.intersection(t.index, sort=False)
        only_new = t.index.difference(acc.index, sort=False)
        a = acc.loc[both, ["n", "w", "w2", "mean", "m2"]].to_numpy(float).T
        b = t.loc[both, ["n", "w", "w2", "mean", "m2"]].to_numpy(float).T
        merged = _merge_moments(a, b)
        acc.loc[both, ["n", "w", "w2", "mean", "m2"]] = np.column_stack(merged)
        acc.loc[both, "x_sum"] = (acc.loc[both, "x_sum"].to_numpy(float)
                                  + t.loc[both, "x_sum"].to_numpy(float))
        if len(only_new):
            acc = pd.concat([acc, t.loc[only_new]])
    out = acc.reset_index()
    out["order"] = out["variable"].map(order_of)
    out["n"] = out["n"].astype(int)
    out = out.sort_values(["order", "group"], kind="stable").reset_index(drop=True)
    return out[STAT_COLUMNS]


def _welch_from_moments(s, r):
    """Welch t-test and Cohen's d, as :func:`_mean_test` with weights, from moments.

    ``s`` and ``r`` are (n, w, w2, mean, m2) of the segment and the rest. Within each group
    weights are rescaled to sum to Kish's effective n (module doc), as statsmodels'
    ``DescrStatsW``/``ttest_ind`` receive them in :func:`_mean_test`.
    """
    n_s, w_s, q_s, mean_s, m2_s = s
    n_r, w_r, q_r, mean_r, m2_r = r
    if n_s < 2 or n_r < 2:
        return np.nan, np.nan, np.nan
    ns, nr = w_s * w_s / q_s, w_r * w_r / q_r          # effective n = sum of rescaled weights
    ss, sr = (w_s / q_s) * m2_s, (w_r / q_r) * m2_r      # rescaled sums of squared deviations
    with np.errstate(divide="ignore", invalid="ignore"):
        var_s, var_r = ss / (ns - 1), sr / (nr - 1)      # ddof=1, as DescrStatsW(ddof=1).var
        pooled = np.sqrt(((ns - 1) * var_s + (nr - 1) * var_r) / max(ns + nr - 2, 1))
        d = (mean_s - mean_r) / pooled if pooled > 0 else np.nan
        # exactly constant groups (rounding in merged moments aside)
        tiny_s = m2_s <= 1e-12 * w_s * max(1.0, mean_s * mean_s)
        tiny_r = m2_r <= 1e-12 * w_r * max(1.0, mean_r * mean_r)
        if tiny_s and tiny_r:
            # two constant groups: no variance to test against, no effect size (as
            # _mean_test), never a starred row with effect 0
            return np.nan, np.nan, np.nan
        # statsmodels CompareMeans: ddof=0 variances over (nobs - 1), Satterthwaite dof
        sem_s, sem_r = (ss / ns) / (ns - 1), (sr / nr) / (nr - 1)
        stdm = np.sqrt(sem_s + sem_r)
        t = (mean_s - mean_r) / stdm
        dof = 1.0 / ((sem_s / (sem_s + sem_r)) ** 2 / (ns - 1)
                     + (sem_r / (sem_s + sem_r)) ** 2 / (nr - 1))
        p = 2 * stats.t.sf(np.abs(t), dof)
    return float(t), float(p), float(d)


def profile_from_statistics(table, *, alpha=0.05, correction="fdr_bh") -> pd.DataFrame:
    """The :func:`profile_segments` table from (merged) :func:`profile_statistics`.

    Each segment is compared with the merged moments of every other label (unassigned
    included); the total merges every label. Welch t-tests for means, two-proportion
    z-tests (Fisher's exact test on small expected counts) for shares, multiple-testing
    correction over all rows. A table without ``x_sum`` (written before it existed) counts
    the respondents who gave an answer as ``mean x n`` rounded (exact unweighted); one
    without ``segmentation_input`` marks no row as an input.
    """
    rows = []
    cols = ["n", "w", "w2", "mean", "m2"]
    segments = [g for g in table_groups(table) if g != -1] if len(table) else []
    for _, block in table.groupby("order", sort=True):
        first = block.iloc[0]
        level = None if pd.isna(first["level"]) else first["level"]
        is_input = bool(first["segmentation_input"]) if "segmentation_input" in block else False
        moments = {int(g): tuple(v) for g, v in zip(block["group"], block[cols].to_numpy(float))}
        if "x_sum" in block:
            x_sums = dict(zip(block["group"].astype(int), block["x_sum"].to_numpy(float)))
        else:
            x_sums = {int(g): float(np.rint(m[3] * m[0])) if m[0] else 0.0
                      for g, m in moments.items()}
        given_total = float(np.nansum(list(x_sums.values())))
        total_m = None
        for m in moments.values():
            total_m = m if total_m is None else _merge_moments(total_m, m)
        total = float(total_m[3]) if total_m is not None and total_m[1] > 0 else np.nan
        for seg in segments:
            s = moments.get(seg, (0, 0.0, 0.0, np.nan, 0.0))
            rest = None
            for g, m in moments.items():
                if g != seg:
                    rest = m if rest is None else _merge_moments(rest, m)
            r = rest if rest is not None else (0, 0.0, 0.0, np.nan, 0.0)
            value = float(s[3]) if s[0] and s[1] > 0 else np.nan
            n_eff = float(s[1] ** 2 / s[2]) if s[2] > 0 else 0.0
            share = first["measure"] == "share"
            if share:
                test, em = "two_proportion_z", "cohen_h"
                if s[0] and r[0]:
                    rest_v = float(r[3]) if r[1] > 0 else np.nan
                    n_eff_r = float(r[1] ** 2 / r[2]) if r[2] > 0 else 0.0
                    test, stat, p, eff = _share_test(value, n_eff, rest_v, n_eff_r)
                else:
                    stat = p = eff = np.nan
                given, given_all = float(x_sums.get(seg, 0.0)), given_total
            else:
                test, em = "welch_t", "cohen_d"
                stat, p, eff = _welch_from_moments(tuple(float(v) for v in s),
                                                   tuple(float(v) for v in r))
                given = given_all = np.nan
            # an index of means is a ratio of scale positions: meaningless when the total
            # is 0 or below (it flips or explodes), so NaN there (module doc)
            ok_total = np.isfinite(total) and (total > 0 if not share else total != 0)
            idx = 100.0 * value / total if ok_total else np.nan
            rows.append((seg, first["question"], first["question_text"], first["variable"],
                         level, first["type"], first["measure"], value, total, idx,
                         test, stat, p, eff, em, int(s[0]), n_eff, given, given_all,
                         is_input))
    out = pd.DataFrame(rows, columns=[c for c in PROFILE_COLUMNS
                                      if c not in ("p_adjusted", "significant")])
    return _adjust(out, alpha, correction)


def _adjust(out, alpha, correction) -> pd.DataFrame:
    """Multiple-testing adjusted p-values over all tested rows, and the significance flag
    (adjusted p below ``alpha`` on a row :func:`supported` by enough respondents)."""
    out["p_adjusted"] = out["p_value"]
    tested = out["p_value"].notna().to_numpy()
    if correction and tested.any():
        out.loc[tested, "p_adjusted"] = multipletests(
            out.loc[tested, "p_value"].to_numpy(), alpha=alpha, method=correction)[1]
    out["significant"] = ((out["p_adjusted"] < alpha).fillna(False).to_numpy(bool)
                          & supported(out))
    out["segmentation_input"] = out["segmentation_input"].astype(bool)
    return out[PROFILE_COLUMNS]


def supported(profile: pd.DataFrame, min_support: int = MIN_SUPPORT) -> np.ndarray:
    """Whether each profile row rests on at least ``min_support`` respondents.

    An answer share: at least ``min_support`` respondents in the whole sample gave the
    answer (``n_answer_total``), and at least ``min_support`` of the segment's respondents
    are on the side the row reports: gave it (``n_answer``) when the segment is over the
    rest (``effect_size > 0``), did not (``n - n_answer``) when under, the fewer of the two
    when there is no difference. A mean: the segment has at least ``min_support`` answers
    (``n``). A table without ``n_answer`` (written before it existed) counts it as
    ``value x n`` rounded and skips the whole-sample rule; one without ``n`` is taken as
    supported throughout.
    """
    if "n" not in profile:
        return np.ones(len(profile), dtype=bool)
    n = pd.to_numeric(profile["n"], errors="coerce").to_numpy(float)
    ok = n >= min_support
    if "measure" not in profile:
        return ok
    share = (profile["measure"] == "share").to_numpy()
    if "n_answer" in profile:
        given = pd.to_numeric(profile["n_answer"], errors="coerce").to_numpy(float)
    else:
        given = np.rint(pd.to_numeric(profile["value"], errors="coerce").to_numpy(float) * n)
    effect = pd.to_numeric(profile["effect_size"], errors="coerce").to_numpy(float)
    side = np.where(effect > 0, given, np.where(effect < 0, n - given,
                                                np.minimum(given, n - given)))
    with np.errstate(invalid="ignore"):
        share_ok = side >= min_support
        if "n_answer_total" in profile:
            total = pd.to_numeric(profile["n_answer_total"], errors="coerce").to_numpy(float)
            share_ok &= total >= min_support
    return np.where(share, ok & share_ok, ok)


def table_groups(table) -> list[int]:
    """The labels present anywhere in a statistics table (sorted)."""
    return sorted(int(g) for g in pd.unique(table["group"]))


def profile_segments(survey, labels, *, weights=True, alpha=0.05, correction="fdr_bh",
                     likert_test="welch") -> pd.DataFrame:
    """Profile every segment on every non-ignored, non-text question.

    Parameters
    ----------
    survey : Survey
    labels : array-like of int or Series
        Segment per respondent (survey row order, or a Series indexed by respondent id);
        -1 = unassigned (not profiled, but part of the total).
    weights : bool or array-like, default True
        True: the survey's weights; False: unweighted; or explicit weights.
    alpha : float, default 0.05
        Significance level applied to the adjusted p-values.
    correction : str or None, default "fdr_bh"
        Any ``statsmodels.stats.multitest.multipletests`` method, over all rows at once;
        None for no correction.
    likert_test : {"welch", "mannwhitney"}, default "welch"

    Returns
    -------
    DataFrame
        One row per segment x variable (x level), columns: segment, question,
        question_text, variable, level, type, measure ('share' or 'mean'), value
        (segment, weighted), total (everyone, weighted), index (100 * value / total),
        test ('two_proportion_z', 'fisher_exact', 'welch_t', 'mann_whitney_u'), statistic
        (z, odds ratio, t or U), p_value, p_adjusted, effect_size, effect_measure
        ('cohen_h', 'cohen_d', 'rank_biserial'), n (segment respondents who answered), n_eff
        (their Kish effective n), n_answer and n_answer_total (respondents who gave the
        answer, in the segment and in the whole sample; NaN for means), significant
        (p_adjusted < alpha on a row :func:`supported` by :data:`MIN_SUPPORT` respondents),
        segmentation_input (the question's codebook role is ``segment``: the segments were
        formed on it, so its differences are expected, not tested findings). ``index`` is
        NaN for a mean whose total is 0 or below.

    Notes
    -----
    Computed from :func:`profile_statistics` (weighted moments per segment), so a wave
    profiled partition by partition and merged gives the same table. The Welch test and
    Cohen's d equal statsmodels' ``ttest_ind``/``DescrStatsW`` on the rescaled weights
    (tests/test_profiles.py checks it).
    """
    if likert_test not in ("welch", "mannwhitney"):
        raise ConfigError(f"likert_test={likert_test!r} is not 'welch' or 'mannwhitney'",
                          fix="use likert_test='welch' (default) or 'mannwhitney'")
    table = profile_statistics(survey, labels, weights=weights)
    if likert_test == "welch":
        return profile_from_statistics(table, alpha=alpha, correction=correction)
    # Mann-Whitney needs every answer (ranks do not merge): Likert rows are tested here
    w_all = _weights(survey, weights).to_numpy()
    if np.ptp(w_all) > 0:
        warnings.warn("the Mann-Whitney test ignores survey weights; Likert values and "
                      "shares are still weighted", PersonaLabWarning, stacklevel=2)
    out = profile_from_statistics(table, alpha=alpha, correction=None)
    lab = _align(survey.data.index, labels, "label").to_numpy()
    likert = {var: values for _, _, var, _, qtype, _, values in _variables(survey)
              if qtype == "likert"}
    for i in np.flatnonzero((out["type"] == "likert").to_numpy()):
        x_all = likert[out.at[i, "variable"]].to_numpy(dtype=float)
        valid = np.isfinite(x_all) & (w_all > 0)
        x, g = x_all[valid], lab[valid]
        ins = g == out.at[i, "segment"]
        stat, p, eff = _mean_test(x[ins], None, x[~ins], None, "mannwhitney")
        out.loc[i, ["test", "statistic", "p_value", "effect_size", "effect_measure"]] = [
            "mann_whitney_u", stat, p, eff, "rank_biserial"]
    return _adjust(out, alpha, correction)


def top_traits(profile: pd.DataFrame, n=5, *, significant_only=True) -> pd.DataFrame:
    """Each segment's ``n`` most distinguishing rows of a profile, by absolute effect size.

    Only rows :func:`supported` by :data:`MIN_SUPPORT` respondents are listed (with
    ``significant_only=False`` too), and a two-answer question once (:func:`mirror_rows`).

    Parameters
    ----------
    profile : DataFrame
        From :func:`profile_segments`.
    n : int
        Traits per segment.
    significant_only : bool
        Keep only rows flagged significant.

    Returns
    -------
    DataFrame
        segment, rank (1 = strongest), direction ('over' or 'under' the total), then the
        profile's columns.
    """
    rows = profile[profile["significant"]] if significant_only else profile
    rows = rows[rows["effect_size"].notna()]
    rows = rows[supported(rows)].copy()
    rows = rows[~mirror_rows(rows, profile)]
    rows["_strength"] = rows["effect_size"].abs()
    rows = rows.sort_values(["segment", "_strength"], ascending=[True, False], kind="stable")
    rows = rows.groupby("segment", sort=True).head(n).drop(columns="_strength")
    rows.insert(1, "rank", rows.groupby("segment").cumcount() + 1)
    rows.insert(2, "direction", np.where(rows["effect_size"] > 0, "over", "under"))
    return rows.reset_index(drop=True)


def mirror_rows(rows: pd.DataFrame, profile: pd.DataFrame) -> np.ndarray:
    """True for the 'under' row of a two-answer question whose other answer's row is the
    same difference seen from the other side ("diagnosed: No" under the total mirrors
    "diagnosed: Yes" over it): listing both spends two of a segment's traits on one fact.

    Only single-choice questions (``type`` 'single' where the table has it): two options of
    a multi-select question can both be chosen, so neither mirrors the other."""
    if not len(rows) or "level" not in profile:
        return np.zeros(len(rows), dtype=bool)
    shares = profile[profile["measure"] == "share"] if "measure" in profile else profile
    if "type" in shares:
        shares = shares[shares["type"] == "single"]
    n_levels = shares.groupby(["segment", "question"])["level"].nunique()
    key = pd.MultiIndex.from_frame(rows[["segment", "question"]])
    two = n_levels.reindex(key).to_numpy() == 2
    if "measure" in rows:
        two &= (rows["measure"] == "share").to_numpy()
    if "type" in rows:
        two &= (rows["type"] == "single").to_numpy()
    return two & (rows["effect_size"].to_numpy() < 0)


def segment_sizes(labels, weights=None, *, alpha=0.05, method="wilson") -> pd.DataFrame:
    """Size of each segment, with a confidence interval for its weighted share.

    The interval is ``statsmodels`` ``proportion_confint`` (Wilson by default) on the
    weighted share with the Kish effective sample size as the number of observations;
    without weights this is the ordinary Wilson interval.

    Parameters
    ----------
    labels : array-like of int
        -1 = unassigned, reported as the last row, segment ``"unassigned"``.
    weights : array-like, optional
    alpha : float
    method : str
        Any ``proportion_confint`` method.

    Returns
    -------
    DataFrame
        segment, n, share (unweighted), weighted_share, ci_low, ci_high.
    """
    lab = np.asarray(labels)
    w = np.ones(len(lab)) if weights is None else np.asarray(weights, dtype=float)
    if len(w) != len(lab):
        raise InputError(f"{len(w)} weights for {len(lab)} labels",
                         fix="pass one weight per respondent")
    n_total, w_total, n_eff = len(lab), w.sum(), kish_n(w)
    segments = sorted(s for s in pd.unique(lab) if s != -1)
    if (lab == -1).any():
        segments.append(-1)
    rows = []
    for seg in segments:
        ins = lab == seg
        share_w = w[ins].sum() / w_total if w_total > 0 else np.nan
        low, high = proportion_confint(share_w * n_eff, n_eff, alpha=alpha, method=method)
        rows.append((UNASSIGNED if seg == -1 else seg, int(ins.sum()), ins.sum() / n_total,
                     share_w, float(low), float(high)))
    return pd.DataFrame(rows, columns=["segment", "n", "share", "weighted_share",
                                       "ci_low", "ci_high"])
