"""Benchmark: tagging open-text answers (themes, negation, sentiment), PersonaLab vs plain spaCy.

Run ``python -m benches.bench_tagging [--quick] [--n N] [--n-jobs J]``. Prints one table:

* ``plain spaCy``: ``spacy.blank("en")`` + sentencizer + lookup lemmatizer + ``PhraseMatcher``
  and ``Matcher`` over ``nlp.pipe``, in one process (tags only; no negation, no sentiment);
* ``personalab``: :func:`personalab.themes.tag_answers` (tags + negation),
  :func:`personalab.sentiment.sentiment_scores`, and both end to end, with their default
  ``n_jobs`` (worker processes from 20,000 distinct answers on) and in one process;

on answers of 10-40 words from ``personalab.datasets.make_survey`` (or, without it,
from the word banks in ``personalab/resources/synthetic_text.yml``). CPU seconds include
the worker processes'; the load average says how much else ran on the machine.

``python -m benches.bench_tagging --long N`` measures instead the memory of tagging N
answers of 100 KB each, one sentence with thousands of theme mentions (issue 13: each
match kept its whole sentence, ~1.2 GB per answer): peak resident memory of the process
and the characters the ``sentence`` snippets hold.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import resource
import time

import pandas as pd
import yaml

from personalab.paths import RESOURCES_DIR

_FALLBACK = {
    "themes": [{"id": "price", "phrases": ["too expensive", "price", "cost"],
                "patterns": [[{"LEMMA": "cost"}, {"LOWER": "too"}, {"LOWER": "much"}]],
                "exclude": ["price match"]},
               {"id": "sync", "phrases": ["sync", "bank connection"]}],
    "sentences": {"Q9": {"price": ["The price went up again.", "It costs too much for me."],
                         "sync": ["Transactions take days to sync.", "My bank connection drops."]}},
    "negations": {"Q9": {"price": ["I don't mind the price."]}},
    "fillers": {"Q9": ["Support was quick to reply.", "The colours are a bit loud."]},
    "slots": {},
}


def word_banks() -> dict:
    path = RESOURCES_DIR / "synthetic_text.yml"
    if path.exists():
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    return _FALLBACK


def _fill(sentence: str, slots: dict, rng: random.Random) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(rng.choice(slots.get(m.group(1), ["it"]))),
                  sentence)


def generate_answers(n: int, seed: int = 0) -> pd.Series:
    """``n`` answers of 10-40 words.

    From :func:`personalab.datasets.make_survey` (its Q8/Q9 answers, with planted
    themes, negations, typos and PII; short ones joined up to 10-40 words) when that
    module exists, else from the word banks directly.
    """
    rng = random.Random(seed)
    try:
        from personalab.datasets import make_survey
    except ImportError:
        make_survey = None
    if make_survey is not None:
        wave = make_survey(max(200, n // 2), random_state=seed)
        pool = [a for q in ("Q8", "Q9") for a in wave.raw[q].dropna().tolist() if len(a.split()) > 2]
    else:
        banks = word_banks()
        slots = banks.get("slots", {})
        pool = []
        for section in ("sentences", "negations"):
            for q in banks.get(section, {}).values():
                for sents in q.values():
                    pool += [_fill(s, slots, rng) for s in sents for _ in range(3)]
        for sents in banks.get("fillers", {}).values():
            pool += sents
    out = []
    while len(out) < n:
        parts, words = [], 0
        target = rng.randint(10, 40)
        while words < target:
            s = rng.choice(pool)
            parts.append(s)
            words += len(s.split())
        out.append(" ".join(" ".join(parts).split(" ")[:40]))
    return pd.Series(out, name="answer")


def with_typos(texts: pd.Series, share: float, seed: int = 1) -> pd.Series:
    """One letter changed in ``share`` of the words longer than 3 letters: a vocabulary as
    varied as real answers' (the generated answers reuse a few thousand word forms)."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"

    def typo(w):
        if len(w) > 3 and rng.random() < share:
            i = rng.randrange(len(w))
            return w[:i] + rng.choice(letters) + w[i + 1:]
        return w

    return pd.Series([" ".join(typo(w) for w in t.split(" ")) for t in texts], name=texts.name)


def codebook():
    from personalab.themes import Theme, ThemeCodebook

    banks = word_banks()
    return ThemeCodebook([Theme(**{k: v for k, v in t.items()}) for t in banks["themes"]])


def plain_pipeline(texts, cb) -> int:
    """The plain spaCy way: nlp.pipe + PhraseMatcher(LEMMA) + Matcher; returns #matches."""
    import spacy
    from spacy.matcher import Matcher, PhraseMatcher

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    pm = PhraseMatcher(nlp.vocab, attr="LEMMA")
    matcher = Matcher(nlp.vocab)
    for t in cb.themes:
        if t.phrases:
            pm.add(t.id, list(nlp.pipe(t.phrases)))
        if t.patterns:
            matcher.add(t.id, t.patterns)
    n = 0
    for doc in nlp.pipe(texts, batch_size=1000):
        n += len(pm(doc)) + len(matcher(doc))
    return n


def ours(texts, cb, n_jobs=None):
    from personalab.sentiment import sentiment_scores
    from personalab.themes import tag_answers

    result = tag_answers(texts, cb, n_jobs=n_jobs)
    scores = sentiment_scores(texts, n_jobs=n_jobs)
    return result, scores


