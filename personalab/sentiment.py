"""Sentiment of open-text answers: VADER's compound score in [-1, 1], offline.

:func:`sentiment_scores` gives exactly the ``compound`` value of
``vaderSentiment.SentimentIntensityAnalyzer().polarity_scores(text)`` (its lexicon ships
with the package; nothing is downloaded), with VADER's own rules for negation ("not
good"), intensifiers ("very good", "kind of good"), capitals, "but" and "!"/"?".
It is a faster re-implementation of that algorithm: identical answers are scored once,
Arrow splits the answers into words, each distinct word is looked up once, and VADER's
rules run as array operations over all the lexicon words of many answers at once
(same floating-point operations in the same order, so the same scores).
``tests/test_sentiment.py`` checks equality with vaderSentiment.

A different scorer (for instance a transformer model you have installed) can be passed
as ``model=``: any callable taking a list of strings and returning one score per text
in [-1, 1]. None is ever required.

The question matters: "Nothing" answering *What could we improve?* is praise, and
answering *What did you like?* it is a complaint, though VADER scores both 0. Given the
question's wording (``question=``, or a Series named with it), :func:`question_polarity`
reads what the question asks for, and answers that only say there is nothing to report
("Nothing", "None really", "Can't think of anything", "No complaints") are scored
:data:`NOTHING_SCORE` towards the opposite of what was asked for (VADER's score is kept
when it already says more in that direction: "Nothing, it's perfect!").
"""
from __future__ import annotations

import functools
import re
import string
from typing import Callable

import numpy as np
import pandas as pd

from .text import distinct_texts, effective_n_jobs, map_blocks, split_even

_CODE_PLAIN, _CODE_BOOSTER, _CODE_LEXICON = 0, 1, 2
#: Distinct answers scored per block (bounds the memory of the word arrays).
_BLOCK = 20_000
#: Lower-case words VADER's rules test for by name.
_RULE_WORDS = ("kind", "of", "no", "or", "nor", "never", "so", "this", "without", "doubt",
               "least", "at", "very", "but")


@functools.lru_cache(maxsize=1)
def _vader():
    from vaderSentiment import vaderSentiment as vs

    analyzer = vs.SentimentIntensityAnalyzer()
    return vs, analyzer


@functools.lru_cache(maxsize=1)
def _emoji_chars() -> frozenset:
    _, analyzer = _vader()
    return frozenset(e for e in analyzer.emojis if len(e) == 1)


def _replace_emoji(text: str, emojis) -> str:
    """Emoji -> their descriptions, as ``SentimentIntensityAnalyzer.polarity_scores`` does:
    a space goes before a description unless the emoji starts the text or follows a space."""
    found = _emoji_chars().intersection(text)
    if not found:
        return text
    at = []
    for ch in found:
        i = text.find(ch)
        while i >= 0:
            at.append(i)
            i = text.find(ch, i + 1)
    out, last = [], 0
    for i in sorted(at):
        out.append(text[last:i])
        if i > 0 and text[i - 1] != " ":
            out.append(" ")
        out.append(emojis[text[i]])
        last = i + 1
    out.append(text[last:])
    return "".join(out)


