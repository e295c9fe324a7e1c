"""Sentiment: VADER's compound score, exactly, faster; ordering on obvious cases."""
from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from personalab.sentiment import sentiment_score, sentiment_scores
from personalab.text import can_fork, effective_n_jobs

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


def adversarial_answers(n=3000, seed=5):
    """Every rule at once: repeated values around "but" (VADER's first-equal-value quirk),
    idioms, boosters in capitals, "kind of", "least", emoji and odd whitespace."""
    rng = random.Random(seed)
    words = ("i love hate the app price is too expensive not very really good bad great awful "
             "kind of sort but never no without doubt least at so this happy sad nor or fine "
             "LOVE GREAT BAD ! ? , . :) 😩 👍 💘 the shit bomb bad ass bus stop yeah right kiss "
             "death to die for beating heart just enough KIND OF VERY isn't don't can't aint "
             "uh-uh Good... good!! (good) 'bad' BUT But extremely barely EXTREMELY").split()
    seps = [" ", " ", " ", " ", "  ", "\t", "\n", " \u3000 ", ""]
    out = []
    for _ in range(n):
        k = rng.randint(1, 30)
        out.append("".join(rng.choice(words) + (rng.choice(seps) if j < k - 1 else "")
                           for j in range(k)))
        if rng.random() < 0.1:
            out[-1] = f" {out[-1]}\n"
    return out


def test_equals_vader_compound_on_adversarial_answers():
    texts = adversarial_answers()
    ours = sentiment_scores(pd.Series(texts, dtype=object))
    mismatches = [(t, a, vader(t)) for t, a in zip(texts, ours) if a != vader(t)]
    assert not mismatches[:5]
    assert ours.nunique() > 100


def test_text_arrow_cannot_hold_is_scored_like_vader():
    texts = pd.Series(["great \udc80 app!", "awful", 3.5], dtype=object)
    s = sentiment_scores(texts)
    assert s.iloc[:2].tolist() == [vader("great \udc80 app!"), vader("awful")]
    assert np.isnan(s.iloc[2])


@pytest.mark.skipif(not can_fork(), reason="worker processes are forked (Linux only)")
def test_n_jobs_gives_the_same_scores():
    texts = pd.Series(adversarial_answers(2500, seed=9) + random_answers(2500, seed=4) + [None],
                      dtype=object)
    assert effective_n_jobs(2, texts.nunique()) == 2
    pd.testing.assert_series_equal(sentiment_scores(texts, n_jobs=2),
                                   sentiment_scores(texts, n_jobs=1))


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


# --------------------------------------------------------------------------- issue 14: the question
from personalab.sentiment import NOTHING_SCORE, is_nothing_answer, question_polarity  # noqa: E402

IMPROVE = ["What could we improve?", "Is there anything we should change?",
           "What did you dislike about your stay?", "Any problems with the booking?",
           "What did you not like?", "How could the service be better?"]
LIKE = ["What did you like most?", "What was the best part of your visit?",
        "What do you value about the nurses?"]
NOTHING = ["Nothing", "Nothing really.", "None", "no", "N/A", "Not really", "nothing at all",
           "Can't think of anything", "No complaints", "Nothing comes to mind, thanks"]
SOMETHING = ["The parking", "No, the food was cold", "Nothing works when I log in",
             "The waiting time", "Not enough staff at night"]


@pytest.mark.parametrize("question", IMPROVE)
def test_nothing_to_improve_is_positive(question):
    scores = sentiment_scores(pd.Series(NOTHING + SOMETHING), question=question)
    assert (scores[:len(NOTHING)] >= NOTHING_SCORE).all()
    # answers that name something keep VADER's own score
    assert scores[len(NOTHING):].tolist() == sentiment_scores(pd.Series(SOMETHING)).tolist()


@pytest.mark.parametrize("question", LIKE)
def test_nothing_to_like_is_negative(question):
    scores = sentiment_scores(pd.Series(NOTHING), question=question)
    assert (scores <= -NOTHING_SCORE).all()


def test_question_polarity_and_nothing_answers():
    assert [question_polarity(q) for q in IMPROVE] == [-1] * len(IMPROVE)
    assert [question_polarity(q) for q in LIKE] == [1] * len(LIKE)
    assert [question_polarity(q) for q in ["Q7", "Anything else?", None, ""]] == [0] * 4
    assert all(is_nothing_answer(a) for a in NOTHING)
    assert not any(is_nothing_answer(a) for a in SOMETHING)


def test_question_from_the_series_name_and_praise_kept():
    named = pd.Series(["Nothing", "Nothing, it was perfect!"], name="What could we improve?")
    scores = sentiment_scores(named)
    assert scores.iloc[0] == NOTHING_SCORE
    # VADER reads "nothing" as negating the praise after it; the question says otherwise
    assert vader("Nothing, it was perfect!") < 0
    assert scores.iloc[1] == vader("it was perfect!") > NOTHING_SCORE
    assert sentiment_scores(pd.Series(["Nothing, it was perfect!"])).iloc[0] < 0   # no question
    # a column id is not a question: VADER alone, exactly
    assert sentiment_scores(pd.Series(["Nothing"], name="Q7")).iloc[0] == vader("Nothing") == 0
    assert sentiment_score("Nothing", question="What could we improve?") == NOTHING_SCORE
