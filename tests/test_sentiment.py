"""Sentiment: VADER's compound score, exactly, faster; ordering on obvious cases."""
from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from personalab.sentiment import sentiment_score, sentiment_scores

# VADER's own demo sentences plus survey-like answers that exercise every rule.
CASES = [
    "VADER is smart, handsome, and funny.", "VADER is smart, handsome, and funny!",
    "VADER is very smart, handsome, and funny.", "VADER is VERY SMART, handsome, and FUNNY.",
    "VADER is VERY SMART, handsome, and FUNNY!!!", "VADER is not smart, handsome, nor funny.",
    "The book was good.", "At least it isn't a horrible book.", "The book was only kind of good.",
    "The plot was good, but the characters are uncompelling and the dialog is not great.",
    "Today SUX!", "Today only kinda sux! But I'll get by, lol", "Make sure you :) or :D today!",
    "Catch utf-8 emoji such as 💘 and 💋 and 😁", "Not bad at all",
    "Sentiment analysis has never been good.", "Sentiment analysis has never been this good!",
    "With VADER, sentiment analysis is the shit!", "On the other hand, VADER is quite bad ass",
    "Without a doubt, excellent idea.", "Roger Dodger is one of the least compelling variations.",
    "Roger Dodger is at least compelling as a variation.", "no no good bad but but great great great",
    "I love it but it is bad but good????", "no problem at all", "kind of great, sort of awful",
    "Everything 😩", "Great app 👍🏽 but the price 💸 hurts", "It's not too expensive, to be fair.",
    "I don't mind the price.", "Support was quick to reply.", "The app crashes constantly. Awful!!",
    "Honestly? Not great?? Not terrible???", "GOOD good Good gOOd", "the the the", "!!!", "???",
]


_ANALYZER = []


def vader(text):
    if not _ANALYZER:
        _ANALYZER.append(SentimentIntensityAnalyzer())
    return _ANALYZER[0].polarity_scores(text)["compound"]


def random_answers(n=800, seed=2):
    rng = random.Random(seed)
    words = ("i love hate the app price is too expensive not very really good bad great awful "
             "kind of sort but never no without doubt least at so this sync crashes happy sad "
             "LOVE GREAT BAD ! ? , . :) 😩 👍 nor or fine okay terrible slow fast helpful").split()
    return [" ".join(rng.choice(words) for _ in range(rng.randint(1, 30))) for _ in range(n)]


def test_equals_vader_compound():
    texts = CASES + random_answers()
    ours = sentiment_scores(pd.Series(texts))
    expected = [vader(t) for t in texts]
    mismatches = [(t, a, b) for t, a, b in zip(texts, ours, expected) if a != b]
    assert not mismatches


def test_orders_obvious_cases():
    s = sentiment_scores(pd.Series({
        "love": "I love this app, it is brilliant and so helpful!",
        "ok": "It is an app for budgets.",
        "hate": "Terrible. It crashes all the time and I hate it.",
        "not_bad": "Not bad at all.",
        "bad": "Bad.",
    }))
    assert s["love"] > s["ok"] > s["hate"]
    assert s["not_bad"] > 0 > s["bad"]
    assert s["ok"] == 0.0


def test_range_index_blank_and_determinism():
    texts = pd.Series(["Great!", None, "  ", "awful"], index=["a", "b", "c", "d"])
    s = sentiment_scores(texts)
    assert list(s.index) == ["a", "b", "c", "d"] and s.name == "sentiment"
    assert s[["b", "c"]].isna().all()
    assert s.dropna().between(-1, 1).all()
    pd.testing.assert_series_equal(s, sentiment_scores(texts))
    assert np.isnan(sentiment_score(""))
    assert sentiment_score("Great!") == s["a"]


def test_pluggable_model():
    s = sentiment_scores(["good", "bad", "good"], model=lambda xs: [0.5 if x == "good" else 3.0
                                                                    for x in xs])
    assert s.tolist() == [0.5, 1.0, 0.5]  # clipped to [-1, 1]
    with pytest.raises(ValueError, match="scores"):
        sentiment_scores(["a", "b"], model=lambda xs: [0.0])
