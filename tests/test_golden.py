"""Golden questions: recover the planted items, the table is the model, typing new answers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _planted_survey import AGREE, LIKERT5, planted_survey, survey_from_frame
from personalab.codebook import Question
from personalab.errors import ConfigError, InputError
from personalab.golden import CONSTANT, golden_questions


@pytest.fixture(scope="module")
def planted():
    survey, labels = planted_survey(n=450, random_state=0)
    return survey, labels, golden_questions(survey, labels, random_state=0)


def test_recovers_the_planted_discriminating_items(planted):
    _, _, gq = planted
    assert set(gq.questions_[:2]) == {"L_a", "L_b"}
    assert gq.accuracy_ >= 0.85
    assert list(gq.steps_["question"]) == gq.questions_
    assert gq.steps_["cv_accuracy"].is_monotonic_increasing
    assert gq.selection_accuracy_ == gq.steps_["cv_accuracy"].iloc[-1]
    # held out of the selection (nested): every outer fold recovers both planted items
    assert len(gq.nested_) == 3 and gq.nested_["n_test"].sum() == 450
    assert all({"L_a", "L_b"} <= set(q) for q in gq.nested_["questions"])
    assert gq.baseline_accuracy_ == pytest.approx(1 / 3)


def _score_with_table(table, answers: pd.DataFrame):
    """Score respondents by hand from the exported table, as a survey tool would."""
    segments = sorted(table["segment"].unique())
    constant = table[table["question"] == CONSTANT].set_index("segment")["weight"]
    scores = np.tile(constant.reindex(segments).to_numpy(), (len(answers), 1))
    points = {}
    for row in table[table["question"] != CONSTANT].itertuples():
        points.setdefault((row.question, row.answer), {})[row.segment] = row.weight
    for qid in answers.columns:
        for i, answer in enumerate(answers[qid]):
            given = points.get((qid, answer), {})
            scores[i] += [given.get(seg, 0.0) for seg in segments]
    return np.asarray(segments)[scores.argmax(axis=1)]


def test_the_exported_table_reproduces_predict(planted):
    survey, labels, gq = planted
    table = gq.table()
    assert list(table.columns[:4]) == ["question", "answer", "segment", "weight"]
    assert set(table["segment"]) == {0, 1, 2}
    assert set(table.loc[table["question"] == "L_a", "answer"]) == set(AGREE)
    answers = survey.categorical()[gq.questions_].astype(str)   # answer texts, as asked
    by_hand = _score_with_table(table, answers)
    predicted = gq.predict(survey)
    np.testing.assert_array_equal(by_hand, predicted.to_numpy())
    assert predicted.index.equals(survey.data.index)
    assert (predicted.to_numpy() == labels).mean() >= 0.85
    proba = gq.predict_proba(survey)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(proba.columns) == [0, 1, 2]


def test_predict_from_answer_texts_or_codes(planted):
    survey, _, gq = planted
    texts = survey.categorical()[gq.questions_].astype(str).iloc[:30]
    codes = survey.likert()[gq.questions_].iloc[:30].astype(int)
    expected = gq.predict(survey).iloc[:30]
    pd.testing.assert_series_equal(gq.predict(texts), expected)
    pd.testing.assert_series_equal(gq.predict(codes), expected)
    quiz = pd.DataFrame({"L_a": ["strongly agree", "Strongly disagree"],
                         "L_b": ["Strongly disagree", 5]}, index=["new1", "new2"])
    assert list(gq.predict(quiz)) == [0, 1]
    with pytest.raises(InputError, match="L_b"):
        gq.predict(quiz[["L_a"]])


def test_reverse_keyed_answers_are_shown_and_read_as_asked():
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 150)
    # segment 0 *disagrees* with a reverse-keyed item, i.e. scores high once flipped
    raw = np.clip(np.round(rng.normal(np.where(labels == 0, 1.5, 4.5), 0.7)), 1, 5)
    frame = pd.DataFrame({"ResponseId": [f"r{i}" for i in range(300)], "R": raw,
                          "noise": rng.integers(1, 6, 300)})
    survey = survey_from_frame(frame, [
        Question("R", type="likert", role="segment", scale=LIKERT5, reverse=True),
        Question("noise", type="likert", role="segment", scale=LIKERT5)])
    gq = golden_questions(survey, labels, random_state=0)
    assert gq.questions_ == ["R"]
    t = gq.table().set_index(["question", "answer", "segment"])["weight"]
    assert t[("R", "Strongly disagree", 0)] > t[("R", "Strongly agree", 0)]
    assert gq.table().set_index(["question", "answer"]).loc[("R", "Strongly agree"), "code"].iloc[0] == "5"
    quiz = pd.DataFrame({"R": ["Strongly disagree", "Strongly agree", 1, 5]})
    assert list(gq.predict(quiz)) == [0, 1, 0, 1]


def test_single_multi_and_numeric_questions():
    survey, _ = planted_survey(n=300, random_state=5, extra_noise_items=1)
    plan = survey.categorical()["plan"].astype(str).to_numpy()
    by_plan = np.select([plan == "Basic", plan == "Plus"], [0, 1], 2)
    gq = golden_questions(survey, by_plan, random_state=0)
    assert gq.questions_ == ["plan"] and gq.accuracy_ == 1.0
    assert list(gq.predict(pd.DataFrame({"plan": ["Pro", "Basic", "plus"]}))) == [2, 0, 1]

    chat = survey.multi()["channel:Chat"]
    by_chat = chat.fillna(-1).astype(int).to_numpy()     # skipped -> unassigned
    gq = golden_questions(survey, by_chat, random_state=0)
    assert gq.questions_ == ["channel"] and -1 not in gq.classes_
    joined = pd.DataFrame({"channel": ["Email,Chat", "Phone", ["Chat"], None]})
    assert list(gq.predict(joined)) == [1, 0, 1, 0]
    wide = pd.DataFrame({"channel:Email": [1, 0], "channel:Phone": [0, 1],
                         "channel:Chat": [1, 0]})
    assert list(gq.predict(wide)) == [1, 0]

    spend = survey.numeric()["spend"]
    by_spend = (spend > spend.quantile(0.6)).astype(int).to_numpy()
    gq = golden_questions(survey, by_spend, random_state=0)
    assert gq.questions_ == ["spend"] and gq.accuracy_ >= 0.97
    answers = gq.table().query("question == 'spend'")["answer"].unique()
    assert len(answers) == 5 and answers[0].startswith("under ")
    low, high = spend.quantile(0.1), spend.quantile(0.95)
    assert list(gq.predict(pd.DataFrame({"spend": [low, high]}))) == [0, 1]


def test_max_questions_and_bad_input(planted):
    survey, labels, _ = planted
    gq = golden_questions(survey, labels, max_questions=1, random_state=0)
    assert len(gq.questions_) == 1 and gq.questions_[0] in {"L_a", "L_b"}
    with pytest.raises(InputError, match="two assigned segments"):
        golden_questions(survey, np.zeros(len(labels), dtype=int))
    with pytest.raises(InputError, match="label"):
        golden_questions(survey, labels[:10])


@pytest.mark.slow
def test_sample_wave_typing_accuracy_reaches_target():
    """On the synthetic sample wave, 8 golden questions type >= 85% of respondents right."""
    from pathlib import Path

    from personalab.codebook import Codebook
    from personalab.datasets import make_survey
    from personalab.loaders import RawWave
    from personalab.survey import Survey

    wave = make_survey(1500, random_state=0, with_pii=False)
    raw = RawWave(data=wave.raw, path=Path("sample.csv"), format="csv", sha256="0" * 64,
                  labels=wave.labels)
    survey = Survey.from_raw(raw, Codebook.from_dict(wave.codebook), wave="sample",
                             duplicate_ids="suffix")
    truth = wave.truth.set_index("ResponseId")["segment"].reindex(survey.data.index)
    codes = {name: i for i, name in enumerate(sorted(truth.dropna().unique()))}
    labels = truth.map(codes).fillna(-1).astype(int).to_numpy()
    gq = golden_questions(survey, labels, max_questions=8, random_state=0)
    assert gq.accuracy_ >= 0.85
    assert len(gq.questions_) <= 8


def test_below_the_cap_every_respondent_is_used_as_before(planted):
    survey, labels, gq = planted
    assert gq.respondents_.equals(survey.data.index)
    uncapped = golden_questions(survey, labels, random_state=0, max_respondents=None,
                                outer_cv=None)
    assert uncapped.questions_ == gq.questions_
    pd.testing.assert_frame_equal(uncapped.steps_, gq.steps_)
    pd.testing.assert_frame_equal(uncapped.table(), gq.table())


def test_a_capped_selection_recovers_the_planted_items_from_a_sample():
    survey, labels = planted_survey(n=3000, random_state=2)
    gq = golden_questions(survey, labels, random_state=0, max_respondents=600)
    assert len(gq.respondents_) == 600
    assert set(gq.questions_[:2]) == {"L_a", "L_b"}
    assert gq.accuracy_ >= 0.85
    # the sampled model types the whole wave about as well as it cross-validated
    assert (gq.predict(survey).to_numpy() == labels).mean() >= gq.accuracy_ - 0.03
    again = golden_questions(survey, labels, random_state=0, max_respondents=600, outer_cv=None)
    assert again.respondents_.equals(gq.respondents_)
    assert again.questions_ == gq.questions_
    pd.testing.assert_frame_equal(again.table(), gq.table())


def test_the_sample_is_stratified_by_segment_and_set_by_random_state():
    survey, labels = planted_survey(n=3000, random_state=2)
    labels = labels.copy()
    rng = np.random.default_rng(0)
    # segment 2 shrinks to ~3% of the assigned; 300 respondents unassigned
    two = np.flatnonzero(labels == 2)
    labels[two[:900]] = 0
    labels[rng.choice(np.flatnonzero(labels == 1), 300, replace=False)] = -1
    lab = pd.Series(labels, index=survey.data.index)
    assigned = lab[lab != -1]
    gq = golden_questions(survey, labels, random_state=0, max_respondents=400, outer_cv=None)
    sample = lab[gq.respondents_]
    assert len(sample) == 400 and (sample != -1).all()
    expected = assigned.value_counts(normalize=True) * 400
    counts = sample.value_counts().reindex(expected.index)
    assert (counts - expected).abs().max() < 1.0
    assert counts[2] >= 5
    other = golden_questions(survey, labels, random_state=1, max_respondents=400, outer_cv=None)
    assert not other.respondents_.equals(gq.respondents_)
    assert (lab[other.respondents_].value_counts() == sample.value_counts()).all()
    with pytest.raises(ConfigError, match="max_respondents"):
        golden_questions(survey, labels, max_respondents=4)


def test_parallel_candidate_fits_select_the_same_questions_and_weights(planted):
    survey, labels, gq = planted
    two = golden_questions(survey, labels, random_state=0, n_jobs=2, outer_cv=None)
    pd.testing.assert_frame_equal(two.steps_, gq.steps_, check_exact=True)
    pd.testing.assert_frame_equal(two.table(), gq.table(), check_exact=True)


def test_unassigned_respondents_change_nothing_so_no_subset_is_needed():
    """The segment step passes the whole kept wave with -1 for unassigned respondents;
    answer levels and numeric bins must come from the assigned ones, as with a subset."""
    survey, _ = planted_survey(n=400, random_state=3, extra_noise_items=1)
    spend = survey.numeric()["spend"].to_numpy()
    # segments by spend, the top fifth unassigned: spend's quantile bins (shown in the
    # table) differ between all respondents and the assigned ones
    labels = np.where(spend > np.nanquantile(spend, 0.4), 1, 0)
    labels[spend > np.nanquantile(spend, 0.8)] = -1
    ids = survey.data.index[labels != -1]
    whole = golden_questions(survey, labels, role=None, random_state=0)
    sub = golden_questions(survey.subset(ids), labels[labels != -1], role=None, random_state=0)
    assert whole.questions_[0] == "spend"
    pd.testing.assert_frame_equal(whole.steps_, sub.steps_)
    pd.testing.assert_frame_equal(whole.table(), sub.table())
    assert list(whole.respondents_) == list(sub.respondents_)
    assert (whole.accuracy_, whole.baseline_accuracy_) == (sub.accuracy_, sub.baseline_accuracy_)


def test_a_one_respondent_segment_is_left_out_with_a_note(planted):
    """A custom clusterer (or a tiny min_segment_share) can make a segment of one
    respondent: it cannot be cross-validated, so it is left out and said, not raised."""
    survey, labels, gq = planted
    lone = labels.copy()
    lone[7] = 3                                  # one respondent in a segment of its own
    got = golden_questions(survey, lone, random_state=0, outer_cv=None)
    assert got.left_out_ == {3: 1}
    assert got.notes_ == ["Left out of the golden questions: segment 3 (1 respondent), "
                          "fewer than 2 respondents, too few to cross-validate; the tool "
                          "cannot type anyone into it."]
    assert 3 not in set(got.classes_) and survey.data.index[7] not in set(got.respondents_)
    # exactly the tool built without that respondent (as if unassigned)
    out = labels.copy()
    out[7] = -1
    same = golden_questions(survey, out, random_state=0, outer_cv=None)
    assert same.left_out_ == {} and same.notes_ == []
    pd.testing.assert_frame_equal(got.steps_, same.steps_)
    pd.testing.assert_frame_equal(got.table(), same.table())
    assert gq.left_out_ == {} and gq.notes_ == []


def test_too_few_segments_left_after_the_tiny_ones_is_a_clear_error(planted):
    survey, labels, _ = planted
    lab = np.zeros(len(labels), dtype=int)
    lab[[3, 9]] = [5, 6]                         # two one-respondent segments
    with pytest.raises(InputError) as err:
        golden_questions(survey, lab, random_state=0)
    msg = str(err.value)
    assert "segment 5 (1 respondent), segment 6 (1 respondent)" in msg
    assert "two segments with 2 or more respondents" in msg and "Fix:" in msg


def _noise_survey(n, items, levels, random_state):
    """``n`` respondents, exactly 75% in segment 0 and 25% in segment 1, answering
    ``items`` single-choice questions of ``levels`` options at random: nothing types them."""
    rng = np.random.default_rng(random_state)
    labels = np.repeat([0, 1], [3 * n // 4, n // 4])
    rng.shuffle(labels)
    frame = {"ResponseId": [f"r{i}" for i in range(n)]}
    for j in range(items):
        frame[f"N{j}"] = rng.choice([f"option {k}" for k in range(levels)], n)
    questions = [Question(f"N{j}", type="single", role="segment") for j in range(items)]
    return survey_from_frame(pd.DataFrame(frame), questions), labels


def test_on_pure_noise_the_held_out_accuracy_is_no_better_than_the_largest_segment():
    """A small wave with many many-option questions: the selection chases chance (its own
    folds score 81% against a 75% majority), the respondents it never saw do not."""
    survey, labels = _noise_survey(120, items=30, levels=8, random_state=2)
    gq = golden_questions(survey, labels, random_state=0)
    assert gq.baseline_accuracy_ == 0.75
    assert gq.accuracy_ <= gq.baseline_accuracy_ + 0.02
    assert gq.balanced_accuracy_ == pytest.approx(0.5, abs=0.05)
    # the selection's own score is the optimistic one (what accuracy_ used to report)
    assert gq.selection_accuracy_ >= 0.80 > gq.accuracy_
    assert gq.nested_["n_test"].sum() == 120
    assert (gq.nested_["balanced_accuracy"] < 0.6).all()


def test_a_question_that_fixes_the_segment_scores_one_held_out():
    """The segment is a function of one single-choice question (60/25/15 shares, ten
    noise Likert items beside it): every outer fold finds it and types everyone right."""
    rng = np.random.default_rng(4)
    n = 300
    role = rng.choice(["Nurse", "Doctor", "Porter", "Clerk", "Cook"], n,
                      p=[0.35, 0.25, 0.15, 0.15, 0.10])
    segment = {"Nurse": 0, "Doctor": 1, "Porter": 2, "Clerk": 0, "Cook": 0}
    labels = np.array([segment[r] for r in role])
    frame = {"ResponseId": [f"r{i}" for i in range(n)], "role": role}
    frame.update({f"N{j}": rng.integers(1, 6, n) for j in range(10)})
    survey = survey_from_frame(pd.DataFrame(frame), [
        Question("role", type="single", role="segment")] + [
        Question(f"N{j}", type="likert", role="segment", scale=LIKERT5) for j in range(10)])
    gq = golden_questions(survey, labels, random_state=0)
    assert gq.questions_ == ["role"]
    assert gq.baseline_accuracy_ == pytest.approx(np.mean(labels == 0))
    assert gq.baseline_accuracy_ < 0.7
    assert gq.accuracy_ == 1.0 and gq.balanced_accuracy_ == 1.0
    assert list(gq.nested_["questions"]) == [["role"]] * 3


def test_a_segment_too_small_to_hold_out_is_said_and_not_estimated(planted):
    survey, labels, _ = planted
    few = labels.copy()
    few[[3, 9]] = 7                              # two respondents: one per outer fold
    gq = golden_questions(survey, few, random_state=0)
    assert 7 in set(gq.classes_) and not gq.left_out_
    assert np.isnan(gq.accuracy_) and np.isnan(gq.balanced_accuracy_) and gq.nested_ is None
    assert gq.selection_accuracy_ >= 0.85
    assert gq.baseline_accuracy_ == pytest.approx(np.mean(few == np.bincount(few).argmax()))
    assert len(gq.notes_) == 1 and "segment 7 (2 respondents) is too small" in gq.notes_[0]
    skipped = golden_questions(survey, labels, random_state=0, outer_cv=None)
    assert np.isnan(skipped.accuracy_) and skipped.nested_ is None and skipped.notes_ == []


def test_a_tool_saved_before_the_nested_estimate_loads_with_its_score_named_as_such(planted):
    """Run folders keep pickled tools: an old one's accuracy_ was the selection's score."""
    import pickle

    _, _, gq = planted
    old = {k: v for k, v in gq.__dict__.items()
           if k not in ("selection_accuracy_", "balanced_accuracy_", "baseline_accuracy_",
                        "nested_")}
    old["accuracy_"] = gq.selection_accuracy_
    blank = object.__new__(type(gq))
    blank.__dict__.update(old)
    loaded = pickle.loads(pickle.dumps(blank))
    assert loaded.selection_accuracy_ == gq.selection_accuracy_
    assert np.isnan(loaded.accuracy_) and np.isnan(loaded.baseline_accuracy_)
    assert "older PersonaLab" in loaded.notes_[-1]
    assert loaded.questions_ == gq.questions_
    again = pickle.loads(pickle.dumps(gq))       # a current tool round-trips unchanged
    assert again.accuracy_ == gq.accuracy_ and again.notes_ == gq.notes_
