"""Sentiment of open-text answers: VADER's compound score in [-1, 1], offline.

:func:`sentiment_scores` gives exactly the ``compound`` value of
``vaderSentiment.SentimentIntensityAnalyzer().polarity_scores(text)`` (its lexicon ships
with the package; nothing is downloaded), with VADER's own rules for negation ("not
good"), intensifiers ("very good", "kind of good"), capitals, "but" and "!"/"?".
It is a faster re-implementation of that algorithm: identical answers are scored once,
each whitespace-separated word is looked up once, and only words of VADER's lexicon go
through the rules. ``tests/test_sentiment.py`` checks equality with vaderSentiment.

A different scorer (for instance a transformer model you have installed) can be passed
as ``model=``: any callable taking a list of strings and returning one score per text
in [-1, 1]. None is ever required.
"""
from __future__ import annotations

import functools
import math
from typing import Callable

import numpy as np
import pandas as pd

_CODE_PLAIN, _CODE_BOOSTER, _CODE_LEXICON = 0, 1, 2


@functools.lru_cache(maxsize=1)
def _vader():
    from vaderSentiment import vaderSentiment as vs

    analyzer = vs.SentimentIntensityAnalyzer()
    return vs, analyzer


@functools.lru_cache(maxsize=1)
def _negate_words() -> frozenset:
    vs, _ = _vader()
    return frozenset(vs.NEGATE)


def _is_negation(word_lower: str) -> bool:
    # vaderSentiment.negated([word]) for one lower-case word
    return word_lower in _negate_words() or "n't" in word_lower


class _Scorer:
    """VADER's compound score, with a per-word cache."""

    def __init__(self):
        vs, analyzer = _vader()
        self.vs = vs
        self.lexicon = analyzer.lexicon
        self.emojis = analyzer.emojis
        self.booster = vs.BOOSTER_DICT
        self.special = vs.SPECIAL_CASES
        self.cache: dict[str, tuple] = {}
        self.punct = __import__("string").punctuation

    def _word(self, raw: str) -> tuple:
        stripped = raw.strip(self.punct)
        word = raw if len(stripped) <= 2 else stripped
        low = word.lower()
        code = (_CODE_BOOSTER if low in self.booster
                else _CODE_LEXICON if low in self.lexicon else _CODE_PLAIN)
        entry = (word, low, word.isupper(), code)
        self.cache[raw] = entry
        return entry

    def _replace_emoji(self, text: str) -> str:
        # as SentimentIntensityAnalyzer.polarity_scores does
        out = []
        prev_space = True
        emojis = self.emojis
        for ch in text:
            if ch in emojis:
                if not prev_space:
                    out.append(" ")
                out.append(emojis[ch])
                prev_space = False
            else:
                out.append(ch)
                prev_space = ch == " "
        return "".join(out)

    def compound(self, text: str) -> float:
        if not text.isascii():
            text = self._replace_emoji(text)
        text = text.strip()
        cache = self.cache
        entries = [cache.get(w) or self._word(w) for w in text.split()]
        n = len(entries)
        if n == 0:
            return 0.0
        lex_pos = [i for i, e in enumerate(entries) if e[3] == _CODE_LEXICON]
        sentiments = [0] * n
        if lex_pos:
            words = [e[0] for e in entries]
            lowers = [e[1] for e in entries]
            n_upper = sum(1 for e in entries if e[2])
            is_cap_diff = 0 < n - n_upper < n
            for i in lex_pos:
                if i < n - 1 and lowers[i] == "kind" and lowers[i + 1] == "of":
                    continue
                sentiments[i] = self._valence(i, words, lowers, entries, is_cap_diff)
            if "but" in lowers:
                sentiments = _but_check(lowers, sentiments)
        else:
            lowers = None
        total = float(sum(sentiments))
        if total == 0.0:
            return 0.0
        ep = min(text.count("!"), 4) * 0.292
        qm_count = text.count("?")
        qm = 0
        if qm_count > 1:
            qm = qm_count * 0.18 if qm_count <= 3 else 0.96
        amp = ep + qm
        total = total + amp if total > 0 else total - amp
        score = total / math.sqrt(total * total + 15)
        return round(max(-1.0, min(1.0, score)), 4)

    def _valence(self, i, words, lowers, entries, is_cap_diff) -> float:
        # vaderSentiment.SentimentIntensityAnalyzer.sentiment_valence, one lexicon word
        lex = self.lexicon
        n = len(words)
        low = lowers[i]
        valence = lex[low]
        if low == "no" and i != n - 1 and lowers[i + 1] in lex:
            valence = 0.0
        if (i > 0 and lowers[i - 1] == "no") or (i > 1 and lowers[i - 2] == "no") or (
                i > 2 and lowers[i - 3] == "no" and lowers[i - 1] in ("or", "nor")):
            valence = lex[low] * self.vs.N_SCALAR
        if entries[i][2] and is_cap_diff:
            valence = valence + self.vs.C_INCR if valence > 0 else valence - self.vs.C_INCR
        for start_i in range(3):
            if i > start_i and lowers[i - (start_i + 1)] not in lex:
                prev = i - (start_i + 1)
                s = self._scalar_inc_dec(lowers[prev], entries[prev][2], valence, is_cap_diff)
                if start_i == 1 and s != 0:
                    s = s * 0.95
                if start_i == 2 and s != 0:
                    s = s * 0.9
                valence = valence + s
                valence = _negation_check(valence, lowers, start_i, i)
                if start_i == 2:
                    valence = self._special_idioms_check(valence, lowers, i)
        return _least_check(valence, lowers, i, lex)

    def _scalar_inc_dec(self, low, is_upper, valence, is_cap_diff) -> float:
        scalar = 0.0
        if low in self.booster:
            scalar = self.booster[low]
            if valence < 0:
                scalar *= -1
            if is_upper and is_cap_diff:
                if valence > 0:
                    scalar += self.vs.C_INCR
                else:
                    scalar -= self.vs.C_INCR
        return scalar

    def _special_idioms_check(self, valence, w, i) -> float:
        special, booster = self.special, self.booster
        onezero = f"{w[i - 1]} {w[i]}"
        twoonezero = f"{w[i - 2]} {w[i - 1]} {w[i]}"
        twoone = f"{w[i - 2]} {w[i - 1]}"
        threetwoone = f"{w[i - 3]} {w[i - 2]} {w[i - 1]}"
        threetwo = f"{w[i - 3]} {w[i - 2]}"
        for seq in (onezero, twoonezero, twoone, threetwoone, threetwo):
            if seq in special:
                valence = special[seq]
                break
        if len(w) - 1 > i:
            zeroone = f"{w[i]} {w[i + 1]}"
            if zeroone in special:
                valence = special[zeroone]
        if len(w) - 1 > i + 1:
            zeroonetwo = f"{w[i]} {w[i + 1]} {w[i + 2]}"
            if zeroonetwo in special:
                valence = special[zeroonetwo]
        for n_gram in (threetwoone, threetwo, twoone):
            if n_gram in booster:
                valence = valence + booster[n_gram]
        return valence