class _Scorer:
    """VADER's compound score of many texts, as array operations.

    Each distinct word (VADER's ``text.split()``, punctuation stripped as VADER does)
    gets an id and its attributes once; every rule of ``sentiment_valence`` then runs
    on arrays over the lexicon words of a block of texts, and the "but" rule and the
    final sum in Python per text, so every score equals VADER's exactly.
    """

    def __init__(self):
        vs, analyzer = _vader()
        self.vs = vs
        self.lexicon = analyzer.lexicon
        self.emojis = analyzer.emojis
        self.booster = vs.BOOSTER_DICT
        self.negate = frozenset(vs.NEGATE)
        self.punct = string.punctuation
        self.word_ids: dict[bytes, int] = {}
        self.low_ids: dict[str, int] = {}
        # per word id: lower-case id, ALL CAPS, code, in the lexicon, valence, booster
        # value, booster, negation
        self.w_low, self.w_upper, self.w_code, self.w_inlex = [], [], [], []
        self.w_val, self.w_boost, self.w_isboost, self.w_neg = [], [], [], []
        self.id = {w: self._low(w) for w in _RULE_WORDS}
        self.special = [(tuple(self._low(w) for w in k.split(" ")), float(v))
                        for k, v in vs.SPECIAL_CASES.items() if " " in k]
        self.booster_ngrams = [(tuple(self._low(w) for w in k.split(" ")), float(v))
                               for k, v in vs.BOOSTER_DICT.items() if " " in k]

    def _low(self, low: str) -> int:
        i = self.low_ids.get(low)
        if i is None:
            i = self.low_ids[low] = len(self.low_ids)
        return i

    def _word(self, raw: bytes) -> int:
        text = raw.decode("utf-8", "surrogatepass")
        stripped = text.strip(self.punct)
        word = text if len(stripped) <= 2 else stripped
        low = word.lower()
        self.w_low.append(self._low(low))
        self.w_upper.append(word.isupper())
        self.w_code.append(_CODE_BOOSTER if low in self.booster
                           else _CODE_LEXICON if low in self.lexicon else _CODE_PLAIN)
        self.w_inlex.append(low in self.lexicon)
        self.w_val.append(float(self.lexicon.get(low, 0.0)))
        self.w_boost.append(float(self.booster.get(low, 0.0)))
        self.w_isboost.append(low in self.booster)
        self.w_neg.append(low in self.negate or "n't" in low)
        i = self.word_ids[raw] = len(self.word_ids)
        return i

    def scores(self, texts, plain=None) -> np.ndarray:
        """Compound scores of non-blank texts: a pyarrow large_string array (``plain``:
        which have single spaces only, see :meth:`DistinctTexts.plain`) or a list."""
        out = [self._block(texts[i:i + _BLOCK], None if plain is None else plain[i:i + _BLOCK])
               for i in range(0, len(texts), _BLOCK)]
        return np.concatenate(out) if out else np.zeros(0)

    def _block(self, texts, plain) -> np.ndarray:
        import pyarrow as pa
        import pyarrow.compute as pc

        # VADER: emoji -> their descriptions, strip, split on whitespace. A text that is
        # already single-spaced ASCII splits on " " into the same words; others are
        # rewritten that way first (same words, same "!" and "?" counts).
        if isinstance(texts, list):
            redo = np.arange(len(texts))
            binary = pa.nulls(0, pa.large_binary())
        else:
            redo = np.flatnonzero(~plain | ~pc.string_is_ascii(texts).to_numpy(
                zero_copy_only=False).astype(bool))
            binary = texts.cast(pa.large_binary())
        if len(redo):
            fixed = [" ".join((t if t.isascii() else _replace_emoji(t, self.emojis)).split())
                     .encode("utf-8", "surrogatepass")
                     for t in (texts.take(redo).to_pylist() if not isinstance(texts, list)
                               else texts)]
            where = np.arange(len(texts))
            where[redo] = len(binary) + np.arange(len(redo))
            binary = pa.concat_arrays([binary, pa.array(fixed, type=pa.large_binary())]).take(
                pa.array(where))
        lists = pc.split_pattern(binary, b" ")
        n_words = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
        encoded = pc.dictionary_encode(lists.flatten())
        ids = self.word_ids
        local = np.fromiter((ids[w] if w in ids else self._word(w)
                             for w in encoded.dictionary.to_pylist()), dtype=np.int64)
        wid = local[encoded.indices.to_numpy(zero_copy_only=False)]
        total = self._totals(wid, n_words)
        ep = np.minimum(pc.count_substring(binary, b"!").to_numpy(zero_copy_only=False), 4)
        qm = pc.count_substring(binary, b"?").to_numpy(zero_copy_only=False)
        # as score_valence: the same float operations in the same order
        amp = ep * 0.292 + np.where(qm > 1, np.where(qm <= 3, qm * 0.18, 0.96), 0)
        total = np.where(total > 0, total + amp, np.where(total < 0, total - amp, total))
        score = np.clip(total / np.sqrt(total * total + 15), -1.0, 1.0)
        return np.array([round(x, 4) if x else 0.0 for x in score.tolist()], dtype=float)

    def _totals(self, wid, n_words) -> np.ndarray:
        """Sum of VADER's sentiments of each text's words (after the "but" rule)."""
        n_texts = len(n_words)
        total = np.zeros(n_texts)
        w_code = np.asarray(self.w_code, dtype=np.int8)
        lex = np.flatnonzero(w_code[wid] == _CODE_LEXICON)
        if not len(lex):
            return total
        first = np.cumsum(n_words) - n_words  # first word of each text
        text = np.repeat(np.arange(n_texts), n_words)
        low = np.asarray(self.w_low, dtype=np.int64)[wid]
        upper = np.asarray(self.w_upper, dtype=bool)[wid]
        inlex = np.asarray(self.w_inlex, dtype=bool)[wid]
        n_upper = np.bincount(text, weights=upper, minlength=n_texts)
        cap_diff = ((n_upper > 0) & (n_upper < n_words))[text]
        ID = self.id
        # "kind of": VADER skips "kind"
        pos = lex - first[text[lex]]
        n = n_words[text[lex]]
        nxt = np.minimum(lex + 1, len(wid) - 1)
        lex = lex[~((low[lex] == ID["kind"]) & (pos < n - 1) & (low[nxt] == ID["of"]))]
        valence = self._valence(lex, wid, low, upper, inlex, cap_diff, first[text[lex]],
                                n_words[text[lex]])
        # per text: the "but" rule, then sum() as VADER does (in Python, so exactly)
        lex_text = text[lex]
        has_but = np.zeros(n_texts, dtype=bool)
        has_but[text[low == ID["but"]]] = True
        bounds = np.searchsorted(lex_text, np.arange(n_texts + 1))
        values = valence.tolist()
        positions = (lex - first[lex_text]).tolist()
        for t in np.flatnonzero(np.diff(bounds)).tolist():
            a, b = bounds[t], bounds[t + 1]
            vals = values[a:b]
            if has_but[t]:
                words = low[first[t]:first[t] + n_words[t]]
                vals = _but_check(vals, positions[a:b], int(np.argmax(words == ID["but"])))
            total[t] = float(sum(vals))
        return total

    def _valence(self, i, wid, low, upper, inlex, cap_diff, first, n) -> np.ndarray:
        """``SentimentIntensityAnalyzer.sentiment_valence`` for the lexicon words at
        positions ``i`` (``first``/``n``: their text's first word and length)."""
        vs, ID = self.vs, self.id
        last = len(wid) - 1
        pos = i - first
        at = lambda off: np.clip(i + off, 0, last)  # noqa: E731
        low_at = lambda off: low[at(off)]  # noqa: E731
        w_val = np.asarray(self.w_val)
        lex_val = w_val[wid[i]]
        v = lex_val.copy()
        # "no" before another lexicon word is a negation, not a sentiment
        v = np.where((low[i] == ID["no"]) & (pos < n - 1) & inlex[at(1)], 0.0, v)
        no_before = ((pos > 0) & (low_at(-1) == ID["no"])) | ((pos > 1) & (low_at(-2) == ID["no"])) \
            | ((pos > 2) & (low_at(-3) == ID["no"]) & np.isin(low_at(-1), [ID["or"], ID["nor"]]))
        v = np.where(no_before, lex_val * vs.N_SCALAR, v)
        caps = upper[i] & cap_diff[i]
        v = np.where(caps, np.where(v > 0, v + vs.C_INCR, v - vs.C_INCR), v)
        w_boost = np.asarray(self.w_boost)
        w_isboost = np.asarray(self.w_isboost, dtype=bool)
        neg = np.asarray(self.w_neg, dtype=bool)[wid]
        so_this = lambda off: np.isin(low_at(off), [ID["so"], ID["this"]])  # noqa: E731
        for start_i in range(3):
            off = -(start_i + 1)
            cond = (pos > start_i) & ~inlex[at(off)]
            prev = at(off)
            is_b = w_isboost[wid[prev]]
            s = np.where(v < 0, w_boost[wid[prev]] * -1, w_boost[wid[prev]])
            s = np.where(is_b & upper[prev] & cap_diff[prev],
                         np.where(v > 0, s + vs.C_INCR, s - vs.C_INCR), s)
            s = np.where(is_b, s, 0.0)
            if start_i == 1:
                s = np.where(s != 0, s * 0.95, s)
            elif start_i == 2:
                s = np.where(s != 0, s * 0.9, s)
            v = np.where(cond, v + s, v)
            # _negation_check
            if start_i == 0:
                v = np.where(cond & neg[at(-1)], v * vs.N_SCALAR, v)
            elif start_i == 1:
                boost = (low_at(-2) == ID["never"]) & so_this(-1)
                keep = (low_at(-2) == ID["without"]) & (low_at(-1) == ID["doubt"])
                v = np.where(cond & boost, v * 1.25,
                             np.where(cond & ~boost & ~keep & neg[at(-2)], v * vs.N_SCALAR, v))
            else:
                boost = ((low_at(-3) == ID["never"]) & so_this(-2)) | so_this(-1)
                keep = (low_at(-3) == ID["without"]) & (
                    (low_at(-2) == ID["doubt"]) | (low_at(-1) == ID["doubt"]))
                v = np.where(cond & boost, v * 1.25,
                             np.where(cond & ~boost & ~keep & neg[at(-3)], v * vs.N_SCALAR, v))
                v = np.where(cond, self._special_idioms(v, i, pos, n, low_at), v)
        # _least_check
        least = ~inlex[at(-1)] & (low_at(-1) == ID["least"])
        first_case = (pos > 1) & least
        v = np.where(first_case & (low_at(-2) != ID["at"]) & (low_at(-2) != ID["very"]),
                     v * vs.N_SCALAR, v)
        return np.where(~first_case & (pos > 0) & least, v * vs.N_SCALAR, v)

    def _special_idioms(self, v, i, pos, n, low_at) -> np.ndarray:
        """``_special_idioms_check`` (called where the word has three words before it)."""
        def seq_is(offsets, words):
            if len(offsets) != len(words):
                return np.zeros(len(i), dtype=bool)
            ok = np.ones(len(i), dtype=bool)
            for off, w in zip(offsets, words):
                ok &= low_at(off) == w
            return ok

        def special_value(offsets):
            found, value = np.zeros(len(i), dtype=bool), np.zeros(len(i))
            for words, val in self.special:
                hit = seq_is(offsets, words) & ~found
                found |= hit
                value = np.where(hit, val, value)
            return found, value

        # the first of these sequences that is a special case sets the valence
        seqs = [(-1, 0), (-2, -1, 0), (-2, -1), (-3, -2, -1), (-3, -2)]
        for offsets in reversed(seqs):
            found, value = special_value(offsets)
            v = np.where(found, value, v)
        found, value = special_value((0, 1))
        v = np.where(found & (pos < n - 1), value, v)
        found, value = special_value((0, 1, 2))
        v = np.where(found & (pos < n - 2), value, v)
        for offsets in ((-3, -2, -1), (-3, -2), (-2, -1)):
            for words, val in self.booster_ngrams:
                v = np.where(seq_is(offsets, words), v + val, v)
        return v


