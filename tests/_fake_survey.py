"""A small stand-in exposing the Survey accessors of docs/design.md, for fast known-answer tests
of features, profiles, golden questions and plots (owned with tests/test_features.py etc.)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class Q:
    id: str
    type: str
    role: str = "segment"
    text: str = ""
    scale: list = field(default_factory=list)
    reverse: bool = False
    options: list = field(default_factory=list)


class FakeSurvey:
    """``data`` holds typed columns: likert/numeric qid, single qid, multi '<qid>:<option>'."""

    def __init__(self, data: pd.DataFrame, questions: list[Q], weights=None):
        self.data = data.copy()
        self.data.index = pd.Index([str(i) for i in data.index], name="respondent_id")
        self._questions = questions
        self._weights = None if weights is None else pd.Series(
            np.asarray(weights, dtype=float), index=self.data.index, name="weight")

    def questions(self, type=None, role=None):
        return [q for q in self._questions
                if (type is None or q.type == type)
                and (q.role == role if role is not None else q.role != "ignore")]

    def _cols(self, qtype, role):
        cols = []
        for q in self.questions(type=qtype, role=role):
            if qtype == "multi":
                cols += [f"{q.id}:{o}" for o in q.options]
            else:
                cols.append(q.id)
        return cols

    def likert(self, role=None):
        return self.data[self._cols("likert", role)].astype(float)

    def multi(self, role=None):
        return self.data[self._cols("multi", role)].astype("Int64")

    def categorical(self, role=None):
        cols = self._cols("single", role)
        return pd.DataFrame({c: pd.Categorical(self.data[c]) for c in cols}, index=self.data.index)

    def numeric(self, role=None):
        return self.data[self._cols("numeric", role)].astype(float)

    def text(self, role=None):
        return self.data[self._cols("text", role)]

    def weights(self):
        if self._weights is None:
            return pd.Series(1.0, index=self.data.index, name="weight")
        return self._weights


LIKERT5 = [{"code": i, "label": lab} for i, lab in enumerate(
    ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"], start=1)]


def planted_survey(n=600, k=3, random_state=0, weights=None, extra_noise_items=4):
    """Respondents in ``k`` equal planted segments that differ on exactly two Likert items
    (``L_a``: segment 0 high, ``L_b``: segment 1 high) and nothing else.

    Also: noise Likert items, a noise multi-select, a noise single, a noise numeric
    (segment role), and profile-only ``age``/``region`` that are independent of segment.
    Returns (survey, true_labels).
    """
    rng = np.random.default_rng(random_state)
    labels = np.repeat(np.arange(k), n // k)
    rng.shuffle(labels)
    n = len(labels)

    def likert(mean):
        return np.clip(np.round(rng.normal(mean, 0.8)), 1, 5)

    data = {
        "L_a": likert(np.where(labels == 0, 4.5, 2.0)),
        "L_b": likert(np.where(labels == 1, 4.5, 2.0)),
    }
    for j in range(extra_noise_items):
        data[f"N_{j}"] = likert(np.full(n, 3.0))
    for opt in ["Email", "Phone", "Chat"]:
        data[f"channel:{opt}"] = rng.integers(0, 2, n)
    data["plan"] = rng.choice(["Basic", "Plus", "Pro"], n)
    data["spend"] = rng.gamma(2.0, 50.0, n)
    data["age"] = rng.integers(18, 80, n).astype(float)
    data["region"] = rng.choice(["North", "South"], n)
    frame = pd.DataFrame(data)
    questions = [Q("L_a", "likert", scale=LIKERT5, text="I plan ahead"),
                 Q("L_b", "likert", scale=LIKERT5, text="I like new things")]
    questions += [Q(f"N_{j}", "likert", scale=LIKERT5) for j in range(extra_noise_items)]
    questions += [Q("channel", "multi", options=["Email", "Phone", "Chat"]),
                  Q("plan", "single"), Q("spend", "numeric"),
                  Q("age", "numeric", role="profile"), Q("region", "single", role="profile")]
    return FakeSurvey(frame, questions, weights=weights), labels