def cpu_seconds() -> float:
    """CPU seconds of this process and of its finished child processes (the workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def long_answers(n: int, size: int = 100_000) -> pd.Series:
    """``n`` answers of ``size`` characters without a sentence mark, mentioning price and
    sync every dozen words (each one slightly different, so none is tagged only once)."""
    unit = "the price went up and the sync failed again while we waited "
    body = (unit * (size // len(unit) + 1))[:size]
    return pd.Series([body[: size - 8] + f" case {i}" for i in range(n)])


def long_case(n: int) -> int:
    from personalab.themes import SENTENCE_CONTEXT_TOKENS, SENTENCE_MAX_CHARS, tag_answers

    texts = long_answers(n)
    cb = codebook()
    tag_answers(texts[:0], cb, n_jobs=1)          # imports and pipeline outside the peak
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    w0 = time.perf_counter()
    result = tag_answers(texts, cb, n_jobs=1)
    wall = time.perf_counter() - w0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    snippets = result.tags["sentence"].str.len()
    print(f"{n} answer(s) of {len(texts[0]):,} characters, one sentence each: "
          f"{len(result.tags):,} tags in {wall:.1f} s")
    print(f"sentence snippets: {snippets.sum():,} characters in all, longest {snippets.max():,} "
          f"(a sentence over {SENTENCE_MAX_CHARS} characters is cut to "
          f"{SENTENCE_CONTEXT_TOKENS} tokens either side of a match)")
    print(f"peak RSS {peak:,.0f} MiB ({rss_before:,.0f} MiB before tagging)")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="20,000 answers instead of 100,000")
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--n-jobs", type=int, default=None,
                    help="n_jobs of the personalab rows (default: personalab's own default)")
    ap.add_argument("--typos", type=float, default=0.0,
                    help="share of longer words given a typo, for a more varied vocabulary")
    ap.add_argument("--long", type=int, default=None, metavar="N",
                    help="only measure memory on N answers of 100 KB (one sentence each)")
    args = ap.parse_args(argv)
    if args.long:
        return long_case(args.long)
    n = args.n or (20_000 if args.quick else 100_000)
    texts = generate_answers(n)
    if args.typos:
        texts = with_typos(texts, args.typos)
    cb = codebook()
    words = texts.str.split().str.len()
    from personalab.text import available_cpus, effective_n_jobs

    jobs = effective_n_jobs(args.n_jobs, texts.nunique())
    n_words = len(set(" ".join(texts).split(" ")))
    print(f"{n:,} answers, {words.min()}-{words.max()} words (mean {words.mean():.1f}), "
          f"{texts.nunique():,} distinct, {n_words:,} distinct words"
          f"{f' ({args.typos:.0%} typos)' if args.typos else ''}; {len(cb)} themes; "
          f"{available_cpus()} CPUs; "
          f"personalab n_jobs={args.n_jobs} -> {jobs} process(es)\n")
    # warm caches (lemma table, spaCy vocab) outside the timings
    ours(texts[:200], cb, n_jobs=1)
    plain_pipeline(texts[:200], cb)
    from personalab.sentiment import sentiment_scores
    from personalab.themes import tag_answers

    procs = f"{jobs} process{'es' if jobs > 1 else ''}"
    steps = [
        ("plain spaCy (blank + lookup + PhraseMatcher/Matcher; tags only), 1 process",
         lambda: plain_pipeline(texts, cb)),
        (f"personalab tag_answers (tags + negation), {procs}",
         lambda: tag_answers(texts, cb, n_jobs=args.n_jobs)),
        (f"personalab sentiment_scores (VADER compound), {procs}",
         lambda: sentiment_scores(texts, n_jobs=args.n_jobs)),
        (f"personalab end to end (tags + negation + sentiment), {procs}",
         lambda: ours(texts, cb, n_jobs=args.n_jobs)),
    ]
    if jobs > 1:
        steps.append(("personalab end to end, 1 process (n_jobs=1)",
                      lambda: ours(texts, cb, n_jobs=1)))
    rows = []
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    for name, fn in steps:
        w0, c0 = time.perf_counter(), cpu_seconds()
        fn()
        rows.append((name, time.perf_counter() - w0, cpu_seconds() - c0))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    width = max(len(r[0]) for r in rows)
    print(f"| {'pipeline':<{width}} | {'wall s':>7} | {'answers/s':>9} | {'CPU s':>6} | "
          f"{'answers/CPU-s':>13} |")
    print(f"|{'-' * (width + 2)}|{'-' * 8}:|{'-' * 10}:|{'-' * 7}:|{'-' * 14}:|")
    for name, wall, cpu in rows:
        print(f"| {name:<{width}} | {wall:>7.2f} | {n / wall:>9,.0f} | {cpu:>6.2f} | "
              f"{n / cpu:>13,.0f} |")
    (_, t_plain, c_plain), (_, t_ours, c_ours) = rows[0], rows[3]
    print(f"\n1-minute load average: {load_before:.1f} before the timings, {load:.1f} after, "
          f"on {os.cpu_count()} CPUs (wall-clock rates are only comparable on an idle machine)")
    print(f"end to end vs plain: {t_plain / t_ours:.1f}x wall, {c_plain / c_ours:.1f}x CPU; "
          f"end to end {n / t_ours:,.0f} answers/s wall (target >= 20,000)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
