"""Real Surveys with planted structure, for fast known-answer tests of features, profiles,
golden questions and plots (shared by tests/test_features.py, test_profiles.py,
test_golden.py, test_plotting.py).

The surveys go through the real path: a raw export (strings, as read from a file) typed by
``Survey.from_raw`` with a codebook.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from personalab.codebook import Codebook, MissingCode, Question, ScaleOption
from personalab.loaders import RawWave
from personalab.survey import Survey

AGREE = ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"]
LIKERT5 = [ScaleOption(i, lab) for i, lab in enumerate(AGREE, start=1)]
CHANNELS = ["Email", "Phone", "Chat"]


def survey_from_frame(frame: pd.DataFrame, questions: list[Question], *, weight=None,
                      respondent_id="ResponseId") -> Survey:
    """Type a raw frame (one column per question, values as exported) into a Survey."""
    raw_frame = frame.copy()
    for col in raw_frame.columns:
        raw_frame[col] = [None if (v is None or (isinstance(v, float) and np.isnan(v)))
                          else (str(int(v)) if isinstance(v, (float, np.floating))
                                and float(v).is_integer() and col != weight else str(v))
                          for v in raw_frame[col]]
    raw = RawWave(data=raw_frame, path=Path("planted.csv"), format="csv", sha256="0" * 64,
                  labels={c: c for c in raw_frame.columns})
    cb = Codebook(survey="planted", respondent_id=respondent_id, weight=weight,
                  questions=questions)
    return Survey.from_raw(raw, cb, wave="planted")


def planted_survey(n=600, k=3, random_state=0, weights=None, extra_noise_items=4,
                   dont_know=0.0):
    """Respondents in ``k`` equal planted segments that differ on exactly two Likert items
    (``L_a``: segment 0 high, ``L_b``: segment 1 high) and nothing else.

    Also: noise Likert items ``N_j``, a noise multi-select ``channel``, a noise single
    ``plan``, a noise numeric ``spend`` (all segment role), and profile-only ``age`` and
    ``region`` independent of segment. ``dont_know``: share of random "Don't know" (99)
    answers on the noise items. Returns (survey, true_labels).
    """
    rng = np.random.default_rng(random_state)
    labels = np.repeat(np.arange(k), n // k)
    rng.shuffle(labels)
    n = len(labels)

    def likert(mean):
        return np.clip(np.round(rng.normal(mean, 0.8)), 1, 5)

    data = {"ResponseId": [f"R_{i:04d}" for i in range(n)],
            "L_a": likert(np.where(labels == 0, 4.5, 2.0)),
            "L_b": likert(np.where(labels == 1, 4.5, 2.0))}
    for j in range(extra_noise_items):
        x = likert(np.full(n, 3.0))
        x[rng.random(n) < dont_know] = 99
        data[f"N_{j}"] = x
    chosen = rng.integers(0, 2, (n, len(CHANNELS)))
    data["channel"] = [",".join(o for o, c in zip(CHANNELS, row) if c) for row in chosen]
    data["plan"] = rng.choice(["Basic", "Plus", "Pro"], n)
    data["spend"] = np.round(rng.gamma(2.0, 50.0, n), 2)
    data["age"] = rng.integers(18, 80, n).astype(float)
    data["region"] = rng.choice(["North", "South"], n)
    if weights is not None:
        data["weight"] = np.asarray(weights, dtype=float)
    dk = [MissingCode(99, "Don't know", "dont_know")]
    questions = [Question("L_a", "I plan ahead", "likert", "segment", scale=LIKERT5),
                 Question("L_b", "I like new things", "likert", "segment", scale=LIKERT5)]
    questions += [Question(f"N_{j}", f"Noise item {j}", "likert", "segment", scale=LIKERT5,
                           missing=dk) for j in range(extra_noise_items)]
    questions += [Question("channel", "Channels used", "multi", "segment", separator=",",
                           options=CHANNELS),
                  Question("plan", "Plan", "single", "segment"),
                  Question("spend", "Monthly spend", "numeric", "segment"),
                  Question("age", "Age", "numeric", "profile"),
                  Question("region", "Region", "single", "profile")]
    survey = survey_from_frame(pd.DataFrame(data), questions,
                               weight="weight" if weights is not None else None)
    return survey, labels


def planted_personas(n=600, k=4, n_items=8, wide_noise_items=2, random_state=0):
    """Respondents in ``k`` equal planted personas, each with its own profile over
    ``n_items`` 1-5 Likert items (every item differs between some personas, as real
    attitude segments do), plus ``wide_noise_items`` 1-11 items of pure noise whose raw
    variance dwarfs any one 1-5 item's. Returns (survey, true_labels)."""
    rng = np.random.default_rng(random_state)
    labels = rng.permutation(np.repeat(np.arange(k), n // k))
    n = len(labels)
    profiles = rng.choice([1.8, 3.0, 4.2], size=(k, n_items))
    # every pair of personas differs clearly on at least two items
    for a in range(k):
        for b in range(a + 1, k):
            while np.sum(np.abs(profiles[a] - profiles[b]) >= 2.4) < 2:
                profiles[b] = rng.choice([1.8, 3.0, 4.2], size=n_items)
    data = {"ResponseId": [f"R_{i:04d}" for i in range(n)]}
    questions = []
    for j in range(n_items):
        data[f"A{j}"] = np.clip(np.round(rng.normal(profiles[labels, j], 0.8)), 1, 5)
        questions.append(Question(f"A{j}", f"Attitude {j}", "likert", "segment", scale=LIKERT5))
    eleven = [ScaleOption(i, str(i)) for i in range(1, 12)]
    for j in range(wide_noise_items):
        data[f"W{j}"] = rng.integers(1, 12, n).astype(float)
        questions.append(Question(f"W{j}", f"Wide item {j}", "likert", "segment", scale=eleven))
    return survey_from_frame(pd.DataFrame(data), questions), labels


class ReportSurvey:
    """What the report reads of a Survey: its codebook, rows, source and weights (for report
    tests that build the artifacts by hand)."""

    def __init__(self, codebook, ids):
        self.codebook, self.data = codebook, pd.DataFrame(index=ids)
        self.source, self.sha256, self.format = "wave.csv", "0" * 64, "csv"

    def weights(self):
        return pd.Series(1.0, index=self.data.index)

    def summary(self):
        return pd.DataFrame({"question": [q.id for q in self.codebook.questions],
                             "type": [q.type for q in self.codebook.questions]})