def _but_check(values, positions, but_at) -> list:
    """VADER's "but" rule on a text's non-zero sentiments (``positions``: their words).

    Kept as VADER writes it: each value's *first* equal value is the one scaled (zeros
    never equal a non-zero value, so they can be left out).
    """
    values = list(values)
    for p in range(len(values)):
        x = values[p]
        c = values.index(x)
        if positions[c] < but_at:
            values[c] = x * 0.5
        elif positions[c] > but_at:
            values[c] = x * 1.5
    return values


#: Score of a "nothing to report" answer, signed by what the question asked for.
NOTHING_SCORE = 0.5

# Questions that ask for problems: an empty answer means there are none.
_ASKS_NEGATIVE = re.compile(
    r"\b(?:improve\w*|better|change|fix|dislike\w*|(?:not|n't|least)\s+(?:like|enjoy|love)\w*|"
    r"frustrat\w*|annoy\w*|problem\w*|issue\w*|complain\w*|difficult\w*|hard(?:est)?|"
    r"wrong|bad|worst|missing|lacking|lack|disappoint\w*|concern\w*|challeng\w*|"
    r"pain\s*points?|obstacles?|barriers?|hate|negative\w*|stop\s+you|prevent\w*|"
    r"go\s+wrong|confus\w*|unhappy|dissatisf\w*|suggest\w*|wish)\b", re.IGNORECASE)