def _negation_check(valence, w, start_i, i):
    n_scalar = _vader()[0].N_SCALAR
    if start_i == 0:
        if _is_negation(w[i - 1]):
            valence = valence * n_scalar
    if start_i == 1:
        if w[i - 2] == "never" and (w[i - 1] == "so" or w[i - 1] == "this"):
            valence = valence * 1.25
        elif w[i - 2] == "without" and w[i - 1] == "doubt":
            pass
        elif _is_negation(w[i - 2]):
            valence = valence * n_scalar
    if start_i == 2:
        if w[i - 3] == "never" and (w[i - 2] == "so" or w[i - 2] == "this") or (
                w[i - 1] == "so" or w[i - 1] == "this"):
            valence = valence * 1.25
        elif w[i - 3] == "without" and (w[i - 2] == "doubt" or w[i - 1] == "doubt"):
            pass
        elif _is_negation(w[i - 3]):
            valence = valence * n_scalar
    return valence


def _least_check(valence, w, i, lex):
    n_scalar = _vader()[0].N_SCALAR
    if i > 1 and w[i - 1] not in lex and w[i - 1] == "least":
        if w[i - 2] != "at" and w[i - 2] != "very":
            valence = valence * n_scalar
    elif i > 0 and w[i - 1] not in lex and w[i - 1] == "least":
        valence = valence * n_scalar
    return valence


def _but_check(lowers, sentiments):
    # VADER's rule, kept as written (it finds each value's *first* position)
    bi = lowers.index("but")
    for sentiment in sentiments:
        si = sentiments.index(sentiment)
        if si < bi:
            sentiments.pop(si)
            sentiments.insert(si, sentiment * 0.5)
        elif si > bi:
            sentiments.pop(si)
            sentiments.insert(si, sentiment * 1.5)
    return sentiments


def sentiment_score(text: str) -> float:
    """VADER compound score of one text (NaN for a blank or missing one)."""
    return float(sentiment_scores(pd.Series([text])).iloc[0])


def sentiment_scores(texts, *, model: Callable | None = None) -> pd.Series:
    """Sentiment of each answer, in [-1, 1] (VADER compound; 0 = neutral).

    Parameters
    ----------
    texts : Series or list of str
        The answers; the index is kept. Blank or missing answers get NaN.
    model : callable, optional
        A scorer to use instead of VADER: ``model(list_of_str) -> sequence of float``
        in [-1, 1].

    Returns
    -------
    Series of float, named ``sentiment``. Deterministic: the same text always
    gets the same score.
    """
    s = texts if isinstance(texts, pd.Series) else pd.Series(list(texts))
    values = s.to_numpy(dtype=object)
    answered = np.array([isinstance(v, str) and bool(v.strip()) for v in values], dtype=bool)
    codes, uniques = pd.factorize(np.where(answered, values, ""))
    if model is not None:
        scored = np.asarray(model([str(u) for u in uniques]), dtype=float)
        if scored.shape != (len(uniques),):
            from .errors import ConfigError

            raise ConfigError(f"the sentiment model returned {scored.shape} scores for "
                              f"{len(uniques)} texts", fix="return one score per text")
        scored = np.clip(scored, -1.0, 1.0)
    else:
        scorer = _Scorer()
        scored = np.fromiter((scorer.compound(u) if u else 0.0 for u in uniques),
                             dtype=float, count=len(uniques))
    out = scored[codes] if len(codes) else np.array([], dtype=float)
    out = np.where(answered, out, np.nan)
    return pd.Series(out, index=s.index, name="sentiment")