# Questions that ask for praise: an empty answer means there is none.
_ASKS_POSITIVE = re.compile(
    r"\b(?:like|liked|love|loved|enjoy\w*|best|favou?rite\w*|positive\w*|well|"
    r"good|great|value\w*|appreciat\w*|happ(?:y|iest)|pleas\w*|recommend\w*)\b",
    re.IGNORECASE)
# Answers that only say there is nothing to report (optionally with a short tail such as
# "really", "at all", "so far", "it's all good").
_NOTHING = re.compile(
    r"^\W*(?:nothing|none|no(?:pe|thing)?|nada|nil|zilch|n\s*/?\s*a|na|not\s+really|"
    r"no\s+(?:complaints?|issues?|problems?|suggestions?|changes?|comments?|idea)|"
    r"(?:i\s+)?(?:can(?:'|no)?t|cannot|could\s*n[o']?t)\s+think\s+of\s+any(?:thing)?|"
    r"nothing\s+(?:comes\s+to\s+mind|i\s+can\s+think\s+of)|"
    r"(?:i\s+)?(?:do\s*n[o']?t|did\s*n[o']?t)\s+(?:know|have\s+any(?:thing)?))"
    r"(?:[\s,.;:!-]+(?:really|at\s+all|in\s+particular|so\s+far|yet|specific|much|else|"
    r"for\s+now|that\s+i\s+can\s+think\s+of|to\s+(?:add|report|say|improve)|"
    r"thanks?|thank\s+you|sorry))*\W*$", re.IGNORECASE)


# "Nothing, it was perfect!": a nothing-answer, then praise (VADER reads "nothing" as a
# negation of what follows and scores it negative).
_NOTHING_THEN = re.compile(
    r"^\W*(?:nothing|none|no\s+complaints?|no\s+problems?|no\s+issues?)"
    r"(?:\s+(?:really|at\s+all|to\s+improve|to\s+change|in\s+particular))?"
    r"\s*[,.;:!\u2013\u2014-]+\s*(?P<rest>\S.*)$", re.IGNORECASE | re.DOTALL)


def question_polarity(question) -> int:
    """What a question asks for: -1 problems ("What could we improve?"), +1 praise
    ("What did you like most?"), 0 neither or both, or no question."""
    if not isinstance(question, str) or not question.strip():
        return 0
    negative = _ASKS_NEGATIVE.search(question) is not None
    positive = _ASKS_POSITIVE.search(_ASKS_NEGATIVE.sub(" ", question)) is not None
    return -1 if negative and not positive else 1 if positive and not negative else 0


def is_nothing_answer(text) -> bool:
    """Whether an answer only says there is nothing to report ("Nothing really.")."""
    return isinstance(text, str) and _NOTHING.match(text.strip()) is not None


def _question_of(texts, question):
    if question is not None:
        return question
    name = getattr(texts, "name", None)
    # a column named with the question's own words ("What could we improve?")
    return name if isinstance(name, str) and (" " in name.strip() or "?" in name) else None


def sentiment_score(text: str, *, question: str | None = None) -> float:
    """VADER compound score of one text (NaN for a blank or missing one); see
    :func:`sentiment_scores` for ``question``."""
    return float(sentiment_scores(pd.Series([text], dtype=object), question=question).iloc[0])


def sentiment_scores(texts, *, question: str | None = None, model: Callable | None = None,
                     n_jobs: int | None = None) -> pd.Series:
    """Sentiment of each answer, in [-1, 1] (VADER compound; 0 = neutral).

    Parameters
    ----------
    texts : Series or list of str
        The answers; the index is kept. Blank or missing answers get NaN.
    question : str, optional
        The wording of the question they answer. When it asks for problems
        ("What could we improve?"), a "Nothing" answer scores at least
        +:data:`NOTHING_SCORE`; when it asks for praise ("What did you like?"), at most
        -:data:`NOTHING_SCORE`. Default: the Series' name when it reads like a
        question (has a space or a "?"), else none (VADER alone).
    model : callable, optional
        A scorer to use instead of VADER: ``model(list_of_str) -> sequence of float``
        in [-1, 1].
    n_jobs : int or None
        Processes sharing the distinct answers (VADER only), as in
        :func:`personalab.themes.tag_answers`: ``None`` is one below
        :data:`personalab.text.PARALLEL_MIN_TEXTS` distinct answers and every core
        from there, ``-1`` every core; always 1 where workers cannot be forked. The
        scores are the same for any ``n_jobs``.

    Returns
    -------
    Series of float, named ``sentiment``. Deterministic: the same text always
    gets the same score.
    """
    s = texts if isinstance(texts, pd.Series) else pd.Series(list(texts), dtype=object)
    distinct = distinct_texts(s)
    if model is not None:
        uniques = distinct.values()
        scored = np.asarray(model(list(uniques)), dtype=float) if uniques else np.zeros(0)
        if scored.shape != (len(uniques),):
            from .errors import ConfigError

            raise ConfigError(f"the sentiment model returned {scored.shape} scores for "
                              f"{len(uniques)} texts", fix="return one score per text")
        scored = np.clip(scored, -1.0, 1.0)
    else:
        ranges = split_even(distinct.sizes(), effective_n_jobs(n_jobs, len(distinct)))
        plain = distinct.plain() if distinct.arrow is not None else None

        def block(i):
            a, b = ranges[i]
            if distinct.arrow is None:
                return _Scorer().scores(distinct.values()[a:b])
            return _Scorer().scores(distinct.arrow.slice(a, b - a), plain[a:b])

        scored = np.concatenate(map_blocks(block, len(ranges)))
    polarity = question_polarity(_question_of(texts, question))
    if polarity and len(scored):
        nothing = np.fromiter((is_nothing_answer(t) for t in distinct.values()), dtype=bool,
                              count=len(scored))
        target = -polarity * NOTHING_SCORE
        moved = np.maximum(scored, target) if target > 0 else np.minimum(scored, target)
        scored = np.where(nothing, moved, scored)
        if polarity < 0:
            # "Nothing, it was perfect!": the praise after it, at least NOTHING_SCORE
            found = [(i, m.group("rest")) for i, t in enumerate(distinct.values())
                     if not nothing[i] and (m := _NOTHING_THEN.match(t))]
            if found:
                rest = _Scorer().scores([r for _, r in found])
                at = np.array([i for i, _ in found])
                praise = rest > 0
                scored[at[praise]] = np.maximum(rest[praise], NOTHING_SCORE)
    out = np.append(scored, np.nan)[distinct.codes]
    return pd.Series(out, index=s.index, name="sentiment")
